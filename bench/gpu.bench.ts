// GPU training throughput of roots against Hugging Face Transformers, both on the same card in one
// run: BERT-base (12 layers, hidden 768, 12 heads, intermediate 3072, the bert-base-cased vocabulary
// of 28996), token classification with 9 labels, dropout 0.1, AdamW (weight decay 0.01, no decay for
// biases and LayerNorm weights), clipping at 1.0.
//
//   workload fixed-bN: sequence length 128, batches of 32 and 64, no padding
//   workload conll:    one epoch over the token lengths of CoNLL-2003 train (14042 features,
//                      .device/conll2003-train-lengths.json), batches of 32: roots with length
//                      bucketing (DataLoader bucketing) against Transformers padding each batch of a
//                      random order to its longest row (both rounded up to a multiple of 8)
//
// Transformers runs as its docs recommend (scripts/gpu/hf_bench.py): bf16 autocast, sdpa attention,
// fused torch AdamW. Reported: steps/s, samples/s, model FLOP utilisation against the bf16
// matrix-multiply rate measured in this run (torch.mm 8192^3), and peak GPU memory (the caching
// allocator's peak, the same counter on both sides). Roots also runs its ablations at batch 32:
// fp32, math attention instead of SDPA, element-wise instead of fused AdamW.
//
// Model FLOPs count real tokens only: per sentence of l tokens, 6 * N * l + 12 * layers * hidden * l^2
// (N: the parameters of the matrix products; the second term the attention scores), so padding is
// waste, not work.
//
//   node --import tsx bench/gpu.bench.ts              on a CUDA machine
//   node --import tsx bench/gpu.bench.ts --dry-run    (or ROOTS_GPU_DRY_RUN=1) tiny model on the CPU,
//                                                     to prove the code paths; Transformers is skipped
//                                                     where it is not installed
// ROOTS_GPU_OUT=dir writes dir/bench.json and dir/bench.md. ROOTS_BENCH_STEPS sets measured steps.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probePythons } from '../scripts/gpu/hf-python.mjs';

const dry = process.env.ROOTS_GPU_DRY_RUN === '1' || process.argv.includes('--dry-run');
const outDir = process.env.ROOTS_GPU_OUT;
const root = join(import.meta.dirname, '..');
const lengthsFile = join(root, '.device', 'conll2003-train-lengths.json');  // made by scripts/gpu/prepare-device.sh

const BASE = {
  vocab_size: 28996, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072,
  max_position_embeddings: 512, type_vocab_size: 2, layer_norm_eps: 1e-12, pad_token_id: 0, initializer_range: 0.02,
  hidden_act: 'gelu', hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1,
};
const config = dry ? { ...BASE, vocab_size: 1000, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 128 } : BASE;
const numLabels = 9;
const labels = Array.from({ length: numLabels }, (_, i) => `L${i}`);
const T = dry ? 32 : 128;
const batchSizes = dry ? [4, 8] : [32, 64];
const steps = Number(process.env.ROOTS_BENCH_STEPS ?? (dry ? 3 : 30));
const warmup = dry ? 1 : 5;
const conll = { batch: dry ? 8 : 32, warmup: dry ? 2 : 10, maxBatches: dry ? 12 : null as number | null };
const device = dry ? 'cpu' : 'cuda';
const train = { learningRate: 5e-5, weightDecay: 0.01, maxGradNorm: 1.0 };

interface Row {
  workload: string;
  impl: string;
  batch: number;
  steps: number;
  samples: number;
  seconds: number;
  sumLen: number;
  sumLen2: number;
  paddedTokens: number;
  peakAllocated: number | null;
  peakReserved: number | null;
  loss: number | null;
  error?: string;
}

const rows: Row[] = [];
const notes: string[] = [];
const failed = (workload: string, impl: string, batch: number, e: unknown): Row => ({
  workload, impl, batch, steps: 0, samples: 0, seconds: 0, sumLen: 0, sumLen2: 0, paddedTokens: 0, peakAllocated: null,
  peakReserved: null, loss: null, error: String((e as Error)?.message ?? e).split('\n')[0],
});

/** FLOPs of a training step over sentences with these length sums (real tokens only). */
function modelFlops(sumLen: number, sumLen2: number): number {
  const { hidden_size: H, intermediate_size: I, num_hidden_layers: L } = config;
  const matrixParams = L * (4 * H * H + 2 * H * I) + H * numLabels;
  return 6 * matrixParams * sumLen + 12 * L * H * sumLen2;
}

// ---- peers: Python for the matmul rate and Transformers -------------------------------------------
const py = probePythons();
const python = py.hf ?? py.torchOnly;
let matmul: { bf16_tflops: number; fp32_tflops: number; device: string; n: number } | null = null;
if (python) {
  const r = spawnSync(python.exe, [join(root, 'scripts', 'gpu', 'hf_bench.py'), '--matmul', '--device', device, '--n', dry ? '512' : '8192'],
    { encoding: 'utf8', timeout: 120_000 });
  if (r.status === 0) matmul = JSON.parse(r.stdout.trim().split('\n').pop()!);
  else notes.push(`matmul rate not measured: ${(r.stderr || String(r.error)).trim().split('\n').pop()}`);
} else {
  notes.push('no Python with torch: no matmul rate (MFU n/a) and no Transformers rows');
}

// ---- roots ------------------------------------------------------------------------------------------
let rootsVersion = 'n/a';
// Only the modules this needs (not lib/index.ts), so that unrelated work in progress cannot stop the run.
type Roots = typeof import('../lib/info.js') & typeof import('../lib/models/bert.js') & typeof import('../lib/data/loader.js');
let roots: Roots | null = null;
try {
  roots = { ...(await import('../lib/info.js')), ...(await import('../lib/models/bert.js')), ...(await import('../lib/data/loader.js')) };
  const i = roots.info();
  rootsVersion = `LibTorch ${i.torch.version}${i.torch.cuda ? ' (CUDA)' : ''}`;
  if (!dry && !i.cuda.available) throw new Error(`no CUDA device (info().cuda.available is false; LibTorch ${i.torch.version}${i.torch.cuda ? ' with CUDA' : ', CPU only'})`);
} catch (e) {
  notes.push(`roots rows skipped: ${(e as Error).message.split('\n')[0]}`);
  roots = null;
}

function withEnv<T>(vars: Record<string, string>, make: () => T): T {
  const old = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try { return make(); } finally {
    for (const [k, v] of Object.entries(old)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
}

let seed = 1;
const rand = () => { seed = (seed * 48271) % 2147483647; return seed / 2147483647; };
const randIds = (n: number) => Int32Array.from({ length: n }, () => 1 + Math.floor(rand() * (config.vocab_size - 1)));
const randLabels = (n: number) => Int32Array.from({ length: n }, () => Math.floor(rand() * numLabels));

function makeModel(precision: 'fp32' | 'bf16', env: Record<string, string>) {
  return withEnv(env, () => roots!.BertForTokenClassification.fromConfig(config, { labels, precision, seed: 0, device }));
}

async function rootsFixed(impl: string, B: number, precision: 'fp32' | 'bf16', env: Record<string, string> = {}): Promise<Row> {
  const model = makeModel(precision, env);
  try {
    const batch = { batchSize: B, seqLen: T, inputIds: randIds(B * T), attentionMask: new Int32Array(B * T).fill(1), tokenTypeIds: new Int32Array(B * T), labels: randLabels(B * T) };
    roots!.resetCudaPeakMemory(device);
    for (let s = 0; s < warmup; s++) await model.trainStep(batch, { ...train, rngSeed: s });
    roots!.synchronize(device);
    const t0 = performance.now();
    let loss = 0;
    for (let s = 0; s < steps; s++) loss = (await model.trainStep(batch, { ...train, rngSeed: warmup + s })).loss;
    roots!.synchronize(device);
    const seconds = (performance.now() - t0) / 1000;
    const mem = roots!.cudaMemory(device);
    return { workload: `fixed-b${B}`, impl, batch: B, steps, samples: steps * B, seconds, sumLen: steps * B * T, sumLen2: steps * B * T * T,
      paddedTokens: steps * B * T, peakAllocated: mem?.peakAllocatedBytes ?? null, peakReserved: mem?.peakReservedBytes ?? null, loss };
  } finally {
    model.dispose();
  }
}

async function rootsLengths(impl: string, bucketing: boolean): Promise<Row> {
  const { DataLoader } = roots!;
  const lengths: number[] = JSON.parse(readFileSync(lengthsFile, 'utf8')).lengths;
  const features = lengths.map((n) => ({ inputIds: randIds(n), labels: randLabels(n) }));
  const loader = new DataLoader(features, { batchSize: conll.batch, bucketing, padToMultipleOf: 8, seed: 1 });
  const model = makeModel('bf16', {});
  try {
    roots!.resetCudaPeakMemory(device);
    let n = 0;
    loader.setEpoch(0);
    for await (const b of loader) {
      if (n++ >= conll.warmup) break;
      await model.trainStep(b, { ...train, rngSeed: n });
    }
    loader.setEpoch(1);
    roots!.synchronize(device);
    const t0 = performance.now();
    let stepsDone = 0, samples = 0, sumLen = 0, sumLen2 = 0, padded = 0, loss = 0;
    for await (const b of loader) {
      if (conll.maxBatches !== null && stepsDone >= conll.maxBatches) break;
      loss = (await model.trainStep(b, { ...train, rngSeed: 1000 + stepsDone })).loss;
      stepsDone++;
      samples += b.batchSize;
      padded += b.batchSize * b.seqLen;
      for (const i of b.indices) { const l = lengths[i]; sumLen += l; sumLen2 += l * l; }
    }
    roots!.synchronize(device);
    const seconds = (performance.now() - t0) / 1000;
    const mem = roots!.cudaMemory(device);
    return { workload: 'conll', impl, batch: conll.batch, steps: stepsDone, samples, seconds, sumLen, sumLen2, paddedTokens: padded,
      peakAllocated: mem?.peakAllocatedBytes ?? null, peakReserved: mem?.peakReservedBytes ?? null, loss };
  } finally {
    model.dispose();
  }
}

async function attempt(workload: string, impl: string, batch: number, run: () => Promise<Row>) {
  try {
    const r = await run();
    rows.push(r);
    console.error(`  ${impl.padEnd(34)} ${workload.padEnd(10)} ${(r.samples / r.seconds).toFixed(1).padStart(9)} samples/s`);
  } catch (e) {
    rows.push(failed(workload, impl, batch, e));
    console.error(`  ${impl} ${workload}: FAILED ${(e as Error).message.split('\n')[0]}`);
  }
}

if (roots) {
  console.error(`roots (${rootsVersion}) on ${device}:`);
  for (const B of batchSizes) await attempt(`fixed-b${B}`, 'roots bf16', B, () => rootsFixed('roots bf16', B, 'bf16'));
  const B0 = batchSizes[0];
  await attempt(`fixed-b${B0}`, 'roots bf16, math attention', B0, () => rootsFixed('roots bf16, math attention', B0, 'bf16', { ROOTS_ATTENTION: 'math' }));
  await attempt(`fixed-b${B0}`, 'roots bf16, element-wise AdamW', B0, () => rootsFixed('roots bf16, element-wise AdamW', B0, 'bf16', { ROOTS_ADAMW: 'foreach' }));
  await attempt(`fixed-b${B0}`, 'roots fp32', B0, () => rootsFixed('roots fp32', B0, 'fp32'));
  await attempt('conll', 'roots bf16', conll.batch, () => rootsLengths('roots bf16', true));
  await attempt('conll', 'roots bf16, no bucketing', conll.batch, () => rootsLengths('roots bf16, no bucketing', false));
}

// ---- Transformers -----------------------------------------------------------------------------------
let hfVersions: Record<string, string> | null = null;
if (py.hf) {
  const spec = {
    device, config, num_labels: numLabels, lr: train.learningRate, weight_decay: train.weightDecay, max_grad_norm: train.maxGradNorm,
    rows: [
      ...batchSizes.map((B) => ({ name: `fixed-b${B}`, kind: 'fixed', batch: B, seq: T, warmup, steps })),
      { name: 'conll', kind: 'lengths', lengths_file: lengthsFile, batch: conll.batch, pad_multiple: 8, warmup: conll.warmup, max_batches: conll.maxBatches, seed: 1 },
    ],
  };
  const specPath = join(tmpdir(), `roots-hf-bench-${process.pid}.json`);
  writeFileSync(specPath, JSON.stringify(spec));
  console.error(`Transformers ${py.hf.transformers} (torch ${py.hf.torch}, ${py.hf.exe}) on ${device}:`);
  const r = spawnSync(py.hf.exe, [join(root, 'scripts', 'gpu', 'hf_bench.py'), specPath], { encoding: 'utf8', timeout: 400_000, stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status === 0) {
    const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as { rows: Record<string, number | string | null>[]; versions: Record<string, string> };
    hfVersions = res.versions;
    for (const h of res.rows) {
      const name = String(h.name);
      rows.push({
        workload: name, impl: `Transformers bf16 (${h.attn_implementation})`, batch: name === 'conll' ? conll.batch : Number(name.slice(7)),
        steps: Number(h.steps), samples: Number(h.samples), seconds: Number(h.seconds), sumLen: Number(h.sum_len), sumLen2: Number(h.sum_len2),
        paddedTokens: Number(h.padded_tokens), peakAllocated: h.peak_allocated as number | null, peakReserved: h.peak_reserved as number | null, loss: h.loss as number | null,
      });
    }
  } else {
    notes.push(`Transformers rows failed (status ${r.status}${r.error ? `, ${r.error.message}` : ''})`);
    for (const B of batchSizes) rows.push(failed(`fixed-b${B}`, 'Transformers bf16', B, 'hf_bench.py failed'));
    rows.push(failed('conll', 'Transformers bf16', conll.batch, 'hf_bench.py failed'));
  }
} else {
  notes.push(`Transformers rows skipped: no Python that imports torch and transformers${python ? ` (${python.exe} has torch ${python.torch} only)` : ''}`);
}

// ---- table ------------------------------------------------------------------------------------------
const gib = (b: number | null) => (b === null || b === undefined ? 'n/a' : (b / 2 ** 30).toFixed(2));
const rate = matmul?.bf16_tflops ?? null;
function metrics(r: Row) {
  if (r.error || !r.seconds) return null;
  const flops = modelFlops(r.sumLen, r.sumLen2);
  return {
    stepsPerS: r.steps / r.seconds, samplesPerS: r.samples / r.seconds, tokensPerS: r.sumLen / r.seconds,
    tflops: flops / r.seconds / 1e12, mfu: rate ? flops / r.seconds / 1e12 / rate : null, padding: 1 - r.sumLen / r.paddedTokens,
  };
}
const hfOf = (w: string) => rows.find((r) => r.workload === w && r.impl.startsWith('Transformers') && !r.error);
const lines = [
  `| workload | implementation | steps/s | samples/s | real tokens/s | padding | TFLOP/s | MFU | peak GPU memory GiB (allocated / reserved) | samples/s vs Transformers |`,
  `| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`,
];
const summary: Record<string, unknown>[] = [];
for (const r of rows) {
  const m = metrics(r);
  const hfRow = hfOf(r.workload);
  const hm = hfRow ? metrics(hfRow) : null;
  const ratio = m && hm && !r.impl.startsWith('Transformers') ? m.samplesPerS / hm.samplesPerS : null;
  summary.push({ ...r, ...(m ?? {}), vsTransformers: ratio });
  if (!m) {
    lines.push(`| ${r.workload} | ${r.impl} | failed: ${r.error} | | | | | | | |`);
    continue;
  }
  lines.push(`| ${r.workload} (B=${r.batch}) | ${r.impl} | ${m.stepsPerS.toFixed(2)} | ${m.samplesPerS.toFixed(1)} | ${m.tokensPerS.toFixed(0)} | ` +
    `${(100 * m.padding).toFixed(0)}% | ${m.tflops >= 10 ? m.tflops.toFixed(1) : m.tflops.toPrecision(3)} | ${m.mfu === null ? 'n/a' : (100 * m.mfu).toFixed(1) + '%'} | ` +
    `${gib(r.peakAllocated)} / ${gib(r.peakReserved)} | ${ratio === null ? '' : ratio.toFixed(2) + 'x'} |`);
}
const header = [
  `${dry ? 'DRY RUN (tiny model on the CPU: proves the code paths, measures nothing) — ' : ''}` +
    `BERT ${config.num_hidden_layers} layers, hidden ${config.hidden_size}, vocab ${config.vocab_size}, ${numLabels} labels; fixed rows: length ${T}, ${steps} measured steps after ${warmup} warm-up; ` +
    `conll rows: one epoch${conll.maxBatches ? ` (first ${conll.maxBatches} batches)` : ''}, batch ${conll.batch}`,
  `roots: ${rootsVersion}; Transformers: ${py.hf ? `${py.hf.transformers} on torch ${py.hf.torch}` : 'n/a'}; ` +
    `bf16 matmul rate measured in this run: ${rate ? `${rate.toFixed(1)} TFLOP/s` : 'n/a'}${matmul ? ` (fp32 ${matmul.fp32_tflops.toFixed(1)}, n=${matmul.n}, ${matmul.device})` : ''}`,
];
const md = [...header.map((h) => `${h}\n`), ...lines, '', ...notes.map((n) => `- ${n}`)].join('\n') + '\n';
console.log(md);
if (outDir) {
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'bench.md'), md);
  writeFileSync(join(outDir, 'bench.json'), JSON.stringify({
    date: new Date().toISOString(), dryRun: dry, device, config, numLabels, seqLen: T, steps, warmup, conll, matmul,
    roots: rootsVersion, transformers: hfVersions ?? (py.hf ? { transformers: py.hf.transformers, torch: py.hf.torch } : null), rows: summary, notes,
  }, null, 2) + '\n');
}
const rootsFailed = rows.some((r) => r.impl.startsWith('roots') && r.error);
process.exit(rootsFailed || (!roots && !dry) ? 1 : 0);
