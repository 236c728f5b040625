// The fused element-wise kernels (native/kernels*.cc) against the unfused composition they replace,
// paired in one process: two models of the train-step workload (bench/train-step.bench.ts: BERT
// H=256 L=4 I=1024, batch 32x128, dropout 0.1, AdamW), built with ROOTS_FUSED=1 and =0, stepping in
// alternation, so that load from other processes falls on both alike. Prints the process's CPU time
// per step (the work done, little moved by other processes when the model runs one thread) and the
// wall time, medians and minimums, and the unfused / fused ratio of each pair.
//
//   npx tsx bench/fused-ab.ts [fp32|bf16] [pairs=6]     (ROOTS_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 for CPU time)
import { BertForTokenClassification } from '../lib/models/bert.js';
import { tokenBatch } from './token-steps.js';

const precision = (process.argv[2] ?? 'fp32') as 'fp32' | 'bf16';
const pairs = Number(process.argv[3] ?? 6);
const config = {
  vocab_size: 8000, hidden_size: 256, num_hidden_layers: 4, num_attention_heads: 4, intermediate_size: 1024,
  max_position_embeddings: 512, type_vocab_size: 2, layer_norm_eps: 1e-12, pad_token_id: 0,
  hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1,
};
const make = (fused: '1' | '0') => {
  process.env.ROOTS_FUSED = fused;  // read when the model is built
  return BertForTokenClassification.fromConfig(config, { labels: Array.from({ length: 9 }, (_, i) => `L${i}`), precision, seed: 0 });
};
const models = { fused: make('1'), unfused: make('0') };
const batch = tokenBatch(32, 128, config.vocab_size, 9);
const cpu = { fused: [] as number[], unfused: [] as number[] }, wall = { fused: [] as number[], unfused: [] as number[] };
for (let i = -1; i < pairs; i++) {   // pair -1 warms both up
  for (const side of (i % 2 ? ['fused', 'unfused'] : ['unfused', 'fused']) as ('fused' | 'unfused')[]) {
    const c0 = process.cpuUsage(), t0 = performance.now();
    await models[side].trainStep(batch, { learningRate: 5e-5, weightDecay: 0.01, maxGradNorm: 1, rngSeed: i + 2 });
    const c = process.cpuUsage(c0);
    if (i >= 0) { cpu[side].push((c.user + c.system) / 1000); wall[side].push(performance.now() - t0); }
  }
}
models.fused.dispose();
models.unfused.dispose();
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const fmt = (a: number[]) => `${median(a).toFixed(0)} (${Math.min(...a).toFixed(0)})`;
console.log(`${precision}, ${process.env.ROOTS_NUM_THREADS ?? 'default'} threads, ${pairs} pairs; ms/step median (min)`);
console.log(`CPU   fused ${fmt(cpu.fused)}  unfused ${fmt(cpu.unfused)}  unfused/fused per pair ${cpu.fused.map((f, i) => (cpu.unfused[i] / f).toFixed(2)).join(' ')}`);
console.log(`wall  fused ${fmt(wall.fused)}  unfused ${fmt(wall.unfused)}  unfused/fused per pair ${wall.fused.map((f, i) => (wall.unfused[i] / f).toFixed(2)).join(' ')}`);
