// Task-incremental continual learning (../shared/data): SST-2, then TREC (6 coarse classes), then
// SNIPS intents (7), one BERT encoder (embeddings, layers, pooler) shared by one sequence head per task.
// Each task trains its own head and the shared encoder; the old heads stay as they were, so what an
// old task loses is what the encoder forgot. Scores: accuracy on SST-2 dev, TREC test, SNIPS dev,
// each through its own head (the task is known at test time).
// Methods from the same start:
// - naive: sequential fine-tuning;
// - ewc@λ: EWC on the shared weights (the per-example Fisher on 200 examples of each finished task
//   through its own head, online, γ = 1; a new head starts with a zero Fisher);
// - l2sp@α: the pull toward the weights the task starts from;
// - joint: the upper bound, multi-task training on all the tasks seen so far, and replay (the new
//   task's data plus a reservoir buffer of the earlier tasks', ROOTS_CL_REPLAY examples): batches that
//   mix tasks, so one model whose head holds every task's rows (label expansion per stage, continuing
//   from the previous stage), scored per task by the argmax over that task's rows alone (its head);
//   trained with one softmax over all rows, the only difference from separate heads. naive+union is
//   naive fine-tuning on that model (the control for the difference).
// LwF distils a head into the same head, so it needs the old heads' outputs beside the new one's; not run here.
//
//   npx tsx bench/continual-task.bench.ts [--json out.json]   settings: bench/continual-common.ts
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { readDelimited } from '../lib/data/delimited.js';
import { DataLoader } from '../lib/data/loader.js';
import { type TextExample, readIntentSlots, readTrec } from '../lib/data/readers.js';
import { Rng } from '../lib/data/rng.js';
import { type ContinualOptions, ReplayBuffer, accumulateFisher, consolidate, expandLabels, mixReplay } from '../lib/continual/index.js';
import { BertForSequenceClassification } from '../lib/models/bert.js';
import { forwardFeatures } from '../lib/tasks/forward.js';
import { Tokenizer } from '../lib/tokenizer/index.js';
import { Trainer } from '../lib/trainer/trainer.js';
import { BASE, DATA, NDEV, NTRAIN, REPLAY, STEPS, type MethodResult, finish, methodList, parseMethod, printTable, trainArgs, writeResults } from './continual-common.js';

const METHODS = methodList('naive,ewc,joint');
interface ClsTask { name: string; labels: string[]; train: TextExample[]; dev: TextExample[] }

const sample = (xs: TextExample[], n: number) => new Rng(7).shuffle(xs.slice()).slice(0, n);
const snips = async (split: string) => (await readIntentSlots(join(DATA, 'intent/snips', split))).map((e) => ({ text: e.tokens.join(' '), label: e.intent as string }));
const sst2 = async (file: string) => readDelimited(join(DATA, 'textcls/sst2', file));
const TASKS: ClsTask[] = [
  { name: 'SST-2', train: await sst2('train.tsv'), dev: await sst2('dev.tsv') },
  { name: 'TREC', train: await readTrec(join(DATA, 'textcls/trec/TREC.train.all'), { encoding: 'latin1' }), dev: await readTrec(join(DATA, 'textcls/trec/TREC.test.all'), { encoding: 'latin1' }) },
  { name: 'SNIPS', train: await snips('train'), dev: await snips('dev') },
].map((t) => ({ ...t, labels: [...new Set(t.train.map((e) => e.label as string))].sort(), train: sample(t.train, NTRAIN), dev: t.dev.slice(0, NDEV) }));

const tokenizer = await Tokenizer.fromPretrained(BASE);
const isHead = (name: string) => name.startsWith('classifier.');
/** The joint model's label for a task's class: one head's rows per task. */
const joint = (task: ClsTask, label: string) => `${task.name}/${label}`;
const relabel = (task: ClsTask, xs: TextExample[]): TextExample[] => xs.map((e) => ({ ...e, label: joint(task, e.label as string) }));

/** Accuracy on `dev` by the argmax over the model's labels `rows` (the task's head). */
async function accuracy(model: BertForSequenceClassification, dev: TextExample[], rows: string[]): Promise<number> {
  const features = new Trainer({ model, tokenizer, train: dev, task: 'text-classification', args: { maxLength: 128, progress: 'none' } }).trainFeatures;
  const { logits } = await forwardFeatures(model, features, { batchSize: 64, padTokenId: tokenizer.padTokenId ?? 0 });
  const ids = rows.map((l) => (model.labels as string[]).indexOf(l));
  let right = 0;
  features.forEach((f, k) => {
    let best = ids[0];
    for (const id of ids) if (logits[k][id] > logits[k][best]) best = id;
    if (best === f.label) right++;
  });
  return right / features.length;
}

/** The shared encoder (every weight but the head) and its EWC Fisher and anchor, from one task's model into another's. */
function moveEncoder(from: BertForSequenceClassification, to: BertForSequenceClassification, ewc: boolean): void {
  for (const p of from.parameters()) {
    if (isHead(p.name)) continue;
    to.setParameter(p.name, from.getParameter(p.name));
    if (ewc) for (const which of ['fisher', 'anchor'] as const) to.continual('set', which, p.name, from.continual('get', which, p.name));
  }
}

async function fisher(model: BertForSequenceClassification, data: TextExample[]): Promise<void> {
  const t = new Trainer({ model, tokenizer, train: data.slice(0, 200), task: 'text-classification', args: { maxLength: 128, progress: 'none' } });
  await accumulateFisher(model, new DataLoader(t.trainFeatures, { batchSize: 1, tokenizer, shuffle: false, numLabels: t.labels.size }), { maxBatches: 200 });
  consolidate(model, 1);
}

/** Sequential training with one model (one head) per task, the encoder handed on. */
async function sequential(method: string): Promise<(number | null)[][]> {
  const { parts, ewcLambda } = parseMethod(method);
  const known = new Set(['naive', 'ewc', 'l2sp']);
  for (const p of parts) if (!known.has(p)) throw new Error(`${method}: the task-incremental bench runs naive, ewc@λ, l2sp@α, replay, joint and naive+union (LwF needs the old heads' outputs)`);
  const alpha = Number(method.match(/l2sp@([^+]+)/)?.[1] ?? 0.01);
  const models: BertForSequenceClassification[] = [];
  const R: (number | null)[][] = [];
  try {
    for (let i = 0; i < TASKS.length; i++) {
      const model = await BertForSequenceClassification.fromPretrained(BASE, { labels: TASKS[i].labels, seed: 10 + i, log: null });
      models.push(model);
      if (i > 0) moveEncoder(models[i - 1], model, parts.has('ewc'));
      const continual: ContinualOptions = {};
      if (parts.has('ewc') && i > 0) continual.ewc = { lambda: ewcLambda };
      if (parts.has('l2sp') && i > 0) continual.l2sp = { alpha };
      await new Trainer({ model, tokenizer, train: TASKS[i].train, task: 'text-classification', args: trainArgs, continual }).train();
      if (parts.has('ewc')) await fisher(model, TASKS[i].train);
      const row: (number | null)[] = [];
      for (let j = 0; j < TASKS.length; j++) {
        if (j > i) { row.push(null); continue; }
        if (j < i) moveEncoder(model, models[j], false);  // task j's head on today's encoder
        row.push(await accuracy(models[j], TASKS[j].dev, TASKS[j].labels));
      }
      R.push(row);
      process.stderr.write(`${method} after task ${i} (${TASKS[i].name}): ${row.map((v) => (v === null ? '-' : v.toFixed(3))).join(' ')}\n`);
    }
  } finally {
    for (const m of models) m.dispose();
  }
  return R;
}

/** One model with every task's head rows: joint (every task seen so far), replay (the new task + a buffer of the old ones), naive+union (the new task alone). */
async function unionHead(method: string): Promise<(number | null)[][]> {
  let model = await BertForSequenceClassification.fromPretrained(BASE, { labels: TASKS[0].labels.map((l) => joint(TASKS[0], l)), seed: 10, log: null });
  const buffer = new ReplayBuffer<TextExample>(REPLAY, { seed: 3 });
  const R: (number | null)[][] = [];
  try {
    for (let i = 0; i < TASKS.length; i++) {
      if (i > 0) { const old = model; model = expandLabels(old, TASKS[i].labels.map((l) => joint(TASKS[i], l)), { seed: 10 + i }); old.dispose(); }
      const own = relabel(TASKS[i], TASKS[i].train);
      let data = own;
      if (method === 'joint') data = TASKS.slice(0, i + 1).flatMap((t) => relabel(t, t.train));
      if (method === 'replay') data = mixReplay(own, buffer);
      await new Trainer({ model, tokenizer, train: data, task: 'text-classification', args: trainArgs }).train();
      buffer.addAll(own);
      const row: (number | null)[] = [];
      for (let j = 0; j < TASKS.length; j++) row.push(j > i ? null : await accuracy(model, relabel(TASKS[j], TASKS[j].dev), TASKS[j].labels.map((l) => joint(TASKS[j], l))));
      R.push(row);
      process.stderr.write(`${method} after task ${i} (${TASKS[i].name}): ${row.map((v) => (v === null ? '-' : v.toFixed(3))).join(' ')}\n`);
    }
  } finally {
    model.dispose();
  }
  return R;
}

const results: Record<string, MethodResult> = {};
for (const method of METHODS) {
  const t0 = performance.now();
  const R = ['joint', 'replay', 'naive+union'].includes(method) ? await unionHead(method) : await sequential(method);
  results[method] = finish(R, (performance.now() - t0) / 1000);
  writeResults({ sequence: 'task', tasks: TASKS.map((t) => t.name), train: TASKS.map((t) => t.train.length), dev: TASKS.map((t) => t.dev.length) }, results);
}

printTable(`Task-incremental (${TASKS.map((t) => t.name).join(' -> ')}, one head per task), ${BASE}, ${STEPS} steps x 16 per task, lr ${trainArgs.learningRate}, ${TASKS.map((t) => t.train.length).join('/')} training examples, ${TASKS.map((t) => t.dev.length).join('/')} dev examples; accuracy`, TASKS.map((t) => t.name), results);
