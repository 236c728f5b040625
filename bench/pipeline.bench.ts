// Data pipeline throughput on CoNLL-2003 train (14,041 sentences, ../shared/data, ROOTS_SHARED_DATA
// overrides): tokenization + label alignment + collation, next to the raw @huggingface/tokenizers
// encode rate measured in the same run (the peer: tokenization alone, no cache), printed as ratios.
// The pipeline can beat its peer: it caches word -> pieces and skips per-character work on ASCII.
//
//   npm run bench -- pipeline        (or: node --import tsx bench/pipeline.bench.ts)
//
// `measurePipeline()` is exported so a later benchmark can set the pipeline's rate against the
// training step's consumption rate (see the marked place at the end of `main`).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Bench } from 'tinybench';
import { Tokenizer } from '../lib/tokenizer/index.js';
import { readConll, LabelVocab, tokenClassificationFeatures, DataLoader, type TaggedSentence } from '../lib/data/index.js';

const DATA = process.env.ROOTS_SHARED_DATA ? pathToFileURL(process.env.ROOTS_SHARED_DATA.replace(/\/?$/, '/')) : new URL('../../shared/data/', import.meta.url);
const data = (p: string): string => fileURLToPath(new URL(p, DATA));

/** Rates in sentences per second (mean over tinybench samples of a full pass over the corpus). */
export interface PipelineRates {
  sentences: number;
  /** raw `@huggingface/tokenizers` `encode()` of each sentence's words joined by spaces */
  rawLibraryEncode: number;
  /** encodeWords + alignment + windowing + collation into Batches, word cache cold (first epoch) */
  pipelineCold: number;
  /** the same with the word cache warm */
  pipelineWarm: number;
  /** collation only (what each epoch after the first costs: features are encoded once) */
  collationOnly: number;
  /** raw text with character offsets (prediction path), cache cold */
  textWithOffsetsCold: number;
}

/**
 * Measures the pipeline on CoNLL-2003 train with the bert-base-cased vocabulary. `time` is the
 * tinybench time budget per task in ms.
 */
export async function measurePipeline(options: { time?: number; batchSize?: number; maxLength?: number } = {}): Promise<PipelineRates> {
  const tokenizer = await Tokenizer.fromPretrained(data('vocab/bert-base-cased'), { doLowerCase: false });
  const train: TaggedSentence[] = await readConll(data('ner/conll2003/eng.train'));
  const texts = train.map((s) => s.tokens.join(' '));
  const labels = LabelVocab.fromTags(train.map((s) => s.tags));
  const batchSize = options.batchSize ?? 32;
  const alignOptions = { maxLength: options.maxLength ?? 128 };
  const n = train.length;
  let sink = 0;

  const pipeline = (): void => {
    const features = tokenClassificationFeatures(tokenizer, train, labels, alignOptions);
    for (const batch of new DataLoader(features, { batchSize, tokenizer, padToMultipleOf: 8, seed: 1 })) sink += batch.seqLen;
  };
  const features = tokenClassificationFeatures(tokenizer, train, labels, alignOptions);
  const loader = new DataLoader(features, { batchSize, tokenizer, padToMultipleOf: 8, seed: 1 });

  // One task run is a full pass over the corpus (~0.1-0.5 s), so few iterations suffice.
  const bench = new Bench({ time: options.time ?? 2000, iterations: 5, warmupTime: 200, warmupIterations: 1 });
  bench
    .add('raw @huggingface/tokenizers encode', () => { for (const t of texts) sink += tokenizer.hf.encode(t).ids.length; })
    .add('roots pipeline, cold word cache', pipeline, { beforeEach: () => tokenizer.clearCache() })
    .add('roots pipeline, warm word cache', pipeline)
    .add('roots collation only (later epochs)', () => { for (const batch of loader) sink += batch.seqLen; })
    .add('roots text + offsets, cold cache', () => {
      for (const t of texts) sink += tokenizer.encode(t, null, { returnOffsets: true }).ids.length;
    }, { beforeEach: () => tokenizer.clearCache() });
  await bench.run();
  const rate = (name: string): number => {
    const task = bench.getTask(name)!;
    const result = task.result as { state: string; latency?: { mean: number } };
    if (result.state !== 'completed' || !result.latency) throw new Error(`benchmark task "${name}" did not complete (${result.state})`);
    return n / (result.latency.mean / 1000);
  };
  if (sink === 0) throw new Error('nothing was computed');
  return {
    sentences: n,
    rawLibraryEncode: rate('raw @huggingface/tokenizers encode'),
    pipelineCold: rate('roots pipeline, cold word cache'),
    pipelineWarm: rate('roots pipeline, warm word cache'),
    collationOnly: rate('roots collation only (later epochs)'),
    textWithOffsetsCold: rate('roots text + offsets, cold cache'),
  };
}

async function main(): Promise<void> {
  if (!existsSync(data('ner/conll2003/eng.train'))) {
    console.log(`skipped: CoNLL-2003 not found under ${fileURLToPath(DATA)} (set ROOTS_SHARED_DATA)`);
    return;
  }
  const r = await measurePipeline();
  const fmt = (x: number): string => Math.round(x).toLocaleString('en-US').padStart(10);
  const ratio = (x: number): string => `${(x / r.rawLibraryEncode).toFixed(2)}x`;
  console.log(`CoNLL-2003 train, ${r.sentences} sentences, bert-base-cased, maxLength 128, batch 32 (sentences/s; ratio to the raw library)`);
  console.log(`  raw @huggingface/tokenizers encode   ${fmt(r.rawLibraryEncode)}  1.00x  (peer: tokenization alone)`);
  console.log(`  pipeline (encode+align+collate) cold ${fmt(r.pipelineCold)}  ${ratio(r.pipelineCold)}`);
  console.log(`  pipeline warm word cache             ${fmt(r.pipelineWarm)}  ${ratio(r.pipelineWarm)}`);
  console.log(`  collation only (epochs after first)  ${fmt(r.collationOnly)}  ${ratio(r.collationOnly)}`);
  console.log(`  raw text + offsets, cold cache       ${fmt(r.textWithOffsetsCold)}  ${ratio(r.textWithOffsetsCold)}`);
  // The training step's consumption rate on batches from this pipeline, in the same run: the
  // pipeline must never starve the model (aim: >= 20x in the first epoch, more after).
  const step = await measureStepRate();
  console.log(`training step (H=256 L=4, ${step.precision}) consumes ${fmt(step.rate)} sentences/s on these batches`);
  console.log(`  pipeline cold / step: ${(r.pipelineCold / step.rate).toFixed(0)}x; collation only / step: ${(r.collationOnly / step.rate).toFixed(0)}x`);
}

/** Sentences per second the native training step consumes on shuffled CoNLL-2003 batches. */
async function measureStepRate(): Promise<{ rate: number; precision: 'fp32' | 'bf16' }> {
  const { BertForTokenClassification } = await import('../lib/models/bert.js');
  const { info } = await import('../lib/info.js');
  const tokenizer = await Tokenizer.fromPretrained(data('vocab/bert-base-cased'), { doLowerCase: false });
  const train = await readConll(data('ner/conll2003/eng.train'));
  const labels = LabelVocab.fromTags(train.map((s) => s.tags));
  const features = tokenClassificationFeatures(tokenizer, train, labels, { maxLength: 128 });
  const precision = info().bf16 ? 'bf16' : 'fp32';
  const model = BertForTokenClassification.fromConfig(
    { vocab_size: tokenizer.vocabSize, hidden_size: 256, num_hidden_layers: 4, num_attention_heads: 4, intermediate_size: 1024 },
    { labels: labels.labels, precision, seed: 1 });
  let rows = 0, steps = 0, t0 = 0;
  for await (const batch of new DataLoader(features, { batchSize: 32, tokenizer, shuffle: true, seed: 1, padToMultipleOf: 8 })) {
    if (steps === 2) { t0 = performance.now(); rows = 0; }
    await model.trainStep(batch, { learningRate: 5e-5 });
    rows += batch.batchSize;
    if (++steps === 22) break;
  }
  const rate = rows / ((performance.now() - t0) / 1000);
  model.dispose();
  return { rate, precision };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
