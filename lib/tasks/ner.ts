/**
 * Named-entity recognition (token classification over pre-split words): CoNLL-style sentences in,
 * seqeval entity scores out.
 *
 * - Features: each word is tokenized on its own, labelled on its first subword (-100 on the rest,
 *   or every subword with `labelAllTokens`), and long sentences become overlapping windows
 *   (lib/data/align.ts).
 * - Scoring: the windows of a sentence are merged back per word (`mergeWindowLogits`), each word
 *   takes its argmax tag, and the tags are scored at the entity level (seqeval's default mode,
 *   as HF's run_ner does, or strict mode with a scheme).
 */
import { tokenClassificationFeatures, mergeWindowLogits, argmaxRows, groupWindows, type TokenFeature } from '../data/align.js';
import { LabelVocab } from '../data/labels.js';
import type { TaggedSentence } from '../data/readers.js';
import { convertTags, detectScheme, type TagScheme } from '../data/tagging.js';
import { entityScores, reportFromScores, type EntityOptions, type EntityReport } from '../metrics/seqeval.js';
import type { BertPreTrainedModel } from '../models/bert.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { RootsError } from '../errors.js';
import { forwardFeatures } from './forward.js';
import type { Evaluation, FeatureOutputs, Task, TaskContext } from './task.js';

export interface NerTaskOptions {
  /** Label every subword, not only the first of each word (HF `label_all_tokens`). Default false. */
  labelAllTokens?: boolean;
  /** Overlap of the windows of long sentences, in tokens (default: a quarter of the window). */
  stride?: number;
  /** How the windows of a long sentence are merged (default `'most_central'`). */
  mergeStrategy?: 'most_central' | 'average';
  /** Score in seqeval's strict mode with this scheme (default: the lenient default mode). */
  scheme?: EntityOptions['scheme'];
}

/** What NER's `score` puts into `Evaluation.details`. */
export interface NerDetails {
  report: EntityReport;
  /** Predicted tags per sentence. */
  predictions: string[][];
}

/** Word-level tags of every sentence from the outputs on its windows. */
export function tagsFromOutputs(
  sentences: readonly Pick<TaggedSentence, 'tokens'>[], features: readonly TokenFeature[], outputs: FeatureOutputs, labels: LabelVocab,
  mergeStrategy: NerTaskOptions['mergeStrategy'] = 'most_central',
): string[][] {
  const groups = groupWindows(features.map((f, i) => ({ ...f, i })));
  return sentences.map((s, k) => {
    const windows = groups.get(k);
    if (!windows) return s.tokens.map(() => labels.label(0));
    const merged = mergeWindowLogits(windows, windows.map((w) => outputs.logits[w.i]), outputs.numLabels, { strategy: mergeStrategy, numWords: s.tokens.length });
    return argmaxRows(merged, outputs.numLabels).map((id) => labels.label(id));
  });
}

export class NerTask implements Task<TaggedSentence, TokenFeature> {
  readonly name = 'ner';
  readonly defaultMetric = 'f1';
  readonly options: NerTaskOptions;

  constructor(options: NerTaskOptions = {}) {
    this.options = options;
  }

  greaterIsBetter(metric: string): boolean {
    return !/loss/i.test(metric);
  }

  labelsOf(examples: readonly TaggedSentence[]): string[] {
    return [...LabelVocab.fromTags(examples.map((e) => e.tags)).labels];
  }

  features(examples: readonly TaggedSentence[], ctx: TaskContext): TokenFeature[] {
    // Sentences whose tags the label set lacks (an evaluation file with an extra type) are encoded
    // without targets: they still get predictions and entity scores, only no loss.
    const labelled = ctx.training || examples.every((s) => s.tags.length === s.tokens.length && s.tags.every((t) => ctx.labels.has(t)));
    return tokenClassificationFeatures(ctx.tokenizer, examples, labelled ? ctx.labels : undefined, {
      maxLength: ctx.maxLength, stride: this.options.stride, labelAllTokens: this.options.labelAllTokens,
    });
  }

  score(examples: readonly TaggedSentence[], features: readonly TokenFeature[], outputs: FeatureOutputs, ctx: TaskContext): Evaluation {
    const predictions = tagsFromOutputs(examples, features, outputs, ctx.labels, this.options.mergeStrategy);
    const gold = examples.map((s) => s.tags);
    const scores = entityScores(gold, predictions, { scheme: this.options.scheme });
    const report = reportFromScores(scores, 4);
    const metrics: Record<string, number> = {
      precision: scores.micro.precision, recall: scores.micro.recall, f1: scores.micro.f1, accuracy: scores.accuracy,
    };
    if (outputs.loss !== null) metrics.loss = outputs.loss;
    const details: NerDetails = { report, predictions };
    return { metrics, report: report.text, details };
  }
}

/** An NER task with options (the Trainer also accepts the string `'ner'`). */
export function nerTask(options: NerTaskOptions = {}): NerTask {
  return new NerTask(options);
}

/**
 * The tag scheme a token-classification model was trained with: config.json's `tag_scheme` (written
 * by `roots train`), else guessed from its labels (E-/S- → IOBES, L-/U- → BILOU, otherwise IOB2).
 */
export function modelTagScheme(config: { [key: string]: unknown }, labels: readonly string[]): TagScheme {
  if (typeof config.tag_scheme === 'string' && ['IOB1', 'IOB2', 'IOE1', 'IOE2', 'IOBES', 'BILOU'].includes(config.tag_scheme)) return config.tag_scheme as TagScheme;
  if (labels.some((l) => /^[LU]-/.test(l))) return 'BILOU';
  if (labels.some((l) => /^[ES]-/.test(l))) return labels.some((l) => l.startsWith('B-')) ? 'IOBES' : 'IOE2';
  return 'IOB2';
}

/** Rewrites the tags of `sentences` into `scheme` (entities unchanged); sentences without chunks are kept. */
export function convertSentences(sentences: readonly TaggedSentence[], scheme: TagScheme): TaggedSentence[] {
  if (detectScheme(sentences.map((s) => s.tags)) === scheme) return sentences.slice();
  return sentences.map((s) => ({ ...s, tags: convertTags(s.tags, scheme) }));
}

export interface EvaluateNerOptions extends NerTaskOptions {
  batchSize?: number;
  maxLength?: number;
  /** Pad batches to a multiple of this many tokens (default 8, as the Trainer does). */
  padToMultipleOf?: number;
}

/**
 * Scores a token-classification model on tagged sentences (gold tags are converted to the model's
 * scheme first). `details` holds the seqeval report and the predicted tags.
 */
export async function evaluateNer(
  model: BertPreTrainedModel, tokenizer: Tokenizer, sentences: readonly TaggedSentence[], options: EvaluateNerOptions = {},
): Promise<Evaluation & { details: NerDetails }> {
  const labelNames = model.labels;
  if (!labelNames) throw new RootsError('ERR_CONFIG', 'The model has no labels (id2label) to predict tags with');
  const labels = new LabelVocab(labelNames);
  const scheme = modelTagScheme(model.config, labelNames);
  const data = convertSentences(sentences, scheme);
  const task = new NerTask(options);
  const ctx: TaskContext = { tokenizer, labels, maxLength: options.maxLength ?? Math.min(512, model.config.max_position_embeddings) };
  const features = task.features(data, ctx);
  const outputs = await forwardFeatures(model, features, { batchSize: options.batchSize ?? 32, padTokenId: tokenizer.padTokenId ?? 0, padToMultipleOf: options.padToMultipleOf ?? 8 });
  return task.score(data, features, outputs, ctx) as Evaluation & { details: NerDetails };
}
