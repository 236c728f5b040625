/**
 * The NER (token classification) pipeline: raw text in, entities with character offsets out.
 *
 * ```ts
 * const ner = await pipeline('ner', 'out/model', { aggregation: 'simple' });
 * await ner('Angela Merkel visited Paris.');
 * // [{ entity_group: 'PER', score: 0.99, word: 'Angela Merkel', start: 0, end: 13 }, ...]
 * await ner(['one text', 'another']);   // batched: one list per text
 * ner.dispose();
 * ```
 *
 * Text is tokenized with offsets into the original string (JS string indices, so
 * `text.slice(start, end)` is the entity's exact text). A text longer than the model's window is
 * cut into overlapping windows; each token takes its scores from the window where it sits farthest
 * from an edge, and the entities are built over the whole text. Windows of all texts of a call are
 * batched together. Scores are the softmax of the logits; aggregation follows Hugging Face (see
 * aggregation.ts).
 */
import { mergeWindowLogits, planWindows } from '../data/align.js';
import type { Feature } from '../data/features.js';
import { RootsError, describe, expectPositiveInt } from '../errors.js';
import { BertForTokenClassification, type BertPreTrainedModel, type Device, type Precision } from '../models/bert.js';
import { forwardFeatures } from '../tasks/forward.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { loadPipelineModel, makePipeline, type PipelineSource } from './source.js';
import {
  aggregateEntities, parseAggregation, softmaxRows, wordPieceTokensToString,
  type AggregationStrategy, type NerEntity, type PreEntity,
} from './aggregation.js';
import type { HubOptions } from '../hub/cache.js';

export interface NerPipelineOptions extends HubOptions {
  /** How tokens become entities (default `'none'`, as in HF; `'simple'` groups them). */
  aggregation?: AggregationStrategy;
  /** Device of a model the pipeline loads (default `'cpu'`). */
  device?: Device;
  /** Precision of a model the pipeline loads (default fp32). */
  precision?: Precision;
  /** Windows per forward pass (default 8). */
  batchSize?: number;
  /** Window length in tokens, [CLS]/[SEP] included (default: min(512, max_position_embeddings)). */
  maxLength?: number;
  /** Overlap of consecutive windows in tokens (default: a quarter of the window). */
  stride?: number;
  /** Labels to leave out (default `['O']`). */
  ignoreLabels?: string[];
}

export interface NerCallOptions {
  aggregation?: AggregationStrategy;
  ignoreLabels?: string[];
}

/** A callable NER pipeline. */
export interface TokenClassificationPipeline {
  (text: string, options?: NerCallOptions): Promise<NerEntity[]>;
  (texts: readonly string[], options?: NerCallOptions): Promise<NerEntity[][]>;
  readonly task: 'ner';
  readonly model: BertPreTrainedModel;
  readonly tokenizer: Tokenizer;
  readonly labels: readonly string[];
  readonly aggregation: AggregationStrategy;
  /** Per-token scores of one text (merged over windows): for inspection and tests. */
  tokenScores(text: string): Promise<{ tokens: string[]; offsets: [number, number][]; logits: Float32Array; numLabels: number }>;
  /** Frees the model if the pipeline loaded it (idempotent). */
  dispose(): void;
  [Symbol.dispose](): void;
}

interface Prepared {
  text: string;
  ids: number[];
  tokens: string[];
  offsets: [number, number][];
  /** token windows [from, to) */
  windows: [number, number][];
}

/**
 * The tokens of one encoded text as aggregation input: their scores (`scores`: softmaxed rows of
 * `numLabels`), character spans, and whether each continues the word before it. A continuation
 * piece is a token with the WordPiece `prefix` (`##ing`); Transformers compares the token's length
 * with its span's instead, which also marks a whole word as a continuation when a character the
 * normaliser dropped (a soft hyphen, a combining accent) sits inside it. An unknown token shows its
 * text.
 */
export function preEntities(p: Pick<Prepared, 'text' | 'ids' | 'tokens' | 'offsets'>, scores: Float32Array, numLabels: number, unkId: number | null | undefined, prefix = '##'): PreEntity[] {
  return p.ids.map((id, t) => {
    const [start, end] = p.offsets[t];
    const unknown = id === unkId;
    return {
      word: unknown ? p.text.slice(start, end) : p.tokens[t], scores: scores.subarray(t * numLabels, (t + 1) * numLabels),
      start, end, index: t + 1, isSubword: !unknown && p.tokens[t].startsWith(prefix),
    };
  });
}

/** A token-classification model and its tokenizer, loaded from a folder or given. */
export type ModelSource = PipelineSource;

export async function nerPipeline(source: ModelSource, options: NerPipelineOptions = {}): Promise<TokenClassificationPipeline> {
  const aggregation = parseAggregation(options.aggregation ?? 'none');
  const batchSize = expectPositiveInt('batchSize', options.batchSize ?? 8);
  // A folder's config.json must name a token classifier: a sequence classifier's head has the
  // same shape and would load, giving per-token "entities" from sentence-level labels.
  const loaded = await loadPipelineModel(source, BertForTokenClassification, 'a trained token-classification model', options,
    { task: 'ner', needs: 'a token-classification model' });
  const { model, tokenizer } = loaded;
  const labels = model.labels!;
  const maxLength = expectPositiveInt('maxLength', options.maxLength ?? Math.min(512, model.config.max_position_embeddings));
  if (maxLength < 3) throw new RootsError('ERR_INVALID_ARG', `Expected maxLength of at least 3 but received ${maxLength}`);
  const budget = maxLength - 2;
  const stride = options.stride ?? Math.floor(budget / 4);
  if (!Number.isInteger(stride) || stride < 0 || stride >= budget) throw new RootsError('ERR_INVALID_ARG', `Expected stride in [0, ${budget - 1}] but received ${describe(stride)}`);
  const cls = tokenizer.clsTokenId;
  const sep = tokenizer.sepTokenId;
  if (cls === undefined || sep === undefined) throw new RootsError('ERR_CONFIG', 'The tokenizer has no [CLS]/[SEP] tokens');
  const unk = tokenizer.unkTokenId;
  const prefix = '##';

  const prepare = (text: string, i: number): Prepared => {
    if (typeof text !== 'string') throw new RootsError('ERR_INVALID_ARG', `Expected a string for text ${i} but received ${describe(text)}`);
    const enc = tokenizer.encode(text, null, { addSpecialTokens: false, returnOffsets: true });
    const n = enc.ids.length;
    const windows = n <= budget ? [[0, n] as [number, number]] : planWindows(new Array<number>(n).fill(1), budget, stride);
    return { text, ids: enc.ids, tokens: enc.tokens, offsets: enc.offsets!, windows };
  };

  /** Per-token logits of each text, merged over its windows. */
  const run = async (prepared: Prepared[]): Promise<Float32Array[]> => {
    const features: Feature[] = [];
    const owners: { text: number; from: number; to: number }[] = [];
    prepared.forEach((p, t) => {
      if (p.ids.length === 0) return;
      for (const [from, to] of p.windows) {
        features.push({ inputIds: Int32Array.from([cls, ...p.ids.slice(from, to), sep]) });
        owners.push({ text: t, from, to });
      }
    });
    const outputs = await forwardFeatures(model, features, { batchSize, padTokenId: tokenizer.padTokenId ?? 0 });
    const L = outputs.numLabels || labels.length;
    const perText: { windows: { wordIds: Int32Array; wordStart: number; wordEnd: number }[]; logits: Float32Array[] }[] = prepared.map(() => ({ windows: [], logits: [] }));
    owners.forEach((o, k) => {
      const wordIds = new Int32Array(o.to - o.from + 2).fill(-1);
      for (let t = o.from; t < o.to; t++) wordIds[t - o.from + 1] = t;
      perText[o.text].windows.push({ wordIds, wordStart: o.from, wordEnd: o.to });
      perText[o.text].logits.push(outputs.logits[k]);
    });
    return prepared.map((p, t) => p.ids.length === 0
      ? new Float32Array(0)
      : mergeWindowLogits(perText[t].windows, perText[t].logits, L, { numWords: p.ids.length }));
  };

  const entitiesOf = (p: Prepared, logits: Float32Array, call: NerCallOptions): NerEntity[] => {
    const L = labels.length;
    const pre = preEntities(p, softmaxRows(logits, L), L, unk, prefix);
    return aggregateEntities(pre, parseAggregation(call.aggregation ?? aggregation), labels, {
      ignoreLabels: call.ignoreLabels ?? options.ignoreLabels,
      tokensToString: (tokens) => wordPieceTokensToString(tokens, prefix),
    });
  };

  const call = async (input: string | readonly string[], callOptions: NerCallOptions = {}): Promise<NerEntity[] | NerEntity[][]> => {
    const single = typeof input === 'string';
    if (!single && !Array.isArray(input)) throw new RootsError('ERR_INVALID_ARG', `Expected a string or an array of strings but received ${describe(input)}`);
    const texts = single ? [input as string] : (input as readonly string[]);
    const prepared = texts.map(prepare);
    const logits = await run(prepared);
    const out = prepared.map((p, t) => entitiesOf(p, logits[t], callOptions));
    return single ? out[0] : out;
  };
  const tokenScores = async (text: string) => {
    const p = prepare(text, 0);
    const [logits] = await run([p]);
    return { tokens: p.tokens, offsets: p.offsets, logits, numLabels: labels.length };
  };
  return makePipeline<TokenClassificationPipeline>('ner', loaded, call, { labels, aggregation, tokenScores });
}
