/**
 * The pretraining data path at scale, without the model: peak RSS and tokens/s while a corpus of
 * SIZE megabytes is tokenized into the token cache (the first epoch) and then read back as packed,
 * masked 32x128 MLM batches (every later epoch), through the library's own pieces
 * (resolveCorpusFiles, openTokenCache, MlmBatches). The native training step is not run: this
 * measures what the data path costs and whether its memory stays bounded as the corpus grows.
 *
 * The corpus is generated (never in the repo): the sentences of the Brown Corpus, shuffled and
 * repeated (a fresh shuffle per pass) until SIZE MB, one sentence per line (one document each).
 * Each phase is cut into ten equal-time slices; it prints the tokens/s of each slice (constant
 * rate: min/max near the median) and the RSS growth after the first slice (warm-up): flat means
 * under 10%.
 *
 *   node --import tsx bench/pretrain-streaming.ts --size-mb 100 [--work /tmp/roots-stream]
 *        [--cached-epochs 2] [--max-batches N] [--keep-corpus] [--json FILE]
 *
 * One size per process, so one corpus's heap does not colour the next one's RSS.
 */
import { createWriteStream, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveCorpusFiles } from '../lib/data/corpus.js';
import { openTokenCache } from '../lib/data/corpus-cache.js';
import { MlmBatches, mlmVocab } from '../lib/data/mlm.js';
import { Rng } from '../lib/data/rng.js';
import { Tokenizer } from '../lib/tokenizer/index.js';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const data = process.env.ROOTS_SHARED_DATA ?? join(root, '..', 'shared', 'data');
const argv = process.argv.slice(2);
const flag = (name: string): string | undefined => { const i = argv.indexOf(name); return i === -1 ? undefined : argv.splice(i, 2)[1]; };
const has = (name: string): boolean => { const i = argv.indexOf(name); if (i !== -1) argv.splice(i, 1); return i !== -1; };
const sizeMb = Number(flag('--size-mb') ?? 10);
const work = flag('--work') ?? '/tmp/roots-stream';
const cachedEpochs = Number(flag('--cached-epochs') ?? 2);
const maxBatches = Number(flag('--max-batches') ?? Infinity);
const keepCorpus = has('--keep-corpus');
const jsonOut = flag('--json');
if (!(sizeMb > 0)) throw new Error(`--size-mb: expected a positive number of megabytes but received ${sizeMb}`);

const MiB = 2 ** 20;
const rss = (): number => process.memoryUsage().rss;

/** Brown's sentences, shuffled and repeated into `path` until `bytes`; returns the line count. */
async function generate(path: string, bytes: number): Promise<number> {
  const text = await readFile(join(data, 'corpora', 'brown', 'brown.txt'), 'utf8');
  const sentences = text.split('\n').filter((l) => l.trim() !== '');
  const out = createWriteStream(path);
  const rng = new Rng(12);
  let written = 0;
  let lines = 0;
  while (written < bytes) {
    rng.shuffle(sentences);
    for (const s of sentences) {
      const line = s + '\n';
      written += Buffer.byteLength(line);
      lines++;
      if (!out.write(line)) await once(out, 'drain');
      if (written >= bytes) break;
    }
  }
  out.end();
  await once(out, 'finish');
  return lines;
}

interface Sample { t: number; tokens: number; rss: number }

/** Tokens/s of ten equal-time slices, and RSS growth after the first slice (the warm-up). */
function summarize(samples: Sample[]): { seconds: number; tokens: number; rate: number; slices: number[]; sliceRss: number[]; peakRss: number; warmRss: number; growth: number } {
  const t0 = samples[0].t, t1 = samples.at(-1)!.t;
  const seconds = (t1 - t0) / 1000;
  const tokens = samples.at(-1)!.tokens - samples[0].tokens;
  const slices: number[] = [];
  const sliceRss: number[] = [];
  const at = (t: number): number => { // tokens at time t, interpolated between samples
    const i = samples.findIndex((s) => s.t >= t);
    if (i === -1) return samples.at(-1)!.tokens;
    if (i === 0) return samples[0].tokens;
    const a = samples[i - 1], b = samples[i];
    return a.tokens + (b.tokens - a.tokens) * ((t - a.t) / Math.max(b.t - a.t, 1e-9));
  };
  for (let k = 0; k < 10; k++) {
    const a = t0 + ((t1 - t0) * k) / 10, b = t0 + ((t1 - t0) * (k + 1)) / 10;
    slices.push((at(b) - at(a)) / ((b - a) / 1000));
    sliceRss.push(Math.max(0, ...samples.filter((x) => x.t >= a && x.t <= b).map((x) => x.rss)));
  }
  const warmT = t0 + (t1 - t0) / 10;
  const warm = samples.filter((s) => s.t <= warmT);
  const warmRss = Math.max(...warm.map((s) => s.rss));
  const peakRss = Math.max(...samples.map((s) => s.rss));
  const after = Math.max(...samples.filter((s) => s.t >= warmT).map((s) => s.rss));
  return { seconds, tokens, rate: tokens / seconds, slices, sliceRss, peakRss, warmRss, growth: after / warmRss - 1 };
}

function report(name: string, s: ReturnType<typeof summarize>): void {
  const sorted = [...s.slices].sort((a, b) => a - b);
  const k = (x: number): string => `${(x / 1e3).toFixed(0)}k`;
  console.log(`${name}: ${s.tokens} tokens in ${s.seconds.toFixed(1)} s = ${k(s.rate)} tokens/s; ten slices min/median/max ${k(sorted[0])}/${k(sorted[5])}/${k(sorted[9])} tokens/s`);
  console.log(`${' '.repeat(name.length)}  RSS: after warm-up ${(s.warmRss / MiB).toFixed(0)} MiB, peak ${(s.peakRss / MiB).toFixed(0)} MiB, growth after warm-up ${(100 * s.growth).toFixed(1)}% (${s.growth < 0.1 ? 'flat' : 'NOT flat'})`);
  console.log(`${' '.repeat(name.length)}  per slice: tokens/s ${s.slices.map(k).join(' ')}; RSS MiB ${s.sliceRss.map((r) => (r ? (r / MiB).toFixed(0) : "-")).join(' ')}`);
}

mkdirSync(work, { recursive: true });
const corpus = join(work, `brown-${sizeMb}mb.txt`);
const cacheDir = join(work, `cache-${sizeMb}mb`);
rmSync(cacheDir, { recursive: true, force: true });
if (!existsSync(corpus) || statSync(corpus).size < sizeMb * 1e6) {
  const t = performance.now();
  const lines = await generate(corpus, sizeMb * 1e6);
  console.log(`generated ${corpus}: ${lines} lines, ${(statSync(corpus).size / 1e6).toFixed(1)} MB in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}
const startRss = rss();
const tokenizer = await Tokenizer.fromPretrained(join(data, 'vocab', 'bert-base-cased'), { doLowerCase: false });
const files = await resolveCorpusFiles([corpus]);
const bytes = files.reduce((s, f) => s + f.size, 0);
console.log(`corpus ${(bytes / 1e6).toFixed(1)} MB; bert-base-cased vocabulary (${tokenizer.vocabSize}); RSS at start ${(startRss / MiB).toFixed(0)} MiB`);

// First epoch: tokenize and write the cache, sampled at each progress callback and every 100 ms.
const first: Sample[] = [{ t: performance.now(), tokens: 0, rss: rss() }];
let progressTokens = 0;
const timer = setInterval(() => first.push({ t: performance.now(), tokens: progressTokens, rss: rss() }), 100);
const { cache, built } = await openTokenCache(files, tokenizer, {
  cacheDir,
  onProgress: (tokens) => { progressTokens = tokens; first.push({ t: performance.now(), tokens, rss: rss() }); },
});
clearInterval(timer);
first.push({ t: performance.now(), tokens: cache.length, rss: rss() });
if (!built) throw new Error(`expected to build the cache in ${cacheDir}`);
const firstS = summarize(first);
console.log(`cache: ${cache.length} tokens (${cache.meta.dtype}), ${cache.meta.documents} documents; ${(bytes / firstS.seconds / 1e6).toFixed(2)} MB/s of text`);
report('first epoch (tokenize + write cache)', firstS);

// Cached epochs: packed, masked batches read back from the cache.
const batches = new MlmBatches(cache, mlmVocab(tokenizer), { batchSize: 32, seqLen: 128, seed: 1 });
const cached: ReturnType<typeof summarize>[] = [];
for (let e = 0; e < cachedEpochs; e++) {
  const samples: Sample[] = [{ t: performance.now(), tokens: 0, rss: rss() }];
  let tokens = 0, n = 0;
  for await (const b of batches) {
    tokens += b.batchSize * b.seqLen;
    if (++n % 16 === 0) samples.push({ t: performance.now(), tokens, rss: rss() });
    if (n >= maxBatches) break;
  }
  samples.push({ t: performance.now(), tokens, rss: rss() });
  const s = summarize(samples);
  cached.push(s);
  report(`cached epoch ${e} (${n} of ${batches.length} batches of 32x128)`, s);
  if (n >= maxBatches) batches.setEpoch(e + 1);
}
await cache.close();
const result = {
  sizeMb, bytes, tokens: cache.length, documents: cache.meta.documents, startRss,
  first: firstS, cached, maxBatches: Number.isFinite(maxBatches) ? maxBatches : null,
};
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(result) + '\n');
rmSync(cacheDir, { recursive: true, force: true });
if (!keepCorpus) rmSync(corpus, { force: true });
