// Data-parallel training on this machine: 2 processes x 1 thread against 1 process x 1 thread (the
// all-reduce's overhead as a throughput ratio; 2.0 would be perfect scaling on two idle cores), the
// bucket size's effect, and all-reduce started during backward (hooks) against after it. Also the
// time of one all-reduce of the gradient's bytes alone, for scaling stated on paper.
//   node --import tsx bench/ddp.bench.ts [rounds=2] [steps=4]
// Configurations run interleaved, `rounds` times each; the table gives the best round's median step
// (single runs here swing with the machine's load) and every round's. BertForTokenClassification H128 L2 I512, vocabulary 8000 (1.4M parameters, 5.5
// MiB of gradients), 8 x 128 tokens per process and step, fp32, AdamW, 1 LibTorch and 1 OpenBLAS
// thread per process. Each worker is this script with torchrun's environment (launchWorkers).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ProcessGroup, distributedEnv, launchWorkers } from '../lib/distributed/index.js';
import { BertForTokenClassification } from '../lib/models/bert.js';
import { tokenBatch, timeSteps } from './token-steps.js';

const CONFIG = { vocab_size: 8000, hidden_size: 128, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 512, max_position_embeddings: 128, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 };
const B = 8, T = 128;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

interface WorkerResult { rank: number; world: number; stepSeconds: number; allreduceSeconds: number | null; buckets: number | null; duringBackward: number | null; parameters: number }

async function worker(out: string, steps: number): Promise<void> {
  const env = process.env.DDP_ALONE === '1' ? null : distributedEnv();
  const model = BertForTokenClassification.fromConfig(CONFIG, { labels: ['O', 'B', 'I', 'X', 'Y'], seed: 1, log: null });
  model.setPrecision('fp32');
  const group = env ? await ProcessGroup.connect(env, { bucketBytes: Math.round(Number(process.env.DDP_BUCKET_MB) * 2 ** 20), overlap: process.env.DDP_OVERLAP !== '0' }) : null;
  if (group) {
    group.attach(model);
    await group.broadcastWeights(model);
  }
  const times = await timeSteps(model, tokenBatch(B, T, CONFIG.vocab_size, 5), 1, steps);
  let allreduceSeconds: number | null = null;
  if (group) {
    // The gradient's bytes (fp32) as float64 values: half as many numbers.
    const values = new Float64Array(Math.ceil(model.numParameters / 2));
    const ts: number[] = [];
    for (let i = 0; i < 4; i++) {
      const t = performance.now();
      await group.allreduce(values);
      ts.push((performance.now() - t) / 1000);
    }
    allreduceSeconds = median(ts.slice(1));
  }
  const info = group ? model.distributed('info') : null;
  const r: WorkerResult = { rank: env?.rank ?? 0, world: env?.worldSize ?? 1, stepSeconds: median(times), allreduceSeconds, buckets: info?.buckets ?? null, duringBackward: info?.duringBackward ?? null, parameters: model.numParameters };
  writeFileSync(`${out}.${env?.rank ?? 0}`, JSON.stringify(r));
  if (group) group.detach(model);
  group?.dispose();
  model.dispose();
}

interface Config { name: string; nproc: number; bucketMb?: number; overlap?: boolean }
const CONFIGS: Config[] = [
  { name: '1 process', nproc: 1 },
  { name: '2 processes, 25 MiB buckets (DDP default: one bucket here), during backward', nproc: 2, bucketMb: 25, overlap: true },
  { name: '2 processes, 1 MiB buckets, during backward', nproc: 2, bucketMb: 1, overlap: true },
  { name: '2 processes, 256 KiB buckets, during backward', nproc: 2, bucketMb: 0.25, overlap: true },
  { name: '2 processes, 1 MiB buckets, after backward', nproc: 2, bucketMb: 1, overlap: false },
];

async function driver(rounds: number, steps: number): Promise<void> {
  console.log(`load average at the start: ${loadavg().map((l) => l.toFixed(1)).join(', ')} (${availableParallelism()} processors)`);
  const dir = mkdtempSync(join(tmpdir(), 'roots-ddp-bench-'));
  const self = fileURLToPath(import.meta.url);
  const results = new Map<string, WorkerResult[]>();
  for (let round = 0; round < rounds; round++) {
    for (const c of CONFIGS) {
      const out = join(dir, `${round}-${CONFIGS.indexOf(c)}.json`);
      const code = await launchWorkers({
        nproc: c.nproc, command: ['--import', 'tsx', self, 'worker', out, String(steps)],
        env: { ...process.env, ROOTS_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', DDP_ALONE: c.nproc === 1 ? '1' : '0', DDP_BUCKET_MB: String(c.bucketMb ?? 25), DDP_OVERLAP: c.overlap === false ? '0' : '1' },
      });
      if (code !== 0) throw new Error(`${c.name}: a worker failed (${code})`);
      const r0 = JSON.parse(readFileSync(`${out}.0`, 'utf8')) as WorkerResult;
      results.set(c.name, [...(results.get(c.name) ?? []), r0]);
      console.error(`round ${round + 1}: ${c.name}: ${(r0.stepSeconds * 1000).toFixed(0)} ms/step${r0.allreduceSeconds !== null ? `, all-reduce of the gradient's bytes ${(r0.allreduceSeconds * 1000).toFixed(0)} ms` : ''}`);
    }
  }
  console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(', ')}`);
  const best = (rs: WorkerResult[]) => Math.min(...rs.map((r) => r.stepSeconds));
  const base = best(results.get(CONFIGS[0].name)!);
  const baseRate = B / base;
  console.log(`| configuration | ms/step (best of ${rounds} rounds) | sequences/s | vs 1 process | buckets | started during backward | all-reduce of ${(results.get(CONFIGS[0].name)![0].parameters * 4 / 2 ** 20).toFixed(1)} MiB alone |`);
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const c of CONFIGS) {
    const rs = results.get(c.name)!;
    const s = best(rs);
    const rate = (B * c.nproc) / s;
    const ar = rs[0].allreduceSeconds !== null ? rs.map((r) => `${(r.allreduceSeconds! * 1000).toFixed(0)}`).join(', ') + ' ms' : '-';
    console.log(`| ${c.name} | ${(s * 1000).toFixed(0)} (${rs.map((r) => (r.stepSeconds * 1000).toFixed(0)).join(', ')}) | ${rate.toFixed(1)} | ${(rate / baseRate).toFixed(2)}x | ${rs[0].buckets ?? '-'} | ${rs[0].duringBackward ?? '-'} | ${ar} |`);
  }
}

const [mode, a1, a2] = process.argv.slice(2);
if (mode === 'worker') await worker(a1, Number(a2));
else await driver(Number(mode ?? 2), Number(a1 ?? 4));
