/**
 * `roots train --task ner|text-classification|intent-slots --model DIR --train DATA [--dev DATA]
 * [--test DATA] --out DIR [options]`: one command for every task; what differs per task (the
 * reader, the labels, the model class, the summary) is its row in tasks.ts.
 *
 * Fine-tunes (or trains from a fresh start, when DIR has a config.json and no weights) the task's
 * model, evaluates on the dev set during training, keeps the best checkpoint, scores the test set,
 * and leaves in `--out` a model folder that `roots predict`, `roots eval` and `pipeline()` load:
 * config.json, model.safetensors, tokenizer files, plus checkpoint-<step>/ folders,
 * trainer_log.jsonl, report.html and results.json. `--out` is locked for the whole command (a
 * second run into it fails at once; trainer/lock.ts).
 *
 * Every option can also come from `--config FILE` (JSON, same names; flags win).
 */
import type { Command } from 'commander';
import { join } from 'node:path';
import { TAG_SCHEMES, type TagScheme } from '../data/tagging.js';
import { RootsError } from '../errors.js';
import { setNumThreads } from '../info.js';
import type { BertPreTrainedModel, Device } from '../models/bert.js';
import { labelsOf, readConfig, type BertConfig } from '../models/config.js';
import { Tokenizer } from '../tokenizer/index.js';
import type { TrainingArgs } from '../trainer/args.js';
import { lockOutputDir, type OutputDirLock } from '../trainer/lock.js';
import { formatDuration } from '../trainer/log.js';
import { SCHEDULES } from '../trainer/schedule.js';
import { Trainer, writeJsonAtomic, type TrainResult } from '../trainer/trainer.js';
import { LAUNCHED_ENV, ProcessGroup, checkNproc, distributedEnv, launchWorkers, withoutNprocFlag } from '../distributed/index.js';
import {
  DEVICE_PARSER, FREEZE_PARSER, freezeStrategy, parsers, processIO, registerCommand, resolveModelDir, resolvePrecision,
  type CliIO,
} from './common.js';
import { DATA_SPECS, type DataFlags, type FlagSpec } from './data.js';
import { PEFT_SPECS, type PeftFlags, peftOptions } from './adapter.js';
import { RELATION_SPECS, type RelationFlags } from './relation.js';
import { CONTINUAL_SPECS, type ContinualFlags, type TrainerFor, continualMethods, continualOptions, loadContinualModel, saveFisher, withReplay } from './continual.js';
import {
  TASKS, TASK_CHOICES, checkTaskFlags, taskRow, type CliTaskName, type Splits, type TaskPlan, type TaskRow, type TrainOnlyTaskName,
} from './tasks.js';

/** Options of `roots train` (also the keys of a `--config` file). */
export interface TrainCommandOptions extends DataFlags, PeftFlags, ContinualFlags, RelationFlags {
  task?: CliTaskName | TrainOnlyTaskName | 'token-classification';
  model?: string;
  train?: string;
  dev?: string;
  test?: string;
  out?: string;
  epochs?: number;
  maxSteps?: number;
  batchSize?: number;
  evalBatchSize?: number;
  gradAccum?: number;
  lr?: number;
  scheduler?: TrainingArgs['lrScheduler'];
  warmupRatio?: number;
  warmupSteps?: number;
  weightDecay?: number;
  maxGradNorm?: number;
  adamBeta1?: number;
  adamBeta2?: number;
  adamEpsilon?: number;
  evalSteps?: number;
  saveSteps?: number;
  saveTotalLimit?: number;
  loggingSteps?: number;
  patience?: number;
  metric?: string;
  freeze?: string;
  seed?: number;
  precision?: 'fp32' | 'bf16' | 'auto';
  device?: string;
  maxLength?: number;
  groupByLength?: boolean;
  scheme?: TagScheme | 'keep';
  labelAllTokens?: boolean;
  multiLabel?: boolean;
  threshold?: number;
  classWeights?: string;
  slotLossWeight?: number;
  template?: string;
  verbalizer?: string;
  shots?: number;
  demonstrations?: boolean;
  docStride?: number;
  maxAnswerLength?: number;
  maxTrainSamples?: number;
  maxEvalSamples?: number;
  resume?: string | boolean;
  nprocPerNode?: number;
  distTimeout?: number;
  bucketMb?: number;
  overwrite?: boolean;
  progress?: 'auto' | 'bar' | 'plain' | 'none';
  threads?: number;
  json?: boolean;
}

const SCHEME_CHOICES = [...TAG_SCHEMES, 'keep'] as const;
const METRIC_CHOICES = [...new Set(Object.values(TASKS).flatMap((r) => r.metricNames))];

/** The options, their flags, help and parsers: one table for commander and --config files. */
const SPECS: (FlagSpec & { negation?: string })[] = [
  { key: 'task', flags: '--task <name>', help: 'task: ner (token classification; default), text-classification (texts or pairs; single- or multi-label), intent-slots (joint intent + slot filling), prompt-classification (cloze template + verbalizer on a masked-LM; LM-BFF), question-answering (SQuAD-style extractive QA)', parse: parsers.choice(TASK_CHOICES) },
  { key: 'model', flags: '--model <dir|id>', help: 'model folder: config.json + tokenizer (+ weights; without weights training starts fresh), or a Hub id (bert-base-cased, org/name@revision) from the Hugging Face cache, downloaded when missing', parse: parsers.string },
  { key: 'train', flags: '--train <file>', help: 'training data: a CoNLL file (ner), a TSV/CSV/JSONL/TREC file (text-classification), a seq.in/seq.out/label folder (intent-slots), SQuAD JSON or JSONL (question-answering)', parse: parsers.string },
  { key: 'dev', flags: '--dev <file>', help: 'dev data: evaluated during training, picks the best checkpoint', parse: parsers.string },
  { key: 'test', flags: '--test <file>', help: 'test data: scored once at the end', parse: parsers.string },
  { key: 'out', flags: '--out <dir>', help: 'output folder (final model, checkpoints, trainer_log.jsonl, report.html); locked while the run lasts', parse: parsers.string },
  { key: 'epochs', flags: '--epochs <n>', help: 'passes over the training data (default 3)', parse: parsers.number(0, Infinity, true) },
  { key: 'maxSteps', flags: '--max-steps <n>', help: 'optimizer steps (overrides --epochs)', parse: parsers.positiveInt },
  { key: 'batchSize', flags: '--batch-size <n>', help: 'examples (ner: windows) per batch (default 16)', parse: parsers.positiveInt },
  { key: 'evalBatchSize', flags: '--eval-batch-size <n>', help: 'evaluation batch size (default 2 x batch size)', parse: parsers.positiveInt },
  { key: 'gradAccum', flags: '--grad-accum <n>', help: 'micro-batches per optimizer step (default 1)', parse: parsers.positiveInt },
  { key: 'lr', flags: '--lr <rate>', help: 'peak learning rate (default 5e-5)', parse: parsers.number(0) },
  { key: 'scheduler', flags: '--scheduler <name>', help: `learning-rate schedule: ${SCHEDULES.join(', ')} (default linear)`, parse: parsers.choice(SCHEDULES) },
  { key: 'warmupRatio', flags: '--warmup-ratio <r>', help: 'warmup as a fraction of the steps (default 0)', parse: parsers.number(0, 1) },
  { key: 'warmupSteps', flags: '--warmup-steps <n>', help: 'warmup steps (overrides --warmup-ratio)', parse: parsers.nonNegativeInt },
  { key: 'weightDecay', flags: '--weight-decay <w>', help: 'AdamW weight decay (default 0)', parse: parsers.number(0) },
  { key: 'maxGradNorm', flags: '--max-grad-norm <n>', help: 'gradient clipping norm, 0 = off (default 1)', parse: parsers.number(0) },
  { key: 'adamBeta1', flags: '--adam-beta1 <b>', help: 'AdamW beta1, in [0, 1) (default 0.9)', parse: parsers.number(0, 1) },
  { key: 'adamBeta2', flags: '--adam-beta2 <b>', help: 'AdamW beta2, in [0, 1) (default 0.999; 0.98 steadies large learning rates, as RoBERTa pretrained)', parse: parsers.number(0, 1) },
  { key: 'adamEpsilon', flags: '--adam-epsilon <e>', help: 'AdamW epsilon (default 1e-8)', parse: parsers.number(0) },
  { key: 'evalSteps', flags: '--eval-steps <n>', help: 'evaluate (and save) every N steps (default: every epoch)', parse: parsers.positiveInt },
  { key: 'saveSteps', flags: '--save-steps <n>', help: 'checkpoint every N steps (default: with each evaluation)', parse: parsers.positiveInt },
  { key: 'saveTotalLimit', flags: '--save-total-limit <n>', help: 'keep at most N checkpoints (the best is always kept; default 3)', parse: parsers.positiveInt },
  { key: 'loggingSteps', flags: '--logging-steps <n>', help: 'log every N steps (default: about 50 lines per run)', parse: parsers.positiveInt },
  { key: 'patience', flags: '--patience <n>', help: 'early stopping: evaluations without improvement before stopping', parse: parsers.positiveInt },
  { key: 'metric', flags: '--metric <name>', help: 'metric for the best checkpoint and early stopping. ner: f1 (default), precision, recall, accuracy, loss; text-classification: accuracy (default), f1_macro, f1_weighted, mcc, loss; multi-label: f1_micro (default), f1_macro, exact_match, loss; intent-slots: exact_match (default), intent_accuracy, slot_f1, loss; question-answering: f1 (default), exact_match', parse: parsers.choice(METRIC_CHOICES) },
  ...PEFT_SPECS,
  ...CONTINUAL_SPECS,
  { key: 'freeze', flags: '--freeze <strategy>', help: 'freeze: none, embeddings, encoder, all-but-head, bitfit, bottom:K', parse: FREEZE_PARSER },
  { key: 'seed', flags: '--seed <n>', help: 'seed of initialisation, shuffling and dropout (default 42)', parse: parsers.nonNegativeInt },
  { key: 'precision', flags: '--precision <p>', help: 'fp32, bf16 or auto (bf16 where the hardware has it; default auto)', parse: parsers.choice(['fp32', 'bf16', 'auto'] as const) },
  { key: 'device', flags: '--device <d>', help: 'cpu, cuda, cuda:N or auto (default auto)', parse: DEVICE_PARSER },
  { key: 'maxLength', flags: '--max-length <n>', help: 'window length in tokens; ner: longer sentences become overlapping windows (default 256); text-classification, intent-slots: longer inputs are truncated (default 128)', parse: parsers.positiveInt },
  { key: 'groupByLength', flags: '--group-by-length', negation: '--no-group-by-length', help: 'batch training examples of similar length together (less padding, faster steps, less random batches; off by default: measured on CoNLL-2003, README); --no-group-by-length shuffles them freely', parse: parsers.boolean },
  { key: 'scheme', flags: '--scheme <name>', help: `ner: tag scheme to train in: ${SCHEME_CHOICES.join(', ')} (default IOB2; data is converted)`, parse: parsers.choice(SCHEME_CHOICES) },
  { key: 'labelAllTokens', flags: '--label-all-tokens', help: 'ner: label every subword, not only the first of each word', parse: parsers.boolean },
  ...DATA_SPECS,
  { key: 'multiLabel', flags: '--multi-label', help: 'text-classification: multi-label (a sigmoid per label, binary cross-entropy); default when the data has label lists', parse: parsers.boolean },
  { key: 'threshold', flags: '--threshold <p>', help: 'multi-label: a label is predicted when its sigmoid reaches this (default 0.5)', parse: parsers.number(0, 1) },
  { key: 'classWeights', flags: '--class-weights <w>', help: 'loss weights per label for imbalanced data: auto (inverse frequency, mean 1) or w1,w2,... in label order (multi-label: pos_weight; intent-slots: the intents)', parse: parsers.string },
  { key: 'slotLossWeight', flags: '--slot-loss-weight <w>', help: 'intent-slots: loss = intent loss + w * slot loss (default 1)', parse: parsers.number(0) },
  { key: 'template', flags: '--template <text>', help: 'prompt-classification: the cloze template, with {text} (and {text_pair}) and one [MASK], e.g. "{text} It was [MASK] ."; texts are truncated, never the template', parse: parsers.string },
  { key: 'verbalizer', flags: '--verbalizer <file>', help: 'prompt-classification: JSON mapping each label to its word or words, e.g. {"positive": "great", "negative": "terrible"}', parse: parsers.string },
  { key: 'shots', flags: '--shots <k>', help: 'prompt-classification: train on K examples per class drawn from --train with --seed (and, without --dev, select on another K per class)', parse: parsers.positiveInt },
  { key: 'demonstrations', flags: '--demonstrations', help: 'prompt-classification: append one training example per label to each input (LM-BFF; raise --max-length)', parse: parsers.boolean },
  { key: 'docStride', flags: '--doc-stride <n>', help: 'question-answering: context tokens shared by consecutive windows of a long context (default 128)', parse: parsers.nonNegativeInt },
  ...RELATION_SPECS,
  { key: 'maxAnswerLength', flags: '--max-answer-length <n>', help: 'question-answering: longest answer in tokens when decoding (default 30)', parse: parsers.positiveInt },
  { key: 'maxTrainSamples', flags: '--max-train-samples <n>', help: 'train on the first N examples (quick runs)', parse: parsers.positiveInt },
  { key: 'maxEvalSamples', flags: '--max-eval-samples <n>', help: 'evaluate on the first N dev and test examples', parse: parsers.positiveInt },
  { key: 'resume', flags: '--resume [checkpoint]', help: 'continue from a checkpoint folder (default: the newest in --out)', parse: (v) => (typeof v === 'boolean' ? v : parsers.string(v)) },
  { key: 'nprocPerNode', flags: '--nproc-per-node <n>', help: 'data parallelism: start N workers on this machine, each training on its share of every batch (global batch = N x --batch-size x --grad-accum; rank 0 writes --out); across machines, start roots train under torchrun (README)', parse: parsers.positiveInt },
  { key: 'distTimeout', flags: '--dist-timeout <s>', help: 'data parallelism: seconds the rendezvous and each all-reduce may wait before the run fails (default 300; ROOTS_DIST_TIMEOUT)', parse: parsers.number(0) },
  { key: 'bucketMb', flags: '--bucket-mb <m>', help: 'data parallelism: MiB of gradients per all-reduce bucket (default 25, as PyTorch DDP)', parse: parsers.number(0) },
  { key: 'overwrite', flags: '--overwrite', help: 'start over in an --out folder that holds checkpoints of an earlier run', parse: parsers.boolean },
  { key: 'progress', flags: '--progress <mode>', help: 'auto (a bar on a terminal), bar, plain or none (default auto)', parse: parsers.choice(['auto', 'bar', 'plain', 'none'] as const) },
  { key: 'threads', flags: '--threads <n>', help: 'LibTorch threads (default: all processors)', parse: parsers.positiveInt },
  { key: 'json', flags: '--json', help: 'print the results as JSON on standard output', parse: parsers.boolean },
];

/** The flag specs of `roots train` named by `keys`, in that order (roots pretrain shares them). */
export function trainFlagSpecs(keys: readonly (keyof TrainCommandOptions)[]): (FlagSpec & { negation?: string })[] {
  return keys.map((k) => {
    const spec = SPECS.find((s) => s.key === k);
    if (!spec) throw new Error(`no roots train flag ${k}`);
    return spec;
  });
}

/** What `runTrain` returns (and `--json` prints; results.json holds it too). */
export interface TrainSummary {
  out: string;
  result: Omit<TrainResult, 'evaluation'>;
  dev: Record<string, number> | null;
  test: Record<string, number> | null;
  labels: string[];
  /** ner: the tag scheme trained in. */
  scheme?: TagScheme;
  /** The task trained (ner, text-classification, intent-slots). */
  task?: string;
  /** text-classification: multi-label (sigmoid + binary cross-entropy). */
  multiLabel?: boolean;
  /** intent-slots: the slot tags (labels holds the intents). */
  slotLabels?: string[];
  /** prompt-classification: the template, the verbalizer, K and whether demonstrations were used. */
  template?: string;
  verbalizer?: Record<string, string[]>;
  shots?: number;
  demonstrations?: boolean;
  /** The class weights of the loss, when --class-weights was given. */
  classWeights?: number[];
  /** relation-classification: the head's pooling and the entity markers (plain or typed). */
  relationPooling?: string;
  markers?: string;
  precision: string;
  device: string;
  parameters: number;
  /** --peft: the adapter trained (type, trainable parameters, steps). */
  adapter?: { name: string; type: string; numParameters: number };
}

/** Runs `roots train` with parsed options (the demo calls this directly). */
export async function runTrain(options: TrainCommandOptions, io: CliIO = processIO, hooks: { onTrainer?: (t: Trainer) => void } = {}): Promise<TrainSummary> {
  // --continual-from: the earlier model is also --model unless one is given (lib/cli/continual.ts).
  const o = options.continualFrom && !options.model ? { ...options, model: options.continualFrom } : options;
  const row = taskRow(o.task);
  checkTaskFlags(row, o);
  const methods = continualMethods(o);
  const modelDir = await resolveModelDir('--model', o.model, io);
  if (!o.train) throw new RootsError('ERR_INVALID_ARG', `--train is required (${row.data})`);
  if (!o.out) throw new RootsError('ERR_INVALID_ARG', '--out is required (the output folder)');
  if (o.patience && !o.dev) throw new RootsError('ERR_INVALID_ARG', '--patience needs --dev (early stopping watches the dev set)');
  if (o.resume && o.overwrite) throw new RootsError('ERR_INVALID_ARG', '--resume and --overwrite contradict each other');
  const peft = peftOptions(o);
  const folder = await readConfig(modelDir);
  if (o.maxLength !== undefined && o.maxLength > folder.max_position_embeddings) {
    throw new RootsError('ERR_CONFIG', `--max-length ${o.maxLength} exceeds the ${folder.max_position_embeddings} positions of ${modelDir} (config.json's max_position_embeddings)`);
  }
  if (o.threads) setNumThreads(o.threads);
  // Data parallelism: this process is one rank of a group when torchrun's variables are set (lib/distributed).
  const dist = distributedEnv(process.env, { timeoutSeconds: o.distTimeout });
  const main = !dist || dist.rank === 0;

  const lock = main ? await lockOutputDir(o.out, { label: `--out ${o.out}`, log: (m) => io.err(m + '\n') }) : undefined;
  let group: ProcessGroup | undefined;
  try {
    // The Trainer's rule for the folder (earlier checkpoints need --resume or --overwrite), asked
    // before the data is read and the model loaded.
    await Trainer.startingPoint(o.out, { resumeFromCheckpoint: o.resume || undefined, overwriteOutputDir: o.overwrite });
    // The data, and what the task makes of it: converted splits, label sets, the Trainer's task.
    const data: Splits<unknown> = {
      train: (await row.read('--train', o.train, o)).slice(0, o.maxTrainSamples),
      dev: o.dev ? (await row.read('--dev', o.dev, o)).slice(0, o.maxEvalSamples) : null,
      test: o.test ? (await row.read('--test', o.test, o)).slice(0, o.maxEvalSamples) : null,
    };
    if (o.continualFrom && methods.has('replay')) data.train = await withReplay(row, data.train, o, labelsOf(await readConfig(o.continualFrom)), o);
    const plan = row.plan(data, o, io);
    if (o.metric !== undefined && !plan.metrics.names.includes(o.metric)) {
      throw new RootsError('ERR_INVALID_ARG', `--metric ${o.metric} is not a ${plan.metrics.kind} metric (${plan.metrics.names.join(', ')})`);
    }
    let tokenizer = await Tokenizer.fromPretrained(modelDir);
    let model = o.continualFrom
      ? await loadContinualModel(row, o.continualFrom, plan.labels, tokenizer, o, io)
      : await loadModel(row, plan, modelDir, folder, o, io);
    if (plan.prepare) ({ model, tokenizer } = plan.prepare(model, tokenizer));  // relation: entity markers
    if (peft) {
      // --peft: the base stays frozen; one adapter trains, and is what --out receives.
      try {
        model.addAdapter('default', peft);
        model.setAdapter('default');
      } catch (e) {
        model.dispose();
        throw e;
      }
    }
    try {
      if (dist) group = await ProcessGroup.connect(dist, { device: model.device, bucketBytes: o.bucketMb ? Math.max(4, Math.round(o.bucketMb * 2 ** 20)) : undefined });
      return await trainModel(model, tokenizer, row, plan, modelDir, o as TrainCommandOptions & { out: string }, io, lock, hooks, group);
    } finally {
      model.dispose();
    }
  } finally {
    group?.dispose();
    await lock?.release();
  }
}

/** The model to train: the folder's label sets when they cover the data's, else fresh heads for the data's. */
async function loadModel(row: TaskRow, plan: TaskPlan<unknown>, modelDir: string, folder: BertConfig, o: TrainCommandOptions, io: CliIO): Promise<BertPreTrainedModel> {
  const folderLabels = folder.id2label ? labelsOf(folder) : undefined;
  const folderSlots = labelsOf(folder, 'slot_id2label');
  // A head without labels (plan.labels undefined) needs none; a label set is covered when the folder's has every label.
  const covered = (have: readonly string[] | undefined, need: readonly string[] | undefined) => !need || (!!have && need.every((l) => have.includes(l)));
  const covers = covered(folderLabels, plan.labels) && covered(folderSlots, plan.slotLabels);
  const options = plan.modelOptions(covers);
  const model = await row.model.fromPretrained(modelDir, {
    ...options,
    labels: covers ? undefined : plan.labels, slotLabels: covers ? undefined : plan.slotLabels, ignoreMismatchedSizes: !covers,
    device: (o.device === 'cuda' && process.env.LOCAL_RANK ? `cuda:${process.env.LOCAL_RANK}` : o.device ?? 'auto') as Device, precision: resolvePrecision(o.precision), seed: o.seed ?? 42, log: (m) => io.err(m + '\n'),
  });
  if (folderLabels && !covers) {
    io.err(`The labels of ${modelDir} (${folderLabels.join(', ')}) do not cover the data's; the classification head${plan.slotLabels ? 's start' : ' starts'} ` +
      `fresh with ${plan.labels?.length ?? 0} labels${plan.slotLabels ? ` and ${plan.slotLabels.length} slot tags` : ''}\n`);
  }
  return model;
}

/** Trains `model` (owned by the caller), saves it, scores the test set, writes results.json. */
async function trainModel(
  model: BertPreTrainedModel, tokenizer: Tokenizer, row: TaskRow, plan: TaskPlan<unknown>, modelDir: string,
  o: TrainCommandOptions & { out: string }, io: CliIO, lock: OutputDirLock | undefined, hooks: { onTrainer?: (t: Trainer) => void }, group?: ProcessGroup,
): Promise<TrainSummary> {
  if (tokenizer.vocabSize > model.config.vocab_size) {
    throw new RootsError('ERR_CONFIG', `${modelDir}: the tokenizer has ${tokenizer.vocabSize} tokens but config.json's vocab_size is ${model.config.vocab_size}`);
  }
  const args = trainingArgs(o, { hasDev: plan.data.dev !== null, maxLength: Math.min(row.maxLength, model.config.max_position_embeddings) });
  // Continual learning (--continual-from): EWC / L2-SP / LwF options; a Trainer per example set encodes the Fisher's data.
  const trainerFor: TrainerFor = (examples) => new Trainer({ model, tokenizer, train: examples, task: plan.task, args: { maxLength: args.maxLength } });
  const continual = o.continualFrom ? await continualOptions(model, row, continualMethods(o), o, trainerFor, io) : null;
  let outcome: Awaited<ReturnType<typeof trainSaveAndTest>>;
  try {
    const trainer = new Trainer({ model, tokenizer, train: plan.data.train, eval: plan.data.dev ?? undefined, task: plan.task, args, lock, continual: continual?.options, distributed: group });
    hooks.onTrainer?.(trainer);
    outcome = await trainSaveAndTest(trainer, o, plan.data.test, io);
    if ((continual?.options.ewc || o.saveFisher) && outcome.result.stopReason !== 'stopped') await saveFisher(model, trainerFor, plan.data.train, continual?.earlierTasks ?? 0, o.out, o, io);
  } finally {
    continual?.dispose();
  }
  const { result, devMetrics, testMetrics } = outcome;

  const { evaluation: _, ...rest } = result;
  const summary: TrainSummary = {
    out: o.out, result: rest, dev: devMetrics, test: testMetrics, labels: [...(model.labels ?? [])], task: row.name, ...plan.summary(model),
    ...(model.config.class_weights ? { classWeights: model.config.class_weights } : {}),
    precision: model.precision, device: model.device, parameters: model.numParameters,
    ...(model.activeAdapter ? { adapter: model.adapters().find((a) => a.name === model.activeAdapter) } : {}),
  };
  if (group && !group.isMain) return summary;  // rank 0 writes and reports
  await writeJsonAtomic(join(o.out, 'results.json'), summary);
  if (o.json) io.out(JSON.stringify(summary, null, 2) + '\n');
  else {
    const show = (m: Record<string, number>) => plan.headline.map((k) => `${k} ${m[k] !== undefined ? m[k].toFixed(4) : '-'}`).join(', ');
    io.out(`\n${result.globalStep} steps in ${formatDuration(result.wallSeconds)} (${Math.round(result.tokensPerSecond).toLocaleString('en-US')} tokens/s), ` +
      `${result.stopReason}${devMetrics ? `; dev: ${show(devMetrics)}` : ''}${testMetrics ? `; test: ${show(testMetrics)}` : ''}\n` +
      `Model saved to ${o.out} (report: ${join(o.out, 'report.html')})\n`);
  }
  return summary;
}

/**
 * Runs the Trainer (Ctrl-C finishes the step and writes a checkpoint; a second Ctrl-C aborts),
 * saves the model, prints the dev report, scores the test set and writes the HTML report.
 */
export async function trainSaveAndTest<E>(
  trainer: Trainer<E>, o: TrainCommandOptions & { out: string }, test: readonly E[] | null, io: CliIO,
): Promise<{ result: TrainResult; devMetrics: Record<string, number> | null; testMetrics: Record<string, number> | null }> {
  let interrupted = 0;
  const onSigint = (): void => {
    if (++interrupted === 1) { io.err('\nStopping after this step and saving a checkpoint (Ctrl-C again to abort)...\n'); trainer.stop(); } else process.exit(130);
  };
  process.on('SIGINT', onSigint);
  let result: TrainResult;
  try {
    result = await trainer.train({ resumeFromCheckpoint: o.resume || undefined });
  } finally {
    process.off('SIGINT', onSigint);
  }
  if (result.stopReason === 'stopped') {
    io.err(`Stopped at step ${result.globalStep}; resume with the same command and --resume\n`);
    process.exitCode = 130;
  }
  if (!trainer.isMainProcess) return { result, devMetrics: null, testMetrics: null };  // data parallelism: rank 0 saves and tests
  await trainer.saveModel(o.out);
  const devMetrics = result.evaluation?.metrics ?? null;
  if (result.evaluation?.report && !o.json) io.out(`\nDev (${o.dev}):\n${result.evaluation.report}`);
  let testMetrics: Record<string, number> | null = null;
  if (test && result.stopReason !== 'stopped') {
    const ev = await trainer.evaluate(test, { name: 'test' });
    testMetrics = ev.metrics;
    if (!o.json) io.out(`\nTest (${o.test}):\n${ev.report ?? ''}`);
    await trainer.writeReport();
  }
  return { result, devMetrics, testMetrics };
}

/** The Trainer's arguments from `roots train` flags (undefined ones left to the Trainer's defaults). */
export function trainingArgs(o: TrainCommandOptions, d: { hasDev: boolean; maxLength: number }): TrainingArgs {
  const args: TrainingArgs = {
    outputDir: o.out, overwriteOutputDir: o.overwrite, epochs: o.epochs, maxSteps: o.maxSteps, batchSize: o.batchSize,
    evalBatchSize: o.evalBatchSize, gradientAccumulationSteps: o.gradAccum, learningRate: o.lr, lrScheduler: o.scheduler,
    warmupRatio: o.warmupRatio, warmupSteps: o.warmupSteps, weightDecay: o.weightDecay, maxGradNorm: o.maxGradNorm,
    adamBetas: o.adamBeta1 !== undefined || o.adamBeta2 !== undefined ? [o.adamBeta1 ?? 0.9, o.adamBeta2 ?? 0.999] : undefined, adamEpsilon: o.adamEpsilon,
    evalSteps: d.hasDev ? o.evalSteps : undefined, saveSteps: o.saveSteps, saveTotalLimit: o.saveTotalLimit ?? 3, loggingSteps: o.loggingSteps,
    metricForBestModel: o.metric, earlyStopping: o.patience ? { patience: o.patience } : undefined,
    freeze: freezeStrategy(o.freeze), seed: o.seed, maxLength: o.maxLength ?? d.maxLength, groupByLength: o.groupByLength,
    progress: o.progress, saveStrategy: !d.hasDev && o.saveSteps === undefined ? 'epoch' : undefined,
  };
  for (const k of Object.keys(args) as (keyof TrainingArgs)[]) if (args[k] === undefined) delete args[k];
  return args;
}

export function registerTrain(program: Command, io: CliIO = processIO): void {
  registerCommand<TrainCommandOptions>(program, 'train',
    'train a model: NER (CoNLL), text classification (TSV/CSV/JSONL/TREC; pairs, multi-label), joint intent + slots (seq.in/seq.out/label) or relation classification (SemEval-2010 Task 8 or JSONL, entity markers); --model may be a folder with only config.json and a vocabulary (fresh start)',
    SPECS, (o) => (o.nprocPerNode && process.env[LAUNCHED_ENV] === undefined ? runWorkers(o.nprocPerNode, io) : runTrain(o, io)));
}

/**
 * `roots train --nproc-per-node N`: this command again in N workers with torchrun's environment
 * (lib/distributed/launch.ts); every worker stops when one fails, and the command fails with it.
 */
async function runWorkers(n: number, io: CliIO): Promise<void> {
  checkNproc(n);
  io.err(`Starting ${n} data-parallel workers on this machine (rank 0 writes the output)\n`);
  // This process's own command line (the script, or `-e` code in execArgv, which launchWorkers passes on) without the flag.
  const code = await launchWorkers({ nproc: n, command: withoutNprocFlag(process.argv.slice(1)), log: (m) => io.err(m + '\n') });
  if (code !== 0) throw new RootsError('ERR_DISTRIBUTED', `roots train --nproc-per-node ${n}: a worker failed (exit code ${code}); the others were stopped`);
}
