/**
 * The text-classification pipeline: texts (or text pairs) in, labels with scores out, in Hugging
 * Face's shape (`[{ label, score }]`).
 *
 * ```ts
 * const clf = await pipeline('text-classification', 'out/sst2');
 * await clf('a gorgeous, witty, seductive movie');          // [{ label: '1', score: 0.97 }]
 * await clf('...', { topK: null });                         // every label, best first
 * await clf({ text: 'A man is eating.', textPair: 'Someone eats.' });
 * await clf(['one', 'two']);                                // one list per input
 * ```
 *
 * Scores are the softmax of the logits, or the sigmoid of each for a multi-label model (its
 * config's problem_type). Without `topK` a single-label model returns its best label and a
 * multi-label model the labels whose score reaches the threshold (0.5 by default), best first; with
 * `topK: k` the k best labels, `topK: null` all of them. Inputs longer than the window are
 * truncated (`longest_first` for pairs, as in training); all inputs of a call go through the model
 * in batches.
 *
 * One deliberate difference from Transformers: a list of inputs always gives one list per input
 * (Transformers returns a bare `{label, score}` per input when `top_k` is not given).
 */
import type { Feature } from '../data/features.js';
import { RootsError, describe, expectNumber, expectPositiveInt } from '../errors.js';
import { BertForSequenceClassification, type BertPreTrainedModel, type Device, type Precision } from '../models/bert.js';
import { forwardFeatures } from '../tasks/forward.js';
import { isMultiLabel, sigmoid, softmax } from '../tasks/text-classification.js';
import type { Tokenizer, TruncationStrategy } from '../tokenizer/index.js';
import { loadPipelineModel, makePipeline, type PipelineSource } from './source.js';
import type { HubOptions } from '../hub/cache.js';

/** A text, or a pair (`textPair`; Transformers' `text_pair` is accepted too). */
export type TextClassificationInput = string | { text: string; textPair?: string; text_pair?: string };

export interface LabelScore {
  label: string;
  score: number;
}

export interface TextClassificationCallOptions {
  /** How many labels per input (default: see the module doc); `null`: all labels. */
  topK?: number | null;
  /** `'softmax'`, `'sigmoid'` or `'none'` (raw logits); default by the model's problem_type. */
  functionToApply?: 'softmax' | 'sigmoid' | 'none';
  /** Multi-label: the score a label needs to be returned when `topK` is not given (default 0.5). */
  threshold?: number;
}

export interface TextClassificationPipelineOptions extends TextClassificationCallOptions, HubOptions {
  /** Device of a model the pipeline loads (default `'cpu'`). */
  device?: Device;
  /** Precision of a model the pipeline loads (default fp32). */
  precision?: Precision;
  /** Inputs per forward pass (default 16). */
  batchSize?: number;
  /** Longest input in tokens, [CLS]/[SEP] included (default: min(512, max_position_embeddings)). */
  maxLength?: number;
  /** How pairs are shortened (default `'longest_first'`). */
  truncation?: TruncationStrategy;
}

/** A callable text-classification pipeline. */
export interface TextClassificationPipeline {
  (input: TextClassificationInput, options?: TextClassificationCallOptions): Promise<LabelScore[]>;
  (inputs: readonly TextClassificationInput[], options?: TextClassificationCallOptions): Promise<LabelScore[][]>;
  readonly task: 'text-classification';
  readonly model: BertPreTrainedModel;
  readonly tokenizer: Tokenizer;
  readonly labels: readonly string[];
  readonly multiLabel: boolean;
  /** Raw logits per input (for inspection and tests). */
  logits(inputs: readonly TextClassificationInput[]): Promise<Float32Array[]>;
  /** Frees the model if the pipeline loaded it (idempotent). */
  dispose(): void;
  [Symbol.dispose](): void;
}

function pairOf(input: TextClassificationInput, i: number): [string, string | null] {
  if (typeof input === 'string') return [input, null];
  if (input && typeof input === 'object' && typeof input.text === 'string') {
    const pair = input.textPair ?? input.text_pair;
    if (pair !== undefined && typeof pair !== 'string') throw new RootsError('ERR_INVALID_ARG', `Expected a string for textPair of input ${i} but received ${describe(pair)}`);
    return [input.text, pair ?? null];
  }
  throw new RootsError('ERR_INVALID_ARG', `Expected a string or { text, textPair? } for input ${i} but received ${describe(input)}`);
}

export async function textClassificationPipeline(source: PipelineSource, options: TextClassificationPipelineOptions = {}): Promise<TextClassificationPipeline> {
  const batchSize = expectPositiveInt('batchSize', options.batchSize ?? 16);
  const loaded = await loadPipelineModel(source, BertForSequenceClassification, 'a trained text-classification model', options,
    { task: 'text-classification', needs: 'a sequence-classification model' });
  const { model, tokenizer } = loaded;
  const labels = model.labels!;
  const multiLabel = isMultiLabel(model);
  const maxLength = expectPositiveInt('maxLength', options.maxLength ?? Math.min(512, model.config.max_position_embeddings));
  const truncation = options.truncation ?? 'longest_first';

  const run = async (inputs: readonly TextClassificationInput[]): Promise<Float32Array[]> => {
    const features: Feature[] = inputs.map((input, i) => {
      const [a, b] = pairOf(input, i);
      const enc = tokenizer.encode(a, b, { truncation, maxLength });
      const f: Feature = { inputIds: Int32Array.from(enc.ids) };
      if (b !== null) f.tokenTypeIds = Int32Array.from(enc.typeIds);
      return f;
    });
    return (await forwardFeatures(model, features, { batchSize, padTokenId: tokenizer.padTokenId ?? 0 })).logits;
  };

  const rank = (row: Float32Array, call: TextClassificationCallOptions): LabelScore[] => {
    const fn = call.functionToApply ?? options.functionToApply ?? (multiLabel ? 'sigmoid' : 'softmax');
    const scores = fn === 'softmax' ? softmax(row) : fn === 'sigmoid' ? sigmoid(row) : fn === 'none' ? Float64Array.from(row)
      : (() => { throw new RootsError('ERR_INVALID_ARG', `Expected functionToApply 'softmax', 'sigmoid' or 'none' but received ${describe(fn)}`); })();
    const all = labels.map((label, c) => ({ label, score: scores[c] })).sort((x, y) => y.score - x.score);
    const topK = 'topK' in call ? call.topK : options.topK;
    if (topK === null) return all;
    if (topK !== undefined) return all.slice(0, expectPositiveInt('topK', topK));
    if (!multiLabel) return all.slice(0, 1);
    const threshold = expectNumber('threshold', call.threshold ?? options.threshold ?? 0.5);
    return all.filter((s) => s.score >= threshold);
  };

  const call = async (input: TextClassificationInput | readonly TextClassificationInput[], callOptions: TextClassificationCallOptions = {}) => {
    const single = !Array.isArray(input);
    const inputs = single ? [input as TextClassificationInput] : (input as readonly TextClassificationInput[]);
    const logits = await run(inputs);
    const out = logits.map((row) => rank(row, callOptions));
    return single ? out[0] : out;
  };
  return makePipeline<TextClassificationPipeline>('text-classification', loaded, call, { labels, multiLabel, logits: run });
}
