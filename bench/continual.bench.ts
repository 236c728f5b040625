// Continual learning on NER (../shared/data), two sequences (ROOTS_CL_SEQUENCE):
// - class (default): class-incremental NER on CoNLL-2003, PER + LOC first, then ORG, then MISC, each
//   task's training sentences (from a disjoint third of eng.train, those holding one of its types)
//   with every other type's tags removed (O), as in the class-incremental NER literature (Monaikul et
//   al. 2021). The head grows per task (label expansion: the old rows kept). Scores: entity F1 of
//   each task's types alone on eng.testa (other types' predictions counted as O).
// - domain: CoNLL-2003 then WNUT-17, the shared types mapped (person -> PER, location -> LOC,
//   corporation and group -> ORG; CoNLL's MISC and WNUT's product and creative-work removed), one
//   head with the same seven tags. Scores: PER/LOC/ORG entity F1 on eng.testa and on WNUT-17's dev set.
// Methods from the same start: naive sequential fine-tuning, EWC (λ, the per-example Fisher on 200
// examples of each finished task, online, γ = 1), replay (a reservoir buffer over all earlier tasks'
// data, mixed in), LwF (the previous model distilled on the new data, T = 2, weight 1), joint training
// (each stage on all the data seen so far, continuing from the previous stage: the upper bound), and
// combinations (replay+ewc@3e4). After each task: the accuracy matrix R[i][j], then average
// accuracy, backward transfer, forgetting (lib/continual/metrics.ts).
//
//   npx tsx bench/continual.bench.ts [--json out.json]      settings: bench/continual-common.ts
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
import { type ContinualOptions, ReplayBuffer, accumulateFisher, consolidate, expandLabels, mixReplay } from '../lib/continual/index.js';
import { BASE, DATA, NDEV, NTRAIN, REPLAY, STEPS, type MethodResult, finish, methodList, parseMethod, printTable, trainArgs, writeResults } from './continual-common.js';

const SEQUENCE = process.env.ROOTS_CL_SEQUENCE ?? 'class';
const METHODS = methodList('naive,ewc,replay,lwf,joint');

interface NerTask { name: string; types: string[]; train: TaggedSentence[]; dev: TaggedSentence[] }

const typeOf = (t: string) => t.replace(/^[BI]-/, '');
const keep = (s: TaggedSentence, types: string[]): TaggedSentence => ({ ...s, tags: s.tags.map((t) => (types.includes(typeOf(t)) ? t : 'O')) });
const labelsFor = (types: string[]) => types.flatMap((t) => [`B-${t}`, `I-${t}`]);
const conll = async (file: string) => convertSentences(await readConll(join(DATA, 'ner/conll2003', file)), 'IOB2');

async function classSequence(): Promise<NerTask[]> {
  const train = await conll('eng.train');
  const dev = (await conll('eng.testa')).slice(0, NDEV);
  // Disjoint thirds of the training set (seeded), each task's sentences those with one of its types.
  const order = new Rng(7).shuffle([...train.keys()]);
  return [['PER', 'LOC'], ['ORG'], ['MISC']].map((types, i) => ({
    name: types.join('+'), types, dev,
    train: order.filter((_, k) => k % 3 === i).map((k) => train[k]).filter((s) => s.tags.some((t) => types.includes(typeOf(t)))).slice(0, NTRAIN).map((s) => keep(s, types)),
  }));
}

const WNUT_TYPES: Record<string, string> = { person: 'PER', location: 'LOC', corporation: 'ORG', group: 'ORG' };
const wnutMapped = (s: TaggedSentence): TaggedSentence => ({
  ...s, tags: s.tags.map((t) => { const ty = WNUT_TYPES[typeOf(t)]; return t === 'O' || !ty ? 'O' : `${t[0]}-${ty}`; }),
});

async function domainSequence(): Promise<NerTask[]> {
  const types = ['PER', 'LOC', 'ORG'];
  const shuffled = <T>(xs: T[]) => new Rng(7).shuffle(xs.slice());
  const wnut = async (file: string) => (await readConll(join(DATA, 'ner/wnut17', file))).map(wnutMapped);
  return [
    { name: 'CoNLL-2003', types, train: shuffled(await conll('eng.train')).slice(0, NTRAIN).map((s) => keep(s, types)), dev: (await conll('eng.testa')).slice(0, NDEV).map((s) => keep(s, types)) },
    { name: 'WNUT-17', types, train: shuffled(await wnut('wnut17train.conll')).slice(0, NTRAIN), dev: (await wnut('emerging.dev.conll')).slice(0, NDEV) },
  ];
}

const TASKS = SEQUENCE === 'domain' ? await domainSequence() : await classSequence();
const tokenizer = await Tokenizer.fromPretrained(BASE);

/** F1 of each task's types alone on its dev set (predictions of other types count as O); a dev set shared by several tasks is run once. */
async function scoreAll(model: BertForTokenClassification): Promise<number[]> {
  const predictions = new Map<TaggedSentence[], string[][]>();
  const out: number[] = [];
  for (const { types, dev } of TASKS) {
    if (!predictions.has(dev)) {
      const ev = await new Trainer({ model, tokenizer, train: dev, task: 'ner', args: { maxLength: 128, evalBatchSize: 64, progress: 'none' } }).evaluate(dev);
      predictions.set(dev, (ev.details as NerDetails).predictions);
    }
    const pred = predictions.get(dev) as string[][];
    out.push(entityScores(dev.map((s) => keep(s, types).tags), pred.map((p) => p.map((tag) => (types.includes(typeOf(tag)) ? tag : 'O'))), { scheme: 'IOB2' }).micro.f1);
  }
  return out;
}

async function fisher(model: BertForTokenClassification, data: TaggedSentence[]): Promise<void> {
  const t = new Trainer({ model, tokenizer, train: data.slice(0, 200), task: 'ner', args: { maxLength: 128, progress: 'none' } });
  await accumulateFisher(model, new DataLoader(t.trainFeatures, { batchSize: 1, tokenizer, shuffle: false, numLabels: t.labels.size }), { maxBatches: 200 });
  consolidate(model, 1);
}

const results: Record<string, MethodResult> = {};
for (const method of METHODS) {
  const t0 = performance.now();
  const { parts, ewcLambda } = parseMethod(method);
  let model = await BertForTokenClassification.fromPretrained(BASE, { labels: ['O'], seed: 1, log: null });
  const buffer = new ReplayBuffer<TaggedSentence>(REPLAY, { seed: 3 });
  const R: number[][] = [];
  for (let i = 0; i < TASKS.length; i++) {
    const teacher = model;
    model = expandLabels(model, labelsFor(TASKS[i].types), { seed: 10 + i });
    let data = TASKS[i].train;
    if (parts.has('joint')) data = TASKS.slice(0, i + 1).flatMap((t) => t.train);
    if (parts.has('replay')) data = mixReplay(data, buffer);
    const continual: ContinualOptions = {};
    if (parts.has('ewc') && i > 0) continual.ewc = { lambda: ewcLambda };
    if (parts.has('lwf') && i > 0) continual.lwf = { teacher, temperature: 2, weight: 1 };
    await new Trainer({ model, tokenizer, train: data, task: 'ner', args: trainArgs, continual }).train();
    teacher.dispose();
    // Online EWC: the older Fisher plus this task's (γ = 1), the anchor here.
    if (parts.has('ewc')) await fisher(model, TASKS[i].train);
    if (parts.has('replay')) buffer.addAll(TASKS[i].train);
    R.push(await scoreAll(model));
    process.stderr.write(`${method} after task ${i} (${TASKS[i].name}): ${R[i].map((v) => v.toFixed(3)).join(' ')}  [${((performance.now() - t0) / 1000).toFixed(0)} s]\n`);
  }
  model.dispose();
  results[method] = finish(R, (performance.now() - t0) / 1000);
  writeResults({ sequence: SEQUENCE, tasks: TASKS.map((t) => t.name), train: TASKS.map((t) => t.train.length), dev: TASKS.map((t) => t.dev.length) }, results);
}

printTable(`${SEQUENCE === 'domain' ? 'Domain shift' : 'Class-incremental NER'} (${TASKS.map((t) => t.name).join(' -> ')}), ${BASE}, ${STEPS} steps x 16 per task, lr ${trainArgs.learningRate}, ${TASKS.map((t) => t.train.length).join('/')} training sentences, ${TASKS.map((t) => t.dev.length).join('/')} dev sentences`, TASKS.map((t) => t.name), results);
