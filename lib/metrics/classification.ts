/**
 * Metrics for sequence (text) classification: one gold and one predicted label per example.
 *
 * The semantics follow scikit-learn (`accuracy_score`, `precision_recall_fscore_support`,
 * `confusion_matrix`, `matthews_corrcoef`, `classification_report`) with `zero_division=0`: a
 * precision, recall or F1 whose denominator is zero is 0, silently. Labels are strings or
 * numbers (not both in one call); they are listed in sorted order, numbers numerically and
 * strings by Unicode code point, as `numpy.unique` would order them.
 *
 * Also here: multi-label helpers (micro/macro/weighted/samples F1 over label sets) and two small
 * formatting helpers shared by the other metric modules.
 */
import { RootsError, describe } from '../errors.js';
import { checkDigits, compareCodePoints, renderReport } from './report-text.js';

/** A class label: a string (`'positive'`) or a number (a class id). */
export type ClassLabel = string | number;

/** How per-label scores are combined into one. */
export type AverageMode = 'micro' | 'macro' | 'weighted';

/** Precision, recall and F1 (each in [0, 1]) with the number of gold examples they cover. */
export interface MetricScores {
  precision: number;
  recall: number;
  f1: number;
  /** Number of gold (true) instances: examples, labels or entities, depending on the metric. */
  support: number;
}

/** Scores of one label, with the counts they were computed from. */
export interface LabelScores<L extends ClassLabel = ClassLabel> extends MetricScores {
  label: L;
  /** Number of times the label was predicted. */
  predicted: number;
  /** Number of correct predictions of the label (true positives). */
  correct: number;
}

/** Per-label scores and their micro, macro and support-weighted averages. */
export interface AveragedScores<L extends ClassLabel = ClassLabel> {
  /** One entry per label, in label order. */
  labels: LabelScores<L>[];
  micro: MetricScores;
  macro: MetricScores;
  weighted: MetricScores;
}

/** Per-label and averaged scores of a single-label classification. */
export interface ClassificationScores<L extends ClassLabel = ClassLabel> extends AveragedScores<L> {
  /** Fraction of examples whose predicted label equals the gold label. */
  accuracy: number;
  /** Number of examples. */
  total: number;
}

/** Options shared by the single-label metrics. */
export interface LabelOptions<L extends ClassLabel = ClassLabel> {
  /**
   * The labels to score, in the order to report them. Default: every label seen in `yTrue` or
   * `yPred`, sorted. Labels not listed are left out of the per-label rows and of the averages
   * (as in scikit-learn), but still count for accuracy.
   */
  labels?: readonly L[];
}

/** A confusion matrix: `matrix[i][j]` counts examples with gold `labels[i]` predicted as `labels[j]`. */
export interface ConfusionMatrix<L extends ClassLabel = ClassLabel> {
  labels: L[];
  matrix: number[][];
}

/** One row of a printed report. */
export interface ReportRow extends MetricScores {
  label: string;
}

/** A flat (scikit-learn style) classification report: the text and the numbers in it. */
export interface FlatClassificationReport {
  /** Per-label rows, in label order (named by `targetNames` where given). */
  labels: ReportRow[];
  /** Accuracy; `null` when the report is restricted to a subset of labels (then `micro` is shown). */
  accuracy: number | null;
  micro: MetricScores;
  macro: MetricScores;
  weighted: MetricScores;
  /** The report as scikit-learn's `classification_report` prints it (ends with a newline). */
  text: string;
}

/** Options of {@link flatClassificationReport}. */
export interface FlatReportOptions<L extends ClassLabel = ClassLabel> extends LabelOptions<L> {
  /** Digits after the decimal point (default 2). */
  digits?: number;
  /** Display names of the labels, one per label (in label order). */
  targetNames?: readonly string[];
}

/** Per-label and averaged scores of a multi-label classification. */
export interface MultiLabelScores<L extends ClassLabel = ClassLabel> extends AveragedScores<L> {
  /** Precision, recall and F1 computed per example, then averaged over examples. */
  samples: MetricScores;
  /** Fraction of examples whose predicted label set equals the gold set exactly. */
  subsetAccuracy: number;
  /** Number of examples. */
  total: number;
}

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

/** `a / b`, or 0 when `b` is 0 (scikit-learn's `zero_division=0`). */
function divide(a: number, b: number): number {
  return b === 0 ? 0 : a / b;
}

/**
 * Precision, recall and F1 from counts, with zero division yielding 0. F1 is computed from the
 * counts, `2·tp / (predicted + gold)`, as scikit-learn ≥ 1.3 does.
 */
export function scoresFromCounts(correct: number, predicted: number, gold: number): MetricScores {
  return {
    precision: divide(correct, predicted),
    recall: divide(correct, gold),
    f1: divide(2 * correct, predicted + gold),
    support: gold,
  };
}

/** Unweighted mean of per-label scores (0 for no labels); support is the total support. */
function macroAverage(rows: readonly MetricScores[]): MetricScores {
  let p = 0, r = 0, f = 0, s = 0;
  for (const row of rows) { p += row.precision; r += row.recall; f += row.f1; s += row.support; }
  const n = rows.length;
  return { precision: divide(p, n), recall: divide(r, n), f1: divide(f, n), support: s };
}

/**
 * Support-weighted mean of per-label scores. When every support is 0 the weights are ignored
 * (scikit-learn's `_nanaverage` falls back to the plain mean).
 */
function weightedAverage(rows: readonly MetricScores[]): MetricScores {
  let p = 0, r = 0, f = 0, s = 0;
  for (const row of rows) {
    p += row.precision * row.support; r += row.recall * row.support; f += row.f1 * row.support; s += row.support;
  }
  if (s === 0) return macroAverage(rows);
  return { precision: p / s, recall: r / s, f1: f / s, support: s };
}

/** Sorts labels: numbers ascending, strings by code point. Throws on a mix of both. */
export function sortLabels<L extends ClassLabel>(labels: Iterable<L>): L[] {
  const out = [...labels];
  let strings = 0;
  for (const l of out) if (typeof l === 'string') strings++;
  if (strings !== 0 && strings !== out.length) {
    throw new RootsError('ERR_INVALID_ARG', 'Expected labels to be all strings or all numbers but received a mix of both');
  }
  if (strings === 0) (out as number[]).sort((a, b) => a - b);
  else (out as string[]).sort(compareCodePoints);
  return out;
}

function checkLabel(name: string, index: number, value: unknown): void {
  if (typeof value === 'string') return;
  if (typeof value === 'number' && Number.isFinite(value)) return;
  throw new RootsError('ERR_INVALID_ARG', `Expected a string or finite number for ${name}[${index}] but received ${describe(value)}`);
}

/** Validates a pair of flat label arrays: arrays, same non-zero length, labels of one kind. */
function checkPair(yTrue: unknown, yPred: unknown): void {
  if (!Array.isArray(yTrue)) throw new RootsError('ERR_INVALID_ARG', `Expected an array for yTrue but received ${describe(yTrue)}`);
  if (!Array.isArray(yPred)) throw new RootsError('ERR_INVALID_ARG', `Expected an array for yPred but received ${describe(yPred)}`);
  if (yTrue.length !== yPred.length) {
    throw new RootsError('ERR_INVALID_ARG', `Expected yTrue and yPred of the same length but yTrue has ${yTrue.length} labels and yPred has ${yPred.length}`);
  }
  if (yTrue.length === 0) throw new RootsError('ERR_INVALID_ARG', 'Expected at least one example but yTrue and yPred are empty');
  let kind: string | undefined;
  for (let i = 0; i < yTrue.length; i++) {
    checkLabel('yTrue', i, yTrue[i]);
    checkLabel('yPred', i, yPred[i]);
    const k = typeof yTrue[i];
    kind ??= k;
    if (k !== kind || typeof yPred[i] !== kind) {
      throw new RootsError('ERR_INVALID_ARG', `Expected labels to be all strings or all numbers but example ${i} mixes them (yTrue[${i}]=${describe(yTrue[i])}, yPred[${i}]=${describe(yPred[i])})`);
    }
  }
}

/** The labels to score: the given ones (validated, no duplicates) or every label seen, sorted. */
function resolveLabels<L extends ClassLabel>(yTrue: readonly L[], yPred: readonly L[], given: readonly L[] | undefined): L[] {
  if (given === undefined) {
    const seen = new Set<L>(yTrue);
    for (const l of yPred) seen.add(l);
    return sortLabels(seen);
  }
  if (!Array.isArray(given) || given.length === 0) {
    throw new RootsError('ERR_INVALID_ARG', `Expected a non-empty array for labels but received ${describe(given)}`);
  }
  const seen = new Set<L>();
  given.forEach((l, i) => {
    checkLabel('labels', i, l);
    if (seen.has(l)) throw new RootsError('ERR_INVALID_ARG', `Expected distinct labels but ${describe(l)} is listed twice`);
    seen.add(l);
  });
  return [...given];
}

/** A label → position index and zeroed per-label counters (true positives, predictions, gold). */
function labelCounters<L extends ClassLabel>(labels: readonly L[]) {
  const index = new Map<L, number>(labels.map((l, i) => [l, i]));
  const zeros = () => new Array<number>(labels.length).fill(0);
  return { index, correct: zeros(), predicted: zeros(), gold: zeros() };
}

/** Counts per label (true positives, predictions, gold) for the given label order. */
function countPerLabel<L extends ClassLabel>(yTrue: readonly L[], yPred: readonly L[], labels: readonly L[]) {
  const { index, correct, predicted, gold } = labelCounters(labels);
  let accurate = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const t = yTrue[i]!, p = yPred[i]!;
    const ti = index.get(t), pi = index.get(p);
    if (ti !== undefined) gold[ti]!++;
    if (pi !== undefined) predicted[pi]!++;
    if (t === p) { accurate++; if (ti !== undefined) correct[ti]!++; }
  }
  return { correct, predicted, gold, accurate };
}

// ---------------------------------------------------------------------------------------------
// Single-label metrics
// ---------------------------------------------------------------------------------------------

/**
 * Fraction of examples whose predicted label equals the gold label.
 * @throws RootsError ERR_INVALID_ARG when the arrays differ in length, are empty, or mix label kinds.
 */
export function accuracyScore<L extends ClassLabel>(yTrue: readonly L[], yPred: readonly L[]): number {
  checkPair(yTrue, yPred);
  let ok = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) ok++;
  return ok / yTrue.length;
}

/**
 * Per-label precision, recall, F1 and support, their micro, macro and support-weighted averages,
 * and accuracy (scikit-learn's `precision_recall_fscore_support` with `zero_division=0`).
 *
 * @example
 * classificationScores(['a', 'b', 'b'], ['a', 'a', 'b']).macro.f1 // 0.6666…
 */
export function classificationScores<L extends ClassLabel>(
  yTrue: readonly L[], yPred: readonly L[], options: LabelOptions<L> = {},
): ClassificationScores<L> {
  checkPair(yTrue, yPred);
  const labels = resolveLabels(yTrue, yPred, options.labels);
  const { correct, predicted, gold, accurate } = countPerLabel(yTrue, yPred, labels);
  const rows: LabelScores<L>[] = labels.map((label, i) => ({
    label, ...scoresFromCounts(correct[i]!, predicted[i]!, gold[i]!), predicted: predicted[i]!, correct: correct[i]!,
  }));
  let c = 0, p = 0, g = 0;
  for (let i = 0; i < labels.length; i++) { c += correct[i]!; p += predicted[i]!; g += gold[i]!; }
  return {
    labels: rows,
    micro: scoresFromCounts(c, p, g),
    macro: macroAverage(rows),
    weighted: weightedAverage(rows),
    accuracy: accurate / yTrue.length,
    total: yTrue.length,
  };
}

/**
 * Averaged precision, recall and F1 (default average: `'macro'`).
 * For single-label data with every label scored, the micro average equals accuracy.
 */
export function precisionRecallF1<L extends ClassLabel>(
  yTrue: readonly L[], yPred: readonly L[], options: LabelOptions<L> & { average?: AverageMode } = {},
): MetricScores {
  const average = options.average ?? 'macro';
  checkAverage(average);
  return classificationScores(yTrue, yPred, options)[average];
}

/** Averaged F1 (default average: `'macro'`). See {@link precisionRecallF1}. */
export function f1Score<L extends ClassLabel>(
  yTrue: readonly L[], yPred: readonly L[], options: LabelOptions<L> & { average?: AverageMode } = {},
): number {
  return precisionRecallF1(yTrue, yPred, options).f1;
}

function checkAverage(average: unknown): asserts average is AverageMode {
  if (average !== 'micro' && average !== 'macro' && average !== 'weighted') {
    throw new RootsError('ERR_INVALID_ARG', `Expected "micro", "macro" or "weighted" for average but received ${describe(average)}`);
  }
}

/**
 * The confusion matrix (scikit-learn's `confusion_matrix`): rows are gold labels, columns are
 * predicted labels, both in `labels` order. Examples whose gold or predicted label is not among
 * `options.labels` are left out.
 */
export function confusionMatrix<L extends ClassLabel>(
  yTrue: readonly L[], yPred: readonly L[], options: LabelOptions<L> = {},
): ConfusionMatrix<L> {
  checkPair(yTrue, yPred);
  const labels = resolveLabels(yTrue, yPred, options.labels);
  const index = new Map<L, number>();
  labels.forEach((l, i) => {
    index.set(l, i);
  });
  const matrix = labels.map(() => new Array<number>(labels.length).fill(0));
  for (let i = 0; i < yTrue.length; i++) {
    const t = index.get(yTrue[i]!), p = index.get(yPred[i]!);
    if (t !== undefined && p !== undefined) matrix[t]![p]!++;
  }
  return { labels, matrix };
}

/**
 * Matthews correlation coefficient for binary or multiclass labels, scikit-learn's formula
 * (Gorodkin's R_K): `(c·s − Σ p_k·t_k) / sqrt((s² − Σ p_k²)(s² − Σ t_k²))` over the confusion
 * matrix, where c is the trace, s the number of examples, t_k and p_k the gold and predicted
 * counts of label k. Returns 0 when the denominator is 0 (e.g. a single class everywhere).
 */
export function matthewsCorrcoef<L extends ClassLabel>(yTrue: readonly L[], yPred: readonly L[]): number {
  const { matrix } = confusionMatrix(yTrue, yPred);
  const k = matrix.length;
  const t = new Array<number>(k).fill(0), p = new Array<number>(k).fill(0);
  let trace = 0, n = 0;
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) { const v = matrix[i]![j]!; t[i]! += v; p[j]! += v; n += v; }
    trace += matrix[i]![i]!;
  }
  let tp = 0, pp = 0, tt = 0;
  for (let i = 0; i < k; i++) { tp += t[i]! * p[i]!; pp += p[i]! * p[i]!; tt += t[i]! * t[i]!; }
  const covYtYp = trace * n - tp;
  const covYpYp = n * n - pp;
  const covYtYt = n * n - tt;
  const denom = covYpYp * covYtYt;
  return denom === 0 ? 0 : covYtYp / Math.sqrt(denom);
}

/**
 * scikit-learn's `classification_report` for single-label data: precision, recall, F1 and support
 * per label, then `accuracy`, `macro avg` and `weighted avg` (or `micro avg` in place of accuracy
 * when `labels` leaves out a label that occurs). Returns the text and the numbers.
 *
 * @example
 * flatClassificationReport([0, 1, 2, 2, 2], [0, 0, 2, 2, 1]).text
 * //               precision    recall  f1-score   support
 * //
 * //            0       0.50      1.00      0.67         1
 * //  ...
 */
export function flatClassificationReport<L extends ClassLabel>(
  yTrue: readonly L[], yPred: readonly L[], options: FlatReportOptions<L> = {},
): FlatClassificationReport {
  const digits = checkDigits(options.digits ?? 2);
  const scores = classificationScores(yTrue, yPred, options);
  const names = options.targetNames;
  if (names !== undefined && (!Array.isArray(names) || names.length !== scores.labels.length)) {
    throw new RootsError('ERR_INVALID_ARG',
      `Expected targetNames to have one name per label (${scores.labels.length}) but received ${describe(names)}`);
  }
  const rows: ReportRow[] = scores.labels.map((s, i) => ({
    label: names ? String(names[i]) : String(s.label),
    precision: s.precision, recall: s.recall, f1: s.f1, support: s.support,
  }));
  // The micro average is accuracy when every label that occurs is reported.
  const listed = new Set<ClassLabel>(scores.labels.map((s) => s.label));
  let microIsAccuracy = true;
  for (let i = 0; i < yTrue.length && microIsAccuracy; i++) {
    if (!listed.has(yTrue[i]!) || !listed.has(yPred[i]!)) microIsAccuracy = false;
  }
  const averages = [
    microIsAccuracy
      ? { label: 'accuracy', scores: { ...scores.micro, f1: scores.accuracy }, accuracyOnly: true }
      : { label: 'micro avg', scores: scores.micro },
    { label: 'macro avg', scores: scores.macro },
    { label: 'weighted avg', scores: scores.weighted },
  ];
  return {
    labels: rows,
    accuracy: microIsAccuracy ? scores.accuracy : null,
    micro: scores.micro,
    macro: scores.macro,
    weighted: scores.weighted,
    text: renderReport(rows, averages, digits),
  };
}

// ---------------------------------------------------------------------------------------------
// Multi-label metrics
// ---------------------------------------------------------------------------------------------

/**
 * Scores for multi-label classification, where each example has a set of gold labels and a set
 * of predicted labels (scikit-learn's metrics on binarized label indicators): per-label scores,
 * micro, macro, support-weighted and per-sample ("samples") averages, and subset accuracy.
 * Duplicate labels inside one example's list count once.
 *
 * @example
 * multiLabelScores([['a', 'b'], ['b']], [['a'], ['b', 'c']]).micro.f1 // 0.6666…
 */
export function multiLabelScores<L extends ClassLabel>(
  yTrue: readonly (readonly L[])[], yPred: readonly (readonly L[])[], options: LabelOptions<L> = {},
): MultiLabelScores<L> {
  if (!Array.isArray(yTrue)) throw new RootsError('ERR_INVALID_ARG', `Expected an array of label arrays for yTrue but received ${describe(yTrue)}`);
  if (!Array.isArray(yPred)) throw new RootsError('ERR_INVALID_ARG', `Expected an array of label arrays for yPred but received ${describe(yPred)}`);
  if (yTrue.length !== yPred.length) {
    throw new RootsError('ERR_INVALID_ARG', `Expected yTrue and yPred of the same length but yTrue has ${yTrue.length} examples and yPred has ${yPred.length}`);
  }
  if (yTrue.length === 0) throw new RootsError('ERR_INVALID_ARG', 'Expected at least one example but yTrue and yPred are empty');
  const trueSets: Set<L>[] = [], predSets: Set<L>[] = [];
  const seen = new Set<L>();
  for (let i = 0; i < yTrue.length; i++) {
    for (const [name, list, sets] of [['yTrue', yTrue[i], trueSets], ['yPred', yPred[i], predSets]] as const) {
      if (!Array.isArray(list)) throw new RootsError('ERR_INVALID_ARG', `Expected an array of labels for ${name}[${i}] but received ${describe(list)}`);
      list.forEach((l, j) => {
        checkLabel(`${name}[${i}]`, j, l);
      });
      const set = new Set<L>(list as readonly L[]);
      for (const l of set) seen.add(l);
      (sets as Set<L>[]).push(set);
    }
  }
  // sortLabels also rejects a mix of string and number labels.
  const labels = options.labels === undefined ? sortLabels(seen) : resolveLabels([], [], options.labels);
  const { index, correct, predicted, gold } = labelCounters(labels);
  let exact = 0;
  let sp = 0, sr = 0, sf = 0;
  for (let i = 0; i < trueSets.length; i++) {
    const t = trueSets[i]!, p = predSets[i]!;
    let tCount = 0, pCount = 0, both = 0;
    for (const l of t) { const k = index.get(l); if (k === undefined) continue; gold[k]!++; tCount++; if (p.has(l)) { correct[k]!++; both++; } }
    for (const l of p) { const k = index.get(l); if (k === undefined) continue; predicted[k]!++; pCount++; }
    let same = t.size === p.size;
    if (same) for (const l of t) if (!p.has(l)) { same = false; break; }
    if (same) exact++;
    const s = scoresFromCounts(both, pCount, tCount);
    sp += s.precision; sr += s.recall; sf += s.f1;
  }
  const rows: LabelScores<L>[] = labels.map((label, i) => ({
    label, ...scoresFromCounts(correct[i]!, predicted[i]!, gold[i]!), predicted: predicted[i]!, correct: correct[i]!,
  }));
  let c = 0, p = 0, g = 0;
  for (let i = 0; i < labels.length; i++) { c += correct[i]!; p += predicted[i]!; g += gold[i]!; }
  const n = trueSets.length;
  return {
    labels: rows,
    micro: scoresFromCounts(c, p, g),
    macro: macroAverage(rows),
    weighted: weightedAverage(rows),
    samples: { precision: sp / n, recall: sr / n, f1: sf / n, support: g },
    subsetAccuracy: exact / n,
    total: n,
  };
}
