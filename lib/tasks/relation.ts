/**
 * Relation classification (BertForRelationClassification, `--task relation-classification`): a text
 * with two marked entities (lib/tasks/relation-markers.ts) classified from the hidden states of the
 * two entity-start markers (native/relation.h), or from [CLS] (`relation_pooling: 'cls'`).
 *
 * - Features: the markers inserted at the spans, `[CLS] … [SEP]`, the positions of `[E1]` and `[E2]`.
 * - Scoring: the SemEval-2010 Task 8 scorer (lib/metrics/semeval.ts): the official macro-F1 over the
 *   relations with direction, Other excluded, as `macro_f1`; `accuracy`; `micro_f1`; the scorer's
 *   output as the report; per-relation P/R/F1 in `details`.
 */
import { LabelVocab } from '../data/labels.js';
import type { Feature } from '../data/features.js';
import { exampleWhere, type RelationExample } from '../data/semeval.js';
import { RootsError, describe } from '../errors.js';
import { semevalScore, type SemEvalResult } from '../metrics/semeval.js';
import type { BertPreTrainedModel } from '../models/bert.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { forwardFeatures } from './forward.js';
import { encodeMarked, entityTypes, markerVocabulary, resizeTokenEmbeddings, withMarkerTokens } from './relation-markers.js';
import type { Evaluation, FeatureOutputs, Task, TaskContext } from './task.js';
import { softmax } from './text-classification.js';

/** Metric names of relation classification (`macro_f1`: the official SemEval score, as a fraction). */
export const RELATION_METRICS = ['macro_f1', 'accuracy', 'micro_f1', 'loss'] as const;

export interface RelationTaskOptions {
  /** Typed markers (`[E1:PER]`): every entity needs a type. Default false. */
  typedMarkers?: boolean;
  /** The negative class, left out of the averages (default `Other`, SemEval's). */
  otherLabel?: string;
}

/** A relation feature: the marked text's ids and the two entity-start positions. */
export interface RelationFeature extends Feature {
  inputIds: Int32Array;
  entityPositions: [number, number];
}

/** What relation classification's `score` puts into `Evaluation.details`. */
export interface RelationDetails {
  /** Example ids as the scorer keys them (the example's id, else its 1-based index). */
  ids: string[];
  predictions: string[];
  /** Softmax probability of each prediction. */
  scores: number[];
  /** The scorer's three evaluations (per-relation P/R/F1) and its text; absent for unlabelled examples. */
  semeval?: SemEvalResult;
}

/** The scorer's key of an example: its id, else its 1-based index. */
export function relationIds(examples: readonly RelationExample[]): string[] {
  const ids = examples.map((e, i) => e.id ?? String(i + 1));
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) throw new RootsError('ERR_INVALID_ARG', `two examples have the id ${JSON.stringify(id)}; the scorer keys predictions on ids`);
    seen.add(id);
  }
  return ids;
}

export class RelationTask implements Task<RelationExample, RelationFeature> {
  readonly name = 'relation-classification';
  readonly defaultMetric = 'macro_f1';
  readonly typedMarkers: boolean;
  readonly otherLabel: string;

  constructor(options: RelationTaskOptions = {}) {
    this.typedMarkers = options.typedMarkers ?? false;
    this.otherLabel = options.otherLabel ?? 'Other';
  }

  greaterIsBetter(metric: string): boolean { return !/loss/i.test(metric); }

  labelsOf(examples: readonly RelationExample[]): string[] {
    return [...new Set(examples.map((e) => e.relation).filter((r): r is string => r !== undefined))].sort();
  }

  features(examples: readonly RelationExample[], ctx: TaskContext): RelationFeature[] {
    const labelled = ctx.training || examples.every((e) => e.relation !== undefined && ctx.labels.has(e.relation));
    return examples.map((ex, i) => {
      const where = exampleWhere(ex, i);
      const enc = encodeMarked(ctx.tokenizer, ex, { maxLength: ctx.maxLength, typed: this.typedMarkers, where });
      const f: RelationFeature = { inputIds: enc.inputIds, entityPositions: enc.entityPositions };
      if (labelled) {
        const id = ex.relation === undefined ? undefined : ctx.labels.get(ex.relation);
        if (id === undefined) throw new RootsError('ERR_INVALID_ARG', `${where}: relation ${describe(ex.relation)} is not one of the model's (${ctx.labels.labels.join(', ')})`);
        f.label = id;
      }
      return f;
    });
  }

  /** Predicted relation and its probability per output row. */
  predict(outputs: FeatureOutputs, labels: LabelVocab): { relation: string; score: number }[] {
    return outputs.logits.map((row) => {
      const p = softmax(row);
      let best = 0;
      for (let c = 1; c < p.length; c++) if (p[c] > p[best]) best = c;
      return { relation: labels.label(best), score: p[best] };
    });
  }

  score(examples: readonly RelationExample[], _features: readonly RelationFeature[], outputs: FeatureOutputs, ctx: TaskContext): Evaluation {
    const ids = relationIds(examples);
    const pred = this.predict(outputs, ctx.labels);
    const details: RelationDetails = { ids, predictions: pred.map((p) => p.relation), scores: pred.map((p) => p.score) };
    const metrics: Record<string, number> = {};
    if (examples.some((e) => e.relation === undefined)) return { metrics, details };
    const result = semevalScore(new Map(ids.map((id, i) => [id, pred[i].relation])), new Map(ids.map((id, i) => [id, examples[i].relation!])), { otherLabel: this.otherLabel });
    details.semeval = result;
    const official = result.evaluations[2];
    metrics.macro_f1 = official.macro.f1 / 100;
    metrics.accuracy = official.accuracy;
    metrics.micro_f1 = official.micro.f1 / 100;
    if (outputs.loss !== null) metrics.loss = outputs.loss;
    return { metrics, report: result.report, details };
  }
}

/** A relation-classification task with options (the Trainer also accepts `'relation-classification'`). */
export function relationTask(options: RelationTaskOptions = {}): RelationTask {
  return new RelationTask(options);
}

/**
 * A model and tokenizer ready for relation classification: the marker tokens (untyped, or typed for
 * `types`) added to the tokenizer and the word embeddings grown to match (new rows freshly
 * initialised; the given model is disposed when it had to grow). The config records the marker
 * style so that evaluation and prediction insert the same markers.
 */
export function withEntityMarkers<T extends BertPreTrainedModel>(model: T, tokenizer: Tokenizer, options: { types?: readonly string[]; seed?: number } = {}): { model: T; tokenizer: Tokenizer } {
  if (model.head !== 'relation') throw new RootsError('ERR_INVALID_ARG', `entity markers are for a BertForRelationClassification, not a ${model.head} head`);
  const tok = withMarkerTokens(tokenizer, markerVocabulary(options.types));
  const grown = resizeTokenEmbeddings(model, tok.vocabSize, { seed: options.seed });
  (grown.config as Record<string, unknown>).relation_markers = options.types ? 'typed' : 'plain';
  return { model: grown, tokenizer: tok };
}

/** The marker style of a trained relation model (config.relation_markers). */
export function typedMarkersOf(model: Pick<BertPreTrainedModel, 'config'>): boolean {
  return model.config.relation_markers === 'typed';
}

/** The entity types typed markers need for `examples` (undefined for plain markers). */
export function markerTypes(examples: readonly RelationExample[], typed: boolean): string[] | undefined {
  return typed ? entityTypes(examples) : undefined;
}

export interface EvaluateRelationOptions extends RelationTaskOptions {
  batchSize?: number;
  maxLength?: number;
}

/** Scores (or, for unlabelled examples, predicts) a relation model on examples. */
export async function evaluateRelation(
  model: BertPreTrainedModel, tokenizer: Tokenizer, examples: readonly RelationExample[], options: EvaluateRelationOptions = {},
): Promise<Evaluation & { details: RelationDetails }> {
  if (model.head !== 'relation') throw new RootsError('ERR_INVALID_ARG', `Relation classification needs a BertForRelationClassification, not a ${model.head} head`);
  const labelNames = model.labels;
  if (!labelNames) throw new RootsError('ERR_CONFIG', 'The model has no labels (id2label) to predict with');
  const task = new RelationTask({ typedMarkers: typedMarkersOf(model), ...options });
  const ctx: TaskContext = { tokenizer, labels: new LabelVocab(labelNames), maxLength: options.maxLength ?? Math.min(512, model.config.max_position_embeddings) };
  const features = task.features(examples, ctx);
  const outputs = await forwardFeatures(model, features, { batchSize: options.batchSize ?? 32, padTokenId: tokenizer.padTokenId ?? 0, padToMultipleOf: 8 });
  return task.score(examples, features, outputs, ctx) as Evaluation & { details: RelationDetails };
}
