/**
 * Text classification (BertForSequenceClassification): single texts or pairs (`text`, `textPair`),
 * one class per text (softmax, cross-entropy) or a set of classes (multi-label: a sigmoid per class,
 * binary cross-entropy, a threshold).
 *
 * - Features: each text (or pair) is encoded once, truncated to the window (`longest_first` for
 *   pairs, as Transformers does), with its class id (or the ids of its classes for multi-label).
 * - Scoring, single-label: accuracy, macro and weighted F1, Matthews correlation, the flat
 *   (scikit-learn) classification report, and the confusion matrix in `details`.
 * - Scoring, multi-label: micro and macro F1, micro precision and recall, and the exact-match ratio
 *   (subset accuracy: the predicted set equals the gold set).
 */
import { textClassificationFeatures, type TextFeature } from '../data/features.js';
import { LabelVocab } from '../data/labels.js';
import type { TextExample } from '../data/readers.js';
import { RootsError, describe, expectNumber } from '../errors.js';
import {
  classificationScores, confusionMatrix, flatClassificationReport, matthewsCorrcoef, multiLabelScores,
  type ConfusionMatrix, type FlatClassificationReport, type MultiLabelScores,
} from '../metrics/classification.js';
import type { BertPreTrainedModel } from '../models/bert.js';
import type { Tokenizer, TruncationStrategy } from '../tokenizer/index.js';
import { forwardFeatures } from './forward.js';
import type { Evaluation, FeatureOutputs, Task, TaskContext } from './task.js';

export interface TextClassificationTaskOptions {
  /** Multi-label (sigmoid + binary cross-entropy, label sets). Default false. */
  multiLabel?: boolean;
  /** Multi-label: a class is predicted when its sigmoid score is at least this (default 0.5). */
  threshold?: number;
  /** How pairs are shortened to the window (default `'longest_first'`). */
  truncation?: TruncationStrategy;
}

/** What text classification's `score` puts into `Evaluation.details`. */
export interface TextClassificationDetails {
  multiLabel: boolean;
  /** Predicted label per example (single-label) or label set per example (multi-label). */
  predictions: string[] | string[][];
  /** Single-label: scikit-learn's classification report over the model's labels. */
  report?: FlatClassificationReport;
  /** Single-label: rows are gold labels, columns predicted labels (the model's labels, in id order). */
  confusion?: ConfusionMatrix<string>;
  /** Multi-label: per-label and averaged scores. */
  multiLabelScores?: MultiLabelScores<string>;
}

/** Metric names of single-label text classification. */
export const TEXT_CLASSIFICATION_METRICS = ['accuracy', 'f1_macro', 'f1_weighted', 'mcc', 'loss'] as const;
/** Metric names of multi-label text classification. */
export const MULTI_LABEL_METRICS = ['f1_micro', 'f1_macro', 'precision_micro', 'recall_micro', 'exact_match', 'loss'] as const;

function goldSet(label: TextExample['label']): string[] {
  return label === undefined ? [] : typeof label === 'string' ? [label] : [...label];
}

/** Softmax of one row of logits. */
export function softmax(row: ArrayLike<number>): Float64Array {
  const out = new Float64Array(row.length);
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  let sum = 0;
  for (let i = 0; i < row.length; i++) { out[i] = Math.exp(row[i] - max); sum += out[i]; }
  for (let i = 0; i < row.length; i++) out[i] /= sum;
  return out;
}

/** The logistic function, elementwise. */
export function sigmoid(row: ArrayLike<number>): Float64Array {
  const out = new Float64Array(row.length);
  for (let i = 0; i < row.length; i++) out[i] = 1 / (1 + Math.exp(-row[i]));
  return out;
}

/**
 * Class weights for imbalanced data: inverse class frequencies in `examples`, normalised to a mean of
 * 1 over the classes that occur (`n / (k * count)`, rescaled); classes that never occur get 1 (they
 * are never a target, so their weight does not matter). For multi-label data the counts are
 * positives per class and the weights are BCE's `pos_weight`.
 */
export function inverseFrequencyWeights(labelsPerExample: Iterable<string | readonly string[] | undefined>, labels: LabelVocab): number[] {
  const counts = new Array<number>(labels.size).fill(0);
  for (const l of labelsPerExample) {
    if (l === undefined) continue;
    for (const name of typeof l === 'string' ? [l] : l) {
      const id = labels.get(name);
      if (id !== undefined) counts[id]++;
    }
  }
  const present = counts.filter((c) => c > 0);
  if (present.length === 0) throw new RootsError('ERR_INVALID_ARG', 'Cannot compute class weights: no example has a label of the label set');
  const raw = counts.map((c) => (c > 0 ? 1 / c : 0));
  const mean = raw.reduce((a, b) => a + b, 0) / present.length;
  return raw.map((w, i) => (counts[i] > 0 ? w / mean : 1));
}

/**
 * Parses `--class-weights`: `'auto'` (see {@link inverseFrequencyWeights}) or one non-negative number
 * per label, comma-separated, in label order.
 */
export function parseClassWeights(spec: string, labels: LabelVocab, examples: Iterable<string | readonly string[] | undefined>): number[] {
  if (spec.trim() === 'auto') return inverseFrequencyWeights(examples, labels);
  const parts = spec.split(',').map((s) => s.trim());
  const weights = parts.map(Number);
  if (parts.some((p) => p === '') || weights.some((w) => !Number.isFinite(w) || w < 0)) {
    throw new RootsError('ERR_INVALID_ARG', `--class-weights: expected 'auto' or comma-separated non-negative numbers but got ${describe(spec)}`);
  }
  if (weights.length !== labels.size) {
    throw new RootsError('ERR_INVALID_ARG', `--class-weights has ${weights.length} weights but there are ${labels.size} labels (${labels.labels.join(', ')}); give one per label in this order`);
  }
  return weights;
}

export class TextClassificationTask implements Task<TextExample, TextFeature> {
  readonly name = 'text-classification';
  readonly multiLabel: boolean;
  readonly threshold: number;
  readonly options: TextClassificationTaskOptions;

  constructor(options: TextClassificationTaskOptions = {}) {
    this.options = options;
    this.multiLabel = options.multiLabel ?? false;
    this.threshold = expectNumber('threshold', options.threshold ?? 0.5, 0, 1);
  }

  get defaultMetric(): string {
    return this.multiLabel ? 'f1_micro' : 'accuracy';
  }

  /** The metrics `score` returns (loss only when the examples have labels the model knows). */
  get metricNames(): readonly string[] {
    return this.multiLabel ? MULTI_LABEL_METRICS : TEXT_CLASSIFICATION_METRICS;
  }

  greaterIsBetter(metric: string): boolean {
    return !/loss/i.test(metric);
  }

  labelsOf(examples: readonly TextExample[]): string[] {
    return [...LabelVocab.fromLabels(examples.map((e) => e.label)).labels];
  }

  features(examples: readonly TextExample[], ctx: TaskContext): TextFeature[] {
    if (ctx.training) {
      examples.forEach((e, i) => {
        if (e.label === undefined) throw new RootsError('ERR_INVALID_ARG', `Training example ${i}${e.line ? ` (line ${e.line})` : ''} has no label`);
        if (!this.multiLabel && typeof e.label !== 'string') {
          throw new RootsError('ERR_INVALID_ARG', `Training example ${i}${e.line ? ` (line ${e.line})` : ''} has ${e.label.length} labels but the model is single-label (train a multi-label model: problem_type 'multi_label_classification', --multi-label)`);
        }
      });
    }
    // Examples with a label the model lacks (an evaluation file with an extra class) are encoded
    // without targets: they are still predicted and scored, only the loss is left out.
    const labelled = ctx.training || examples.every((e) => e.label !== undefined && goldSet(e.label).every((l) => ctx.labels.has(l)));
    return textClassificationFeatures(ctx.tokenizer, examples, labelled ? ctx.labels : undefined, {
      maxLength: ctx.maxLength, truncation: this.options.truncation ?? 'longest_first', multiLabel: this.multiLabel,
    });
  }

  /** Predicted label (single-label) or label set (multi-label) of each output row. */
  predict(outputs: FeatureOutputs, labels: LabelVocab): string[] | string[][] {
    const n = outputs.numLabels;
    if (this.multiLabel) {
      return outputs.logits.map((row) => {
        const p = sigmoid(row);
        const out: string[] = [];
        for (let c = 0; c < n; c++) if (p[c] >= this.threshold) out.push(labels.label(c));
        return out;
      });
    }
    return outputs.logits.map((row) => {
      let best = 0;
      for (let c = 1; c < n; c++) if (row[c] > row[best]) best = c;
      return labels.label(best);
    });
  }

  score(examples: readonly TextExample[], _features: readonly TextFeature[], outputs: FeatureOutputs, ctx: TaskContext): Evaluation {
    if (examples.some((e) => e.label === undefined)) throw new RootsError('ERR_INVALID_ARG', 'Cannot score examples without labels');
    const predictions = this.predict(outputs, ctx.labels);
    const metrics: Record<string, number> = {};
    let report: string;
    let details: TextClassificationDetails;
    if (this.multiLabel) {
      const gold = examples.map((e) => goldSet(e.label));
      const pred = predictions as string[][];
      // Scored over the model's labels plus any gold label it lacks (which it can never predict).
      const all = [...ctx.labels.labels, ...new Set(gold.flat().filter((l) => !ctx.labels.has(l)))];
      const s = multiLabelScores(gold, pred, { labels: all });
      metrics.f1_micro = s.micro.f1;
      metrics.f1_macro = s.macro.f1;
      metrics.precision_micro = s.micro.precision;
      metrics.recall_micro = s.micro.recall;
      metrics.exact_match = s.subsetAccuracy;
      report = multiLabelReport(s);
      details = { multiLabel: true, predictions: pred, multiLabelScores: s };
    } else {
      const gold = examples.map((e) => e.label as string);
      const pred = predictions as string[];
      const all = [...ctx.labels.labels, ...new Set(gold.filter((l) => !ctx.labels.has(l)))];
      const s = classificationScores(gold, pred, { labels: all });
      metrics.accuracy = s.accuracy;
      metrics.f1_macro = s.macro.f1;
      metrics.f1_weighted = s.weighted.f1;
      metrics.mcc = matthewsCorrcoef(gold, pred);
      const flat = flatClassificationReport(gold, pred, { labels: all, digits: 4 });
      const confusion = confusionMatrix(gold, pred, { labels: all });
      report = flat.text + '\n' + formatConfusion(confusion);
      details = { multiLabel: false, predictions: pred, report: flat, confusion };
    }
    if (outputs.loss !== null) metrics.loss = outputs.loss;
    return { metrics, report, details };
  }
}

/** A confusion matrix as text: gold labels down, predicted labels across. */
export function formatConfusion(cm: ConfusionMatrix<string>): string {
  const width = Math.max(4, ...cm.labels.map((l) => l.length));
  const cell = Math.max(5, ...cm.labels.map((l) => l.length), ...cm.matrix.flat().map((v) => String(v).length));
  const head = 'gold \\ predicted'.padEnd(width) + ' ' + cm.labels.map((l) => l.padStart(cell)).join(' ');
  const rows = cm.labels.map((l, i) => l.padStart(Math.max(width, 'gold \\ predicted'.length)) + ' ' + cm.matrix[i].map((v) => String(v).padStart(cell)).join(' '));
  return `confusion matrix\n${head}\n${rows.join('\n')}\n`;
}

/** Per-label and averaged multi-label scores as a table (scikit-learn's layout). */
function multiLabelReport(s: MultiLabelScores<string>): string {
  const width = Math.max(12, ...s.labels.map((l) => l.label.length));
  const f = (x: number) => x.toFixed(4).padStart(9);
  const line = (name: string, p: number, r: number, f1: number, support: number) => `${name.padStart(width)} ${f(p)} ${f(r)} ${f(f1)} ${String(support).padStart(9)}\n`;
  let text = `${''.padStart(width)} ${'precision'.padStart(9)} ${'recall'.padStart(9)} ${'f1-score'.padStart(9)} ${'support'.padStart(9)}\n\n`;
  for (const l of s.labels) text += line(l.label, l.precision, l.recall, l.f1, l.support);
  text += '\n';
  text += line('micro avg', s.micro.precision, s.micro.recall, s.micro.f1, s.micro.support);
  text += line('macro avg', s.macro.precision, s.macro.recall, s.macro.f1, s.macro.support);
  text += line('weighted avg', s.weighted.precision, s.weighted.recall, s.weighted.f1, s.weighted.support);
  text += line('samples avg', s.samples.precision, s.samples.recall, s.samples.f1, s.samples.support);
  text += `\nexact match (subset accuracy) ${s.subsetAccuracy.toFixed(4)} over ${s.total} examples\n`;
  return text;
}

/** A text-classification task with options (the Trainer also accepts `'text-classification'`). */
export function textClassificationTask(options: TextClassificationTaskOptions = {}): TextClassificationTask {
  return new TextClassificationTask(options);
}

/** Whether a sequence-classification model is multi-label (its config's problem_type). */
export function isMultiLabel(model: Pick<BertPreTrainedModel, 'config'>): boolean {
  return model.config.problem_type === 'multi_label_classification';
}

export interface EvaluateTextClassificationOptions extends TextClassificationTaskOptions {
  batchSize?: number;
  maxLength?: number;
  padToMultipleOf?: number;
}

/**
 * Scores a sequence-classification model on labelled text examples (multi-label when the model's
 * problem_type says so). `details` holds the predictions, the report and the confusion matrix.
 */
export async function evaluateTextClassification(
  model: BertPreTrainedModel, tokenizer: Tokenizer, examples: readonly TextExample[], options: EvaluateTextClassificationOptions = {},
): Promise<Evaluation & { details: TextClassificationDetails }> {
  if (model.head !== 'sequence') throw new RootsError('ERR_INVALID_ARG', `Text classification needs a sequence-classification model, not a ${model.head} head`);
  const labelNames = model.labels;
  if (!labelNames) throw new RootsError('ERR_CONFIG', 'The model has no labels (id2label) to predict with');
  const task = new TextClassificationTask({ multiLabel: isMultiLabel(model), ...options });
  const ctx: TaskContext = { tokenizer, labels: new LabelVocab(labelNames), maxLength: options.maxLength ?? Math.min(512, model.config.max_position_embeddings) };
  const features = task.features(examples, ctx);
  const outputs = await forwardFeatures(model, features, { batchSize: options.batchSize ?? 32, padTokenId: tokenizer.padTokenId ?? 0, padToMultipleOf: options.padToMultipleOf ?? 8 });
  return task.score(examples, features, outputs, ctx) as Evaluation & { details: TextClassificationDetails };
}
