/**
 * The relation-classification pipeline: a text and two entity spans (or a marked text) in, the
 * relation and its probability out.
 *
 * ```ts
 * const re = await pipeline('relation-classification', 'out/semeval');
 * await re('The <e1>author</e1> of a keygen uses a <e2>disassembler</e2>.');     // { relation: 'Instrument-Agency(e2,e1)', score: 0.93 }
 * await re({ text: 'Paris is in France.', e1: [0, 5], e2: [12, 18] });
 * await re('[E1]Paris[/E1] is in [E2]France[/E2].', { topK: 3 });              // the 3 best, as [{ relation, score }]
 * ```
 *
 * Marked text takes `<e1>…</e1>` (SemEval's form) or `[E1]…[/E1]`; spans are JS string offsets,
 * end exclusive, as `[start, end]` or `{ start, end, type? }` (types for a typed-marker model).
 * Missing or doubled markers and overlapping spans are errors naming the input.
 */
import { LabelVocab } from '../data/labels.js';
import { checkSpans, parseMarkedText, type RelationSpan, type RelationExample } from '../data/semeval.js';
import { RootsError, describe, expectPositiveInt } from '../errors.js';
import type { HubOptions } from '../hub/cache.js';
import { BertForRelationClassification, type BertPreTrainedModel, type Device, type Precision } from '../models/bert.js';
import { forwardFeatures } from '../tasks/forward.js';
import { RelationTask, typedMarkersOf } from '../tasks/relation.js';
import { softmax } from '../tasks/text-classification.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { loadPipelineModel, makePipeline, type PipelineSource } from './source.js';

type Span = readonly [number, number] | RelationSpan;
/** A marked text, or a text with its two entity spans. */
export type RelationInput = string | { text: string; e1: Span; e2: Span };

export interface RelationResult {
  relation: string;
  score: number;
}

export interface RelationCallOptions {
  /** With `topK: k`, the k most probable relations as a list (`null`: all). Default: the best one alone. */
  topK?: number | null;
}

export interface RelationPipelineOptions extends RelationCallOptions, HubOptions {
  device?: Device;
  precision?: Precision;
  /** Inputs per forward pass (default 16). */
  batchSize?: number;
  /** Longest input in tokens (default: min(512, max_position_embeddings)); a window around the entities is kept. */
  maxLength?: number;
}

/** A callable relation-classification pipeline. */
export interface RelationPipeline {
  (input: RelationInput, options?: RelationCallOptions): Promise<RelationResult | RelationResult[]>;
  (inputs: readonly RelationInput[], options?: RelationCallOptions): Promise<(RelationResult | RelationResult[])[]>;
  readonly task: 'relation-classification';
  readonly model: BertPreTrainedModel;
  readonly tokenizer: Tokenizer;
  readonly labels: readonly string[];
  /** Raw logits per input (inspection, tests). */
  logits(inputs: readonly RelationInput[]): Promise<Float32Array[]>;
  dispose(): void;
  [Symbol.dispose](): void;
}

function span(v: Span, name: string, i: number): RelationSpan {
  if (Array.isArray(v) && v.length === 2) return { start: v[0] as number, end: v[1] as number };
  if (v && typeof v === 'object' && 'start' in v) return v as RelationSpan;
  throw new RootsError('ERR_INVALID_ARG', `input ${i}: expected ${name} as [start, end] or { start, end, type? } but received ${describe(v)}`);
}

/** A pipeline input as an example (the markers parsed, or the spans checked). */
export function relationExample(input: RelationInput, i: number): RelationExample {
  if (typeof input === 'string') return parseMarkedText(input, `input ${i}`);
  if (input && typeof input === 'object' && typeof input.text === 'string') {
    const ex = { text: input.text, e1: span(input.e1, 'e1', i), e2: span(input.e2, 'e2', i) };
    checkSpans(ex.text, ex.e1, ex.e2, `input ${i}`);
    return ex;
  }
  throw new RootsError('ERR_INVALID_ARG', `Expected a marked text or { text, e1, e2 } for input ${i} but received ${describe(input)}`);
}

export async function relationPipeline(source: PipelineSource, options: RelationPipelineOptions = {}): Promise<RelationPipeline> {
  const batchSize = expectPositiveInt('batchSize', options.batchSize ?? 16);
  const loaded = await loadPipelineModel(source, BertForRelationClassification, 'a trained relation-classification model', options,
    { task: 'relation-classification', needs: 'a relation-classification model' });
  const { model, tokenizer } = loaded;
  const labels = model.labels!;
  const task = new RelationTask({ typedMarkers: typedMarkersOf(model) });
  const ctx = { tokenizer, labels: new LabelVocab(labels), maxLength: expectPositiveInt('maxLength', options.maxLength ?? Math.min(512, model.config.max_position_embeddings)) };

  const run = async (inputs: readonly RelationInput[]): Promise<Float32Array[]> => {
    const features = task.features(inputs.map(relationExample), ctx);
    return (await forwardFeatures(model, features, { batchSize, padTokenId: tokenizer.padTokenId ?? 0 })).logits;
  };
  const rank = (row: Float32Array, call: RelationCallOptions): RelationResult | RelationResult[] => {
    const p = softmax(row);
    const all = labels.map((relation, c) => ({ relation, score: p[c] })).sort((x, y) => y.score - x.score);
    const topK = 'topK' in call ? call.topK : options.topK;
    if (topK === undefined) return all[0];
    return topK === null ? all : all.slice(0, expectPositiveInt('topK', topK));
  };
  const call = async (input: RelationInput | readonly RelationInput[], callOptions: RelationCallOptions = {}) => {
    const single = !Array.isArray(input);
    const inputs = single ? [input as RelationInput] : (input as readonly RelationInput[]);
    const out = (await run(inputs)).map((row) => rank(row, callOptions));
    return single ? out[0] : out;
  };
  return makePipeline<RelationPipeline>('relation-classification', loaded, call, { labels, logits: run });
}
