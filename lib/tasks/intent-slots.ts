/**
 * Joint intent detection and slot filling (BertForIntentAndSlots): one encoder, a sequence head on
 * the pooled [CLS] for the intent, a token head for the slot tags, trained on
 * `intent loss + slot_loss_weight * slot loss` (the weight lives in config.json).
 *
 * - Features: the words of an utterance (seq.in) are tokenized one by one, the slot tag goes on the
 *   first subword of each word (-100 on the rest), the intent on the row. Utterances longer than the
 *   window are truncated (their last words are predicted `O`).
 * - Scoring: intent accuracy, slot entity-level precision/recall/F1 (seqeval's default mode, as
 *   JointBERT reports them), and the sentence-level exact match (JointBERT's semantic frame
 *   accuracy: the intent and every slot tag right).
 */
import { alignLabelsToTokens } from '../data/align.js';
import type { Feature } from '../data/features.js';
import { LabelVocab } from '../data/labels.js';
import type { IntentSlotExample } from '../data/readers.js';
import { IGNORE_INDEX } from '../batch.js';
import { RootsError, expectNumber } from '../errors.js';
import { flatClassificationReport } from '../metrics/classification.js';
import { entityScores, reportFromScores, type EntityOptions, type EntityReport } from '../metrics/seqeval.js';
import type { BertPreTrainedModel } from '../models/bert.js';
import { labelsOf } from '../models/config.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { forwardFeatures } from './forward.js';
import type { Evaluation, FeatureOutputs, Task, TaskContext } from './task.js';

/** One encoded utterance. */
export interface IntentSlotFeature extends Feature {
  /** `[CLS] pieces... [SEP]` */
  inputIds: Int32Array;
  /** word index of each token, -1 for `[CLS]`/`[SEP]` */
  wordIds: Int32Array;
  /** intent id (-100 when an evaluation example's intent is not in the label set) */
  label?: number;
  /** slot tag id on the first subword of each word, -100 elsewhere */
  slotLabels?: Int32Array;
}

export interface IntentSlotsTaskOptions {
  /** Score slots in seqeval's strict mode with this scheme (default: the lenient default mode). */
  scheme?: EntityOptions['scheme'];
}

/** What intent + slots' `score` puts into `Evaluation.details`. */
export interface IntentSlotsDetails {
  /** Predicted intent per utterance. */
  intents: string[];
  /** Predicted slot tag per word. */
  slots: string[][];
  /** seqeval's report of the slots. */
  slotReport: EntityReport;
  /** The intents' flat classification report (text). */
  intentReport: string;
}

/** Metric names of intent + slots. */
export const INTENT_SLOTS_METRICS = ['exact_match', 'intent_accuracy', 'slot_f1', 'slot_precision', 'slot_recall', 'loss'] as const;

/**
 * Encodes utterances: words tokenized one at a time, `[CLS] ... [SEP]`, truncated to `maxLength`
 * tokens. With `intents`/`slots` vocabularies the targets are added; a label the vocabulary lacks
 * is an error with `strict`, else ignored (-100).
 */
export function intentSlotFeatures(
  tokenizer: Tokenizer, examples: readonly Pick<IntentSlotExample, 'tokens' | 'tags' | 'intent' | 'line'>[],
  labels: { intents: LabelVocab; slots: LabelVocab } | undefined, options: { maxLength: number; strict?: boolean },
): IntentSlotFeature[] {
  const cls = tokenizer.clsTokenId;
  const sep = tokenizer.sepTokenId;
  if (cls === undefined || sep === undefined) throw new RootsError('ERR_CONFIG', 'The tokenizer has no [CLS]/[SEP] tokens');
  const budget = options.maxLength - 2;
  if (budget < 1) throw new RootsError('ERR_INVALID_ARG', `Expected maxLength of at least 3 but received ${options.maxLength}`);
  return examples.map((ex, i) => {
    const where = `Utterance ${i}${ex.line ? ` (line ${ex.line})` : ''}`;
    const enc = tokenizer.encodeWords(ex.tokens, null, { addSpecialTokens: false });
    const n = Math.min(enc.ids.length, budget);
    const inputIds = new Int32Array(n + 2);
    const wordIds = new Int32Array(n + 2).fill(-1);
    inputIds[0] = cls;
    inputIds[n + 1] = sep;
    for (let t = 0; t < n; t++) { inputIds[t + 1] = enc.ids[t]; wordIds[t + 1] = enc.wordIds[t]!; }
    const f: IntentSlotFeature = { inputIds, wordIds };
    if (labels) {
      if (ex.intent === undefined) throw new RootsError('ERR_INVALID_ARG', `${where} has no intent label`);
      if (ex.tags.length !== ex.tokens.length) throw new RootsError('ERR_INVALID_ARG', `${where}: ${ex.tokens.length} words but ${ex.tags.length} slot tags`);
      const intent = labels.intents.get(ex.intent);
      if (intent === undefined && options.strict) throw new RootsError('ERR_INVALID_ARG', `${where}: intent "${ex.intent}" is not in the label set (${labels.intents.labels.join(', ')})`);
      f.label = intent ?? IGNORE_INDEX;
      const wordLabels = ex.tags.map((tag, w) => {
        const id = labels.slots.get(tag);
        if (id === undefined && options.strict) throw new RootsError('ERR_INVALID_ARG', `${where}, word ${w} ("${ex.tokens[w]}"): slot tag "${tag}" is not in the slot label set`);
        return id ?? IGNORE_INDEX;
      });
      f.slotLabels = alignLabelsToTokens(wordIds, wordLabels);
    }
    return f;
  });
}

/** Argmax of row `r` of a row-major `[rows * width]` array. */
function argmax(values: ArrayLike<number>, r: number, width: number): number {
  let best = 0;
  for (let c = 1; c < width; c++) if (values[r * width + c] > values[r * width + best]) best = c;
  return best;
}

/** Predicted intent ids and per-word slot ids (words past the window: the `O` id, else 0). */
export function decodeIntentSlots(
  features: readonly Pick<IntentSlotFeature, 'wordIds'>[], numWords: readonly number[], outputs: FeatureOutputs, outside: number,
): { intents: number[]; slots: number[][] } {
  if (!outputs.logits2 || !outputs.numLabels2) throw new RootsError('ERR_INVALID_ARG', 'The outputs have no slot logits (is it a BertForIntentAndSlots?)');
  const L = outputs.numLabels;
  const S = outputs.numLabels2;
  const intents = outputs.logits.map((row) => argmax(row, 0, L));
  const slots = features.map((f, i) => {
    const tags = new Array<number>(numWords[i]).fill(outside);
    const rows = outputs.logits2![i];
    for (let p = 0; p < f.wordIds.length; p++) {
      const w = f.wordIds[p];
      if (w < 0 || (p > 0 && f.wordIds[p - 1] === w)) continue;
      tags[w] = argmax(rows, p, S);
    }
    return tags;
  });
  return { intents, slots };
}

export class IntentSlotsTask implements Task<IntentSlotExample, IntentSlotFeature> {
  readonly name = 'intent-slots';
  readonly defaultMetric = 'exact_match';
  readonly metricNames: readonly string[] = INTENT_SLOTS_METRICS;
  readonly options: IntentSlotsTaskOptions;

  constructor(options: IntentSlotsTaskOptions = {}) {
    this.options = options;
  }

  greaterIsBetter(metric: string): boolean {
    return !/loss/i.test(metric);
  }

  /** The intents of `examples`, sorted (the intent head's labels). */
  labelsOf(examples: readonly IntentSlotExample[]): string[] {
    return [...LabelVocab.fromLabels(examples.map((e) => e.intent)).labels];
  }

  /** The slot tags of `examples`: `O` first, then by type and prefix (the slot head's labels). */
  slotLabelsOf(examples: readonly IntentSlotExample[]): string[] {
    return [...LabelVocab.fromTags(examples.map((e) => e.tags)).labels];
  }

  features(examples: readonly IntentSlotExample[], ctx: TaskContext): IntentSlotFeature[] {
    if (!ctx.labels2) throw new RootsError('ERR_CONFIG', 'intent-slots needs the slot labels (TaskContext.labels2; a BertForIntentAndSlots with slot_id2label)');
    const labelled = ctx.training || examples.every((e) => e.intent !== undefined);
    return intentSlotFeatures(ctx.tokenizer, examples, labelled ? { intents: ctx.labels, slots: ctx.labels2 } : undefined, { maxLength: ctx.maxLength, strict: ctx.training });
  }

  score(examples: readonly IntentSlotExample[], features: readonly IntentSlotFeature[], outputs: FeatureOutputs, ctx: TaskContext): Evaluation {
    if (!ctx.labels2) throw new RootsError('ERR_CONFIG', 'intent-slots needs the slot labels (TaskContext.labels2)');
    if (examples.some((e) => e.intent === undefined)) throw new RootsError('ERR_INVALID_ARG', 'Cannot score utterances without intent labels');
    const slotVocab = ctx.labels2;
    const { intents, slots } = decodeIntentSlots(features, examples.map((e) => e.tokens.length), outputs, slotVocab.get('O') ?? 0);
    const predIntents = intents.map((id) => ctx.labels.label(id));
    const predSlots = slots.map((row) => row.map((id) => slotVocab.label(id)));
    const goldIntents = examples.map((e) => e.intent!);
    const goldSlots = examples.map((e) => e.tags);
    let intentRight = 0;
    let exact = 0;
    for (let i = 0; i < examples.length; i++) {
      const ok = predIntents[i] === goldIntents[i];
      if (ok) intentRight++;
      if (ok && goldSlots[i].every((t, w) => t === predSlots[i][w])) exact++;
    }
    const n = Math.max(1, examples.length);
    const scores = entityScores(goldSlots, predSlots, { scheme: this.options.scheme });
    const slotReport = reportFromScores(scores, 4);
    const all = [...ctx.labels.labels, ...new Set(goldIntents.filter((l) => !ctx.labels.has(l)))];
    const intentReport = examples.length ? flatClassificationReport(goldIntents, predIntents, { labels: all, digits: 4 }).text : '';
    const metrics: Record<string, number> = {
      exact_match: exact / n, intent_accuracy: intentRight / n,
      slot_f1: scores.micro.f1, slot_precision: scores.micro.precision, slot_recall: scores.micro.recall,
    };
    if (outputs.loss !== null) metrics.loss = outputs.loss;
    const report = `Intents\n${intentReport}\nSlots\n${slotReport.text}\n` +
      `intent accuracy ${metrics.intent_accuracy.toFixed(4)}, slot F1 ${metrics.slot_f1.toFixed(4)}, exact match ${metrics.exact_match.toFixed(4)} (${examples.length} utterances)\n`;
    const details: IntentSlotsDetails = { intents: predIntents, slots: predSlots, slotReport, intentReport };
    return { metrics, report, details };
  }
}

/** An intent + slots task (the Trainer also accepts `'intent-slots'`). */
export function intentSlotsTask(options: IntentSlotsTaskOptions = {}): IntentSlotsTask {
  return new IntentSlotsTask(options);
}

export interface EvaluateIntentSlotsOptions extends IntentSlotsTaskOptions {
  batchSize?: number;
  maxLength?: number;
  padToMultipleOf?: number;
}

/** Scores a BertForIntentAndSlots on labelled utterances. */
export async function evaluateIntentSlots(
  model: BertPreTrainedModel, tokenizer: Tokenizer, examples: readonly IntentSlotExample[], options: EvaluateIntentSlotsOptions = {},
): Promise<Evaluation & { details: IntentSlotsDetails }> {
  if (model.head !== 'intent-slots') throw new RootsError('ERR_INVALID_ARG', `Intent + slot evaluation needs a BertForIntentAndSlots, not a ${model.head} head`);
  const intents = model.labels;
  const slots = labelsOf(model.config, 'slot_id2label');
  if (!intents || !slots) throw new RootsError('ERR_CONFIG', 'The model lacks id2label or slot_id2label');
  const task = new IntentSlotsTask(options);
  const ctx: TaskContext = {
    tokenizer, labels: new LabelVocab(intents), labels2: new LabelVocab(slots),
    maxLength: options.maxLength ?? Math.min(512, model.config.max_position_embeddings),
  };
  const features = task.features(examples, ctx);
  const outputs = await forwardFeatures(model, features, { batchSize: options.batchSize ?? 32, padTokenId: tokenizer.padTokenId ?? 0, padToMultipleOf: options.padToMultipleOf ?? 8 });
  return task.score(examples, features, outputs, ctx) as Evaluation & { details: IntentSlotsDetails };
}

/** Checks `slot_loss_weight` (a non-negative number). */
export function checkSlotLossWeight(w: number): number {
  return expectNumber('slotLossWeight', w, 0);
}
