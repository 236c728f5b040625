/**
 * `roots train --task ner --model DIR --train FILE --dev FILE [--test FILE] --out DIR [options]`
 *
 * Fine-tunes (or trains from a fresh start, when DIR has a config.json and no weights) a token
 * classifier on CoNLL files, evaluates on the dev set during training, keeps the best checkpoint,
 * scores the test set, and leaves in `--out` a model folder that `roots predict`, `roots eval` and
 * `pipeline('ner', DIR)` load: config.json, model.safetensors, tokenizer files, plus
 * checkpoint-<step>/ folders, trainer_log.jsonl, report.html and results.json.
 *
 * Every option can also come from `--config FILE` (JSON, same names; flags win).
 */
import { Command, Option } from 'commander';
import { basename, join } from 'node:path';
import { listCheckpoints } from '../trainer/checkpoint.js';
import type { TaggedSentence } from '../data/readers.js';
import { readTaggedData, type TextDataOptions } from '../data/formats.js';
import { LabelVocab } from '../data/labels.js';
import { detectScheme, TAG_SCHEMES, type TagScheme } from '../data/tagging.js';
import { RootsError } from '../errors.js';
import { setNumThreads } from '../info.js';
import { readConfig, labelsOf } from '../models/config.js';
import { BertForTokenClassification, type Device } from '../models/bert.js';
import { convertSentences, nerTask } from '../tasks/ner.js';
import { Tokenizer } from '../tokenizer/index.js';
import { Trainer, writeJsonAtomic, type TrainResult } from '../trainer/trainer.js';
import { SCHEDULES } from '../trainer/schedule.js';
import type { TrainingArgs } from '../trainer/args.js';
import { formatDuration } from '../trainer/log.js';
import {
  DEVICE_PARSER, FREEZE_PARSER, cli, mergeConfig, parsers, processIO, requireFile, requireModelDir, resolvePrecision, trainSaveAndTest, trainingArgsFromOptions, checkVocabFits,
  type CliIO, type OptionSpec,
} from './common.js';
import { SEQUENCE_METRIC_CHOICES, TASK_DATA_SPECS, checkTaskMetric, runTrainSequenceTask } from './sequence-tasks.js';

/** Options of `roots train` (also the keys of a `--config` file). */
/** The data flags (format, encoding, columns, TREC labels) are those of TextDataOptions. */
export interface TrainCommandOptions extends TextDataOptions {
  task?: 'ner' | 'token-classification' | 'text-classification' | 'intent-slots';
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
  tokenColumn?: number;
  tagColumn?: number;
  scheme?: TagScheme | 'keep';
  labelAllTokens?: boolean;
  multiLabel?: boolean;
  threshold?: number;
  classWeights?: string;
  slotLossWeight?: number;
  maxTrainSamples?: number;
  maxEvalSamples?: number;
  resume?: string | boolean;
  overwrite?: boolean;
  progress?: 'auto' | 'bar' | 'plain' | 'none';
  threads?: number;
  json?: boolean;
}

const SCHEME_CHOICES = [...TAG_SCHEMES, 'keep'] as const;
const METRIC_CHOICES = ['f1', 'precision', 'recall', 'accuracy', 'loss', ...SEQUENCE_METRIC_CHOICES] as const;

/** The options, their flags, help and parsers: one table for commander and --config files. */
const SPECS: (OptionSpec & { flags: string; help: string })[] = [
  { key: 'task', flags: '--task <name>', help: 'task: ner (token classification; default), text-classification (texts or pairs; single- or multi-label), intent-slots (joint intent + slot filling)', parse: parsers.choice(['ner', 'token-classification', 'text-classification', 'intent-slots'] as const) },
  { key: 'model', flags: '--model <dir>', help: 'model folder: config.json + tokenizer (+ weights; without weights training starts fresh)', parse: parsers.string },
  { key: 'train', flags: '--train <file>', help: 'training data: a CoNLL file (ner), a TSV/CSV/JSONL/TREC file (text-classification), a seq.in/seq.out/label folder (intent-slots)', parse: parsers.string },
  { key: 'dev', flags: '--dev <file>', help: 'dev data: evaluated during training, picks the best checkpoint', parse: parsers.string },
  { key: 'test', flags: '--test <file>', help: 'test data: scored once at the end', parse: parsers.string },
  { key: 'out', flags: '--out <dir>', help: 'output folder (final model, checkpoints, trainer_log.jsonl, report.html)', parse: parsers.string },
  { key: 'epochs', flags: '--epochs <n>', help: 'passes over the training data (default 3)', parse: parsers.number(0, Infinity, true) },
  { key: 'maxSteps', flags: '--max-steps <n>', help: 'optimizer steps (overrides --epochs)', parse: parsers.positiveInt },
  { key: 'batchSize', flags: '--batch-size <n>', help: 'examples (ner: windows) per batch (default 16)', parse: parsers.positiveInt },
  { key: 'evalBatchSize', flags: '--eval-batch-size <n>', help: 'evaluation batch size (default 2 x batch size)', parse: parsers.positiveInt },
  { key: 'gradAccum', flags: '--grad-accum <n>', help: 'micro-batches per optimizer step (default 1)', parse: parsers.positiveInt },
  { key: 'lr', flags: '--lr <rate>', help: 'peak learning rate (default 5e-5)', parse: parsers.number(0, 10, true) },
  { key: 'scheduler', flags: '--scheduler <name>', help: `learning-rate schedule: ${SCHEDULES.join(', ')} (default linear)`, parse: parsers.choice(SCHEDULES) },
  { key: 'warmupRatio', flags: '--warmup-ratio <r>', help: 'warmup as a fraction of the steps (default 0)', parse: parsers.number(0, 1) },
  { key: 'warmupSteps', flags: '--warmup-steps <n>', help: 'warmup steps (overrides --warmup-ratio)', parse: parsers.nonNegativeInt },
  { key: 'weightDecay', flags: '--weight-decay <w>', help: 'AdamW weight decay (default 0)', parse: parsers.number(0) },
  { key: 'maxGradNorm', flags: '--max-grad-norm <n>', help: 'gradient clipping norm, 0 = off (default 1)', parse: parsers.number(0) },
  { key: 'evalSteps', flags: '--eval-steps <n>', help: 'evaluate (and save) every N steps (default: every epoch)', parse: parsers.positiveInt },
  { key: 'saveSteps', flags: '--save-steps <n>', help: 'checkpoint every N steps (default: with each evaluation)', parse: parsers.positiveInt },
  { key: 'saveTotalLimit', flags: '--save-total-limit <n>', help: 'keep at most N checkpoints (the best is always kept; default 3)', parse: parsers.positiveInt },
  { key: 'loggingSteps', flags: '--logging-steps <n>', help: 'log every N steps (default: about 50 lines per run)', parse: parsers.positiveInt },
  { key: 'patience', flags: '--patience <n>', help: 'early stopping: evaluations without improvement before stopping', parse: parsers.positiveInt },
  { key: 'metric', flags: '--metric <name>', help: 'metric for the best checkpoint and early stopping. ner: f1 (default), precision, recall, accuracy, loss; text-classification: accuracy (default), f1_macro, f1_weighted, mcc, loss; multi-label: f1_micro (default), f1_macro, exact_match, loss; intent-slots: exact_match (default), intent_accuracy, slot_f1, loss', parse: parsers.choice(METRIC_CHOICES) },
  { key: 'freeze', flags: '--freeze <strategy>', help: 'freeze: none, embeddings, encoder, all-but-head, bitfit, bottom:K', parse: FREEZE_PARSER },
  { key: 'seed', flags: '--seed <n>', help: 'seed of initialisation, shuffling and dropout (default 42)', parse: parsers.nonNegativeInt },
  { key: 'precision', flags: '--precision <p>', help: 'fp32, bf16 or auto (bf16 where the hardware has it; default auto)', parse: parsers.choice(['fp32', 'bf16', 'auto'] as const) },
  { key: 'device', flags: '--device <d>', help: 'cpu, cuda, cuda:N or auto (default auto)', parse: DEVICE_PARSER },
  { key: 'maxLength', flags: '--max-length <n>', help: 'window length in tokens; ner: longer sentences become overlapping windows (default 256); text-classification, intent-slots: longer inputs are truncated (default 128)', parse: parsers.positiveInt },
  { key: 'tokenColumn', flags: '--token-column <n>', help: 'column of the token in the data files (default 0)', parse: parsers.integer },
  { key: 'tagColumn', flags: '--tag-column <n>', help: 'column of the tag (default -1, the last)', parse: parsers.integer },
  { key: 'scheme', flags: '--scheme <name>', help: `tag scheme to train in: ${SCHEME_CHOICES.join(', ')} (default IOB2; data is converted)`, parse: parsers.choice(SCHEME_CHOICES) },
  { key: 'labelAllTokens', flags: '--label-all-tokens', help: 'label every subword, not only the first of each word', parse: parsers.boolean },
  ...TASK_DATA_SPECS,
  { key: 'resume', flags: '--resume [checkpoint]', help: 'continue from a checkpoint folder (default: the newest in --out)', parse: (v) => (typeof v === 'boolean' ? v : parsers.string(v)) },
  { key: 'overwrite', flags: '--overwrite', help: 'start over in an --out folder that holds checkpoints of an earlier run', parse: parsers.boolean },
  { key: 'progress', flags: '--progress <mode>', help: 'auto (a bar on a terminal), bar, plain or none (default auto)', parse: parsers.choice(['auto', 'bar', 'plain', 'none'] as const) },
  { key: 'threads', flags: '--threads <n>', help: 'LibTorch threads (default: all processors)', parse: parsers.positiveInt },
  { key: 'json', flags: '--json', help: 'print the results as JSON on standard output', parse: parsers.boolean },
];

/** What `runTrain` returns (and `--json` prints). */
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
  /** The class weights of the loss, when --class-weights was given. */
  classWeights?: number[];
  precision: string;
  device: string;
  parameters: number;
}

async function readData(flag: string, path: string, o: TrainCommandOptions): Promise<TaggedSentence[]> {
  requireFile(flag, path);
  const data = await readTaggedData(path, { format: o.format, encoding: o.encoding, tokenColumn: o.tokenColumn ?? 0, tagColumn: o.tagColumn ?? -1 });
  if (data.length === 0) throw new RootsError('ERR_PARSE', `${flag} ${path}: no sentences found`);
  return data;
}

/** Runs `roots train` with parsed options (the demo calls this directly). */
export async function runTrain(options: TrainCommandOptions, io: CliIO = processIO, hooks: { onTrainer?: (t: Trainer) => void } = {}): Promise<TrainSummary> {
  const o = options;
  if (o.task === 'text-classification' || o.task === 'intent-slots') return runTrainSequenceTask(o, io, hooks);
  if ((o.task ?? 'ner') !== 'ner' && o.task !== 'token-classification') throw new RootsError('ERR_INVALID_ARG', `--task ${o.task} is not supported (ner, text-classification, intent-slots)`);
  checkTaskMetric('ner', o.metric);
  const other = (['textColumn', 'textPairColumn', 'labelColumn', 'labelSeparator', 'trecLabels', 'multiLabel', 'threshold', 'classWeights', 'slotLossWeight', 'maxTrainSamples', 'maxEvalSamples'] as const).filter((k) => o[k] !== undefined);
  if (other.length) throw new RootsError('ERR_INVALID_ARG', `${other.map((k) => '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())).join(', ')}: not options of --task ner (text-classification and intent-slots take them)`);
  const modelDir = requireModelDir('--model', o.model);
  if (!o.train) throw new RootsError('ERR_INVALID_ARG', '--train is required (a CoNLL file)');
  if (!o.out) throw new RootsError('ERR_INVALID_ARG', '--out is required (the output folder)');
  if (o.patience && !o.dev) throw new RootsError('ERR_INVALID_ARG', '--patience needs --dev (early stopping watches the dev set)');
  if (o.resume && o.overwrite) throw new RootsError('ERR_INVALID_ARG', '--resume and --overwrite contradict each other');
  const earlier = await listCheckpoints(o.out);
  if (earlier.length && !o.resume && !o.overwrite) {
    throw new RootsError('ERR_CONFIG', `--out ${o.out} already holds checkpoints of an earlier run (${earlier.map((c) => basename(c.path)).join(', ')}): add --resume to continue it, or --overwrite to start over`);
  }
  if (o.threads) setNumThreads(o.threads);

  // Data, converted to one tag scheme.
  let train = await readData('--train', o.train, o);
  let dev = o.dev ? await readData('--dev', o.dev, o) : null;
  let test = o.test ? await readData('--test', o.test, o) : null;
  const found = detectScheme(train.map((s) => s.tags));
  const scheme: TagScheme = o.scheme === 'keep' ? (found ?? 'IOB2') : (o.scheme ?? 'IOB2');
  if (o.scheme !== 'keep') {
    train = convertSentences(train, scheme);
    dev = dev && convertSentences(dev, scheme);
    test = test && convertSentences(test, scheme);
    if (found && found !== scheme) io.err(`Converted the tags from ${found} to ${scheme} (--scheme keep trains on them as they are)\n`);
  }
  const dataLabels = LabelVocab.fromTags([...train, ...(dev ?? []), ...(test ?? [])].map((s) => s.tags)).labels;

  // Model: the folder's labels when they cover the data, else a fresh head for the data's labels.
  const config = await readConfig(modelDir);
  const folderLabels = config.id2label ? labelsOf(config) : undefined;
  const covers = folderLabels && dataLabels.every((l) => folderLabels.includes(l));
  const precision = resolvePrecision(o.precision);
  const tokenizer = await Tokenizer.fromPretrained(modelDir);
  const model = await BertForTokenClassification.fromPretrained(modelDir, {
    labels: covers ? undefined : [...dataLabels],
    ignoreMismatchedSizes: !covers,
    device: (o.device ?? 'auto') as Device,
    precision,
    seed: o.seed ?? 42,
    config: { tag_scheme: scheme },
    log: (m) => io.err(m + '\n'),
  });
  if (folderLabels && !covers) io.err(`The labels of ${modelDir} (${folderLabels.join(', ')}) do not cover the data's; the classification head starts fresh with ${dataLabels.length} labels\n`);
  checkVocabFits(tokenizer, model, modelDir);

  const args = trainingArgsFromOptions(o, { hasDev: Boolean(dev), maxLength: Math.min(256, model.config.max_position_embeddings) });
  const trainer = new Trainer({ model, tokenizer, train, eval: dev ?? undefined, task: nerTask({ labelAllTokens: o.labelAllTokens }), args });
  hooks.onTrainer?.(trainer);

  const { result, devMetrics, testMetrics } = await trainSaveAndTest(trainer, o, test, io);
  try {
    const { evaluation: _, ...rest } = result;
    const summary: TrainSummary = {
      out: o.out, result: rest, dev: devMetrics, test: testMetrics, labels: [...model.labels!], scheme, task: 'ner',
      precision: model.precision, device: model.device, parameters: model.numParameters,
    };
    await writeJsonAtomic(join(o.out, 'results.json'), summary);
    if (o.json) io.out(JSON.stringify(summary, null, 2) + '\n');
    else {
      const f1 = (m: Record<string, number> | null) => (m?.f1 !== undefined ? m.f1.toFixed(4) : '-');
      io.out(`\n${result.globalStep} steps in ${formatDuration(result.wallSeconds)} (${Math.round(result.tokensPerSecond).toLocaleString('en-US')} tokens/s), ` +
        `${result.stopReason}; dev F1 ${f1(devMetrics)}, test F1 ${f1(testMetrics)}\n` +
        `Model saved to ${o.out} (report: ${join(o.out, 'report.html')})\n`);
    }
    return summary;
  } finally {
    model.dispose();
  }
}

export function registerTrain(program: Command, io: CliIO = processIO): void {
  const cmd = program
    .command('train')
    .description('train a model: NER (CoNLL), text classification (TSV/CSV/JSONL/TREC; pairs, multi-label) or joint intent + slots (seq.in/seq.out/label); --model may be a folder with only config.json and a vocabulary (fresh start)')
    .option('--config <file>', 'JSON file with any of these options (flags override it)');
  for (const s of SPECS) {
    const opt = new Option(s.flags, s.help);
    if (!s.flags.includes('<') && !s.flags.includes('[')) cmd.addOption(opt);
    else cmd.addOption(opt.argParser(cli(s.parse)));
  }
  cmd.action(async (flags: Record<string, unknown>) => {
    const { config, ...rest } = flags as { config?: string } & Record<string, unknown>;
    const merged = await mergeConfig(rest, SPECS, config);
    await runTrain(merged as TrainCommandOptions, io);
  });
}
