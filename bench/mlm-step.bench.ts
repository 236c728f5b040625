// The masked-language-model training step of roots' BertForMaskedLM against (a) Hugging Face
// Transformers' BertForMaskedLM on PyTorch 2.x and (b) PyTorch eager (torch.nn) on the same LibTorch
// as roots (Debian's 1.13), side by side in one run: BERT H=256 L=4 heads=4 I=1024, the
// bert-base-cased vocabulary (28996), batches of 32 packed 128-token blocks of the Brown Corpus
// with 15% of the tokens masked (roots' MlmBatches; the peers get the very same batches), dropout
// 0.1, AdamW (wd 0.01) with clipping; fp32, and bf16 autocast where the CPU has bf16 instructions.
//
// The sides run in interleaved rounds (each round: a few steps of every side, the order rotated),
// so load from other processes on the machine falls on all of them alike; medians and minimums
// over all rounds. The peers are long-lived subprocesses (scripts/bench_mlm_peer.py) that idle on
// stdin while another side runs.
//
// Transformers (and the plain eager peer) take the vocabulary projection at every position and
// ignore the unmasked ones in the loss; roots takes it only at the masked ~15%. That difference is
// the point of the comparison; the 'eager, masked only' row does the same as roots in torch.nn, to
// separate the algorithm's share from the engine's.
//
//   npm run bench -- mlm-step      ROOTS_BENCH_ROUNDS=5 ROOTS_BENCH_STEPS=2 (steps per side per round)
//   Transformers peer: ROOTS_HF_PYTHON (default /tmp/venv/bin/python); skipped when it cannot import
//   transformers. Eager peer: findTorchPython() (ROOTS_PYTHON, /usr/bin/python3, ...).
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import type { Batch } from '../lib/batch.js';
import { corpusBatches } from '../lib/data/mlm.js';
import { info } from '../lib/info.js';
import { BertForMaskedLM, type TrainPrecision as Precision } from '../lib/models/bert.js';
import { Tokenizer } from '../lib/tokenizer/index.js';
import { findTorchPython } from '../scripts/find-python.mjs';

const root = join(import.meta.dirname, '..');
const data = process.env.ROOTS_SHARED_DATA ?? join(root, '..', 'shared', 'data');
const config = {
  vocab_size: 28996, hidden_size: 256, num_hidden_layers: 4, num_attention_heads: 4, intermediate_size: 1024,
  max_position_embeddings: 512, type_vocab_size: 2, layer_norm_eps: 1e-12, pad_token_id: 0,
  hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1,
};
const B = 32, T = 128, NB = 4;
const rounds = Number(process.env.ROOTS_BENCH_ROUNDS ?? 5);
const stepsPerRound = Number(process.env.ROOTS_BENCH_STEPS ?? 2);
const warmup = 2;

// ---- the batches: Brown, bert-base-cased, roots' packing and masking; written for the peers ----
const work = mkdtempSync(join(tmpdir(), 'roots-mlm-bench-'));
const tokenizer = await Tokenizer.fromPretrained(join(data, 'vocab', 'bert-base-cased'), { doLowerCase: false });
const { batches: source, cache } = await corpusBatches([join(data, 'corpora', 'brown', 'brown.txt')], tokenizer, { cacheDir: join(work, 'cache'), batchSize: B, seqLen: T, seed: 1 });
const batches: Batch[] = [];
for (let i = 0; i < NB; i++) batches.push(await source.batch(0, i));
await cache.close();
const masked = batches.map((b) => b.labels!.reduce((n, l) => n + (l !== -100 ? 1 : 0), 0));
const meanMasked = masked.reduce((a, b) => a + b, 0) / NB;
const batchFile = join(work, 'batches.safetensors');
writeInt32Safetensors(batchFile, Object.fromEntries(batches.flatMap((b, i) => [
  [`b${i}.input_ids`, b.inputIds], [`b${i}.attention_mask`, b.attentionMask], [`b${i}.token_type_ids`, b.tokenTypeIds], [`b${i}.labels`, b.labels!],
])), [B, T]);

/** Minimal safetensors writer for [B, T] int32 tensors (what parity_reference.read_safetensors reads). */
function writeInt32Safetensors(path: string, tensors: Record<string, Int32Array>, shape: number[]): void {
  const header: Record<string, unknown> = {};
  let off = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: 'I32', shape, data_offsets: [off, off + t.byteLength] };
    off += t.byteLength;
  }
  let h = JSON.stringify(header);
  h += ' '.repeat((8 - (h.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  writeFileSync(path, Buffer.concat([len, Buffer.from(h), ...Object.values(tensors).map((t) => Buffer.from(t.buffer, t.byteOffset, t.byteLength))]));
}

// ---- the sides ----
interface Side {
  name: string; lib: 'libtorch' | 'torch2'; precision: Precision; allPositions: boolean;
  run(steps: number): Promise<{ times: number[]; loss: number }>;
  /** optimizer steps the side's model has taken (a peer's one model serves all its sides) */
  modelSteps(): number;
}

class Peer {
  readonly proc: ChildProcessWithoutNullStreams;
  readonly lines: Interface;
  readonly #queue: ((line: string) => void)[] = [];
  stderr = '';
  exited: string | null = null;
  taken = 0;
  constructor(python: string, impl: 'hf' | 'eager') {
    this.proc = spawn(python, [join(root, 'scripts', 'bench_mlm_peer.py'), '--impl', impl, JSON.stringify(config), batchFile]);
    this.proc.stderr.on('data', (d) => { this.stderr += d; });
    this.lines = createInterface({ input: this.proc.stdout });
    this.lines.on('line', (l) => this.#queue.shift()?.(l));
    this.proc.on('exit', (code) => {
      this.exited = `peer ${impl} exited with ${code}: ${this.stderr.slice(-2000)}`;
      for (const r of this.#queue.splice(0)) r(JSON.stringify({ error: this.exited }));
    });
  }
  async next(): Promise<Record<string, unknown>> {
    if (this.exited) throw new Error(this.exited);
    const line = await new Promise<string>((resolve) => this.#queue.push(resolve));
    const r = JSON.parse(line);
    if (r.error) throw new Error(r.error);
    return r;
  }
  async steps(steps: number, bf16: boolean, maskedOnly: boolean): Promise<{ times: number[]; loss: number }> {
    const reply = this.next();
    this.taken += steps;
    this.proc.stdin.write(JSON.stringify({ steps, bf16, maskedOnly }) + '\n');
    return (await reply) as { times: number[]; loss: number };
  }
  close(): void { this.proc.stdin.end('\n'); }
}

function rootsSide(precision: Precision): Side {
  const model = BertForMaskedLM.fromConfig(config, { precision, seed: 0 });
  let k = 0;
  return {
    name: `roots ${precision}`, lib: 'libtorch', precision, allPositions: false, modelSteps: () => k,
    async run(steps) {
      const times: number[] = [];
      let loss = NaN;
      for (let i = 0; i < steps; i++) {
        const t = performance.now();
        const r = await model.trainStep(batches[k % NB], { learningRate: 5e-5, weightDecay: 0.01, maxGradNorm: 1, rngSeed: k });
        times.push((performance.now() - t) / 1000);
        loss = r.loss;
        k++;
      }
      return { times, loss };
    },
  };
}

const sys = info();
const eagerPy = findTorchPython();
const hfPy = process.env.ROOTS_HF_PYTHON ?? '/tmp/venv/bin/python';
const hfOk = spawnSync(hfPy, ['-c', 'import torch, transformers'], { encoding: 'utf8' }).status === 0;
const precisions: Precision[] = sys.bf16 ? ['fp32', 'bf16'] : ['fp32'];
const peers: Peer[] = [];
const sides: Side[] = [];
const describe: string[] = [];
for (const p of precisions) sides.push(rootsSide(p));
if (hfOk) {
  const hf = new Peer(hfPy, 'hf');
  peers.push(hf);
  const r = await hf.next();
  describe.push(`Transformers ${r.transformers} on torch ${r.torch} (${hfPy}), attention '${r.attention}', ${r.threads} threads`);
  for (const p of precisions) sides.push({ name: `transformers ${p}`, lib: 'torch2', precision: p, allPositions: true, run: (n) => hf.steps(n, p === 'bf16', false), modelSteps: () => hf.taken });
} else {
  describe.push(`Transformers peer SKIPPED: ${hfPy} cannot import torch and transformers (set ROOTS_HF_PYTHON to a Python with torch 2.x + transformers)`);
}
if (eagerPy) {
  const eager = new Peer(eagerPy.exe, 'eager');
  peers.push(eager);
  const r = await eager.next();
  describe.push(`PyTorch eager: torch ${r.torch} (${eagerPy.exe}), torch.nn modules, ${r.threads} threads`);
  for (const p of precisions) {
    sides.push({ name: `eager ${p}`, lib: 'libtorch', precision: p, allPositions: true, run: (n) => eager.steps(n, p === 'bf16', false), modelSteps: () => eager.taken });
    sides.push({ name: `eager ${p}, masked only`, lib: 'libtorch', precision: p, allPositions: false, run: (n) => eager.steps(n, p === 'bf16', true), modelSteps: () => eager.taken });
  }
} else {
  describe.push('PyTorch eager peer SKIPPED: no Python with torch (set ROOTS_PYTHON)');
}

/** GEMM rate of `python`'s torch (2048^3, fp32 and bf16), via scripts/bench_peer.py. */
function matmul(python: string): { fp32: number; bf16: number } {
  const r = spawnSync(python, [join(root, 'scripts', 'bench_peer.py'), '--matmul', '2048'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`matmul rate: ${r.stderr}`);
  return JSON.parse(r.stdout);
}
const rates: Record<string, { fp32: number; bf16: number }[]> = { libtorch: [], torch2: [] };
const measureRates = (): void => {
  if (eagerPy) rates.libtorch.push(matmul(eagerPy.exe));
  if (hfOk) rates.torch2.push(matmul(hfPy));
};

console.log(`roots: LibTorch ${sys.torch.version}, ${sys.threads.intraOp} threads; CPU ${sys.cpu.model}, ${sys.cpu.logicalCores} logical cores, avx512 ${sys.cpu.avx512}, bf16 ${sys.cpu.bf16}, AMX ${sys.cpu.amx}`);
for (const d of describe) console.log(d);
if (!sys.bf16) console.log('bf16: not measured (this CPU has no bf16 instructions, or LibTorch lacks oneDNN)');
else if (!sys.cpu.amx) console.log('bf16: AVX512-BF16 without AMX: bf16 matrix products run on vector units, not tiles, and may not beat fp32');
console.log(`BERT H=256 L=4 heads=4 I=1024 V=${config.vocab_size}, batch ${B}x${T} packed Brown blocks, ${NB} batches cycled, ${meanMasked.toFixed(0)} masked positions per batch on average (${(100 * meanMasked / (B * T)).toFixed(1)}%)`);
console.log(`${rounds} interleaved rounds of ${stepsPerRound} steps per side after ${warmup} warm-up steps each`);
measureRates();

const failed: string[] = [];
for (const s of [...sides]) {
  try {
    const w = await s.run(warmup);
    console.log(`  warm-up ${s.name}: ${w.times.map((t) => (t * 1000).toFixed(0)).join(' ')} ms, loss ${w.loss.toFixed(3)}`);
  } catch (e) {
    failed.push(`${s.name}: FAILED in its first step: ${(e as Error).message}`);
    console.log(failed.at(-1));
    sides.splice(sides.indexOf(s), 1);
  }
}
const times = new Map<string, number[]>(sides.map((s) => [s.name, []]));
const losses = new Map<string, { loss: number; steps: number }>();
for (let r = 0; r < rounds; r++) {
  const order = sides.map((_, i) => sides[(i + r) % sides.length]);
  for (const s of order) {
    const out = await s.run(stepsPerRound);
    times.get(s.name)!.push(...out.times);
    console.log(`  ${s.name}: ${out.times.map((t) => (t * 1000).toFixed(0)).join(' ')} ms, loss ${out.loss.toFixed(3)}`);
    losses.set(s.name, { loss: out.loss, steps: s.modelSteps() });
  }
  process.stdout.write(`round ${r + 1}/${rounds} done\n`);
}
for (const p of peers) p.close();
measureRates();
rmSync(work, { recursive: true, force: true });

// ---- the table ----
const median = (a: number[]): number => { const s = [...a].sort((x, y) => x - y); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const { hidden_size: H, intermediate_size: I, num_hidden_layers: L, vocab_size: V } = config;
/** Training FLOPs actually executed: 3x the forward's matrix products (forward + two in backward). */
const flops = (allPositions: boolean): number => {
  const encoder = L * (2 * (4 * H * H + 2 * H * I) + 2 * 2 * T * H);
  const head = 2 * H * H + 2 * H * V;
  return 3 * (B * T * encoder + (allPositions ? B * T : meanMasked) * head);
};
const best = (lib: string, p: Precision): number => Math.max(...rates[lib].map((r) => r[p]));
for (const lib of ['libtorch', 'torch2']) if (rates[lib].length) console.log(`matmul 2048^3 (${lib === 'libtorch' ? 'torch 1.13, the LibTorch roots links' : 'torch 2.x of the Transformers peer'}): fp32 ${rates[lib].map((r) => r.fp32.toFixed(0)).join(' / ')} GFLOP/s, bf16 ${rates[lib].map((r) => r.bf16.toFixed(0)).join(' / ')} GFLOP/s (before / after; the best is the reference)`);
console.log('\n| side | ms/step median | ms/step min | tokens/s (median) | executed GFLOP/s | of measured matmul | last loss (after N steps of its model) |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const s of sides) {
  const t = times.get(s.name)!;
  const med = median(t), min = Math.min(...t);
  const gflops = flops(s.allPositions) / med / 1e9;
  const rate = s.lib === 'torch2' && rates.torch2.length ? best('torch2', s.precision) : rates.libtorch.length ? best('libtorch', s.precision) : NaN;
  console.log(`| ${s.name}${s.allPositions ? ' (decoder at every position)' : ''} | ${(med * 1000).toFixed(0)} | ${(min * 1000).toFixed(0)} | ${(B * T / med).toFixed(0)} | ${gflops.toFixed(0)} | ${(100 * gflops / rate).toFixed(0)}% of ${s.precision} | ${losses.get(s.name)!.loss.toFixed(3)} (${losses.get(s.name)!.steps}) |`);
}
const med = (n: string): number | undefined => { const t = times.get(n); return t ? median(t) : undefined; };
console.log('');
for (const p of precisions) {
  for (const other of [`transformers ${p}`, `eager ${p}`, `eager ${p}, masked only`]) {
    const a = med(`roots ${p}`), b = med(other);
    if (a && b) console.log(`roots ${p} vs ${other}: ${(b / a).toFixed(2)}x (medians)`);
  }
}
if (sys.bf16) for (const other of ['transformers fp32', 'eager fp32']) {
  const a = med('roots bf16'), b = med(other);
  if (a && b) console.log(`roots bf16 vs ${other}: ${(b / a).toFixed(2)}x (the default a PyTorch user gets)`);
}
for (const f of failed) console.log(`not measured: ${f}`);
console.log(`\nExecuted FLOPs per step: ${(flops(false) / 1e9).toFixed(0)} GFLOP with the decoder at the masked positions (roots, eager masked only), ${(flops(true) / 1e9).toFixed(0)} GFLOP at every position (Transformers, eager): tokens/s compares the same work done, GFLOP/s the arithmetic each side chose to do.`);
