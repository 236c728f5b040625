// Parameter-efficient tuning against full fine-tuning from the same base, side by side: trainable
// parameters, step time (median), peak RSS of the process, AdamW state and checkpoint size. The base is
// the pretrained MLM of /work/pretrain/mlm when present (ROOTS_PEFT_BASE overrides; BERT H256 L4, a
// 28,996-token vocabulary), else a fresh model of that shape; a token-classification head with 9 labels
// (CoNLL-2003's), batches of 16 x 128, fp32, dropout on. Step times: one process, one model holding
// every adapter, configurations interleaved step by step over several rounds (single runs on these
// machines swing by 15% and more under load); peak RSS, AdamW state and checkpoint size: one process
// per configuration (RSS is per process), training only that configuration.
//
//   npx tsx bench/peft.bench.ts            ROOTS_BENCH_STEPS (default 6) x ROOTS_BENCH_ROUNDS (default 2) timed steps each
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BertForTokenClassification } from '../lib/models/bert.js';
import type { AdapterOptions } from '../lib/peft/config.js';

const BASE = process.env.ROOTS_PEFT_BASE ?? '/work/pretrain/mlm';
const B = 16, T = 128, numLabels = 9;
const steps = Number(process.env.ROOTS_BENCH_STEPS ?? 6), warmup = 2, rounds = Number(process.env.ROOTS_BENCH_ROUNDS ?? 2);
const CONFIGS: Record<string, AdapterOptions | null> = {
  full: null,
  'lora r8 q,v': { type: 'lora', r: 8, alpha: 16, targetModules: ['query', 'value'] },
  'lora r8 all': { type: 'lora', r: 8, alpha: 16, targetModules: ['query', 'key', 'value', 'attention.output.dense', 'intermediate.dense', 'output.dense'] },
  ia3: { type: 'ia3' },
  'prefix 20': { type: 'prefix', numVirtualTokens: 20 },
  bitfit: { type: 'bitfit' },
};
const shape = {
  vocab_size: 28996, hidden_size: 256, num_hidden_layers: 4, num_attention_heads: 4, intermediate_size: 1024, max_position_embeddings: 512,
};

interface Row { name: string; ms: number; rssMb: number; trainable: number; total: number; optimizerMb: number; checkpointMb: number }

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
function dirBytes(dir: string): number {
  return readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

async function child(name: string): Promise<Row> {
  const labels = Array.from({ length: numLabels }, (_, i) => `L${i}`);
  const model = existsSync(join(BASE, 'model.safetensors'))
    ? await BertForTokenClassification.fromPretrained(BASE, { labels, log: null, ignoreMismatchedSizes: true })
    : BertForTokenClassification.fromConfig(shape, { labels });
  const options = CONFIGS[name];
  if (options) { model.addAdapter('a', options); model.setAdapter('a'); }
  let s = 7;
  const rand = () => { s = (s * 48271) % 2147483647; return s / 2147483647; };
  const V = model.config.vocab_size;
  const batch = {
    batchSize: B, seqLen: T, inputIds: Int32Array.from({ length: B * T }, () => 1 + Math.floor(rand() * (V - 1))),
    attentionMask: new Int32Array(B * T).fill(1), tokenTypeIds: new Int32Array(B * T), labels: Int32Array.from({ length: B * T }, () => Math.floor(rand() * numLabels)),
  };
  const times: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const t = performance.now();
    await model.trainStep(batch, { learningRate: 1e-4, weightDecay: 0.01, maxGradNorm: 1, rngSeed: i });
    if (i >= warmup) times.push(performance.now() - t);
  }
  const total = model.numParameters;
  const trainable = options ? model.adapters()[0].numParameters : total;
  const dir = mkdtempSync(join(tmpdir(), 'roots-peft-bench-'));
  await model.save(dir);
  const checkpointMb = dirBytes(dir) / 2 ** 20;
  rmSync(dir, { recursive: true, force: true });
  model.dispose();
  return { name, ms: median(times), rssMb: process.resourceUsage().maxRSS / 1024, trainable, total, optimizerMb: (2 * trainable * 4) / 2 ** 20, checkpointMb };
}

/** Step times of every configuration on one model, interleaved: rounds x steps per configuration. */
async function interleaved(): Promise<Map<string, number[]>> {
  const labels = Array.from({ length: numLabels }, (_, i) => `L${i}`);
  const model = existsSync(join(BASE, 'model.safetensors'))
    ? await BertForTokenClassification.fromPretrained(BASE, { labels, log: null, ignoreMismatchedSizes: true })
    : BertForTokenClassification.fromConfig(shape, { labels });
  for (const [name, o] of Object.entries(CONFIGS)) if (o) model.addAdapter(name, o);
  let s = 11;
  const rand = () => { s = (s * 48271) % 2147483647; return s / 2147483647; };
  const batch = {
    batchSize: B, seqLen: T, inputIds: Int32Array.from({ length: B * T }, () => 1 + Math.floor(rand() * (model.config.vocab_size - 1))),
    attentionMask: new Int32Array(B * T).fill(1), tokenTypeIds: new Int32Array(B * T), labels: Int32Array.from({ length: B * T }, () => Math.floor(rand() * numLabels)),
  };
  const times = new Map<string, number[]>();
  for (let i = 0; i < warmup + steps * rounds; i++) {
    for (const name of Object.keys(CONFIGS)) {
      const t = performance.now();
      await model.trainStep(batch, { learningRate: 1e-4, weightDecay: 0.01, maxGradNorm: 1, rngSeed: i, adapter: CONFIGS[name] ? name : null });
      if (i >= warmup) times.set(name, [...(times.get(name) ?? []), performance.now() - t]);
    }
  }
  model.dispose();
  return times;
}

if (process.argv[2] === '--child') {
  console.log(JSON.stringify(await child(process.argv[3])));
} else {
  const stepTimes = await interleaved();
  const results = new Map<string, Row[]>();
  for (let r = 0; r < 1; r++) {
    for (const name of Object.keys(CONFIGS)) {
      const p = spawnSync(process.execPath, ['--import', 'tsx', import.meta.filename, '--child', name], { encoding: 'utf8', env: { ...process.env, ROOTS_BENCH_STEPS: '2' } });
      if (p.status !== 0) throw new Error(`${name}: ${p.stderr}`);
      const row = JSON.parse(p.stdout.trim().split('\n').pop()!) as Row;
      results.set(name, [...(results.get(name) ?? []), row]);
      process.stderr.write(`${name}: ${row.rssMb.toFixed(0)} MB peak RSS\n`);
    }
  }
  const fullMs = median(stepTimes.get('full')!);
  console.log(`base: ${existsSync(join(BASE, 'model.safetensors')) ? BASE : 'fresh H256 L4'}; batch ${B}x${T}, fp32; step ms: median (min) of ${steps * rounds} steps per configuration, interleaved, after ${warmup} warm-up rounds\n`);
  console.log('| config | trainable | % | step ms | vs full | peak RSS MB | AdamW state MB | checkpoint MB |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const [name, rows] of results) {
    const x = rows[0], t = stepTimes.get(name)!, ms = median(t), min = Math.min(...t);
    console.log(`| ${name} | ${x.trainable.toLocaleString('en-US')} | ${(100 * x.trainable / x.total).toFixed(3)} | ${ms.toFixed(0)} (${min.toFixed(0)}) | ${(ms / fullMs).toFixed(2)} | ${x.rssMb.toFixed(0)} | ${x.optimizerMb.toFixed(2)} | ${x.checkpointMb.toFixed(2)} |`);
  }
}
