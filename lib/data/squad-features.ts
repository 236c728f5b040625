/**
 * Question-answering features as Transformers builds them (run_qa.py's prepare_train_features and
 * prepare_validation_features, and the question-answering pipeline): `[CLS] question [SEP] context
 * [SEP]`, the question whole and the context cut into overlapping windows (`only_second`
 * truncation with `stride`: each window holds up to `maxLength - question - 3` context tokens and
 * repeats the last `docStride` tokens of the window before it; the windows are those of the
 * tokenizers library's `truncate` with a stride).
 *
 * Training targets come from the first gold answer's characters through the tokens' offsets: the
 * first token starting at or before the answer's first character, the last token ending at or after
 * its last one. A window that does not hold the whole answer points both targets at [CLS] (index 0).
 * One deliberate difference: run_qa.py's search for the start token runs past the window's last
 * context token when the answer starts in it (onto [SEP] and padding); here it stops at the window.
 * An example whose answer fits in no window (an answer longer than `docStride + 1` tokens can fall
 * across every window edge) would be trained as "no answer" everywhere: its windows are left out of
 * training and its id is reported in `unreachable` instead.
 */
import { RootsError, expectPositiveInt } from '../errors.js';
import type { Tokenizer } from '../tokenizer/index.js';
import type { Feature } from './features.js';
import type { QaExample } from './squad.js';

/** One window of one example. */
export interface QaFeature extends Feature {
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  /** Index of the example (in the list the features were made from). */
  example: number;
  /** The window's number among its example's windows. */
  window: number;
  /** Token indices of the window's first context token and one past its last. */
  contextStart: number;
  contextEnd: number;
  /** `[start, end)` in the context (UTF-16) of each context token of the window, two entries per token. */
  offsets: Int32Array;
  /** The context word (pre-token) of each context token of the window (answers widen to whole words). */
  wordIds: Int32Array;
  /** Training targets: token indices of the answer's first and last token, 0 ([CLS]) for none. */
  startPosition?: number;
  endPosition?: number;
}

export interface QaFeatureOptions {
  /** Window length in tokens, special tokens included. */
  maxLength: number;
  /** Context tokens shared by consecutive windows (Transformers' `stride`). */
  docStride: number;
  /** Add the training targets (from each example's first answer). */
  training?: boolean;
}

export interface QaFeatures {
  features: QaFeature[];
  /** Training: ids of examples whose answer fits in no window (left out; see the module doc). */
  unreachable: string[];
}

interface ContextTokens {
  ids: number[];
  offsets: [number, number][];
  wordIds: (number | null)[];
}

/** The defaults of Transformers' question-answering pipeline and run_qa.py (384 tokens, stride 128). */
export const QA_DEFAULTS = { maxLength: 384, docStride: 128, maxAnswerLength: 30, nBest: 20 } as const;

/**
 * Encodes examples into windows (see the module doc). A question too long to leave room for more
 * than `docStride` context tokens is an error naming the example and the flags that fix it.
 */
export function qaFeatures(tokenizer: Tokenizer, examples: readonly QaExample[], options: QaFeatureOptions): QaFeatures {
  const maxLength = expectPositiveInt('maxLength', options.maxLength);
  const docStride = options.docStride;
  if (!Number.isInteger(docStride) || docStride < 0) throw new RootsError('ERR_INVALID_ARG', `Expected a non-negative integer for docStride but received ${docStride}`);
  const cls = tokenizer.clsTokenId;
  const sep = tokenizer.sepTokenId;
  if (cls === undefined || sep === undefined) throw new RootsError('ERR_CONFIG', 'Question answering needs a tokenizer with [CLS] and [SEP] tokens');
  const contexts = new Map<string, ContextTokens>();
  const features: QaFeature[] = [];
  const unreachable: string[] = [];
  examples.forEach((ex, e) => {
    const question = tokenizer.encode(ex.question, null, { addSpecialTokens: false }).ids;
    let ctx = contexts.get(ex.context);
    if (!ctx) {
      const enc = tokenizer.encode(ex.context, null, { addSpecialTokens: false, returnOffsets: true });
      ctx = { ids: enc.ids, offsets: enc.offsets!, wordIds: enc.wordIds };
      contexts.set(ex.context, ctx);
    }
    const room = maxLength - question.length - 3;
    if (room <= docStride) {
      const where = `${ex.id}${ex.line ? ` (line ${ex.line})` : ''}`;
      throw new RootsError('ERR_INVALID_ARG', `Question ${where} has ${question.length} tokens: with --max-length ${maxLength} a window has room for ${Math.max(room, 0)} context tokens, which must be more than --doc-stride ${docStride}; raise --max-length or lower --doc-stride`);
    }
    const n = ctx.ids.length;
    const windows: [number, number][] = [];
    for (let s = 0; ; s += room - docStride) {
      const end = Math.min(s + room, n);
      windows.push([s, end]);
      if (end === n) break;
    }
    const answer = options.training ? ex.answers[0] : undefined;
    if (options.training && !answer) throw new RootsError('ERR_INVALID_ARG', `Training example ${ex.id}${ex.line ? ` (line ${ex.line})` : ''} has no answer`);
    const mine: QaFeature[] = [];
    let found = false;
    windows.forEach(([s, end], w) => {
      const len = question.length + 3 + (end - s);
      const inputIds = new Int32Array(len);
      const tokenTypeIds = new Int32Array(len);
      inputIds[0] = cls;
      inputIds.set(question, 1);
      const base = question.length + 2;
      inputIds[base - 1] = sep;
      inputIds.set(ctx.ids.slice(s, end), base);
      inputIds[len - 1] = sep;
      tokenTypeIds.fill(1, base);
      const offsets = new Int32Array(2 * (end - s));
      const wordIds = new Int32Array(end - s);
      for (let t = s; t < end; t++) {
        offsets[2 * (t - s)] = ctx.offsets[t][0];
        offsets[2 * (t - s) + 1] = ctx.offsets[t][1];
        wordIds[t - s] = ctx.wordIds[t] ?? -1;
      }
      const f: QaFeature = { inputIds, tokenTypeIds, example: e, window: w, contextStart: base, contextEnd: base + (end - s), offsets, wordIds };
      if (answer) {
        const [sp, ep] = answerTokens(ctx.offsets, s, end, answer.start, answer.start + answer.text.length);
        f.startPosition = sp < 0 ? 0 : base + sp - s;
        f.endPosition = sp < 0 ? 0 : base + ep - s;
        if (sp >= 0) found = true;
      }
      mine.push(f);
    });
    if (answer && !found) unreachable.push(ex.id);
    else features.push(...mine);
  });
  return { features, unreachable };
}

/**
 * The context tokens `[first, last]` (indices into `offsets`) covering characters `[startChar,
 * endChar)` within the window `[s, end)`, or [-1, -1] when the window does not hold them all.
 */
export function answerTokens(offsets: readonly (readonly [number, number])[], s: number, end: number, startChar: number, endChar: number): [number, number] {
  if (end <= s || offsets[s][0] > startChar || offsets[end - 1][1] < endChar) return [-1, -1];
  let a = s;
  while (a < end && offsets[a][0] <= startChar) a++;
  let b = end - 1;
  while (b >= s && offsets[b][1] >= endChar) b--;
  return [a - 1, b + 1];
}
