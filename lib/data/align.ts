/**
 * Word-level labels → subword-level training targets for token classification, and back.
 *
 * - Each word is tokenized on its own (the tokenizer caches word → ids) and always yields at least
 *   one token (`[UNK]` for a word such as a lone control character that would otherwise vanish),
 *   so no word loses its label.
 * - The label goes on the first subword of each word and -100 (ignored by the loss) on the rest;
 *   `labelAllTokens` labels every subword instead, with `B-X` → `I-X` on continuation pieces (HF's
 *   `run_ner.py` behaviour).
 * - A sentence longer than `maxLength` becomes several overlapping windows (cut between words,
 *   never inside one) instead of being truncated; {@link mergeWindowLogits} puts the predictions
 *   of the windows back together per word.
 */
import { RootsError, describe, expectPositiveInt } from '../errors.js';
import { IGNORE_INDEX } from '../batch.js';
import type { Tokenizer } from '../tokenizer/index.js';
import type { LabelVocab } from './labels.js';
import type { TaggedSentence } from './readers.js';

/** Options for {@link alignExample} and {@link tokenClassificationFeatures}. */
export interface AlignOptions {
  /** Longest window in tokens, `[CLS]` and `[SEP]` included (default: the tokenizer's modelMaxLength, else 512). */
  maxLength?: number;
  /**
   * Overlap between consecutive windows of a long sentence (HF `stride`), in `strideUnit`s.
   * Default: a quarter of the window.
   */
  stride?: number;
  /** Unit of `stride` (default `'tokens'`). */
  strideUnit?: 'tokens' | 'words';
  /** Label every subword, not only the first of each word (HF `label_all_tokens`). Default false. */
  labelAllTokens?: boolean;
}

/** One window of one sentence, ready for the loader. */
export interface TokenFeature {
  /** `[CLS] pieces... [SEP]` */
  inputIds: Int32Array;
  /** label ids per token, -100 where no loss is taken (absent for unlabelled sentences) */
  labels?: Int32Array;
  /** word index in the sentence for each token, -1 for `[CLS]`/`[SEP]` */
  wordIds: Int32Array;
  /** index of the sentence in the input list */
  example: number;
  /** index of this window within its sentence */
  window: number;
  /** the window holds words `[wordStart, wordEnd)` of the sentence */
  wordStart: number;
  wordEnd: number;
}

/**
 * Token labels for one encoded sequence: `wordLabels[w]` on the first token of word `w`, and on the
 * others -100, or with `labelAllTokens` `continuation(label)` (default: the same label).
 */
export function alignLabelsToTokens(
  wordIds: ArrayLike<number | null>,
  wordLabels: ArrayLike<number>,
  options: { labelAllTokens?: boolean; continuation?: (labelId: number) => number } = {},
): Int32Array {
  const out = new Int32Array(wordIds.length).fill(IGNORE_INDEX);
  let prev: number | null = null;
  for (let i = 0; i < wordIds.length; i++) {
    const w = wordIds[i];
    if (w === null || w < 0) { prev = null; continue; }
    if (w >= wordLabels.length) throw new RootsError('ERR_INVALID_ARG', `Token ${i} belongs to word ${w} but only ${wordLabels.length} word labels were given`);
    if (w !== prev) out[i] = wordLabels[w];
    else if (options.labelAllTokens) out[i] = options.continuation ? options.continuation(wordLabels[w]) : wordLabels[w];
    prev = w;
  }
  return out;
}

/** Maps each label id to the id its continuation pieces get: `B-X` → `I-X` when `I-X` exists. */
function continuationMap(labels: LabelVocab): Int32Array {
  const map = new Int32Array(labels.size);
  labels.labels.forEach((label, id) => {
    const inside = label.startsWith('B-') ? labels.get(`I-${label.slice(2)}`) : undefined;
    map[id] = inside ?? id;
  });
  return map;
}

interface Resolved {
  budget: number;
  stride: number;
  unit: 'tokens' | 'words';
  cls: number;
  sep: number;
  labelAll: boolean;
}

function resolve(tokenizer: Tokenizer, options: AlignOptions): Resolved {
  const maxLength = expectPositiveInt('maxLength', options.maxLength ?? tokenizer.modelMaxLength ?? 512);
  const cls = tokenizer.clsTokenId;
  const sep = tokenizer.sepTokenId;
  if (cls === undefined || sep === undefined) throw new RootsError('ERR_CONFIG', `The tokenizer has no ${tokenizer.specialTokens.cls} or ${tokenizer.specialTokens.sep} token to frame windows with`);
  const budget = maxLength - 2;
  if (budget < 1) throw new RootsError('ERR_INVALID_ARG', `Expected maxLength of at least 3 ([CLS], one token, [SEP]) but received ${maxLength}`);
  const unit = options.strideUnit ?? 'tokens';
  if (unit !== 'tokens' && unit !== 'words') throw new RootsError('ERR_INVALID_ARG', `Expected strideUnit 'tokens' or 'words' but received ${describe(unit)}`);
  const stride = options.stride ?? Math.floor(budget / 4);
  if (!Number.isInteger(stride) || stride < 0) throw new RootsError('ERR_INVALID_ARG', `Expected a non-negative integer for stride but received ${describe(stride)}`);
  if (unit === 'tokens' && stride >= budget) throw new RootsError('ERR_INVALID_ARG', `stride ${stride} must be smaller than maxLength - 2 = ${budget} tokens`);
  return { budget, stride, unit, cls, sep, labelAll: options.labelAllTokens ?? false };
}

/**
 * Windows `[start, end)` over words with `counts[i]` tokens each, at most `budget` tokens per window
 * (a word longer than the budget gets a window of its own and is cut), overlapping by `stride`.
 */
export function planWindows(counts: ArrayLike<number>, budget: number, stride: number, unit: 'tokens' | 'words' = 'tokens'): [number, number][] {
  const n = counts.length;
  const windows: [number, number][] = [];
  if (n === 0) return [[0, 0]];
  let s = 0;
  for (;;) {
    let e = s;
    let len = 0;
    while (e < n && len + counts[e] <= budget) len += counts[e++];
    if (e === s) e = s + 1;
    windows.push([s, e]);
    if (e >= n) return windows;
    let next: number;
    if (unit === 'words') {
      next = e - stride;
    } else {
      next = e;
      let overlap = 0;
      while (next > s + 1 && overlap + counts[next - 1] <= stride) overlap += counts[--next];
    }
    s = Math.max(next, s + 1);
  }
}

/**
 * Encodes one sentence (pre-split words) into one or more windows with aligned labels. `tags` and
 * `labels` are optional (prediction input).
 */
export function alignExample(
  tokenizer: Tokenizer,
  words: readonly string[],
  tags: readonly string[] | undefined,
  labels: LabelVocab | undefined,
  options: AlignOptions = {},
  exampleIndex = 0,
): TokenFeature[] {
  return alignWith(tokenizer, words, tags, labels, resolve(tokenizer, options), labels ? continuationMap(labels) : null, exampleIndex);
}

function alignWith(
  tokenizer: Tokenizer, words: readonly string[], tags: readonly string[] | undefined, labels: LabelVocab | undefined,
  r: Resolved, cont: Int32Array | null, exampleIndex: number,
): TokenFeature[] {
  if (tags !== undefined && tags.length !== words.length) {
    throw new RootsError('ERR_INVALID_ARG', `Sentence ${exampleIndex}: ${words.length} words but ${tags.length} tags`);
  }
  if (tags !== undefined && labels === undefined) throw new RootsError('ERR_INVALID_ARG', 'Tags were given without a LabelVocab to map them to ids');
  const enc = tokenizer.encodeWords(words, null, { addSpecialTokens: false });
  const counts = new Int32Array(words.length);
  for (const w of enc.wordIds) counts[w!]++;
  // Label ids per word, checked once per sentence with a message naming the word.
  let wordLabels: Int32Array | undefined;
  if (tags !== undefined) {
    wordLabels = new Int32Array(words.length);
    for (let i = 0; i < tags.length; i++) {
      const id = labels!.get(tags[i]);
      if (id === undefined) {
        throw new RootsError('ERR_INVALID_ARG', `Sentence ${exampleIndex}, word ${i} (${describe(words[i])}): tag ${describe(tags[i])} is not in the label vocabulary (${labels!.labels.join(', ')})`);
      }
      wordLabels[i] = id;
    }
  }
  const windows = planWindows(counts, r.budget, r.stride, r.unit);
  // First token index of each word in enc.
  const firstToken = new Int32Array(words.length + 1);
  for (let w = 0, acc = 0; w <= words.length; w++) { firstToken[w] = acc; acc += w < words.length ? counts[w] : 0; }
  return windows.map(([start, end], window) => {
    const from = firstToken[start];
    const to = Math.min(firstToken[end], from + r.budget);
    const len = to - from + 2;
    const inputIds = new Int32Array(len);
    const wordIds = new Int32Array(len).fill(-1);
    inputIds[0] = r.cls;
    inputIds[len - 1] = r.sep;
    for (let t = from; t < to; t++) {
      inputIds[t - from + 1] = enc.ids[t];
      wordIds[t - from + 1] = enc.wordIds[t]!;
    }
    const feature: TokenFeature = { inputIds, wordIds, example: exampleIndex, window, wordStart: start, wordEnd: end };
    if (wordLabels) {
      feature.labels = alignLabelsToTokens(wordIds, wordLabels, {
        labelAllTokens: r.labelAll,
        continuation: cont ? (id) => cont[id] : undefined,
      });
    }
    return feature;
  });
}

/**
 * Token classification features for a dataset: every sentence aligned and windowed (see
 * {@link alignExample}). Unlabelled sentences (empty `tags`) are allowed when `labels` is omitted.
 */
export function tokenClassificationFeatures(
  tokenizer: Tokenizer,
  sentences: readonly Pick<TaggedSentence, 'tokens' | 'tags'>[],
  labels: LabelVocab | undefined,
  options: AlignOptions = {},
): TokenFeature[] {
  const r = resolve(tokenizer, options);
  const cont = labels ? continuationMap(labels) : null;
  const out: TokenFeature[] = [];
  for (let i = 0; i < sentences.length; i++) {
    const s = sentences[i];
    const tags = labels ? s.tags : undefined;
    for (const f of alignWith(tokenizer, s.tokens, tags, labels, r, cont, i)) out.push(f);
  }
  return out;
}

/** What {@link mergeWindowLogits} needs of a window. */
export type WindowInfo = Pick<TokenFeature, 'wordIds' | 'wordStart' | 'wordEnd'>;

/** Options for {@link mergeWindowLogits}. */
export interface MergeOptions {
  /**
   * `'most_central'` (default): each word takes the logits of the window where its first token is
   * farthest from the window's edges. `'average'`: the mean over all windows holding the word.
   */
  strategy?: 'most_central' | 'average';
  /** Words in the sentence (default: the largest `wordEnd`). */
  numWords?: number;
}

/**
 * Per-word logits `[numWords * numLabels]` from the windows of ONE sentence. `logits[k]` is window
 * k's output, row-major `[seqLen * numLabels]` (padding rows past the window are ignored); each
 * word is read at its first token.
 */
export function mergeWindowLogits(
  windows: readonly WindowInfo[],
  logits: readonly ArrayLike<number>[],
  numLabels: number,
  options: MergeOptions = {},
): Float32Array {
  expectPositiveInt('numLabels', numLabels);
  if (logits.length !== windows.length) throw new RootsError('ERR_INVALID_ARG', `Expected one logits array per window (${windows.length}) but received ${logits.length}`);
  const strategy = options.strategy ?? 'most_central';
  if (strategy !== 'most_central' && strategy !== 'average') throw new RootsError('ERR_INVALID_ARG', `Expected strategy 'most_central' or 'average' but received ${describe(strategy)}`);
  const numWords = options.numWords ?? windows.reduce((m, w) => Math.max(m, w.wordEnd), 0);
  const out = new Float32Array(numWords * numLabels);
  const score = new Float64Array(numWords).fill(-1);
  const seen = new Int32Array(numWords);
  windows.forEach((win, k) => {
    const ids = win.wordIds;
    const rows = logits[k];
    let first = -1;
    let last = -1;
    for (let p = 0; p < ids.length; p++) if (ids[p] >= 0) { if (first < 0) first = p; last = p; }
    if (rows.length < (last + 1) * numLabels) {
      throw new RootsError('ERR_INVALID_ARG', `Window ${k} has ${last + 1} positions but its logits hold only ${Math.floor(rows.length / numLabels)} rows of ${numLabels}`);
    }
    for (let p = first; p >= 0 && p <= last; p++) {
      const w = ids[p];
      if (w < 0 || (p > 0 && ids[p - 1] === w)) continue;
      if (w >= numWords) throw new RootsError('ERR_INVALID_ARG', `Window ${k} holds word ${w} but numWords is ${numWords}`);
      if (strategy === 'average') {
        for (let c = 0; c < numLabels; c++) out[w * numLabels + c] += rows[p * numLabels + c];
        seen[w]++;
      } else {
        const centrality = Math.min(p - first, last - p);
        if (centrality > score[w]) {
          score[w] = centrality;
          for (let c = 0; c < numLabels; c++) out[w * numLabels + c] = rows[p * numLabels + c];
        }
      }
    }
  });
  if (strategy === 'average') {
    for (let w = 0; w < numWords; w++) if (seen[w] > 1) for (let c = 0; c < numLabels; c++) out[w * numLabels + c] /= seen[w];
  }
  return out;
}

/** Index of the largest value of each row of a row-major `[rows * width]` array. */
export function argmaxRows(values: ArrayLike<number>, width: number): number[] {
  expectPositiveInt('width', width);
  const rows = Math.floor(values.length / width);
  const out = new Array<number>(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < width; c++) if (values[r * width + c] > values[r * width + best]) best = c;
    out[r] = best;
  }
  return out;
}

/** Groups features by sentence (`example`), keeping window order: what merging needs. */
export function groupWindows<T extends Pick<TokenFeature, 'example'>>(features: readonly T[]): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const f of features) {
    let g = groups.get(f.example);
    if (!g) {
      g = [];
      groups.set(f.example, g);
    }
    g.push(f);
  }
  return groups;
}
