/**
 * The pretraining data path without the model: tokenizing a corpus into the token cache (the
 * first epoch's cost), then packed, masked MLM batches read back from the cache (every later
 * epoch's cost), with peak RSS. The batch rate is what the data path can feed; compare it with the
 * training step's tokens/s (bench/train-step.bench.ts) to see that it never starves the model.
 *
 *   node --import tsx bench/corpus-cache.bench.ts [CORPUS...] [--vocab DIR] [--seq-len 128] [--batch-size 32]
 *
 * Defaults: ../shared/data/corpora/brown/brown.txt and a vocabulary trained on it here.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveCorpusFiles } from '../lib/data/corpus.js';
import { openTokenCache } from '../lib/data/corpus-cache.js';
import { MlmBatches, mlmVocab } from '../lib/data/mlm.js';
import { Tokenizer } from '../lib/tokenizer/index.js';
import { trainWordPiece } from '../lib/tokenizer/wordpiece-trainer.js';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const data = process.env.ROOTS_SHARED_DATA ?? join(root, '..', 'shared', 'data');
const argv = process.argv.slice(2);
const flag = (name: string): string | undefined => { const i = argv.indexOf(name); return i === -1 ? undefined : argv.splice(i, 2)[1]; };
const vocabDir = flag('--vocab');
const seqLen = Number(flag('--seq-len') ?? 128);
const batchSize = Number(flag('--batch-size') ?? 32);
const inputs = argv.length ? argv : [join(data, 'corpora', 'brown', 'brown.txt')];

const work = mkdtempSync(join(tmpdir(), 'roots-cache-bench-'));
let peakRss = 0;
const sample = (): void => { peakRss = Math.max(peakRss, process.memoryUsage().rss); };
const timer = setInterval(sample, 50);
try {
  const tokenizer = vocabDir ? await Tokenizer.fromPretrained(vocabDir) : (await trainWordPiece(inputs, { vocabSize: 30000, lowercase: false })).tokenizer;
  const files = await resolveCorpusFiles(inputs);
  const bytes = files.reduce((s, f) => s + f.size, 0);
  const t0 = performance.now();
  const { cache, built } = await openTokenCache(files, tokenizer, { cacheDir: join(work, 'cache') });
  const buildS = (performance.now() - t0) / 1000;
  console.log(`corpus: ${files.length} file(s), ${(bytes / 1e6).toFixed(1)} MB, ${cache.meta.documents} documents, ${cache.length} tokens (${cache.meta.dtype}); cache ${built ? 'built' : 'reused'}`);
  console.log(`first epoch (tokenize + write the cache): ${buildS.toFixed(2)} s, ${(cache.length / buildS / 1e3).toFixed(0)}k tokens/s, ${(bytes / buildS / 1e6).toFixed(2)} MB/s`);
  // The peer, in the same run: the raw @huggingface/tokenizers encode of the same lines, held in
  // memory (tokenization alone: no reading, no cache writes).
  const lines = (await Promise.all(files.map(async (f) => (f.path.endsWith('.gz') ? gunzipSync(await readFile(f.path)) : await readFile(f.path)).toString('utf8')))).flatMap((t) => t.split(/\r?\n/)).filter((l) => l.trim() !== '');
  const t2 = performance.now();
  let rawTokens = 0;
  for (const l of lines) rawTokens += tokenizer.hf.encode(l).ids.length;
  const rawS = (performance.now() - t2) / 1000;
  console.log(`peer: raw @huggingface/tokenizers encode of the same ${lines.length} lines in memory: ${rawS.toFixed(2)} s, ${(rawTokens / rawS / 1e3).toFixed(0)}k tokens/s; first epoch / raw encode = ${(cache.length / buildS / (rawTokens / rawS)).toFixed(2)}x`);
  const batches = new MlmBatches(cache, mlmVocab(tokenizer), { batchSize, seqLen, seed: 1 });
  for (let epoch = 0; epoch < 2; epoch++) {
    const t1 = performance.now();
    let tokens = 0;
    for await (const b of batches) tokens += b.batchSize * b.seqLen;
    const s = (performance.now() - t1) / 1000;
    console.log(`cached epoch ${epoch}: ${batches.length} batches of ${batchSize}x${seqLen} in ${s.toFixed(2)} s, ${(tokens / s / 1e6).toFixed(2)}M tokens/s (packing, masking, positional reads)`);
  }
  await cache.close();
  sample();
  console.log(`peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB`);
} finally {
  clearInterval(timer);
  rmSync(work, { recursive: true, force: true });
}
