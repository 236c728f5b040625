/**
 * Training arguments (Hugging Face's TrainingArguments, camelCased, the ones that matter here),
 * their defaults, and validation with messages that name the argument and the expected value.
 */
import { RootsError, describe } from '../errors.js';
import type { FreezeStrategy, Precision } from '../models/bert.js';
import { resolveOptimizerOptions } from '../models/optimizer.js';
import { SCHEDULES, type ScheduleName } from './schedule.js';
import type { ProgressMode } from './progress.js';

export type IntervalStrategy = 'no' | 'steps' | 'epoch';

export interface EarlyStoppingArgs {
  /** Evaluations in a row without improvement before training stops. */
  patience: number;
  /** Metric to watch (default: metricForBestModel, else the task's: `f1` for NER). */
  metric?: string;
  /** Smallest change that counts as an improvement (default 0). */
  threshold?: number;
}

export interface TrainingArgs {
  /** Checkpoints, trainer_log.jsonl and report.html go here. Without it nothing is written. */
  outputDir?: string;
  /**
   * A fresh (not resumed) run into an outputDir that already holds checkpoints deletes them (and the
   * old log and report) instead of failing. Default false.
   */
  overwriteOutputDir?: boolean;
  /** Passes over the training data (default 3; ignored when maxSteps is set). May be fractional. */
  epochs?: number;
  /** Optimizer steps of the run; overrides epochs. */
  maxSteps?: number;
  /** Examples (windows) per micro-batch (default 16). */
  batchSize?: number;
  /** Examples per evaluation batch (default 2 × batchSize). */
  evalBatchSize?: number;
  /** Micro-batches per optimizer step (default 1). */
  gradientAccumulationSteps?: number;
  /** Peak learning rate (default 5e-5). */
  learningRate?: number;
  /** Schedule after warmup (default 'linear'). */
  lrScheduler?: ScheduleName;
  /** Warmup as a fraction of the optimizer steps (default 0). */
  warmupRatio?: number;
  /** Warmup steps; overrides warmupRatio. */
  warmupSteps?: number;
  /** AdamW decoupled weight decay (default 0; biases and LayerNorm weights never decay). */
  weightDecay?: number;
  /** Clip the gradient norm to this (default 1; 0 turns clipping off). */
  maxGradNorm?: number;
  /** AdamW's betas (default [0.9, 0.999]). */
  adamBetas?: [number, number];
  /** AdamW's epsilon (default 1e-8). */
  adamEpsilon?: number;
  /** When to evaluate (default 'epoch' when there is an eval set, else 'no'; 'steps' when evalSteps is set). */
  evalStrategy?: IntervalStrategy;
  evalSteps?: number;
  /** When to write checkpoints (default: with each evaluation, else each epoch; 'no' without outputDir). */
  saveStrategy?: IntervalStrategy;
  saveSteps?: number;
  /** Keep at most this many checkpoints (never deleting the best or the newest). */
  saveTotalLimit?: number;
  /** Log (JSONL, progress) every N optimizer steps (default: about 50 lines per run, at most every 50 steps). */
  loggingSteps?: number;
  /** Metric that picks the best checkpoint (default: the task's, `f1` for NER). */
  metricForBestModel?: string;
  /** Default: false for metrics named like a loss, true otherwise. */
  greaterIsBetter?: boolean;
  /** Stop when the metric has not improved for `patience` evaluations. */
  earlyStopping?: EarlyStoppingArgs | null;
  /** Load the best checkpoint's weights when training ends (default true when evaluating and saving). */
  loadBestModelAtEnd?: boolean;
  /** Freeze parameters before training (model.freeze). */
  freeze?: FreezeStrategy;
  /** Seeds the shuffling and the dropout masks (default 42). */
  seed?: number;
  /** Matrix products in fp32 or bf16 autocast (default: the model's current precision). */
  precision?: Precision;
  /** Longest window in tokens (default: min(512, max_position_embeddings, tokenizer's max)). */
  maxLength?: number;
  /** Stop with ERR_TRAINING after this many non-finite steps in a row (default 5). */
  maxNonFiniteSteps?: number;
  /** Progress display (default 'auto': a bar on a TTY, plain lines otherwise). */
  progress?: ProgressMode;
  /** Write report.html into outputDir at the end (default true). */
  report?: boolean;
  /**
   * Group training examples of similar length into batches (Transformers' `group_by_length`): less
   * padding, faster steps, less random batches. Default false: on CoNLL-2003 (3 seeds) grouped
   * batches trained 1.4x faster per step but ended 1.1 dev F1 points lower at equal steps and level
   * at equal training time (README, "Length grouping").
   */
  groupByLength?: boolean;
  /**
   * Pad every batch to a multiple of this many tokens (default 8). Fewer distinct shapes: LibTorch
   * and oneDNN keep per-shape kernels and buffers, which otherwise pile up over a long run.
   */
  padToMultipleOf?: number;
}

export interface ResolvedArgs {
  outputDir: string | null;
  overwriteOutputDir: boolean;
  epochs: number;
  maxSteps: number | null;
  batchSize: number;
  evalBatchSize: number;
  gradientAccumulationSteps: number;
  learningRate: number;
  lrScheduler: ScheduleName;
  warmupRatio: number;
  warmupSteps: number | null;
  weightDecay: number;
  maxGradNorm: number;
  adamBetas: [number, number];
  adamEpsilon: number;
  evalStrategy: IntervalStrategy;
  evalSteps: number | null;
  saveStrategy: IntervalStrategy;
  saveSteps: number | null;
  saveTotalLimit: number | null;
  loggingSteps: number | null;
  metricForBestModel: string;
  greaterIsBetter: boolean;
  earlyStopping: Required<Omit<EarlyStoppingArgs, 'metric'>> | null;
  loadBestModelAtEnd: boolean;
  freeze: FreezeStrategy | null;
  seed: number;
  precision: Precision | null;
  maxLength: number | null;
  maxNonFiniteSteps: number;
  progress: ProgressMode;
  report: boolean;
  groupByLength: boolean;
  padToMultipleOf: number;
}

const KNOWN: readonly (keyof TrainingArgs)[] = [
  'outputDir', 'overwriteOutputDir', 'epochs', 'maxSteps', 'batchSize', 'evalBatchSize', 'gradientAccumulationSteps', 'learningRate', 'lrScheduler',
  'warmupRatio', 'warmupSteps', 'weightDecay', 'maxGradNorm', 'adamBetas', 'adamEpsilon', 'evalStrategy', 'evalSteps',
  'saveStrategy', 'saveSteps', 'saveTotalLimit', 'loggingSteps', 'metricForBestModel', 'greaterIsBetter', 'earlyStopping',
  'loadBestModelAtEnd', 'freeze', 'seed', 'precision', 'maxLength', 'maxNonFiniteSteps', 'progress', 'report', 'groupByLength', 'padToMultipleOf',
];

function bad(name: string, expected: string, value: unknown): never {
  throw new RootsError('ERR_INVALID_ARG', `Expected ${expected} for args.${name} but received ${describe(value)}`);
}
function posInt(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) bad(name, 'a positive integer', v);
  return v;
}
function num(name: string, v: unknown, min: number, max = Infinity, openMin = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || (openMin && v === min) || v > max) {
    bad(name, `a number in ${openMin ? '(' : '['}${min}, ${max === Infinity ? '∞)' : `${max}]`}`, v);
  }
  return v;
}
function oneOf<T extends string>(name: string, v: unknown, options: readonly T[]): T {
  if (typeof v !== 'string' || !options.includes(v as T)) bad(name, `one of ${options.map((o) => `'${o}'`).join(', ')}`, v);
  return v as T;
}

/**
 * Fills defaults and checks every argument. `hasEval`: whether the Trainer has an eval set;
 * `task` supplies the default metric and its direction.
 */
export function resolveArgs(args: TrainingArgs, hasEval: boolean, task: { defaultMetric: string; greaterIsBetter(m: string): boolean }): ResolvedArgs {
  if (args === null || typeof args !== 'object') bad('', 'an object', args);
  for (const k of Object.keys(args)) {
    if (!KNOWN.includes(k as keyof TrainingArgs)) {
      const near = KNOWN.find((n) => n.toLowerCase() === k.toLowerCase().replace(/[-_]/g, ''));
      throw new RootsError('ERR_INVALID_ARG', `Unknown training argument ${JSON.stringify(k)}${near ? ` (did you mean ${near}?)` : ''}`);
    }
  }
  const a = args;
  const maxSteps = a.maxSteps === undefined ? null : posInt('maxSteps', a.maxSteps);
  const epochs = a.epochs === undefined ? 3 : num('epochs', a.epochs, 0, Infinity, true);
  const batchSize = a.batchSize === undefined ? 16 : posInt('batchSize', a.batchSize);
  const evalSteps = a.evalSteps === undefined ? null : posInt('evalSteps', a.evalSteps);
  const evalStrategy: IntervalStrategy = a.evalStrategy === undefined
    ? (hasEval ? (evalSteps !== null ? 'steps' : 'epoch') : 'no')
    : oneOf('evalStrategy', a.evalStrategy, ['no', 'steps', 'epoch'] as const);
  if (evalStrategy !== 'no' && !hasEval) {
    throw new RootsError('ERR_CONFIG', `args.evalStrategy is '${evalStrategy}' but the Trainer has no eval set (pass { eval: [...] })`);
  }
  if (evalStrategy === 'steps' && evalSteps === null) throw new RootsError('ERR_CONFIG', "args.evalStrategy 'steps' needs args.evalSteps (a positive integer)");
  const outputDir = a.outputDir === undefined || a.outputDir === null ? null : typeof a.outputDir === 'string' && a.outputDir !== '' ? a.outputDir : bad('outputDir', 'a folder path', a.outputDir);
  const saveSteps = a.saveSteps === undefined ? (evalSteps ?? null) : posInt('saveSteps', a.saveSteps);
  const saveStrategy: IntervalStrategy = a.saveStrategy === undefined
    ? (outputDir === null ? 'no' : evalStrategy !== 'no' ? evalStrategy : a.saveSteps !== undefined ? 'steps' : 'epoch')
    : oneOf('saveStrategy', a.saveStrategy, ['no', 'steps', 'epoch'] as const);
  if (saveStrategy !== 'no' && outputDir === null) throw new RootsError('ERR_CONFIG', `args.saveStrategy is '${saveStrategy}' but no args.outputDir was given to save checkpoints into`);
  if (saveStrategy === 'steps' && saveSteps === null) throw new RootsError('ERR_CONFIG', "args.saveStrategy 'steps' needs args.saveSteps (a positive integer)");
  const es = a.earlyStopping ?? null;
  let earlyStopping: ResolvedArgs['earlyStopping'] = null;
  if (es !== null) {
    if (typeof es !== 'object') bad('earlyStopping', 'an object { patience, metric?, threshold? }', es);
    earlyStopping = { patience: posInt('earlyStopping.patience', es.patience), threshold: es.threshold === undefined ? 0 : num('earlyStopping.threshold', es.threshold, 0) };
    if (evalStrategy === 'no') throw new RootsError('ERR_CONFIG', 'args.earlyStopping needs evaluations: pass an eval set (and evalStrategy \'steps\' or \'epoch\')');
  }
  const metricRaw = es?.metric ?? a.metricForBestModel ?? task.defaultMetric;
  if (typeof metricRaw !== 'string' || metricRaw === '') bad('metricForBestModel', 'a metric name such as "f1" or "loss"', metricRaw);
  const metric = metricRaw.replace(/^eval_/, '');
  const greaterIsBetter = a.greaterIsBetter === undefined ? task.greaterIsBetter(metric) : typeof a.greaterIsBetter === 'boolean' ? a.greaterIsBetter : bad('greaterIsBetter', 'a boolean', a.greaterIsBetter);
  const loadBest = a.loadBestModelAtEnd === undefined ? evalStrategy !== 'no' && saveStrategy !== 'no' : a.loadBestModelAtEnd;
  if (typeof loadBest !== 'boolean') bad('loadBestModelAtEnd', 'a boolean', loadBest);
  if (loadBest) {
    if (evalStrategy === 'no') throw new RootsError('ERR_CONFIG', 'args.loadBestModelAtEnd needs evaluations: pass an eval set');
    if (saveStrategy !== evalStrategy) throw new RootsError('ERR_CONFIG', `args.loadBestModelAtEnd needs a checkpoint at every evaluation: saveStrategy ('${saveStrategy}') must equal evalStrategy ('${evalStrategy}')`);
    if (saveStrategy === 'steps' && saveSteps! % evalSteps! !== 0) throw new RootsError('ERR_CONFIG', `args.loadBestModelAtEnd needs a checkpoint at every evaluation: saveSteps (${saveSteps}) must be a multiple of evalSteps (${evalSteps})`);
  }
  // The optimizer's defaults and checks are the step's own (lib/models/optimizer.ts), named as args.*.
  const optim = resolveOptimizerOptions(
    { learningRate: a.learningRate ?? 5e-5, weightDecay: a.weightDecay, maxGradNorm: a.maxGradNorm, betas: a.adamBetas ?? undefined, eps: a.adamEpsilon },
    { learningRate: 'args.learningRate', weightDecay: 'args.weightDecay', maxGradNorm: 'args.maxGradNorm', betas: 'args.adamBetas', eps: 'args.adamEpsilon' });
  const seed = a.seed === undefined ? 42 : a.seed;
  if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 31) bad('seed', 'an integer in [0, 2^31]', seed);
  return {
    outputDir, overwriteOutputDir: Boolean(a.overwriteOutputDir), epochs, maxSteps, batchSize,
    evalBatchSize: a.evalBatchSize === undefined ? batchSize * 2 : posInt('evalBatchSize', a.evalBatchSize),
    gradientAccumulationSteps: a.gradientAccumulationSteps === undefined ? 1 : posInt('gradientAccumulationSteps', a.gradientAccumulationSteps),
    learningRate: optim.learningRate,
    lrScheduler: a.lrScheduler === undefined ? 'linear' : oneOf('lrScheduler', a.lrScheduler, SCHEDULES),
    warmupRatio: a.warmupRatio === undefined ? 0 : num('warmupRatio', a.warmupRatio, 0, 1),
    warmupSteps: a.warmupSteps === undefined ? null : (a.warmupSteps === 0 ? 0 : posInt('warmupSteps', a.warmupSteps)),
    weightDecay: optim.weightDecay,
    maxGradNorm: optim.maxGradNorm,
    adamBetas: optim.betas,
    adamEpsilon: optim.eps,
    evalStrategy, evalSteps, saveStrategy, saveSteps,
    saveTotalLimit: a.saveTotalLimit === undefined || a.saveTotalLimit === null ? null : posInt('saveTotalLimit', a.saveTotalLimit),
    loggingSteps: a.loggingSteps === undefined ? null : posInt('loggingSteps', a.loggingSteps),
    metricForBestModel: metric, greaterIsBetter, earlyStopping, loadBestModelAtEnd: loadBest,
    freeze: a.freeze ?? null,
    seed,
    precision: a.precision === undefined ? null : oneOf('precision', a.precision, ['fp32', 'bf16'] as const),
    maxLength: a.maxLength === undefined ? null : posInt('maxLength', a.maxLength),
    maxNonFiniteSteps: a.maxNonFiniteSteps === undefined ? 5 : posInt('maxNonFiniteSteps', a.maxNonFiniteSteps),
    progress: a.progress === undefined ? 'auto' : oneOf('progress', a.progress, ['auto', 'bar', 'plain', 'none'] as const),
    report: a.report === undefined ? true : Boolean(a.report),
    groupByLength: a.groupByLength === undefined ? false : Boolean(a.groupByLength),
    padToMultipleOf: a.padToMultipleOf === undefined ? 8 : posInt('padToMultipleOf', a.padToMultipleOf),
  };
}
