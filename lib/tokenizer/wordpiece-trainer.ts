/**
 * A WordPiece vocabulary trainer with Hugging Face's algorithm (the `tokenizers` crate's
 * `WordPieceTrainer`, which is its BPE trainer with a `##` continuation prefix):
 *
 * 1. Text is normalized as `BertNormalizer` does (clean text, spaces around CJK ideographs, strip
 *    accents, lowercase) and split as `BertPreTokenizer` does (whitespace, then every punctuation
 *    character alone); words are counted in a Map (one line at a time: the input is never held whole).
 * 2. The vocabulary starts with the special tokens, then the alphabet: every character, or the
 *    `limitAlphabet` most frequent ones, in code point order.
 * 3. Each word becomes its characters, all but the first prefixed with `##` (each new `##c` gets the
 *    next id, in the order words were first seen).
 * 4. Merges: repeatedly the most frequent adjacent pair (ties: the smaller pair of ids) is merged
 *    into a new token `a + b` (b without its `##`), until the vocabulary has `vocabSize` tokens or
 *    the best pair is rarer than `minFrequency`. Pair counts are updated incrementally from the
 *    words that held the pair, with a lazily re-keyed max-heap, exactly as bpe/trainer.rs does.
 *
 * Where HF's result depends on hash-map iteration order (the ids of the `##c` tokens, and so the
 * order of merges of equal count; which of several equally rare characters `limitAlphabet`
 * drops), ours is deterministic: first-seen order, and the larger code point dropped first.
 * So vocabularies agree as sets of tokens; ids of tied entries may differ between two HF runs too.
 */
import { mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { RootsError, describe, expectPositiveInt } from '../errors.js';
import { readCorpusLines, resolveCorpusFiles, type CorpusFile, type CorpusReadOptions } from '../data/corpus.js';
import { Tokenizer, bertTokenizerJson } from './tokenizer.js';

export interface WordPieceTrainerOptions {
  /** Target vocabulary size, special tokens included (default 30000). */
  vocabSize?: number;
  /** Pairs seen fewer times than this are not merged (default 2, as BertWordPieceTokenizer). */
  minFrequency?: number;
  /** Special tokens, first in the vocabulary (default [PAD] [UNK] [CLS] [SEP] [MASK]). */
  specialTokens?: readonly string[];
  /** Keep at most this many characters in the alphabet, the most frequent (default 1000). */
  limitAlphabet?: number | null;
  /** Characters always in the alphabet. */
  initialAlphabet?: readonly string[];
  /** Lowercase (default true). */
  lowercase?: boolean;
  /** Strip accents (default: as `lowercase`, HF's `strip_accents: null`). */
  stripAccents?: boolean | null;
  /** Remove control characters, map whitespace to a space (default true). */
  cleanText?: boolean;
  /** Put spaces around CJK ideographs, so each is a word (default true). */
  handleChineseChars?: boolean;
  /**
   * The ids of the `##c` tokens, in order (default: the order their words were first seen). HF
   * assigns them in hash-map order, which breaks ties between equally frequent merges; parity
   * tests pass HF's order here to reproduce one HF run id for id.
   */
  continuationOrder?: readonly string[];
}

export const DEFAULT_SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;
const PREFIX = '##';
/** BertPreTokenizer's punctuation: \p{P} plus the ASCII symbols (same pattern as the Tokenizer). */
const PUNCT = '\\p{P}\\u0021-\\u002F\\u003A-\\u0040\\u005B-\\u0060\\u007B-\\u007E';
const WORDS = new RegExp(`[^\\s${PUNCT}]+|[${PUNCT}]`, 'gu');
const CONTROL = /^(?:\p{Cc}|\p{Cf}|\p{Co}|\p{Cs})$/u;
const WHITESPACE = /^\s$/u;
const MARK_NONSPACING = /\p{Mn}/gu;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
/** Pair keys: a * 2^26 + b is exact in a double for ids below 2^26. */
const PAIR = 2 ** 26;

function isChineseChar(cp: number): boolean {
  return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);
}

/** Records that word `i` holds `pair`. */
function addPosition(where: Map<number, Set<number>>, pair: number, i: number): void {
  const s = where.get(pair);
  if (s) s.add(i);
  else where.set(pair, new Set([i]));
}

interface Merge {
  pair: number;
  count: number;
  pos: Set<number>;
}

/** Max-heap on (count, then the smaller pair), HF's `Merge` ordering. */
class MergeQueue {
  readonly #h: Merge[] = [];
  get size(): number { return this.#h.length; }
  static #above(x: Merge, y: Merge): boolean {
    return x.count !== y.count ? x.count > y.count : x.pair < y.pair;
  }
  push(m: Merge): void {
    const h = this.#h;
    h.push(m);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!MergeQueue.#above(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }
  pop(): Merge | undefined {
    const h = this.#h;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && MergeQueue.#above(h[l], h[m])) m = l;
        if (r < h.length && MergeQueue.#above(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

/**
 * Counts words, then trains a vocabulary.
 *
 * ```ts
 * const trainer = new WordPieceTrainer({ vocabSize: 8000, lowercase: false });
 * for await (const lines of readCorpusLines(files)) for (const l of lines) trainer.feed(l.text);
 * const vocab = trainer.train();   // tokens in id order: vocab.txt's lines
 * ```
 */
export class WordPieceTrainer {
  readonly vocabSize: number;
  readonly minFrequency: number;
  readonly specialTokens: readonly string[];
  readonly limitAlphabet: number | null;
  readonly initialAlphabet: readonly string[];
  readonly lowercase: boolean;
  readonly stripAccents: boolean;
  readonly cleanText: boolean;
  readonly handleChineseChars: boolean;
  readonly #continuationOrder: readonly string[];
  /** Word counts so far (normalized, pre-tokenized words). */
  readonly words = new Map<string, number>();

  constructor(options: WordPieceTrainerOptions = {}) {
    this.vocabSize = expectPositiveInt('vocabSize', options.vocabSize ?? 30000);
    const minFrequency = options.minFrequency ?? 2;
    if (!Number.isInteger(minFrequency) || minFrequency < 0) throw new RootsError('ERR_INVALID_ARG', `Expected a non-negative integer for minFrequency but received ${describe(options.minFrequency)}`);
    this.minFrequency = minFrequency;
    const specials = options.specialTokens ?? DEFAULT_SPECIAL_TOKENS;
    if (!Array.isArray(specials) || specials.some((t) => typeof t !== 'string' || t === '')) throw new RootsError('ERR_INVALID_ARG', `Expected specialTokens to be an array of non-empty strings but received ${describe(specials)}`);
    this.specialTokens = [...new Set(specials)];
    if (this.vocabSize <= this.specialTokens.length) {
      throw new RootsError('ERR_INVALID_ARG', `vocabSize ${this.vocabSize} leaves no room beyond the ${this.specialTokens.length} special tokens (${this.specialTokens.join(' ')}); pass a larger --vocab-size`);
    }
    this.limitAlphabet = options.limitAlphabet === null ? null : expectPositiveInt('limitAlphabet', options.limitAlphabet ?? 1000);
    this.initialAlphabet = options.initialAlphabet ?? [];
    this.lowercase = options.lowercase ?? true;
    this.stripAccents = options.stripAccents ?? this.lowercase;
    this.cleanText = options.cleanText ?? true;
    this.handleChineseChars = options.handleChineseChars ?? true;
    this.#continuationOrder = options.continuationOrder ?? [];
  }

  /** BertNormalizer on one string (one code point at a time, as the Rust crate). */
  normalize(text: string): string {
    if (PRINTABLE_ASCII.test(text)) return this.lowercase ? text.toLowerCase() : text;
    let out = '';
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      if (this.cleanText) {
        if (cp === 0 || cp === 0xfffd || (cp !== 9 && cp !== 10 && cp !== 13 && CONTROL.test(ch))) continue;
        if (WHITESPACE.test(ch)) { out += ' '; continue; }
      }
      let s = ch;
      if (this.handleChineseChars && isChineseChar(cp)) s = ` ${s} `;
      if (this.stripAccents) s = s.normalize('NFD').replace(MARK_NONSPACING, '');
      if (this.lowercase) s = s.toLowerCase();
      out += s;
    }
    return out;
  }

  /** Normalizes and pre-tokenizes `text` and counts its words. */
  feed(text: string): void {
    const words = this.normalize(text).match(WORDS);
    if (words === null) return;
    for (const w of words) this.words.set(w, (this.words.get(w) ?? 0) + 1);
  }

  /** Trains on the words fed so far; returns the vocabulary in id order. */
  train(): string[] {
    if (this.words.size === 0) throw new RootsError('ERR_INVALID_ARG', 'The corpus has no words to train a vocabulary on (is it empty?)');
    const idToWord: string[] = [];
    const wordToId = new Map<string, number>();
    const add = (t: string): number => {
      let id = wordToId.get(t);
      if (id === undefined) {
        id = idToWord.length;
        idToWord.push(t);
        wordToId.set(t, id);
      }
      return id;
    };
    // 1. Special tokens.
    for (const t of this.specialTokens) add(t);

    // 2. The alphabet: character counts weighted by word counts.
    const alphabet = new Map<number, number>();
    for (const [word, count] of this.words) {
      for (const ch of word) {
        const cp = ch.codePointAt(0)!;
        alphabet.set(cp, (alphabet.get(cp) ?? 0) + count);
      }
    }
    for (const ch of this.initialAlphabet) alphabet.set(ch.codePointAt(0)!, Number.MAX_SAFE_INTEGER);
    let kept = [...alphabet.entries()];
    const toRemove = this.limitAlphabet === null ? 0 : Math.max(0, alphabet.size - this.limitAlphabet);
    if (toRemove > 0) {
      kept.sort((a, b) => a[1] - b[1] || b[0] - a[0]);
      kept = kept.slice(toRemove);
    }
    kept.sort((a, b) => a[0] - b[0]);
    for (const [cp] of kept) add(String.fromCodePoint(cp));

    // 3. Words as symbol ids (characters outside the alphabet are dropped, as HF does).
    for (const t of this.#continuationOrder) {
      const ch = t.slice(PREFIX.length);
      if (t.startsWith(PREFIX) && [...ch].length === 1 && wordToId.has(ch)) add(t);
    }
    const words: number[][] = [];
    const counts: number[] = [];
    for (const [word, count] of this.words) {
      const symbols: number[] = [];
      let first = true;
      for (const ch of word) {
        if (wordToId.has(ch)) symbols.push(add(first ? ch : PREFIX + ch));
        first = false;
      }
      words.push(symbols);
      counts.push(count);
    }

    // 4. Pair counts and where each pair occurs.
    const pairCounts = new Map<number, number>();
    let whereToUpdate = new Map<number, Set<number>>();
    for (let i = 0; i < words.length; i++) {
      const w = words[i];
      for (let j = 0; j + 1 < w.length; j++) {
        const p = w[j] * PAIR + w[j + 1];
        pairCounts.set(p, (pairCounts.get(p) ?? 0) + counts[i]);
        addPosition(whereToUpdate, p, i);
      }
    }
    const queue = new MergeQueue();
    const drain = (): void => {
      for (const [pair, pos] of whereToUpdate) {
        const count = pairCounts.get(pair)!;
        if (count > 0) queue.push({ pair, count, pos });
      }
      whereToUpdate = new Map();
    };
    drain();

    // 5. Merges.
    while (wordToId.size < this.vocabSize) {
      const top = queue.pop();
      if (!top) break;
      const current = pairCounts.get(top.pair)!;
      if (top.count !== current) {
        top.count = current;
        queue.push(top);
        continue;
      }
      if (top.count < 1 || this.minFrequency > top.count) break;
      const a = Math.floor(top.pair / PAIR);
      const b = top.pair - a * PAIR;
      const partB = idToWord[b].startsWith(PREFIX) ? idToWord[b].slice(PREFIX.length) : idToWord[b];
      const newId = add(idToWord[a] + partB);
      for (const i of top.pos) {
        const w = words[i];
        const count = counts[i];
        const change = (x: number, y: number, delta: number): void => {
          const p = x * PAIR + y;
          pairCounts.set(p, (pairCounts.get(p) ?? 0) + delta * count);
          if (delta > 0) addPosition(whereToUpdate, p, i);
        };
        // Word::merge: left to right, non-overlapping.
        for (let j = 0; j < w.length; j++) {
          if (w[j] === a && j + 1 < w.length && w[j + 1] === b) {
            if (j > 0) {
              change(w[j - 1], a, -1);
              change(w[j - 1], newId, 1);
            }
            w.splice(j, 2, newId);
            if (j < w.length - 1) {
              change(b, w[j + 1], -1);
              change(newId, w[j + 1], 1);
            }
          }
        }
      }
      drain();
    }
    return idToWord;
  }
}

/** The result of {@link trainWordPiece}. */
export interface TrainedVocabulary {
  /** Tokens in id order (vocab.txt's lines). */
  vocab: string[];
  /** A tokenizer over it, with the trainer's normalizer options. */
  tokenizer: Tokenizer;
  files: CorpusFile[];
  lines: number;
  /** Distinct words counted. */
  words: number;
}

/**
 * Trains a vocabulary from text files, folders or globs (streamed a line at a time; see
 * lib/data/corpus.ts for the accepted inputs and the errors on bad input).
 */
export async function trainWordPiece(
  inputs: string | readonly string[],
  options: WordPieceTrainerOptions & Pick<CorpusReadOptions, 'maxLineBytes'> & { modelMaxLength?: number; onProgress?: (lines: number) => void } = {},
): Promise<TrainedVocabulary> {
  const trainer = new WordPieceTrainer(options);
  const files = await resolveCorpusFiles(inputs);
  let lines = 0;
  for await (const batch of readCorpusLines(files, { maxLineBytes: options.maxLineBytes })) {
    for (const l of batch) trainer.feed(l.text);
    lines += batch.length;
    options.onProgress?.(lines);
  }
  if (trainer.words.size === 0) throw new RootsError('ERR_INVALID_ARG', `The corpus (${files.map((f) => f.path).join(', ')}) has no words: it is empty or blank`);
  const vocab = trainer.train();
  return { vocab, tokenizer: wordPieceTokenizer(vocab, trainer, options.modelMaxLength), files, lines, words: trainer.words.size };
}

/** A BERT tokenizer over a trained vocabulary, normalizing as the trainer did. */
export function wordPieceTokenizer(vocab: readonly string[], trainer: WordPieceTrainer, modelMaxLength?: number): Tokenizer {
  const json = bertTokenizerJson(vocab, { doLowerCase: trainer.lowercase, stripAccents: trainer.stripAccents, tokenizeChineseChars: trainer.handleChineseChars });
  json.normalizer.clean_text = trainer.cleanText;
  const config: Record<string, unknown> = {
    do_lower_case: trainer.lowercase, strip_accents: trainer.stripAccents, tokenize_chinese_chars: trainer.handleChineseChars,
    tokenizer_class: 'BertTokenizer',
    ...(modelMaxLength !== undefined && { model_max_length: expectPositiveInt('modelMaxLength', modelMaxLength) }),
  };
  return new Tokenizer(json, config, 'trained vocabulary');
}

/**
 * Writes vocab.txt, tokenizer.json, tokenizer_config.json and special_tokens_map.json into `dir`:
 * first into a temporary folder beside it, then each file renamed into place, so a failure leaves
 * no half-written file in `dir`.
 */
export async function saveVocabulary(dir: string, tokenizer: Tokenizer): Promise<string[]> {
  const out = resolve(dir);
  await mkdir(dirname(out), { recursive: true });
  const tmp = await mkdtemp(join(dirname(out), '.roots-vocab-'));
  try {
    await tokenizer.save(tmp);
    await mkdir(out, { recursive: true });
    const names = (await readdir(tmp)).sort();
    for (const name of names) await rename(join(tmp, name), join(out, name));
    return names.map((n) => join(out, n));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
