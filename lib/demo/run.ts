/**
 * `npm run demo` (`roots demo`): the whole NER workflow on CPU in a few minutes, from nothing.
 *
 * 1. generate a small NER corpus (templated sentences with generated names; lib/demo/corpus.ts),
 * 2. build a WordPiece vocabulary from it (lib/demo/vocab.ts),
 * 3. `roots init`: a small BERT with no weights,
 * 4. `roots train`: train from a fresh start with a progress display, dev evaluations, the best
 *    checkpoint, the seqeval report on the test set, report.html,
 * 5. the `ner` pipeline on new sentences.
 *
 * Everything goes under `--out` (default `out/demo`, ignored by git). Each step prints the
 * equivalent command line.
 */
import { mkdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { info } from '../info.js';
import { runInit } from '../cli/init.js';
import { runTrain } from '../cli/train.js';
import { formatEntities } from '../cli/predict.js';
import { processIO, type CliIO } from '../cli/common.js';
import { nerPipeline } from '../pipelines/ner.js';
import { formatDuration } from '../trainer/log.js';
import { CorpusGenerator, generateCorpus, writeConll } from './corpus.js';
import { buildVocab } from './vocab.js';
import { writeFile } from 'node:fs/promises';

export interface DemoOptions {
  out?: string;
  /** Training sentences (default 3000). */
  sentences?: number;
  /** Training epochs (default 8). */
  epochs?: number;
  seed?: number;
  progress?: 'auto' | 'bar' | 'plain' | 'none';
  precision?: 'fp32' | 'bf16' | 'auto';
}

export async function runDemo(o: DemoOptions = {}, io: CliIO = processIO): Promise<{ devF1: number | null; testF1: number | null; seconds: number }> {
  const start = performance.now();
  const out = o.out ?? join('out', 'demo');
  const seed = o.seed ?? 7;
  const rel = (p: string) => { const r = relative(process.cwd(), p); return r === '' ? '.' : r.startsWith('..') ? p : r; };
  const say = (s: string) => io.out(s + '\n');
  const i = info();
  say(`roots-nlp demo: NER from scratch on ${i.cpu.logicalCores} CPU cores (${i.torch.version} LibTorch, ${o.precision && o.precision !== 'auto' ? o.precision : i.bf16 ? 'bf16' : 'fp32'})\n`);

  // 1. Data
  const dataDir = join(out, 'data');
  await mkdir(dataDir, { recursive: true });
  const corpus = generateCorpus({ train: o.sentences ?? 3000, dev: 300, test: 300, seed });
  const files = { train: join(dataDir, 'train.conll'), dev: join(dataDir, 'dev.conll'), test: join(dataDir, 'test.conll') };
  await writeConll(files.train, corpus.train);
  await writeConll(files.dev, corpus.dev);
  await writeConll(files.test, corpus.test);
  say(`1. Generated a synthetic NER corpus (PER, LOC, ORG; IOB2) in ${rel(dataDir)}: ${corpus.train.length} train, ${corpus.dev.length} dev, ${corpus.test.length} test sentences, e.g.`);
  for (const s of corpus.train.slice(0, 3)) say(`     ${s.tokens.map((t, k) => (s.tags[k] === 'O' ? t : `${t}/${s.tags[k]}`)).join(' ')}`);

  // 2. Vocabulary
  const vocab = buildVocab(corpus.train.map((s) => s.tokens), { size: 2000, minFrequency: 3 });
  const vocabPath = join(dataDir, 'vocab.txt');
  await writeFile(vocabPath, vocab.join('\n') + '\n');
  say(`\n2. Built a ${vocab.length}-token WordPiece vocabulary: ${rel(vocabPath)} (rare names split into pieces)`);

  // 3. A fresh model folder
  const initDir = join(out, 'init');
  say(`\n3. roots init --vocab ${rel(vocabPath)} --hidden 128 --layers 2 --heads 4 --intermediate 512 --max-position 128 --cased --out ${rel(initDir)}`);
  await runInit({ vocab: vocabPath, out: initDir, hidden: 128, layers: 2, heads: 4, intermediate: 512, maxPosition: 128, cased: true, force: true }, { out: (t) => io.out('   ' + t), err: io.err });

  // 4. Train
  const modelDir = join(out, 'model');
  const epochs = o.epochs ?? 8;
  say(`\n4. roots train --task ner --model ${rel(initDir)} --train ${rel(files.train)} --dev ${rel(files.dev)} --test ${rel(files.test)} ` +
    `--out ${rel(modelDir)} --epochs ${epochs} --batch-size 32 --lr 1e-3 --warmup-ratio 0.1 --weight-decay 0.01 --eval-steps 100 --device cpu --overwrite\n`);
  const summary = await runTrain({
    task: 'ner', model: initDir, train: files.train, dev: files.dev, test: files.test, out: modelDir, epochs, batchSize: 32, lr: 1e-3,
    warmupRatio: 0.1, weightDecay: 0.01, evalSteps: 100, seed, overwrite: true, progress: o.progress, precision: o.precision, device: 'cpu',
  }, io);

  // 5. Predict
  say(`\n5. The ner pipeline on new sentences (pipeline('ner', '${rel(modelDir)}', { aggregation: 'first' }); CLI: roots predict --model ${rel(modelDir)} --text "...")\n`);
  const g = new CorpusGenerator(seed + 99);
  const [p1, p2, l1, o1, o2] = [g.person(), g.person(), g.location(), g.organisation(), g.organisation()];
  const texts = [
    `${p1.join(' ')} visited ${l1.join(' ')} on Friday.`,
    `${o1.join(' ')} hired ${p2.join(' ')} as its new director.`,
    `Shares of ${o2.join(' ')} rose 12 percent in ${l1.join(' ')} on Monday.`,
    `Nobody expected the vote to pass in May.`,
  ];
  const ner = await nerPipeline(modelDir, { aggregation: 'first' });
  try {
    const entities = await ner(texts);
    texts.forEach((t, k) => {
      io.out(formatEntities(t, entities[k]) + '\n');
    });
  } finally {
    ner.dispose();
  }
  const seconds = (performance.now() - start) / 1000;
  say(`Done in ${formatDuration(seconds)}. Model: ${rel(modelDir)} | report with loss and F1 curves: ${rel(join(modelDir, 'report.html'))} | log: ${rel(join(modelDir, 'trainer_log.jsonl'))}`);
  return { devF1: summary.dev?.f1 ?? null, testF1: summary.test?.f1 ?? null, seconds };
}
