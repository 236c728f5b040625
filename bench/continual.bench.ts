// Class-incremental NER on CoNLL-2003 (../shared/data): PER + LOC first, then ORG, then MISC, each
// task's training data with the earlier (and later) types' tags removed (O), as in the
// class-incremental NER literature (Monaikul et al. 2021). Five runs from the same start: naive
// sequential fine-tuning, EWC (λ, the per-example Fisher on 200 examples, online), replay (a
// reservoir buffer over all earlier tasks' data, mixed in), LwF (the previous model distilled on the
// new data, T = 2), and joint training (each stage on all the data seen so far: the upper bound).
// After each task every model is scored on the full dev set (eng.testa), entity F1 of each task's
// types alone: the accuracy matrix R[i][j], then average accuracy, backward transfer, forgetting.
// The head grows per task (label expansion: the old rows kept).
//
//   npx tsx bench/continual.bench.ts [--json out.json]
//   ROOTS_CL_BASE   start model (default /work/pretrain/mlm: the pretraining issue's MLM; else a fresh H256 L4)
//   ROOTS_CL_STEPS  optimizer steps per task (default 300), batch 16, lr 1e-4 linear with 10% warmup
//   ROOTS_CL_TRAIN  training sentences per task (default 3000), ROOTS_CL_DEV dev sentences (default all 3250)
//   ROOTS_CL_METHODS comma list (default naive,ewc,replay,lwf,joint); ROOTS_CL_EWC_LAMBDA (default 1e5);
//   ROOTS_CL_REPLAY buffer size (default 300)
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { readConll } from '../lib/data/readers.js';
import type { TaggedSentence } from '../lib/data/readers.js';
import { Rng } from '../lib/data/rng.js';
import { entityScores } from '../lib/metrics/seqeval.js';
import { BertForTokenClassification } from '../lib/models/bert.js';
import { convertSentences, type NerDetails } from '../lib/tasks/ner.js';
import { Tokenizer } from '../lib/tokenizer/index.js';
import { Trainer } from '../lib/trainer/trainer.js';
import { DataLoader } from '../lib/data/loader.js';
import {
  type ContinualOptions, ReplayBuffer, accumulateFisher, consolidate, continualMetrics, expandLabels, mixReplay,
} from '../lib/continual/index.js';

const DATA = process.env.ROOTS_SHARED_DATA ?? join(import.meta.dirname, '..', '..', 'shared', 'data');
const BASE = process.env.ROOTS_CL_BASE ?? '/work/pretrain/mlm';
const STEPS = Number(process.env.ROOTS_CL_STEPS ?? 300);
const NTRAIN = Number(process.env.ROOTS_CL_TRAIN ?? 3000);
const NDEV = Number(process.env.ROOTS_CL_DEV ?? 1e9);
const METHODS = (process.env.ROOTS_CL_METHODS ?? 'naive,ewc,replay,lwf,joint').split(',');
const EWC_LAMBDA = Number(process.env.ROOTS_CL_EWC_LAMBDA ?? 1e5);
const REPLAY = Number(process.env.ROOTS_CL_REPLAY ?? 300);
const TASKS = [['PER', 'LOC'], ['ORG'], ['MISC']];
const jsonOut = process.argv.includes('--json') ? process.argv[process.argv.indexOf('--json') + 1] : null;

const typeOf = (t: string) => t.replace(/^[BI]-/, '');
const keep = (s: TaggedSentence, types: string[]): TaggedSentence => ({ ...s, tags: s.tags.map((t) => (types.includes(typeOf(t)) ? t : 'O')) });
const labelsFor = (types: string[]) => types.flatMap((t) => [`B-${t}`, `I-${t}`]);

const train = convertSentences(await readConll(join(DATA, 'ner/conll2003/eng.train')), 'IOB2');
const dev = convertSentences(await readConll(join(DATA, 'ner/conll2003/eng.testa')), 'IOB2').slice(0, NDEV);
// Disjoint thirds of the training set (seeded), each task's sentences those with one of its types.
const order = new Rng(7).shuffle([...train.keys()]);
const taskData = TASKS.map((types, i) => order.filter((_, k) => k % 3 === i).map((k) => train[k])
  .filter((s) => s.tags.some((t) => types.includes(typeOf(t)))).slice(0, NTRAIN).map((s) => keep(s, types)));

const tokenizer = await Tokenizer.fromPretrained(BASE);
const fresh = !existsSync(join(BASE, 'model.safetensors'));
const args = { maxSteps: STEPS, batchSize: 16, learningRate: 1e-4, warmupRatio: 0.1, evalStrategy: 'no' as const, saveStrategy: 'no' as const, progress: 'none' as const, maxLength: 128, seed: 1, precision: 'fp32' as const };

/** F1 of each task's types alone on the full dev set (predictions of other types count as O). */
async function scoreAll(model: BertForTokenClassification): Promise<number[]> {
  const t = new Trainer({ model, tokenizer, train: dev, task: 'ner', args: { maxLength: 128, evalBatchSize: 64, progress: 'none' } });
  const ev = await t.evaluate(dev);
  const pred = (ev.details as NerDetails).predictions;
  return TASKS.map((types) => entityScores(dev.map((s) => keep(s, types).tags), pred.map((p) => p.map((tag) => (types.includes(typeOf(tag)) ? tag : 'O'))), { scheme: 'IOB2' }).micro.f1);
}

async function fisher(model: BertForTokenClassification, data: TaggedSentence[]): Promise<void> {
  const t = new Trainer({ model, tokenizer, train: data.slice(0, 200), task: 'ner', args: { maxLength: 128, progress: 'none' } });
  await accumulateFisher(model, new DataLoader(t.trainFeatures, { batchSize: 1, tokenizer, shuffle: false, numLabels: t.labels.size }), { maxBatches: 200 });
  consolidate(model, 1);
}

const results: Record<string, { R: number[][]; seconds: number; metrics: ReturnType<typeof continualMetrics> }> = {};
for (const method of METHODS) {
  const t0 = performance.now();
  let model = fresh
    ? BertForTokenClassification.fromConfig({ vocab_size: tokenizer.vocabSize, hidden_size: 256, num_hidden_layers: 4, num_attention_heads: 4, intermediate_size: 1024 }, { labels: ['O'], seed: 1 })
    : await BertForTokenClassification.fromPretrained(BASE, { labels: ['O'], seed: 1, log: null });
  const buffer = new ReplayBuffer<TaggedSentence>(REPLAY, { seed: 3 });
  const R: number[][] = [];
  for (let i = 0; i < TASKS.length; i++) {
    const teacher = model;
    model = expandLabels(model, labelsFor(TASKS[i]), { seed: 10 + i });
    let data = taskData[i];
    if (method === 'joint') data = taskData.slice(0, i + 1).flat();
    if (method === 'replay') data = mixReplay(data, buffer);
    const continual: ContinualOptions = {};
    if (method === 'ewc' && i > 0) continual.ewc = { lambda: EWC_LAMBDA };
    if (method === 'lwf' && i > 0) continual.lwf = { teacher, temperature: 2, weight: 1 };
    await new Trainer({ model, tokenizer, train: data, task: 'ner', args, continual }).train();
    if (teacher !== model) teacher.dispose();
    if (method === 'ewc') {
      // Online EWC: the older Fisher plus this task's (γ = 1), the anchor here.
      await fisher(model, taskData[i]);
    }
    if (method === 'replay') buffer.addAll(taskData[i]);
    R.push(await scoreAll(model));
    process.stderr.write(`${method} after task ${i} (${TASKS[i].join('+')}): ${R[i].map((v) => v.toFixed(3)).join(' ')}  [${((performance.now() - t0) / 1000).toFixed(0)} s]\n`);
  }
  model.dispose();
  results[method] = { R, seconds: (performance.now() - t0) / 1000, metrics: continualMetrics(R) };
}

const pct = (v: number | null) => (v === null ? '-' : (100 * v).toFixed(1));
console.log(`\nClass-incremental NER, CoNLL-2003 (PER+LOC -> ORG -> MISC), ${fresh ? 'fresh H256 L4' : BASE}, ${STEPS} steps x 16 per task, ${taskData.map((d) => d.length).join('/')} training sentences, ${dev.length} dev sentences`);
console.log('| method | R after task 3 (PER+LOC / ORG / MISC F1) | average | BWT | forgetting | newest task | time |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const [m, r] of Object.entries(results)) {
  const last = r.R[r.R.length - 1];
  console.log(`| ${m} | ${last.map(pct).join(' / ')} | ${pct(r.metrics.averageAccuracy)} | ${pct(r.metrics.backwardTransfer)} | ${pct(r.metrics.forgetting)} | ${pct(r.metrics.newestTask)} | ${r.seconds.toFixed(0)} s |`);
}
if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ steps: STEPS, train: taskData.map((d) => d.length), dev: dev.length, base: fresh ? null : BASE, ewcLambda: EWC_LAMBDA, replay: REPLAY, results }, null, 2) + '\n');
