/**
 * The CLI for text classification and joint intent + slot filling: what `roots train --task
 * text-classification | intent-slots`, and `roots eval` / `roots predict` on such a model, do.
 *
 * - Data: `--format tsv|csv|jsonl|trec` (text classification) or `seq` (a seq.in / seq.out / label
 *   folder), detected from the name when not given (lib/data/formats.ts); `--text-column`,
 *   `--text-pair-column`, `--label-column`, `--label-separator` (multi-label TSV/CSV),
 *   `--encoding latin1` for Latin-1 files (TREC's training file).
 * - Model: BertForSequenceClassification (problem_type multi_label_classification with
 *   `--multi-label`, a label separator, or label lists in JSONL) or BertForIntentAndSlots; the
 *   folder's labels when they cover the data's, else a fresh head. `--class-weights auto|w1,w2,...`
 *   and `--slot-loss-weight` go into config.json.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { DATA_FORMATS, readIntentSlotData, readTextData, type DataFormat } from '../data/formats.js';
import { LabelVocab } from '../data/labels.js';
import { readTextFile, type FileEncoding, type IntentSlotExample, type TextExample } from '../data/readers.js';
import { RootsError } from '../errors.js';
import { setNumThreads } from '../info.js';
import { BertForIntentAndSlots, BertForSequenceClassification, type BertPreTrainedModel, type Device } from '../models/bert.js';
import { labelsOf, readConfig, type BertConfig } from '../models/config.js';
import { intentSlotsPipeline, type IntentSlotsResult } from '../pipelines/intent-slots.js';
import { textClassificationPipeline, type LabelScore, type TextClassificationInput } from '../pipelines/text-classification.js';
import { INTENT_SLOTS_METRICS, IntentSlotsTask, evaluateIntentSlots } from '../tasks/intent-slots.js';
import {
  MULTI_LABEL_METRICS, TEXT_CLASSIFICATION_METRICS, TextClassificationTask, evaluateTextClassification, parseClassWeights,
} from '../tasks/text-classification.js';
import { Tokenizer } from '../tokenizer/index.js';
import { listCheckpoints } from '../trainer/checkpoint.js';
import { formatDuration } from '../trainer/log.js';
import { Trainer, writeJsonAtomic, type TrainResult } from '../trainer/trainer.js';
import { parsers, trainSaveAndTest, trainingArgsFromOptions, checkVocabFits, processIO, requireFile, requireModelDir, resolvePrecision, table, type CliIO, type OptionSpec } from './common.js';
import type { TrainCommandOptions, TrainSummary } from './train.js';

/** Metric names of these tasks (for `--metric`). */
export const SEQUENCE_METRIC_CHOICES = [...new Set([...TEXT_CLASSIFICATION_METRICS, ...MULTI_LABEL_METRICS, ...INTENT_SLOTS_METRICS])]
  .filter((m) => !['accuracy', 'loss'].includes(m));

const NER_METRICS = ['f1', 'precision', 'recall', 'accuracy', 'loss'];

/** Throws a one-line error unless `metric` is one the task reports. */
export function checkTaskMetric(task: 'ner' | 'text-classification' | 'multi-label' | 'intent-slots', metric: string | undefined): void {
  if (metric === undefined) return;
  const known: readonly string[] = task === 'ner' ? NER_METRICS : task === 'text-classification' ? TEXT_CLASSIFICATION_METRICS
    : task === 'multi-label' ? MULTI_LABEL_METRICS : INTENT_SLOTS_METRICS;
  if (!known.includes(metric)) throw new RootsError('ERR_INVALID_ARG', `--metric ${metric} is not a ${task} metric (${known.join(', ')})`);
}

const ENCODING_PARSER = parsers.choice(['utf-8', 'utf8', 'latin1'] as const);

/** Data and model options of these tasks (one table for commander and --config files). */
export const TASK_DATA_SPECS: (OptionSpec & { flags: string; help: string })[] = [
  { key: 'format', flags: '--format <name>', help: `data format: ${DATA_FORMATS.join(', ')} (default: from the name: a folder is seq, .tsv, .csv, .jsonl, TREC.* is trec, else conll for ner)`, parse: parsers.choice(DATA_FORMATS) },
  { key: 'encoding', flags: '--encoding <name>', help: 'text encoding of the data files: utf-8 (default; invalid bytes are an error) or latin1', parse: ENCODING_PARSER },
  { key: 'textColumn', flags: '--text-column <name>', help: 'TSV/CSV column (JSONL field) of the text (default: sentence, text, content, sentence1 or text_a)', parse: parsers.string },
  { key: 'textPairColumn', flags: '--text-pair-column <name>', help: 'column (field) of the second text of a pair (default: sentence2 or text_b when present)', parse: parsers.string },
  { key: 'labelColumn', flags: '--label-column <name>', help: 'column (field) of the label (default label)', parse: parsers.string },
  { key: 'labelSeparator', flags: '--label-separator <sep>', help: 'split TSV/CSV labels on this string: multi-label data (e.g. ",")', parse: parsers.string },
  { key: 'trecLabels', flags: '--trec-labels <kind>', help: 'TREC labels: coarse (6 classes; default) or fine (50)', parse: parsers.choice(['coarse', 'fine'] as const) },
  { key: 'multiLabel', flags: '--multi-label', help: 'text-classification: multi-label (a sigmoid per label, binary cross-entropy); default when the data has label lists', parse: parsers.boolean },
  { key: 'threshold', flags: '--threshold <p>', help: 'multi-label: a label is predicted when its sigmoid reaches this (default 0.5)', parse: parsers.number(0, 1) },
  { key: 'classWeights', flags: '--class-weights <w>', help: "loss weights per label for imbalanced data: auto (inverse frequency, mean 1) or w1,w2,... in label order (multi-label: pos_weight; intent-slots: the intents)", parse: parsers.string },
  { key: 'slotLossWeight', flags: '--slot-loss-weight <w>', help: 'intent-slots: loss = intent loss + w * slot loss (default 1)', parse: parsers.number(0) },
  { key: 'maxTrainSamples', flags: '--max-train-samples <n>', help: 'text-classification, intent-slots: train on the first N examples (quick runs)', parse: parsers.positiveInt },
  { key: 'maxEvalSamples', flags: '--max-eval-samples <n>', help: 'text-classification, intent-slots: evaluate on the first N dev and test examples', parse: parsers.positiveInt },
];

/** Rewrites the readers' UTF-8 hint (`{ encoding: 'latin1' }`) into the flag. */
async function withEncodingHint<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (e) {
    if (e instanceof RootsError && e.code === 'ERR_PARSE' && /invalid UTF-8/.test(e.message)) {
      throw new RootsError('ERR_PARSE', e.message.replace(/pass \{ encoding: 'latin1' \} to read it as ISO-8859-1/, 'pass --encoding latin1 to read it as ISO-8859-1'), { cause: e });
    }
    throw e;
  }
}

interface DataFlags { format?: DataFormat; encoding?: FileEncoding; textColumn?: string; textPairColumn?: string; labelColumn?: string; labelSeparator?: string; trecLabels?: 'coarse' | 'fine' }

function requirePath(flag: string, path: unknown, folder: boolean): string {
  if (typeof path !== 'string' || path === '') throw new RootsError('ERR_INVALID_ARG', `${flag} is required`);
  if (!existsSync(path)) throw new RootsError('ERR_IO', `${flag} ${path}: no such ${folder ? 'folder' : 'file'}`);
  if (folder && !statSync(path).isDirectory()) throw new RootsError('ERR_IO', `${flag} ${path}: not a folder (intent-slots reads a folder with seq.in, seq.out and label)`);
  if (!folder) return requireFile(flag, path);
  return path;
}

/** Reads labelled texts for `flag` (a one-line error naming the flag when there are none). */
export async function readTexts(flag: string, path: string, o: DataFlags): Promise<TextExample[]> {
  requirePath(flag, path, false);
  const data = await withEncodingHint(() => readTextData(path, o));
  if (data.length === 0) throw new RootsError('ERR_PARSE', `${flag} ${path}: no examples found`);
  return data;
}

/** Reads utterances (seq.in / seq.out / label) for `flag`. */
export async function readUtterances(flag: string, path: string, o: DataFlags): Promise<IntentSlotExample[]> {
  requirePath(flag, path, true);
  const data = await withEncodingHint(() => readIntentSlotData(path, { format: o.format, encoding: o.encoding }));
  if (data.length === 0) throw new RootsError('ERR_PARSE', `${flag} ${path}: no utterances found`);
  return data;
}

/** The task a trained model folder is for, from config.json's architectures (or its label sets). */
export function modelTask(config: BertConfig): 'ner' | 'text-classification' | 'intent-slots' {
  const arch = config.architectures?.[0];
  if (arch === 'BertForIntentAndSlots' || (!arch && config.slot_id2label)) return 'intent-slots';
  if (arch === 'BertForSequenceClassification') return 'text-classification';
  return 'ner';
}

function sameSet(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return !!a && b.every((l) => a.includes(l));
}

/** `roots train --task text-classification | intent-slots`. */
export async function runTrainSequenceTask(o: TrainCommandOptions, io: CliIO = processIO, hooks: { onTrainer?: (t: Trainer) => void } = {}): Promise<TrainSummary> {
  const intentSlots = o.task === 'intent-slots';
  const modelDir = requireModelDir('--model', o.model);
  if (!o.train) throw new RootsError('ERR_INVALID_ARG', `--train is required (${intentSlots ? 'a folder with seq.in, seq.out and label' : 'a TSV, CSV, JSONL or TREC file'})`);
  if (!o.out) throw new RootsError('ERR_INVALID_ARG', '--out is required (the output folder)');
  if (o.patience && !o.dev) throw new RootsError('ERR_INVALID_ARG', '--patience needs --dev (early stopping watches the dev set)');
  if (o.resume && o.overwrite) throw new RootsError('ERR_INVALID_ARG', '--resume and --overwrite contradict each other');
  if (intentSlots && (o.multiLabel || o.labelSeparator)) throw new RootsError('ERR_INVALID_ARG', '--multi-label and --label-separator are for text-classification');
  if (!intentSlots && o.slotLossWeight !== undefined) throw new RootsError('ERR_INVALID_ARG', '--slot-loss-weight is for --task intent-slots');
  if (o.labelAllTokens || o.scheme !== undefined || o.tokenColumn !== undefined || o.tagColumn !== undefined) {
    throw new RootsError('ERR_INVALID_ARG', `--label-all-tokens, --scheme, --token-column and --tag-column are for --task ner, not ${o.task}`);
  }
  const earlier = await listCheckpoints(o.out);
  if (earlier.length && !o.resume && !o.overwrite) {
    throw new RootsError('ERR_CONFIG', `--out ${o.out} already holds checkpoints of an earlier run (${earlier.map((c) => basename(c.path)).join(', ')}): add --resume to continue it, or --overwrite to start over`);
  }
  if (o.threads) setNumThreads(o.threads);

  // Data and label sets (the labels of every split, in a stable order).
  type Example = TextExample | IntentSlotExample;
  const read = (flag: string, path: string): Promise<Example[]> => (intentSlots ? readUtterances(flag, path, o) : readTexts(flag, path, o));
  const train = (await read('--train', o.train)).slice(0, o.maxTrainSamples);
  const dev = o.dev ? (await read('--dev', o.dev)).slice(0, o.maxEvalSamples) : null;
  const test = o.test ? (await read('--test', o.test)).slice(0, o.maxEvalSamples) : null;
  const all = [...train, ...(dev ?? []), ...(test ?? [])];
  const multiLabel = !intentSlots && (o.multiLabel === true || o.labelSeparator !== undefined || (all as TextExample[]).some((e) => Array.isArray(e.label)));
  checkTaskMetric(intentSlots ? 'intent-slots' : multiLabel ? 'multi-label' : 'text-classification', o.metric);
  if (o.threshold !== undefined && !multiLabel) throw new RootsError('ERR_INVALID_ARG', '--threshold is for multi-label classification (--multi-label)');
  const isTask = new IntentSlotsTask();
  const tcTask = new TextClassificationTask({ multiLabel, threshold: o.threshold });
  const labels = intentSlots ? isTask.labelsOf(all as IntentSlotExample[]) : tcTask.labelsOf(all as TextExample[]);
  const slotLabels = intentSlots ? isTask.slotLabelsOf(all as IntentSlotExample[]) : undefined;
  if (labels.length < (multiLabel ? 1 : 2)) throw new RootsError('ERR_PARSE', `--train ${o.train}: found ${labels.length} label${labels.length === 1 ? '' : 's'} (${labels.join(', ')}); classification needs at least two`);
  const trainLabels = intentSlots ? (train as IntentSlotExample[]).map((e) => e.intent) : (train as TextExample[]).map((e) => e.label);
  const classWeights = o.classWeights !== undefined ? parseClassWeights(o.classWeights, new LabelVocab(labels), trainLabels) : undefined;

  // Model: the folder's labels when they cover the data's, else fresh heads for the data's labels.
  const folder = await readConfig(modelDir);
  const folderLabels = folder.id2label ? labelsOf(folder) : undefined;
  const folderSlots = labelsOf(folder, 'slot_id2label');
  const covers = sameSet(folderLabels, labels) && (!intentSlots || sameSet(folderSlots, slotLabels!));
  const config: Partial<BertConfig> = {};
  if (classWeights) config.class_weights = classWeights;
  else if (!covers) config.class_weights = undefined;  // weights of another label set do not apply
  if (o.slotLossWeight !== undefined) config.slot_loss_weight = o.slotLossWeight;
  const tokenizer = await Tokenizer.fromPretrained(modelDir);
  const common = {
    ignoreMismatchedSizes: !covers, device: (o.device ?? 'auto') as Device, precision: resolvePrecision(o.precision), seed: o.seed ?? 42,
    config, log: (m: string) => io.err(m + '\n'),
  };
  const model: BertPreTrainedModel = intentSlots
    ? await BertForIntentAndSlots.fromPretrained(modelDir, { ...common, labels: covers ? undefined : labels, slotLabels: covers ? undefined : slotLabels })
    : await BertForSequenceClassification.fromPretrained(modelDir, {
      ...common, labels: covers ? undefined : labels, problemType: multiLabel ? 'multi_label_classification' : 'single_label_classification',
    });
  if (folderLabels && !covers) io.err(`The labels of ${modelDir} do not cover the data's; the classification head${intentSlots ? 's start' : ' starts'} fresh with ${labels.length} labels${slotLabels ? ` and ${slotLabels.length} slot tags` : ''}\n`);
  checkVocabFits(tokenizer, model, modelDir);

  const args = trainingArgsFromOptions(o, { hasDev: Boolean(dev), maxLength: Math.min(128, model.config.max_position_embeddings) });
  const trainer = new Trainer({ model, tokenizer, train, eval: dev ?? undefined, task: intentSlots ? isTask : tcTask, args });
  hooks.onTrainer?.(trainer);

  const { result, devMetrics, testMetrics } = await trainSaveAndTest(trainer, o, test, io);
  try {
    const { evaluation: _, ...rest } = result;
    const summary: TrainSummary = {
      out: o.out, result: rest, dev: devMetrics, test: testMetrics, labels: [...model.labels!], task: o.task,
      ...(intentSlots ? { slotLabels: labelsOf(model.config, 'slot_id2label') } : { multiLabel }),
      ...(model.config.class_weights ? { classWeights: model.config.class_weights } : {}),
      precision: model.precision, device: model.device, parameters: model.numParameters,
    };
    await writeJsonAtomic(join(o.out, 'results.json'), summary);
    if (o.json) io.out(JSON.stringify(summary, null, 2) + '\n');
    else {
      const keys = intentSlots ? ['intent_accuracy', 'slot_f1', 'exact_match'] : multiLabel ? ['f1_micro', 'exact_match'] : ['accuracy', 'f1_macro'];
      const show = (m: Record<string, number> | null) => keys.map((k) => `${k} ${m?.[k] !== undefined ? m[k].toFixed(4) : '-'}`).join(', ');
      io.out(`\n${result.globalStep} steps in ${formatDuration(result.wallSeconds)} (${Math.round(result.tokensPerSecond).toLocaleString('en-US')} tokens/s), ` +
        `${result.stopReason}${devMetrics ? `; dev: ${show(devMetrics)}` : ''}${testMetrics ? `; test: ${show(testMetrics)}` : ''}\n` +
        `Model saved to ${o.out} (report: ${join(o.out, 'report.html')})\n`);
    }
    return summary;
  } finally {
    model.dispose();
  }
}

/** Options `roots eval` passes on for these tasks. */
export interface SequenceEvalOptions extends DataFlags {
  model?: string;
  data?: string;
  json?: boolean;
  batchSize?: number;
  maxLength?: number;
  threshold?: number;
  device?: string;
  precision?: 'fp32' | 'bf16' | 'auto';
}

/** `roots eval` on a text-classification or intent-slots model. */
export async function runEvalSequenceTask(task: 'text-classification' | 'intent-slots', dir: string, o: SequenceEvalOptions, io: CliIO = processIO): Promise<Record<string, unknown>> {
  const intentSlots = task === 'intent-slots';
  if (!o.data) throw new RootsError('ERR_INVALID_ARG', `--data is required (${intentSlots ? 'a folder with seq.in, seq.out and label' : 'a TSV, CSV, JSONL or TREC file'})`);
  const examples = intentSlots ? await readUtterances('--data', o.data, o) : await readTexts('--data', o.data, o);
  const tokenizer = await Tokenizer.fromPretrained(dir);
  const load = { device: (o.device ?? 'auto') as Device, precision: resolvePrecision(o.precision), log: null };
  const model = intentSlots ? await BertForIntentAndSlots.fromPretrained(dir, load) : await BertForSequenceClassification.fromPretrained(dir, load);
  try {
    if (!model.loadReport.source) throw new RootsError('ERR_CHECKPOINT', `--model ${dir} has no weights (model.safetensors): train it first`);
    const opts = { batchSize: o.batchSize ?? 32, maxLength: o.maxLength ?? Math.min(128, model.config.max_position_embeddings) };
    const ev = intentSlots
      ? await evaluateIntentSlots(model, tokenizer, examples as IntentSlotExample[], opts)
      : await evaluateTextClassification(model, tokenizer, examples as TextExample[], { ...opts, threshold: o.threshold });
    const result: Record<string, unknown> = { model: dir, data: o.data, task, examples: examples.length, metrics: ev.metrics, report: ev.report };
    if (!intentSlots) {
      const d = (ev as Awaited<ReturnType<typeof evaluateTextClassification>>).details;
      result.multiLabel = d.multiLabel;
      if (d.report) result.labels = d.report.labels;
      if (d.confusion) result.confusionMatrix = d.confusion;
      if (d.multiLabelScores) result.labels = d.multiLabelScores.labels.map((l) => ({ label: l.label, precision: l.precision, recall: l.recall, f1: l.f1, support: l.support }));
    } else {
      result.slots = (ev as Awaited<ReturnType<typeof evaluateIntentSlots>>).details.slotReport.labels;
    }
    if (o.json) io.out(JSON.stringify(result, null, 2) + '\n');
    else {
      const m = Object.entries(ev.metrics).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ');
      io.out(`${ev.report}\n${m} (${examples.length} ${intentSlots ? 'utterances' : 'examples'}, ${o.data})\n`);
    }
    return result;
  } finally {
    model.dispose();
  }
}

/** Options `roots predict` passes on for these tasks. */
export interface SequencePredictOptions {
  text?: string[];
  textPair?: string[];
  input?: string;
  json?: boolean;
  topK?: number;
  threshold?: number;
  batchSize?: number;
  maxLength?: number;
  device?: string;
  precision?: 'fp32' | 'bf16' | 'auto';
}

/**
 * `roots predict` on a text-classification model (one text per `--text`, paired by position with
 * `--text-pair`; `--input` lines, a TAB separating a pair) or an intent-slots model.
 */
export async function runPredictSequenceTask(task: 'text-classification' | 'intent-slots', dir: string, o: SequencePredictOptions, io: CliIO = processIO): Promise<unknown[]> {
  const intentSlots = task === 'intent-slots';
  const inputs: { text: string; textPair?: string }[] = (o.text ?? []).map((text, i) => (o.textPair?.[i] !== undefined ? { text, textPair: o.textPair[i] } : { text }));
  if ((o.textPair?.length ?? 0) > (o.text?.length ?? 0)) throw new RootsError('ERR_INVALID_ARG', `${o.textPair!.length} --text-pair values for ${o.text?.length ?? 0} --text values: give one --text per --text-pair`);
  if (intentSlots && o.textPair?.length) throw new RootsError('ERR_INVALID_ARG', '--text-pair is for text-classification models');
  if (o.input) {
    const content = await readTextFile(requireFile('--input', o.input));
    for (const line of content.split(/\r?\n/)) {
      if (line.trim() === '') continue;
      const tab = line.indexOf('\t');
      inputs.push(!intentSlots && tab >= 0 ? { text: line.slice(0, tab), textPair: line.slice(tab + 1) } : { text: line });
    }
  }
  if (!o.text?.length && !o.input) throw new RootsError('ERR_INVALID_ARG', 'Give --text "..." or --input FILE (one text per line)');
  const load = { batchSize: o.batchSize ?? 16, maxLength: o.maxLength, device: (o.device ?? 'auto') as Device, precision: resolvePrecision(o.precision) };
  const out: unknown[] = [];
  const chunk = 256;
  if (intentSlots) {
    if (o.topK !== undefined || o.threshold !== undefined) throw new RootsError('ERR_INVALID_ARG', '--top-k and --threshold are for text-classification models');
    const nlu = await intentSlotsPipeline(dir, load);
    try {
      for (let i = 0; i < inputs.length; i += chunk) {
        const part = inputs.slice(i, i + chunk).map((x) => x.text);
        const results = await nlu(part);
        part.forEach((text, k) => {
          out.push({ text, ...results[k] });
          io.out(o.json ? JSON.stringify({ text, ...results[k] }) + '\n' : formatIntentSlots(text, results[k]));
        });
      }
    } finally {
      nlu.dispose();
    }
    return out;
  }
  const clf = await textClassificationPipeline(dir, { ...load, topK: o.topK, threshold: o.threshold });
  try {
    for (let i = 0; i < inputs.length; i += chunk) {
      const part = inputs.slice(i, i + chunk);
      const results = await clf(part as TextClassificationInput[]);
      part.forEach((input, k) => {
        const record = { text: input.text, ...(input.textPair !== undefined ? { textPair: input.textPair } : {}), labels: results[k] };
        out.push(record);
        io.out(o.json ? JSON.stringify(record) + '\n' : formatLabels(input, results[k], clf.multiLabel));
      });
    }
  } finally {
    clf.dispose();
  }
  return out;
}

/** Labels of one input as aligned lines. */
export function formatLabels(input: { text: string; textPair?: string }, labels: readonly LabelScore[], multiLabel: boolean): string {
  const head = input.textPair !== undefined ? `${input.text}\t${input.textPair}` : input.text;
  if (labels.length === 0) return `${head}\n  (no label${multiLabel ? ' reaches the threshold' : ''})\n`;
  return `${head}\n${table(labels.map((l) => ['  ' + l.label, l.score.toFixed(4)]))}`;
}

/** The intent and slots of one utterance as aligned lines. */
export function formatIntentSlots(text: string, r: IntentSlotsResult): string {
  const rows = [[`  intent`, r.intent.label, '', r.intent.score.toFixed(4)], ...r.slots.map((s) => [
    '  ' + s.entity, JSON.stringify(s.word), `[${s.start}, ${s.end})`, s.score.toFixed(4),
  ])];
  return `${text}\n${table(rows)}`;
}
