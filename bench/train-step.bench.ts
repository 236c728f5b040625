// Training throughput of roots against PyTorch eager from Python, side by side in one run, on the
// same LibTorch (Debian's 1.13): BERT hidden 256, 4 layers, 4 heads, intermediate 1024, sequence
// 128, batch 32, token classification (8000-word vocabulary, 9 labels), dropout 0.1, AdamW with
// weight decay and clipping. The peer (scripts/bench_peer.py) is written as a PyTorch user would:
// torch.nn modules, torch.optim.AdamW, and torch.autocast(bf16) for the bf16 row.
// Prints tokens/s, the ratios, and the fraction of the matrix-multiply rate measured in this run.
//
//   npm run bench -- train-step            ROOTS_BENCH_STEPS=8 for more measured steps
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { BertForTokenClassification } from '../lib/models/bert.js';
import { info } from '../lib/info.js';
import { findTorchPython } from '../scripts/find-python.mjs';

const config = {
  vocab_size: 8000, hidden_size: 256, num_hidden_layers: 4, num_attention_heads: 4, intermediate_size: 1024,
  max_position_embeddings: 512, type_vocab_size: 2, layer_norm_eps: 1e-12, pad_token_id: 0,
  hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1,
};
const numLabels = 9, B = 32, T = 128;
const steps = Number(process.env.ROOTS_BENCH_STEPS ?? 5), warmup = 2;
const root = join(import.meta.dirname, '..');

/** Training FLOPs per step: 3x the forward's matrix products (forward + two for backward). */
function trainFlops(): number {
  const { hidden_size: H, intermediate_size: I, num_hidden_layers: L } = config;
  const perToken = L * (2 * (4 * H * H + 2 * H * I) + 2 * 2 * T * H) + 2 * H * numLabels;
  return 3 * perToken * B * T;
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

async function roots(precision: 'fp32' | 'bf16'): Promise<number> {
  const model = BertForTokenClassification.fromConfig(config, { labels: Array.from({ length: numLabels }, (_, i) => `L${i}`), precision, seed: 0 });
  let s = 1;
  const rand = () => { s = (s * 48271) % 2147483647; return s / 2147483647; };
  const batch = {
    batchSize: B, seqLen: T,
    inputIds: Int32Array.from({ length: B * T }, () => 1 + Math.floor(rand() * (config.vocab_size - 1))),
    attentionMask: new Int32Array(B * T).fill(1), tokenTypeIds: new Int32Array(B * T),
    labels: Int32Array.from({ length: B * T }, () => Math.floor(rand() * numLabels)),
  };
  const times: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const t = performance.now();
    await model.trainStep(batch, { learningRate: 5e-5, weightDecay: 0.01, maxGradNorm: 1, rngSeed: i });
    if (i >= warmup) times.push((performance.now() - t) / 1000);
  }
  model.dispose();
  return median(times);
}

function peer(python: string, bf16: boolean): number {
  const spec = { config: { ...config, head: 'token', num_labels: numLabels }, batch: B, seq: T, steps, warmup, bf16 };
  const r = spawnSync(python, [join(root, 'scripts', 'bench_peer.py'), JSON.stringify(spec)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`peer failed: ${r.stderr}`);
  return median(JSON.parse(r.stdout.trim().split('\n').pop()!).times);
}

const py = findTorchPython();
if (!py) { console.error('no Python with torch (set ROOTS_PYTHON): the peer cannot run'); process.exit(1); }
const i = info();
console.log(`LibTorch ${i.torch.version} (roots) / torch ${py.torchVersion} (peer, ${py.exe}); ${i.cpu.model}, ${i.threads.intraOp} threads`);
console.log(`BERT H=256 L=4 heads=4 I=1024, batch ${B}x${T}, ${steps} measured steps after ${warmup} warm-up (medians)`);
const mm = JSON.parse(spawnSync(py.exe, [join(root, 'scripts', 'bench_peer.py'), '--matmul', '2048'], { encoding: 'utf8' }).stdout) as { fp32: number; bf16: number };
console.log(`measured matmul rate (2048^3): fp32 ${mm.fp32.toFixed(0)} GFLOP/s, bf16 ${mm.bf16.toFixed(0)} GFLOP/s`);

const flops = trainFlops();
const rows: { name: string; sec: number; rate: number }[] = [];
const add = (name: string, sec: number, rate: number) => {
  rows.push({ name, sec, rate });
  console.log(`${name.padEnd(22)} ${(sec * 1000).toFixed(0).padStart(6)} ms/step  ${(B * T / sec).toFixed(0).padStart(7)} tokens/s  ${(flops / sec / 1e9).toFixed(0).padStart(5)} GFLOP/s = ${(100 * flops / sec / 1e9 / rate).toFixed(0)}% of measured ${rate === mm.fp32 ? 'fp32' : 'bf16'} matmul`);
};
add('roots fp32', await roots('fp32'), mm.fp32);
add('pytorch eager fp32', peer(py.exe, false), mm.fp32);
if (i.bf16) {
  add('roots bf16', await roots('bf16'), mm.bf16);
  add('pytorch eager bf16', peer(py.exe, true), mm.bf16);
}
const get = (n: string) => rows.find((r) => r.name === n)?.sec;
const ratio = (a: string, b: string) => (get(a) && get(b) ? (get(b)! / get(a)!).toFixed(2) + 'x' : 'n/a');
console.log(`\nroots fp32 vs pytorch eager fp32: ${ratio('roots fp32', 'pytorch eager fp32')}`);
if (i.bf16) {
  console.log(`roots bf16 vs pytorch eager bf16: ${ratio('roots bf16', 'pytorch eager bf16')}`);
  console.log(`roots bf16 vs pytorch eager fp32: ${ratio('roots bf16', 'pytorch eager fp32')}  (the default a PyTorch user gets)`);
}
