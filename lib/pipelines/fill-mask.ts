/**
 * The fill-mask pipeline: texts with [MASK] in, the most likely tokens for each mask out, in
 * Transformers' shape (`{ score, token, token_str, sequence }`).
 *
 * ```ts
 * const fill = await pipeline('fill-mask', 'out/pretrained');
 * await fill('Paris is the [MASK] of France.');             // 5 proposals, best first
 * await fill('The [MASK] sat on the [MASK].', { topK: 3 });  // one list of 3 per mask
 * await fill(['a [MASK] b', 'c [MASK] d']);                  // one result per text
 * fill.dispose();
 * ```
 *
 * As Transformers: the score is the softmax over the vocabulary at the mask; `token_str` is
 * `decode([token])`; `sequence` is the input with that one mask filled, decoded with the padding
 * removed and, when the text has one mask, the special tokens skipped (with several, the other
 * [MASK]s, [CLS] and [SEP] stay, so the other masks remain visible). A text with one mask gives a
 * list of proposals, with several masks a list per mask; a list of texts gives one of those per text.
 */
import type { Feature } from '../data/features.js';
import { RootsError, describe, expectPositiveInt } from '../errors.js';
import { BertForMaskedLM, type BertPreTrainedModel, type Device, type Precision } from '../models/bert.js';
import { forwardFeatures } from '../tasks/forward.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { loadPipelineModel, serialQueue, type PipelineSource } from './source.js';
import type { HubOptions } from '../hub/cache.js';

export interface FillMaskResult {
  score: number;
  token: number;
  token_str: string;
  sequence: string;
}

export interface FillMaskCallOptions {
  /** Proposals per mask (default 5, at most the vocabulary size). */
  topK?: number;
}

export interface FillMaskPipelineOptions extends FillMaskCallOptions, HubOptions {
  device?: Device;
  precision?: Precision;
  /** Texts per forward pass (default 8). */
  batchSize?: number;
  /** Longest input in tokens, [CLS]/[SEP] included (default: min(512, max_position_embeddings)); longer is an error. */
  maxLength?: number;
}

/** One text's result: proposals for its mask, or one list per mask when it has several. */
export type FillMaskOutput = FillMaskResult[] | FillMaskResult[][];

export interface FillMaskPipeline {
  (text: string, options?: FillMaskCallOptions): Promise<FillMaskOutput>;
  (texts: readonly string[], options?: FillMaskCallOptions): Promise<FillMaskOutput[]>;
  readonly task: 'fill-mask';
  readonly model: BertPreTrainedModel;
  readonly tokenizer: Tokenizer;
  dispose(): void;
  [Symbol.dispose](): void;
}

export async function fillMaskPipeline(source: PipelineSource, options: FillMaskPipelineOptions = {}): Promise<FillMaskPipeline> {
  const batchSize = expectPositiveInt('batchSize', options.batchSize ?? 8);
  const { model, tokenizer, owned } = await loadPipelineModel(source, BertForMaskedLM, 'a masked-language model (BertForMaskedLM)', options);
  if (model.head !== 'mlm') {
    if (owned) model.dispose();
    throw new RootsError('ERR_INVALID_ARG', `The fill-mask pipeline needs a masked-language model, not a model with the ${model.head} head (load a BertForMaskedLM)`);
  }
  const maskId = tokenizer.maskTokenId;
  if (maskId === undefined) {
    if (owned) model.dispose();
    throw new RootsError('ERR_CONFIG', `The tokenizer has no ${tokenizer.specialTokens.mask} token, so no text can hold a mask`);
  }
  const maskName = tokenizer.specialTokens.mask;
  const padId = tokenizer.padTokenId ?? 0;
  const maxLength = expectPositiveInt('maxLength', options.maxLength ?? Math.min(512, model.config.max_position_embeddings));
  const serial = serialQueue();
  let disposed = false;

  const run = async (texts: readonly string[], call: FillMaskCallOptions): Promise<FillMaskOutput[]> => {
    const topKOption = call.topK ?? options.topK ?? 5;
    const topK = Math.min(expectPositiveInt('topK', topKOption), model.config.vocab_size);
    const features: Feature[] = texts.map((text, i) => {
      if (typeof text !== 'string') throw new RootsError('ERR_INVALID_ARG', `Expected a string for text ${i} but received ${describe(text)}`);
      const ids = tokenizer.encode(text).ids;
      if (!ids.includes(maskId)) throw new RootsError('ERR_INVALID_ARG', `No mask token (${maskName}) found in text ${i}: ${describe(text)}`);
      if (ids.length > maxLength) throw new RootsError('ERR_INVALID_ARG', `Text ${i} has ${ids.length} tokens, more than maxLength ${maxLength}; shorten it`);
      return { inputIds: Int32Array.from(ids) };
    });
    const { logits, numLabels: vocab } = await forwardFeatures(model, features, { batchSize, padTokenId: padId });
    return features.map((f, i) => {
      const ids = Array.from(f.inputIds);
      const positions = ids.flatMap((id, k) => (id === maskId ? [k] : []));
      const single = positions.length === 1;
      const perMask = positions.map((pos) => {
        const probs = softmax(logits[i].subarray(pos * vocab, (pos + 1) * vocab));
        return topIndices(probs, topK).map((token): FillMaskResult => {
          const filled = ids.slice();
          filled[pos] = token;
          return {
            score: probs[token],
            token,
            token_str: tokenizer.decode([token]),
            sequence: tokenizer.decode(filled.filter((id) => id !== padId), { skipSpecialTokens: single }),
          };
        });
      });
      return single ? perMask[0] : perMask;
    });
  };

  const call = (input: string | readonly string[], callOptions: FillMaskCallOptions = {}) => serial(async () => {
    if (disposed) throw new RootsError('ERR_DISPOSED', 'This fill-mask pipeline was disposed');
    const single = !Array.isArray(input);
    const out = await run(single ? [input as string] : (input as readonly string[]), callOptions);
    return single ? out[0] : out;
  });
  const dispose = (): void => { disposed = true; if (owned) model.dispose(); };
  const pipe = call as unknown as FillMaskPipeline;
  Object.defineProperties(pipe, {
    task: { value: 'fill-mask', enumerable: true },
    model: { value: model, enumerable: true },
    tokenizer: { value: tokenizer, enumerable: true },
    dispose: { value: dispose },
    [Symbol.dispose]: { value: dispose },
  });
  return pipe;
}

/** Softmax in float64 (max-subtracted), as probabilities per vocabulary id. */
function softmax(row: Float32Array): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  const out = new Float64Array(row.length);
  let sum = 0;
  for (let i = 0; i < row.length; i++) {
    out[i] = Math.exp(row[i] - max);
    sum += out[i];
  }
  for (let i = 0; i < row.length; i++) out[i] /= sum;
  return out;
}

/** Indices of the k largest values, largest first (ties: the smaller index first). */
function topIndices(values: Float64Array, k: number): number[] {
  const best: number[] = [];
  for (let i = 0; i < values.length; i++) {
    if (best.length === k && values[i] <= values[best[k - 1]]) continue;
    let j = best.length === k ? k - 1 : best.length;
    if (best.length < k) best.push(i);
    while (j > 0 && values[best[j - 1]] < values[i]) { best[j] = best[j - 1]; j--; }
    best[j] = i;
  }
  return best;
}
