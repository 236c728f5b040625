// Training throughput of roots against (a) Hugging Face Transformers' BertForTokenClassification on
// PyTorch 2.x (the peer users would pick; ROOTS_HF_PYTHON, default /tmp/venv/bin/python, skipped
// when it cannot import transformers) and (b) PyTorch eager from Python on the same LibTorch as
// roots (Debian's 1.13), side by side in one run: BERT hidden 256, 4 layers, 4 heads, intermediate
// 1024, sequence 128, batch 32, token classification (8000-word vocabulary, 9 labels), dropout
// 0.1, AdamW with weight decay and clipping. The peers (scripts/bench_peer.py) are written as a
// PyTorch user would: torch.nn modules or Transformers' model, torch.optim.AdamW, and
// torch.autocast(bf16) for the bf16 rows.
// The sides run in interleaved rounds (the order rotated each round) so that load from other
// processes falls on all alike; medians and minimums over every measured step of every round.
// Prints ms/step, tokens/s, the ratios, and the fraction of the matrix-multiply rate measured in
// this run (each side against its own torch's rate).
//
//   npm run bench -- train-step     ROOTS_BENCH_ROUNDS=3 ROOTS_BENCH_STEPS=3 (measured steps per side per round)
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { BertForTokenClassification } from '../lib/models/bert.js';
import { info } from '../lib/info.js';
import { findTorchPython } from '../scripts/find-python.mjs';
import { timeSteps, tokenBatch } from './token-steps.js';

const config = {
  vocab_size: 8000, hidden_size: 256, num_hidden_layers: 4, num_attention_heads: 4, intermediate_size: 1024,
  max_position_embeddings: 512, type_vocab_size: 2, layer_norm_eps: 1e-12, pad_token_id: 0,
  hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1,
};
const numLabels = 9, B = 32, T = 128;
const steps = Number(process.env.ROOTS_BENCH_STEPS ?? 3), warmup = 2;
const rounds = Number(process.env.ROOTS_BENCH_ROUNDS ?? 3);
const root = join(import.meta.dirname, '..');

/** Training FLOPs per step: 3x the forward's matrix products (forward + two for backward). */
function trainFlops(): number {
  const { hidden_size: H, intermediate_size: I, num_hidden_layers: L } = config;
  const perToken = L * (2 * (4 * H * H + 2 * H * I) + 2 * 2 * T * H) + 2 * H * numLabels;
  return 3 * perToken * B * T;
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

/** Seconds per measured step of one roots model (built for the round, as a peer's process is). */
async function roots(precision: 'fp32' | 'bf16'): Promise<number[]> {
  const model = BertForTokenClassification.fromConfig(config, { labels: Array.from({ length: numLabels }, (_, i) => `L${i}`), precision, seed: 0 });
  const times = await timeSteps(model, tokenBatch(B, T, config.vocab_size, numLabels), warmup, steps);
  model.dispose();
  return times;
}

function peer(python: string, bf16: boolean, impl: 'eager' | 'hf'): number[] {
  const spec = { config: { ...config, head: 'token', num_labels: numLabels }, batch: B, seq: T, steps, warmup, bf16, impl };
  const r = spawnSync(python, [join(root, 'scripts', 'bench_peer.py'), JSON.stringify(spec)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`peer failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!).times;
}

const py = findTorchPython();
if (!py) { console.error('no Python with torch (set ROOTS_PYTHON): the peer cannot run'); process.exit(1); }
const hfPy = process.env.ROOTS_HF_PYTHON ?? '/tmp/venv/bin/python';
const probe = spawnSync(hfPy, ['-c', 'import torch, transformers; print(torch.__version__, transformers.__version__)'], { encoding: 'utf8' });
const hf = probe.status === 0 ? { exe: hfPy, versions: probe.stdout.trim().split(' ') } : null;
const i = info();
console.log(`LibTorch ${i.torch.version} (roots) / torch ${py.torchVersion} (eager peer, ${py.exe}); ${hf ? `Transformers ${hf.versions[1]} on torch ${hf.versions[0]} (${hf.exe})` : `Transformers peer SKIPPED: ${hfPy} cannot import torch and transformers (set ROOTS_HF_PYTHON)`}`);
console.log(`${i.cpu.model}, ${i.threads.intraOp} threads; BERT H=256 L=4 heads=4 I=1024, batch ${B}x${T}; ${rounds} interleaved rounds of ${warmup} warm-up + ${steps} measured steps per side`);
const matmulOf = (exe: string) => JSON.parse(spawnSync(exe, [join(root, 'scripts', 'bench_peer.py'), '--matmul', '2048'], { encoding: 'utf8' }).stdout) as { fp32: number; bf16: number };
const mm = matmulOf(py.exe);
const mmHf = hf ? matmulOf(hf.exe) : null;
console.log(`measured matmul rate (2048^3): LibTorch ${py.torchVersion} fp32 ${mm.fp32.toFixed(0)} GFLOP/s, bf16 ${mm.bf16.toFixed(0)}${mmHf ? `; torch ${hf!.versions[0]} fp32 ${mmHf.fp32.toFixed(0)}, bf16 ${mmHf.bf16.toFixed(0)}` : ''}`);

const flops = trainFlops();
type Prec = 'fp32' | 'bf16';
interface Side { name: string; precision: Prec; rate: number; run: () => Promise<number[]> | number[] }
const sides: Side[] = [];
for (const precision of (i.bf16 ? ['fp32', 'bf16'] : ['fp32']) as Prec[]) {
  sides.push({ name: `roots ${precision}`, precision, rate: mm[precision], run: () => roots(precision) });
  if (hf) sides.push({ name: `transformers ${precision}`, precision, rate: mmHf![precision], run: () => peer(hf.exe, precision === 'bf16', 'hf') });
  sides.push({ name: `pytorch eager ${precision}`, precision, rate: mm[precision], run: () => peer(py.exe, precision === 'bf16', 'eager') });
}
const times = new Map<string, number[]>(sides.map((s) => [s.name, []]));
for (let r = 0; r < rounds; r++) {
  for (let k = 0; k < sides.length; k++) {
    const s = sides[(k + r) % sides.length];
    times.get(s.name)!.push(...(await s.run()));
  }
}
console.log(`\n${'side'.padEnd(22)} ms/step median (min)   tokens/s  GFLOP/s  of its torch's matmul rate`);
for (const s of sides) {
  const t = times.get(s.name)!, sec = median(t);
  console.log(`${s.name.padEnd(22)} ${(sec * 1000).toFixed(0).padStart(6)} (${(Math.min(...t) * 1000).toFixed(0).padStart(5)})  ${(B * T / sec).toFixed(0).padStart(9)}  ${(flops / sec / 1e9).toFixed(0).padStart(7)}  ${(100 * flops / sec / 1e9 / s.rate).toFixed(0)}% of ${s.precision}`);
}
const ratio = (a: string, b: string) => {
  const ta = times.get(a), tb = times.get(b);
  return ta?.length && tb?.length ? `${(median(tb) / median(ta)).toFixed(2)}x (medians), ${(Math.min(...tb) / Math.min(...ta)).toFixed(2)}x (minimums)` : 'n/a';
};
console.log('');
for (const p of (i.bf16 ? ['fp32', 'bf16'] : ['fp32']) as Prec[]) {
  if (hf) console.log(`roots ${p} vs transformers ${p}: ${ratio(`roots ${p}`, `transformers ${p}`)}`);
  console.log(`roots ${p} vs pytorch eager ${p}: ${ratio(`roots ${p}`, `pytorch eager ${p}`)}`);
}
if (i.bf16 && hf) console.log(`roots bf16 vs transformers fp32: ${ratio('roots bf16', 'transformers fp32')}  (what precision 'auto' gives against a Transformers user's default)`);
