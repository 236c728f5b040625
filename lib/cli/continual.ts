/**
 * `roots train --continual-from <model> --method ewc|replay|lwf|l2sp[,...]`: training a new task,
 * label set or domain onto an earlier model without forgetting it (lib/continual). The earlier
 * model is only read: the new model, with continual.safetensors (EWC's Fisher and anchor) beside
 * it, goes to --out.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DataLoader } from '../data/loader.js';
import { RootsError, type RootsErrorCode } from '../errors.js';
import type { BertPreTrainedModel, Device } from '../models/bert.js';
import { labelsOf } from '../models/config.js';
import { Tokenizer } from '../tokenizer/index.js';
import type { Trainer } from '../trainer/trainer.js';
import {
  CONTINUAL_FILE, type ContinualOptions, ReplayBuffer, accumulateFisher, consolidate, expandedLabels, expandLabels,
  loadContinualState, mixReplay, saveContinualState,
} from '../continual/index.js';
import { type CliIO, parsers, resolvePrecision } from './common.js';
import type { DataFlags } from './data.js';
import type { TaskRow } from './tasks.js';

export const METHODS = ['ewc', 'replay', 'lwf', 'l2sp'] as const;
export type Method = (typeof METHODS)[number];

export interface ContinualFlags {
  continualFrom?: string;
  method?: string;
  ewcLambda?: number;
  ewcGamma?: number;
  fisherData?: string;
  fisherSamples?: number;
  saveFisher?: boolean;
  replayData?: string;
  replaySize?: number;
  lwfTemperature?: number;
  lwfWeight?: number;
  l2spAlpha?: number;
}

export const CONTINUAL_SPECS = [
  { key: 'continualFrom', flags: '--continual-from <dir>', help: 'continual learning: train onto this earlier roots model (read only; its labels are kept and the data\'s new ones added; --model defaults to it)', parse: parsers.string },
  { key: 'method', flags: '--method <list>', help: 'with --continual-from: ewc, replay, lwf, l2sp, or several comma-separated (default: none, naive fine-tuning)', parse: parsers.string },
  { key: 'ewcLambda', flags: '--ewc-lambda <l>', help: 'EWC penalty weight: lambda * sum F (theta - theta*)^2 (default 1000)', parse: parsers.number(0) },
  { key: 'ewcGamma', flags: '--ewc-gamma <g>', help: 'online EWC: the older Fisher decays by g when this task\'s is added (default 1)', parse: parsers.number(0, 1) },
  { key: 'fisherData', flags: '--fisher-data <file>', help: 'EWC: the old task\'s data, for a --continual-from model saved without continual.safetensors (default: --replay-data)', parse: parsers.string },
  { key: 'fisherSamples', flags: '--fisher-samples <n>', help: 'EWC: examples the Fisher is estimated on, one per batch (default 200)', parse: parsers.positiveInt },
  { key: 'saveFisher', flags: '--save-fisher', help: 'save this task\'s Fisher (continual.safetensors in --out) for a later --method ewc; on by default with --method ewc', parse: parsers.boolean },
  { key: 'replayData', flags: '--replay-data <file>', help: 'replay: the old task\'s training data (same format as --train)', parse: parsers.string },
  { key: 'replaySize', flags: '--replay-size <n>', help: 'replay: old examples kept by reservoir sampling and mixed into the new data (default 1000)', parse: parsers.positiveInt },
  { key: 'lwfTemperature', flags: '--lwf-temperature <t>', help: 'LwF: distillation temperature (default 2)', parse: parsers.number(0, Infinity, true) },
  { key: 'lwfWeight', flags: '--lwf-weight <w>', help: 'LwF: weight of the distillation term (default 1)', parse: parsers.number(0) },
  { key: 'l2spAlpha', flags: '--l2sp-alpha <a>', help: 'L2-SP: alpha / 2 * ||theta - theta0||^2 toward the --continual-from weights (default 0.01)', parse: parsers.number(0) },
] as const;

function noFisher(from: string): RootsError {
  return new RootsError('ERR_CONFIG', `--method ewc: ${from} has no ${CONTINUAL_FILE} (train it with --save-fisher), so the Fisher needs the old task's data: --fisher-data <file> (or --replay-data)`);
}

/** The methods of --method, checked against the other flags. */
export function continualMethods(o: ContinualFlags & { out?: string; peft?: string }): Set<Method> {
  const methods = new Set<Method>();
  if (o.method !== undefined) {
    for (const m of o.method.split(',').map((s) => s.trim())) {
      if (!(METHODS as readonly string[]).includes(m)) throw new RootsError('ERR_INVALID_ARG', `--method ${o.method}: ${JSON.stringify(m)} is not one of ${METHODS.join(', ')} (comma-separated to combine)`);
      methods.add(m as Method);
    }
  }
  if (!o.continualFrom) {
    const stray = (['method', 'ewcLambda', 'fisherData', 'replayData', 'replaySize', 'lwfTemperature', 'lwfWeight', 'l2spAlpha'] as const).find((k) => o[k] !== undefined);
    if (stray) throw new RootsError('ERR_INVALID_ARG', `--${stray.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} needs --continual-from <the earlier model>`);
    return methods;
  }
  if (o.peft) throw new RootsError('ERR_INVALID_ARG', '--continual-from trains the whole model; it does not combine with --peft');
  if (o.out && resolve(o.out) === resolve(o.continualFrom)) throw new RootsError('ERR_INVALID_ARG', `--out ${o.out} is the --continual-from model: the earlier model is never overwritten; choose another --out`);
  if (methods.has('replay') && !o.replayData) throw new RootsError('ERR_INVALID_ARG', '--method replay needs --replay-data <the old task\'s training data>');
  if (methods.has('ewc') && !o.fisherData && !o.replayData && !existsSync(join(o.continualFrom, CONTINUAL_FILE))) throw noFisher(o.continualFrom);
  return methods;
}

/** Replay: the old data (checked to be the earlier model's task and labels) sampled into the new training data. */
export async function withReplay<E>(row: TaskRow<E>, train: E[], o: ContinualFlags & { seed?: number }, oldLabels: readonly string[] | undefined, readFlags: DataFlags): Promise<E[]> {
  let old: E[];
  try {
    old = await row.read('--replay-data', o.replayData!, readFlags);
  } catch (e) {
    const err = e as Error & { code?: string };
    if (err.message.includes('--replay-data')) throw e;
    throw new RootsError((err.code ?? 'ERR_PARSE') as RootsErrorCode, `--replay-data: ${err.message}; replay needs the earlier task's data (${row.data})`);
  }
  const labels = new Set<string>();
  for (const e of old as unknown[]) {
    const x = e as { tags?: string[]; label?: string | string[] };
    if (x.tags) for (const t of x.tags) labels.add(t.replace(/^[BIESLU]-/, ''));
    else if (x.label !== undefined) for (const l of [x.label].flat()) labels.add(l);
  }
  if (oldLabels) {
    const known = new Set(oldLabels.map((l) => l.replace(/^[BIESLU]-/, '')));
    const foreign = [...labels].filter((l) => !known.has(l));
    if (foreign.length) throw new RootsError('ERR_CONFIG', `--replay-data ${o.replayData}: labels ${foreign.slice(0, 5).join(', ')} are not the --continual-from model's (${[...known].join(', ')}); is it another task's data?`);
  }
  const buffer = new ReplayBuffer<E>(o.replaySize ?? 1000, { seed: o.seed ?? 42 }).addAll(old);
  return mixReplay(train, buffer);
}

/** The earlier model, its labels grown by the data's new ones (old ids kept), the tokenizer checked against it. */
export async function loadContinualModel(row: TaskRow, from: string, dataLabels: readonly string[] | undefined, tokenizer: Tokenizer, o: { device?: string; precision?: string; seed?: number }, io: CliIO): Promise<BertPreTrainedModel> {
  if (!['model.safetensors', 'pytorch_model.bin'].some((w) => existsSync(join(from, w)))) {
    throw new RootsError('ERR_CONFIG', `--continual-from ${from} is not a trained model (no model.safetensors or pytorch_model.bin); train the first task with plain roots train (--save-fisher for a later --method ewc)`);
  }
  const theirs = await Tokenizer.fromPretrained(from);
  const differ = theirs.vocabSize !== tokenizer.vocabSize || Array.from({ length: theirs.vocabSize }, (_, i) => i).some((i) => theirs.idToToken(i) !== tokenizer.idToToken(i));
  if (differ) throw new RootsError('ERR_CONFIG', `--continual-from ${from} has another vocabulary (${theirs.vocabSize} tokens) than --model's tokenizer (${tokenizer.vocabSize}); continual learning needs the same vocabulary: drop --model, or give the folder the earlier model was trained from`);
  const model = await row.model.fromPretrained(from, { device: (o.device ?? 'auto') as Device, precision: resolvePrecision(o.precision), seed: o.seed ?? 42, log: (m) => io.err(m + '\n') });
  const old = labelsOf(model.config);
  if (!dataLabels || !old || dataLabels.every((l) => old.includes(l))) return model;
  try {
    const grown = expandLabels(model, expandedLabels(old, dataLabels), { seed: o.seed ?? 42 });
    io.err(`Added ${grown.labels!.length - old.length} labels to the head of ${from} (${grown.labels!.slice(old.length).join(', ')}); its ${old.length} labels keep their rows\n`);
    return grown;
  } finally {
    model.dispose();
  }
}

/** The Trainer's continual options for the methods, and what to dispose afterwards (the LwF teacher). */
export async function continualOptions(model: BertPreTrainedModel, row: TaskRow, methods: Set<Method>, o: ContinualFlags & DataFlags & { seed?: number }, trainerFor: TrainerFor, io: CliIO): Promise<{ options: ContinualOptions; earlierTasks: number; dispose(): void }> {
  const from = o.continualFrom!;
  const options: ContinualOptions = {};
  let teacher: BertPreTrainedModel | null = null;
  let earlierTasks = 0;
  if (methods.has('ewc')) {
    const file = join(from, CONTINUAL_FILE);
    if (existsSync(file)) {
      const info = await loadContinualState(model, file);
      earlierTasks = info.tasks;
      io.err(`EWC: the Fisher of ${info.tasks} earlier task${info.tasks === 1 ? '' : 's'} from ${file}\n`);
    } else {
      const data = o.fisherData ?? o.replayData;
      if (!data) throw noFisher(from);
      const examples = await row.read(o.fisherData ? '--fisher-data' : '--replay-data', data, o);
      const n = await fisherOn(model, trainerFor, examples, o.fisherSamples ?? 200);
      consolidate(model, 1);
      earlierTasks = 1;
      io.err(`EWC: the Fisher of ${from} estimated on ${n} examples of ${data}\n`);
    }
    options.ewc = { lambda: o.ewcLambda ?? 1000 };
  }
  if (methods.has('l2sp')) options.l2sp = { alpha: o.l2spAlpha ?? 0.01 };
  if (methods.has('lwf')) {
    teacher = await row.model.fromPretrained(from, { device: model.device as Device, seed: o.seed ?? 42, log: null });
    if (model.precision !== 'fp32') teacher.setPrecision(model.precision);
    options.lwf = { teacher, temperature: o.lwfTemperature ?? 2, weight: o.lwfWeight ?? 1 };
  }
  return { options, earlierTasks, dispose: () => teacher?.dispose() };
}

/** A Trainer (never trained: its task, tokenizer and labels encode examples) over `examples`. */
export type TrainerFor = (examples: readonly unknown[]) => Trainer<unknown>;

/** Accumulates the Fisher over up to `max` examples, one per batch (the per-example empirical Fisher). */
async function fisherOn(model: BertPreTrainedModel, trainerFor: TrainerFor, examples: readonly unknown[], max: number): Promise<number> {
  const trainer = trainerFor(examples.slice(0, max));
  const loader = new DataLoader(trainer.trainFeatures.slice(0, max), { batchSize: 1, tokenizer: trainer.tokenizer, shuffle: false, numLabels: trainer.labels.size });
  return accumulateFisher(model, loader, { maxBatches: max });
}

/** After training: this task's Fisher on its training data folded in (online EWC), saved to --out. */
export async function saveFisher(model: BertPreTrainedModel, trainerFor: TrainerFor, train: readonly unknown[], earlierTasks: number, out: string, o: ContinualFlags, io: CliIO): Promise<void> {
  const n = await fisherOn(model, trainerFor, train, o.fisherSamples ?? 200);
  const gamma = o.ewcGamma ?? 1;
  consolidate(model, gamma);
  const path = await saveContinualState(model, out, { tasks: earlierTasks + 1, gamma, fisherBatches: n });
  io.err(`Saved the Fisher (${n} examples${earlierTasks ? `, added to ${earlierTasks} earlier task${earlierTasks === 1 ? "'s" : "s'"} x ${gamma}` : ''}) and anchor to ${path}\n`);
}
