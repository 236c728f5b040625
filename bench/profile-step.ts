// Where a training step's time goes, by operator: runs the train-step workload (bench/train-step.bench.ts:
// BERT H=256 L=4 I=1024, batch 32x128, dropout 0.1, AdamW) with ROOTS_PROFILE set, which records the
// fourth step as a chrome trace (native/model_wrap.cc), and prints each operator's self time (its
// time minus that of the operators it called) in ms and as a share of the step, largest first,
// with the matrix products (mm, addmm, bmm, matmul, linear) summed apart from the rest.
//
//   npx tsx bench/profile-step.ts [fp32|bf16] [trace.json]     (ROOTS_NUM_THREADS, ROOTS_FUSED apply)
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { BertForTokenClassification } from '../lib/models/bert.js';
import { timeSteps, tokenBatch } from './token-steps.js';

const precision = (process.argv[2] ?? 'fp32') as 'fp32' | 'bf16';
const trace = process.argv[3] ?? join(tmpdir(), `roots-step-${process.pid}.json`);
const config = {
  vocab_size: 8000, hidden_size: 256, num_hidden_layers: 4, num_attention_heads: 4, intermediate_size: 1024,
  max_position_embeddings: 512, type_vocab_size: 2, layer_norm_eps: 1e-12, pad_token_id: 0,
  hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1,
};

if (!process.env.ROOTS_PROFILE) {
  // ROOTS_PROFILE is read once per process by the addon: run this script again with it set.
  const r = spawnSync(process.execPath, ['--import', 'tsx', import.meta.filename, precision, trace], { stdio: 'inherit', env: { ...process.env, ROOTS_PROFILE: trace } });
  process.exit(r.status ?? 1);
}

const model = BertForTokenClassification.fromConfig(config, { labels: Array.from({ length: 9 }, (_, i) => `L${i}`), precision, seed: 0 });
const times = await timeSteps(model, tokenBatch(32, 128, config.vocab_size, 9), 3, 2);
model.dispose();

interface Event { name: string; ph: string; ts: number; dur?: number; tid: number | string }
const raw = JSON.parse(readFileSync(trace, 'utf8')) as Event[] | { traceEvents: Event[] };
const events = (Array.isArray(raw) ? raw : raw.traceEvents).filter((e) => e.ph === 'X' && e.dur !== undefined);
// Self time: each complete event minus its direct children on the same thread (events nest).
const self = new Map<string, { ms: number; calls: number }>();
const byThread = new Map<string, Event[]>();
for (const e of events) {
  const k = String(e.tid);
  if (!byThread.has(k)) byThread.set(k, []);
  byThread.get(k)!.push(e);
}
let total = 0;
for (const list of byThread.values()) {
  list.sort((a, b) => a.ts - b.ts || b.dur! - a.dur!);
  const stack: { e: Event; child: number }[] = [];
  const close = (until: number) => {
    while (stack.length && stack[stack.length - 1].e.ts + stack[stack.length - 1].e.dur! <= until) {
      const { e, child } = stack.pop()!;
      const s = self.get(e.name) ?? { ms: 0, calls: 0 };
      s.ms += (e.dur! - child) / 1000;
      s.calls++;
      self.set(e.name, s);
      if (stack.length) stack[stack.length - 1].child += e.dur!;
      else total += e.dur! / 1000;
    }
  };
  for (const e of list) { close(e.ts); stack.push({ e, child: 0 }); }
  close(Number.POSITIVE_INFINITY);
}
const isMatmul = (n: string) => /^aten::(mm|addmm|bmm|matmul|linear|_mkldnn|mkldnn_|baddbmm)/.test(n);
const rows = [...self.entries()].sort((a, b) => b[1].ms - a[1].ms);
const mm = rows.filter(([n]) => isMatmul(n)).reduce((s, [, v]) => s + v.ms, 0);
console.log(`${precision}, ${process.env.ROOTS_NUM_THREADS ?? 'default'} threads, ROOTS_FUSED=${process.env.ROOTS_FUSED ?? '1'}; measured steps ${times.map((t) => (t * 1000).toFixed(0)).join(', ')} ms; traced step: ${total.toFixed(0)} ms of top-level operators, matrix products ${mm.toFixed(0)} ms (${(100 * mm / total).toFixed(1)}%)`);
console.log(`${'operator (self time)'.padEnd(52)} ${'ms'.padStart(8)} ${'%'.padStart(6)} calls`);
for (const [n, v] of rows.filter(([n]) => !isMatmul(n)).slice(0, 25))
  console.log(`${n.slice(0, 52).padEnd(52)} ${v.ms.toFixed(1).padStart(8)} ${(100 * v.ms / total).toFixed(1).padStart(6)} ${v.calls}`);
