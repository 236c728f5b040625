/**
 * The aligned word encoder: text → word pieces with word ids and character offsets into the
 * ORIGINAL string. It normalizes the input one code point at a time with an alignment back to the
 * original, pre-tokenizes the normalized text with the library's `BertPreTokenizer` pattern, and runs
 * the library's WordPiece model on each word (with a word cache). Tokenizers outside this pipeline
 * (other models, normalizers that compose across characters) go through the library's own encode,
 * without word ids or offsets.
 */
import type { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { RootsError, describe } from '../errors.js';
import { PRE_TOKENIZER_PATTERNS, alternation, isPerCharNormalizer, makeCharNormalizer, type CharNormalizer } from './normalize.js';
import type { AddedTokenInfo, Json, Seq } from './types.js';

/** Word pieces of one normalized word, cached. `lens` are their lengths in the normalized word. */
interface Pieces {
  ids: number[];
  tokens: string[];
  lens: number[];
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
/** Combining marks: removed (accent stripping) they still belong to the character before them. */
const COMBINING_MARK = /^\p{M}$/u;
const WORD_CACHE_LIMIT = 1 << 18;

/** What the encoder needs from the tokenizer it serves. */
export interface WordEncoderSetup {
  hf: HfTokenizer;
  /** The patched tokenizer.json. */
  json: Json;
  tokensToIds: Map<string, number>;
  unkId: number;
  unkToken: string;
  /** Continuation prefix of WordPiece pieces (`##`). */
  prefix: string;
  addedTokens: readonly AddedTokenInfo[];
}

export class WordEncoder {
  /** False when the tokenizer.json has components outside the aligned pipeline (no offsets, no word ids). */
  readonly aligned: boolean;
  readonly #hf: HfTokenizer;
  readonly #tokensToIds: Map<string, number>;
  readonly #unkId: number;
  readonly #unkToken: string;
  readonly #prefix: string;
  readonly #preTokenRe: RegExp | null;
  readonly #normChar: CharNormalizer | null;
  readonly #asciiMode: 'identity' | 'lower' | null;
  readonly #charCache = new Map<string, string>();
  /** Added tokens matched in the raw text, by content; and those matched after normalization, by normalized content. */
  readonly #addedRaw = new Map<string, AddedTokenInfo>();
  readonly #addedNorm = new Map<string, AddedTokenInfo>();
  readonly #addedRe: RegExp | null;
  readonly #addedNormRe: RegExp | null;
  #pieceCache = new Map<string, Pieces>();
  #wordCache = new Map<string, Seq>();

  constructor(setup: WordEncoderSetup) {
    this.#hf = setup.hf;
    this.#tokensToIds = setup.tokensToIds;
    this.#unkId = setup.unkId;
    this.#unkToken = setup.unkToken;
    this.#prefix = setup.prefix;
    const { json } = setup;
    for (const t of setup.addedTokens) if (!t.normalized) this.#addedRaw.set(t.content, t);
    this.#addedRe = alternation([...this.#addedRaw.keys()]);
    const normalizer = json.normalizer as Json | null;
    const preTok = json.pre_tokenizer as Json | null;
    // The aligned pipeline: WordPiece, a per-character normalizer, a regex pre-tokenizer.
    this.aligned = (json.model as Json).type === 'WordPiece' &&
      (normalizer === null || isPerCharNormalizer(normalizer)) &&
      (preTok === null || preTok.type in PRE_TOKENIZER_PATTERNS);
    if (this.aligned) {
      const normChar = makeCharNormalizer(normalizer, this.#hf.normalizer);
      this.#normChar = normChar;
      this.#preTokenRe = preTok === null ? null : new RegExp(PRE_TOKENIZER_PATTERNS[preTok.type], 'gu');
      let identity = true;
      let lower = true;
      for (let c = 0x20; c < 0x7f; c++) {
        const ch = String.fromCharCode(c);
        const n = normChar(ch, c);
        if (n !== ch) identity = false;
        if (n !== ch.toLowerCase()) lower = false;
      }
      this.#asciiMode = identity ? 'identity' : lower ? 'lower' : null;
    } else {
      this.#normChar = null;
      this.#preTokenRe = null;
      this.#asciiMode = null;
    }
    for (const t of setup.addedTokens) if (t.normalized) this.#addedNorm.set(this.#normalizeWhole(t.content), t);
    this.#addedNormRe = alternation([...this.#addedNorm.keys()]);
  }

  /** Normalizes a whole string with the per-character normalizer (or the library's). */
  #normalizeWhole(text: string): string {
    if (this.#normChar === null) return this.#hf.normalizer ? this.#hf.normalizer.normalize(text) : text;
    let out = '';
    for (const ch of text) out += this.#normChar(ch, ch.codePointAt(0)!);
    return out;
  }

  /** Encodes pre-split words, one cached encoding per distinct word; a word that would vanish gives the unknown token. */
  encodeWords(words: readonly string[], name: string): Seq {
    if (!Array.isArray(words)) throw new RootsError('ERR_INVALID_ARG', `Expected an array of word strings for ${name} but received ${describe(words)}`);
    const seq: Seq = { ids: [], tokens: [], words: [], starts: [], ends: [] };
    for (let w = 0; w < words.length; w++) {
      const word = words[w];
      let enc = this.#wordCache.get(word);
      if (enc === undefined) {
        if (typeof word !== 'string') throw new RootsError('ERR_INVALID_ARG', `Expected a string for ${name}[${w}] but received ${describe(word)}`);
        enc = this.encodeText(word);
        if (enc.ids.length === 0) enc = { ids: [this.#unkId], tokens: [this.#unkToken], words: [0], starts: [0], ends: [word.length] };
        if (this.#wordCache.size >= WORD_CACHE_LIMIT) this.#wordCache.clear();
        this.#wordCache.set(word, enc);
      }
      for (let i = 0; i < enc.ids.length; i++) {
        seq.ids.push(enc.ids[i]);
        seq.tokens.push(enc.tokens[i]);
        seq.words.push(w);
        seq.starts.push(enc.starts[i]);
        seq.ends.push(enc.ends[i]);
      }
    }
    return seq;
  }

  /**
   * Ids, tokens, word ids and offsets of one text, without special tokens. Tokenizers outside the
   * aligned pipeline go through the library's encode (no word ids, no offsets).
   */
  encodeText(text: string): Seq {
    const seq: Seq = { ids: [], tokens: [], words: [], starts: [], ends: [] };
    if (this.#normChar === null) {
      const enc = this.#hf.encode(text, { add_special_tokens: false });
      seq.ids = enc.ids;
      seq.tokens = enc.tokens;
      seq.words = enc.ids.map(() => null);
      seq.starts = enc.ids.map(() => 0);
      seq.ends = enc.ids.map(() => 0);
      return seq;
    }
    const state = { word: 0 };
    const re = this.#addedRe;
    if (re === null) {
      this.#encodeSection(text, 0, text.length, seq, state);
      return seq;
    }
    re.lastIndex = 0;
    let pos = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      if (m.index > pos) this.#encodeSection(text, pos, m.index, seq, state);
      this.#pushAdded(this.#addedRaw.get(m[0])!, m.index, m.index + m[0].length, seq, state);
      pos = m.index + m[0].length;
    }
    if (pos < text.length) this.#encodeSection(text, pos, text.length, seq, state);
    return seq;
  }

  #pushAdded(t: AddedTokenInfo, start: number, end: number, seq: Seq, state: { word: number }): void {
    seq.ids.push(t.id);
    seq.tokens.push(t.content);
    seq.words.push(state.word++);
    seq.starts.push(start);
    seq.ends.push(end);
  }

  /**
   * Normalizes text[start, end) with an alignment back to the original, pre-tokenizes it and adds
   * the word pieces of every pre-token to `seq`.
   */
  #encodeSection(text: string, start: number, end: number, seq: Seq, state: { word: number }): void {
    const section = start === 0 && end === text.length ? text : text.slice(start, end);
    let norm: string;
    let mapS: number[] | null = null; // original start of each normalized UTF-16 unit
    let mapE: number[] | null = null; // original end of each normalized UTF-16 unit
    if (this.#asciiMode !== null && PRINTABLE_ASCII.test(section)) {
      norm = this.#asciiMode === 'lower' ? section.toLowerCase() : section;
    } else {
      const parts: string[] = [];
      mapS = [];
      mapE = [];
      let lastIsWordChar = false;
      for (let i = start; i < end;) {
        const cp = text.codePointAt(i)!;
        const len = cp > 0xffff ? 2 : 1;
        const ch = len === 1 ? text[i] : text.slice(i, i + 2);
        let n = this.#charCache.get(ch);
        if (n === undefined) {
          n = this.#normChar!(ch, cp);
          this.#charCache.set(ch, n);
        }
        if (n.length === 0) {
          // A dropped combining mark joins the unit before it, so a token's span covers e.g. the
          // accent of "cafe\u0301". A dropped format or control character (U+200B, U+200D, U+00AD,
          // U+202C, any Cf or Cc) joins nothing: at a word's edge it stays outside the span, inside
          // a word the span of the word still covers it.
          if (lastIsWordChar && COMBINING_MARK.test(ch)) mapE[mapE.length - 1] = i + len;
        } else {
          parts.push(n);
          for (let k = 0; k < n.length; k++) {
            mapS.push(i);
            mapE.push(i + len);
          }
          lastIsWordChar = n.charCodeAt(n.length - 1) !== 32;
        }
        i += len;
      }
      norm = parts.join('');
    }
    const addedNorm = this.#addedNormRe;
    if (addedNorm === null) {
      this.#preTokenize(norm, 0, norm.length, start, mapS, mapE, seq, state);
      return;
    }
    addedNorm.lastIndex = 0;
    let pos = 0;
    for (let m = addedNorm.exec(norm); m !== null; m = addedNorm.exec(norm)) {
      if (m.index > pos) this.#preTokenize(norm, pos, m.index, start, mapS, mapE, seq, state);
      const a = m.index;
      const b = m.index + m[0].length;
      this.#pushAdded(this.#addedNorm.get(m[0])!, mapS ? mapS[a] : start + a, mapE ? mapE[b - 1] : start + b, seq, state);
      pos = b;
    }
    if (pos < norm.length) this.#preTokenize(norm, pos, norm.length, start, mapS, mapE, seq, state);
  }

  /** Splits norm[from, to) into words and appends their pieces with offsets. */
  #preTokenize(norm: string, from: number, to: number, base: number, mapS: number[] | null, mapE: number[] | null, seq: Seq, state: { word: number }): void {
    const emit = (a: number, word: string): void => {
      const p = this.#pieces(word);
      let s = a;
      for (let i = 0; i < p.ids.length; i++) {
        const e = s + p.lens[i];
        seq.ids.push(p.ids[i]);
        seq.tokens.push(p.tokens[i]);
        seq.words.push(state.word);
        if (mapS === null) {
          seq.starts.push(base + s);
          seq.ends.push(base + e);
        } else {
          seq.starts.push(mapS[s]);
          seq.ends.push(mapE![e - 1]);
        }
        s = e;
      }
      state.word++;
    };
    const text = from === 0 && to === norm.length ? norm : norm.slice(from, to);
    const re = this.#preTokenRe;
    if (re === null) {
      if (text.length > 0) emit(from, text);
      return;
    }
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) emit(from + m.index, m[0]);
  }

  /** WordPiece pieces of one normalized word, from the cache or the library's model. */
  #pieces(word: string): Pieces {
    let p = this.#pieceCache.get(word);
    if (p !== undefined) return p;
    const tokens = this.#hf.model!._call([word]);
    const ids = tokens.map((t) => this.#tokensToIds.get(t) ?? this.#unkId);
    let lens: number[];
    if (tokens.length === 1) {
      lens = [word.length];
    } else {
      const prefix = this.#prefix;
      lens = tokens.map((t, i) => (i > 0 && t.startsWith(prefix) ? t.length - prefix.length : t.length));
      // Pieces always spell the word; if a model ever does otherwise, give each piece the word.
      if (lens.reduce((x, y) => x + y, 0) !== word.length) lens = tokens.map((_, i) => (i === 0 ? word.length : 0));
    }
    p = { ids, tokens, lens };
    if (this.#pieceCache.size >= WORD_CACHE_LIMIT) this.#pieceCache.clear();
    this.#pieceCache.set(word, p);
    return p;
  }

  /** Empties the word caches. */
  clearCache(): void {
    this.#pieceCache = new Map();
    this.#wordCache = new Map();
    this.#charCache.clear();
  }
}
