/**
 * BERT-family tokenizer over `@huggingface/tokenizers` (pure TypeScript, by Hugging Face).
 *
 * The library gives us the WordPiece model, the vocabulary, the post-processor description and
 * decoding. It returns only ids and tokens for a whole input, so this wrapper adds what training and
 * prediction need (HF Transformers names, camelCased):
 *
 * - single and pair inputs with `[CLS] A [SEP] B [SEP]` and token type ids (from the template in
 *   tokenizer.json);
 * - truncation (`longest_first`, `only_first`, `only_second`) to `maxLength`, padding (to the
 *   longest or to `maxLength`, optionally to a multiple of N), batches;
 * - `wordIds` and `sequenceIds` for every token, both for raw text and for pre-split words
 *   (`encodeWords`: each word is encoded on its own, cached, and never yields zero tokens);
 * - character offsets into the ORIGINAL string (`returnOffsets`), as JS string indices (UTF-16 code
 *   units): `text.slice(start, end)` gives back the exact span, whatever normalization
 *   (lowercasing, accent stripping, control-character removal) did to it.
 *
 * Offsets are computed by normalizing the input one code point at a time with an alignment to the
 * original, pre-tokenizing the normalized text with the same pattern as the library's
 * `BertPreTokenizer`, and running the library's WordPiece model on each word (with a word cache).
 * For BERT's normalizer this follows the Rust `tokenizers` crate (what HF Transformers' fast
 * tokenizers run) where it and the JS library differ: lowercasing is per character (no Greek final
 * sigma) and CJK ideographs outside the BMP are split like the others.
 */
import { readFile, mkdir, writeFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { RootsError, describe, expectPositiveInt } from '../errors.js';

/** HF truncation strategies (`truncation=` in HF Transformers). */
export type TruncationStrategy = 'longest_first' | 'only_first' | 'only_second';

/** HF padding strategies: `'longest'` pads a batch to its longest row, `'max_length'` to `maxLength`. */
export type PaddingStrategy = 'longest' | 'max_length';

/** Options shared by {@link Tokenizer.encode}, {@link Tokenizer.encodeWords} and their batch forms. */
export interface EncodeOptions {
  /** Add `[CLS]`/`[SEP]` as the tokenizer's template says (default true). */
  addSpecialTokens?: boolean;
  /** `true` means `'longest_first'`. Needs `maxLength` (or the tokenizer's `modelMaxLength`). */
  truncation?: boolean | TruncationStrategy;
  /** Maximum length in tokens, special tokens included (truncation and `padding: 'max_length'`). */
  maxLength?: number;
  /** Which end truncation removes tokens from (default `'right'`). */
  truncationSide?: 'left' | 'right';
  /** `true` means `'longest'`. A single `encode` only pads for `'max_length'`. */
  padding?: boolean | PaddingStrategy;
  /** Round the padded length up to a multiple of this (8 suits tensor cores). */
  padToMultipleOf?: number;
  /** Fill `offsets` (default false). */
  returnOffsets?: boolean;
}

/** One encoded input. All arrays have one entry per token. */
export interface Encoding {
  /** token ids */
  ids: number[];
  /** token strings (`##` marks a continuation piece) */
  tokens: string[];
  /** segment ids: 0 for `[CLS] A [SEP]`, 1 for `B [SEP]` */
  typeIds: number[];
  /** 1 for real tokens, 0 for padding */
  attentionMask: number[];
  /** 1 for special tokens added by the template and for padding */
  specialTokensMask: number[];
  /**
   * Index of the word each token came from (null for special tokens and padding). For raw text a
   * word is a pre-token (split on whitespace and punctuation); for `encodeWords` it is the index in
   * the given array. In a pair, indices restart at 0 in the second sequence (see `sequenceIds`).
   */
  wordIds: (number | null)[];
  /** 0 or 1 for tokens of the first or second sequence, null for special tokens and padding */
  sequenceIds: (number | null)[];
  /**
   * With `returnOffsets`: `[start, end)` of each token as UTF-16 indices into the original string
   * (for `encodeWords`: into the token's own word, as HF does). `[0, 0]` for special tokens and
   * padding.
   */
  offsets?: [number, number][];
}

/** Options for {@link Tokenizer.fromPretrained}; they override tokenizer_config.json. */
export interface TokenizerLoadOptions {
  /** Lowercase input (HF `do_lower_case`). Default: tokenizer_config.json, then true. */
  doLowerCase?: boolean;
  /** Strip accents (HF `strip_accents`; null follows `doLowerCase`). */
  stripAccents?: boolean | null;
  /** Put spaces around CJK ideographs (HF `tokenize_chinese_chars`, default true). */
  tokenizeChineseChars?: boolean;
  /** Longest input the model accepts (HF `model_max_length`). */
  modelMaxLength?: number;
}

/** Options for {@link Tokenizer.decode}. */
export interface DecodeOptions {
  /** Drop `[CLS]`, `[SEP]`, `[PAD]` and other special tokens (default false). */
  skipSpecialTokens?: boolean;
  /** Remove spaces before punctuation and in contractions (default: tokenizer config, else true). */
  cleanUpTokenizationSpaces?: boolean;
}

/** Names of the special tokens (HF `special_tokens_map.json`). */
export interface SpecialTokens {
  unk: string;
  cls: string;
  sep: string;
  pad: string;
  mask: string;
}

/** tokenizer.json and tokenizer_config.json as parsed JSON; only the fields we read are typed. */
type Json = Record<string, any>;

/** One encoded sequence before the template: parallel arrays, one entry per token. */
interface Seq {
  ids: number[];
  tokens: string[];
  words: (number | null)[];
  starts: number[];
  ends: number[];
}

/** Word pieces of one normalized word, cached. `lens` are their lengths in the normalized word. */
interface Pieces {
  ids: number[];
  tokens: string[];
  lens: number[];
}

type TemplateItem = { special: true; ids: number[]; tokens: string[]; typeId: number } | { special: false; seq: 0 | 1; typeId: number };

interface AddedTokenInfo {
  id: number;
  content: string;
  special: boolean;
  normalized: boolean;
}

/** Templates without special tokens (`addSpecialTokens: false`): type ids stay 0, as in HF. */
const BARE_SINGLE: TemplateItem[] = [{ special: false, seq: 0, typeId: 0 }];
const BARE_PAIR: TemplateItem[] = [{ special: false, seq: 0, typeId: 0 }, { special: false, seq: 1, typeId: 0 }];
const DEFAULT_SPECIALS: SpecialTokens = { unk: '[UNK]', cls: '[CLS]', sep: '[SEP]', pad: '[PAD]', mask: '[MASK]' };
/** Punctuation as the library's (and Rust's) BertPreTokenizer defines it: \p{P} plus ASCII symbols. */
const PUNCT = '\\p{P}\\u0021-\\u002F\\u003A-\\u0040\\u005B-\\u0060\\u007B-\\u007E';
const PRE_TOKENIZER_PATTERNS: Record<string, string> = {
  BertPreTokenizer: `[^\\s${PUNCT}]+|[${PUNCT}]`,
  Whitespace: '\\w+|[^\\w\\s]+',
  WhitespaceSplit: '\\S+',
};
/** Normalizers that work one code point at a time (so alignment is exact). */
const PER_CHAR_NORMALIZERS = new Set(['BertNormalizer', 'Lowercase', 'NFD', 'NFKD', 'StripAccents', 'Sequence']);
const CONTROL = /^(?:\p{Cc}|\p{Cf}|\p{Co}|\p{Cs})$/u;
const WHITESPACE = /^\s$/u;
const MARK_NONSPACING = /\p{Mn}/gu;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
const WORD_CACHE_LIMIT = 1 << 18;

/**
 * CJK Unified Ideographs and extensions, as BERT's `_is_chinese_char` (and the Rust crate) define
 * them. Unlike the JS library this is tested on code points, so extension B-F characters split too.
 */
function isChineseChar(cp: number): boolean {
  return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);
}

/** The special token name in a tokenizer_config.json field: a string or an AddedToken object. */
function tokenName(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as Json).content === 'string') return (value as Json).content;
  return undefined;
}

async function readJsonFile(path: string): Promise<Json | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new RootsError('ERR_IO', `Cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      throw new Error(`expected a JSON object, found ${Array.isArray(value) ? 'an array' : typeof value}`);
    }
    return value as Json;
  } catch (err) {
    throw new RootsError('ERR_PARSE', `Cannot parse ${path}: ${(err as Error).message}`, { cause: err });
  }
}

async function readTextFile(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new RootsError('ERR_IO', `Cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Parses a vocab.txt (one token per line, id = line number) into an ordered token list. Like HF's
 * `load_vocab`, a duplicated token keeps its last id.
 */
export function parseVocab(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/**
 * The tokenizer.json Hugging Face's `BertConverter` would write for a vocab.txt and the BERT
 * options of tokenizer_config.json, built in memory.
 */
export function bertTokenizerJson(vocab: readonly string[], options: {
  doLowerCase?: boolean; stripAccents?: boolean | null; tokenizeChineseChars?: boolean; specialTokens?: Partial<SpecialTokens>;
} = {}): Json {
  const specials = { ...DEFAULT_SPECIALS, ...options.specialTokens };
  const vocabObj: Record<string, number> = Object.create(null);
  vocab.forEach((token, id) => { vocabObj[token] = id; });
  for (const key of ['unk', 'cls', 'sep'] as const) {
    if (!(specials[key] in vocabObj)) {
      throw new RootsError('ERR_CONFIG', `vocab.txt has no ${specials[key]} token (${key}_token); a BERT vocabulary needs ${specials.unk}, ${specials.cls} and ${specials.sep}`);
    }
  }
  const addedTokens = [specials.pad, specials.unk, specials.cls, specials.sep, specials.mask]
    .filter((t) => t in vocabObj)
    .map((t) => ({ id: vocabObj[t], content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }))
    .sort((a, b) => a.id - b.id);
  const cls = specials.cls;
  const sep = specials.sep;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: options.tokenizeChineseChars ?? true,
      strip_accents: options.stripAccents ?? null,
      lowercase: options.doLowerCase ?? true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: cls, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: sep, type_id: 0 } }],
      pair: [
        { SpecialToken: { id: cls, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: sep, type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: sep, type_id: 1 } },
      ],
      special_tokens: {
        [cls]: { id: cls, ids: [vocabObj[cls]], tokens: [cls] },
        [sep]: { id: sep, ids: [vocabObj[sep]], tokens: [sep] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: specials.unk,
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: vocabObj,
    },
  };
}

/**
 * Makes a tokenizer.json the library can load: older serialisations have no `model.type` (the
 * model kind is implied by its fields) and may lack keys the library requires.
 */
function patchTokenizerJson(json: Json, source: string): Json {
  const model = json.model as Json | undefined;
  if (!model || typeof model !== 'object' || !model.vocab || typeof model.vocab !== 'object') {
    throw new RootsError('ERR_CONFIG', `${source}: expected a "model" object with a "vocab" (is this a Hugging Face tokenizer.json?)`);
  }
  const patched: Json = { ...json };
  if (typeof model.type !== 'string') {
    let type: string;
    if (Array.isArray(model.vocab)) type = 'Unigram';
    else if ('merges' in model) type = 'BPE';
    else if ('continuing_subword_prefix' in model || 'max_input_chars_per_word' in model) type = 'WordPiece';
    else throw new RootsError('ERR_CONFIG', `${source}: "model" has no "type" and its fields (${Object.keys(model).join(', ')}) match neither WordPiece, BPE nor Unigram`);
    // Rebuild with "type" first, as current serialisations write it.
    patched.model = { type, ...model };
  }
  for (const key of ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder']) {
    if (patched[key] === undefined) patched[key] = null;
  }
  if (!Array.isArray(patched.added_tokens)) patched.added_tokens = [];
  return patched;
}

/**
 * A BERT-family tokenizer: HF tokenizer.json or vocab.txt in, padded id arrays with word ids and
 * character offsets out.
 *
 * ```ts
 * const tok = await Tokenizer.fromPretrained('models/bert-base-uncased');
 * const enc = tok.encode('Zürich 🙂', null, { returnOffsets: true });
 * const batch = tok.encodeBatch([['a question', 'a context']], { truncation: true, maxLength: 128, padding: true });
 * ```
 */
export class Tokenizer {
  /** The library tokenizer (WordPiece model, vocabulary, decoder). */
  readonly hf: HfTokenizer;
  /** Names of the special tokens. */
  readonly specialTokens: SpecialTokens;
  /** Longest input (in tokens) the model accepts, if known (HF `model_max_length`). */
  readonly modelMaxLength: number | undefined;

  readonly #json: Json;
  readonly #config: Json;
  readonly #tokensToIds: Map<string, number>;
  readonly #unkId: number;
  readonly #prefix: string;
  readonly #single: TemplateItem[];
  readonly #pair: TemplateItem[];
  /** Non-null when the aligned pipeline (offsets, word ids, word cache) applies. */
  readonly #preTokenRe: RegExp | null;
  readonly #normChar: ((ch: string, cp: number) => string) | null;
  readonly #asciiMode: 'identity' | 'lower' | null;
  readonly #charCache = new Map<string, string>();
  readonly #addedRe: RegExp | null;
  readonly #addedNormRe: RegExp | null;
  /** Added tokens matched in the raw text, by content; and those matched after normalization, by normalized content. */
  readonly #addedRaw = new Map<string, AddedTokenInfo>();
  readonly #addedNorm = new Map<string, AddedTokenInfo>();
  readonly #specialIds: Set<number>;
  #pieceCache = new Map<string, Pieces>();
  #wordCache = new Map<string, Seq>();

  /**
   * Builds a tokenizer from a parsed tokenizer.json (patched for older files) and an optional
   * tokenizer_config.json. Prefer {@link Tokenizer.fromPretrained}.
   */
  constructor(tokenizerJson: Json, tokenizerConfig: Json = {}, source = 'tokenizer.json') {
    const json = patchTokenizerJson(tokenizerJson, source);
    this.#json = json;
    this.#config = tokenizerConfig;
    try {
      this.hf = new HfTokenizer(json, tokenizerConfig);
    } catch (err) {
      throw new RootsError('ERR_CONFIG', `${source}: @huggingface/tokenizers cannot load it: ${(err as Error).message}`, { cause: err });
    }
    const model = this.hf.model!;
    this.#tokensToIds = model.tokens_to_ids;
    const modelJson = json.model as Json;
    const unkName = tokenName(modelJson.unk_token) ?? tokenName(tokenizerConfig.unk_token) ?? DEFAULT_SPECIALS.unk;
    this.specialTokens = {
      unk: unkName,
      cls: tokenName(tokenizerConfig.cls_token) ?? DEFAULT_SPECIALS.cls,
      sep: tokenName(tokenizerConfig.sep_token) ?? DEFAULT_SPECIALS.sep,
      pad: tokenName(tokenizerConfig.pad_token) ?? DEFAULT_SPECIALS.pad,
      mask: tokenName(tokenizerConfig.mask_token) ?? DEFAULT_SPECIALS.mask,
    };
    const unkId = this.#tokensToIds.get(unkName);
    if (unkId === undefined) {
      throw new RootsError('ERR_CONFIG', `${source}: the unknown token ${JSON.stringify(unkName)} is not in the vocabulary`);
    }
    this.#unkId = unkId;
    this.#prefix = typeof modelJson.continuing_subword_prefix === 'string' ? modelJson.continuing_subword_prefix : '##';
    const maxLen = tokenizerConfig.model_max_length;
    this.modelMaxLength = typeof maxLen === 'number' && Number.isInteger(maxLen) && maxLen > 0 && maxLen < 1e12 ? maxLen : undefined;

    // Template ([CLS] $A [SEP] / [CLS] $A [SEP] $B [SEP]) from the post-processor.
    [this.#single, this.#pair] = this.#parseTemplate(json.post_processor as Json | null, source);

    // Added tokens are matched in the raw text (normalized: false) or the normalized text.
    const added: AddedTokenInfo[] = (json.added_tokens as Json[]).map((t) => ({
      id: t.id, content: t.content, special: t.special ?? false, normalized: t.normalized ?? !(t.special ?? false),
    }));
    this.#specialIds = new Set(added.filter((t) => t.special).map((t) => t.id));
    for (const t of added) if (!t.normalized) this.#addedRaw.set(t.content, t);
    this.#addedRe = Tokenizer.#alternation([...this.#addedRaw.keys()]);
    const normalizer = json.normalizer as Json | null;
    const preTok = json.pre_tokenizer as Json | null;

    // The aligned pipeline: WordPiece, a per-character normalizer, a regex pre-tokenizer.
    const aligned = modelJson.type === 'WordPiece' &&
      (normalizer === null || Tokenizer.#perCharNormalizer(normalizer)) &&
      (preTok === null || preTok.type in PRE_TOKENIZER_PATTERNS);
    if (aligned) {
      this.#normChar = this.#makeCharNormalizer(normalizer);
      this.#preTokenRe = preTok === null ? null : new RegExp(PRE_TOKENIZER_PATTERNS[preTok.type], 'gu');
      let identity = true;
      let lower = true;
      for (let c = 0x20; c < 0x7f; c++) {
        const ch = String.fromCharCode(c);
        const n = this.#normChar(ch, c);
        if (n !== ch) identity = false;
        if (n !== ch.toLowerCase()) lower = false;
      }
      this.#asciiMode = identity ? 'identity' : lower ? 'lower' : null;
    } else {
      this.#normChar = null;
      this.#preTokenRe = null;
      this.#asciiMode = null;
    }
    for (const t of added) if (t.normalized) this.#addedNorm.set(this.#normalizeWhole(t.content), t);
    this.#addedNormRe = Tokenizer.#alternation([...this.#addedNorm.keys()]);
  }

  /**
   * Loads a tokenizer from a Hugging Face model folder: tokenizer.json if present, else vocab.txt
   * (BERT WordPiece, built the way HF's converter builds it). tokenizer_config.json and
   * special_tokens_map.json are read when present; `options` override them.
   */
  static async fromPretrained(dir: string | URL, options: TokenizerLoadOptions = {}): Promise<Tokenizer> {
    const path = dir instanceof URL ? fileURLToPath(dir) : dir;
    if (typeof path !== 'string' || path === '') {
      throw new RootsError('ERR_INVALID_ARG', `Expected a folder path for dir but received ${describe(dir)}`);
    }
    try {
      if (!(await stat(path)).isDirectory()) throw new RootsError('ERR_IO', `Tokenizer path ${path} is not a folder`);
    } catch (err) {
      if (err instanceof RootsError) throw err;
      throw new RootsError('ERR_IO', `Tokenizer folder ${path} cannot be read: ${(err as Error).message}`, { cause: err });
    }
    const config: Json = { ...(await readJsonFile(join(path, 'special_tokens_map.json'))), ...(await readJsonFile(join(path, 'tokenizer_config.json'))) };
    if (options.doLowerCase !== undefined) config.do_lower_case = options.doLowerCase;
    if (options.stripAccents !== undefined) config.strip_accents = options.stripAccents;
    if (options.tokenizeChineseChars !== undefined) config.tokenize_chinese_chars = options.tokenizeChineseChars;
    if (options.modelMaxLength !== undefined) config.model_max_length = expectPositiveInt('modelMaxLength', options.modelMaxLength);

    const tokenizerJson = await readJsonFile(join(path, 'tokenizer.json'));
    if (tokenizerJson) {
      const json = patchTokenizerJson(tokenizerJson, join(path, 'tokenizer.json'));
      // As HF's BertTokenizerFast: tokenizer_config.json's BERT options win over the normalizer's.
      const norm = json.normalizer as Json | null;
      if (norm && norm.type === 'BertNormalizer') {
        const patched = { ...norm };
        if (typeof config.do_lower_case === 'boolean') patched.lowercase = config.do_lower_case;
        if (config.strip_accents !== undefined) patched.strip_accents = config.strip_accents;
        if (typeof config.tokenize_chinese_chars === 'boolean') patched.handle_chinese_chars = config.tokenize_chinese_chars;
        json.normalizer = patched;
      }
      return new Tokenizer(json, config, join(path, 'tokenizer.json'));
    }
    const vocabPath = join(path, 'vocab.txt');
    const vocabText = await readTextFile(vocabPath);
    if (vocabText === undefined) {
      throw new RootsError('ERR_IO', `Tokenizer folder ${path} has neither tokenizer.json nor vocab.txt`);
    }
    const vocab = parseVocab(vocabText);
    if (typeof config.do_lower_case !== 'boolean') {
      const cased = vocab.filter((t) => !t.startsWith('[') && /\p{Lu}/u.test(t)).length;
      if (cased > vocab.length / 20) {
        process.emitWarning(`${vocabPath} looks cased (${cased} of ${vocab.length} tokens have capitals) but nothing sets do_lower_case, so it defaults to true as in HF; pass { doLowerCase: false } or add a tokenizer_config.json`, 'RootsWarning');
      }
    }
    const json = Tokenizer.#bertJsonFromConfig(vocab, config);
    return new Tokenizer(json, config, vocabPath);
  }

  /**
   * Builds a BERT WordPiece tokenizer from a vocabulary (the lines of vocab.txt) and optional
   * tokenizer_config.json values (`do_lower_case`, `strip_accents`, `tokenize_chinese_chars`,
   * special token names, `model_max_length`).
   */
  static fromVocab(vocab: readonly string[], tokenizerConfig: Json = {}): Tokenizer {
    if (!Array.isArray(vocab) || vocab.some((t) => typeof t !== 'string')) {
      throw new RootsError('ERR_INVALID_ARG', `Expected an array of token strings for vocab but received ${describe(vocab)}`);
    }
    return new Tokenizer(Tokenizer.#bertJsonFromConfig(vocab, tokenizerConfig), tokenizerConfig, 'vocab');
  }

  static #bertJsonFromConfig(vocab: readonly string[], config: Json): Json {
    return bertTokenizerJson(vocab, {
      doLowerCase: typeof config.do_lower_case === 'boolean' ? config.do_lower_case : undefined,
      stripAccents: config.strip_accents as boolean | null | undefined,
      tokenizeChineseChars: typeof config.tokenize_chinese_chars === 'boolean' ? config.tokenize_chinese_chars : undefined,
      specialTokens: {
        ...(tokenName(config.unk_token) && { unk: tokenName(config.unk_token) }),
        ...(tokenName(config.cls_token) && { cls: tokenName(config.cls_token) }),
        ...(tokenName(config.sep_token) && { sep: tokenName(config.sep_token) }),
        ...(tokenName(config.pad_token) && { pad: tokenName(config.pad_token) }),
        ...(tokenName(config.mask_token) && { mask: tokenName(config.mask_token) }),
      },
    });
  }

  static #perCharNormalizer(n: Json): boolean {
    if (!PER_CHAR_NORMALIZERS.has(n.type)) return false;
    return n.type !== 'Sequence' || (Array.isArray(n.normalizers) && n.normalizers.every((m: Json) => Tokenizer.#perCharNormalizer(m)));
  }

  static #alternation(contents: string[]): RegExp | null {
    const list = contents.filter((c) => c.length > 0).sort((a, b) => b.length - a.length);
    if (list.length === 0) return null;
    return new RegExp(list.map((c) => c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
  }

  /** A function normalizing one code point, following the Rust crate for BertNormalizer. */
  #makeCharNormalizer(normalizer: Json | null): (ch: string, cp: number) => string {
    if (normalizer === null) return (ch) => ch;
    if (normalizer.type === 'BertNormalizer') {
      const cleanText = normalizer.clean_text ?? true;
      const chinese = normalizer.handle_chinese_chars ?? true;
      const lowercase = normalizer.lowercase ?? true;
      const strip = normalizer.strip_accents ?? lowercase;
      return (ch, cp) => {
        if (cleanText) {
          if (cp === 0 || cp === 0xfffd || (cp !== 9 && cp !== 10 && cp !== 13 && CONTROL.test(ch))) return '';
          if (WHITESPACE.test(ch)) return ' ';
        }
        let s = ch;
        if (strip) s = s.normalize('NFD').replace(MARK_NONSPACING, '');
        if (lowercase) s = s.toLowerCase();
        // CJK compatibility ideographs (U+F900..) decompose above, and are still split off.
        return chinese && isChineseChar(cp) ? ` ${s} ` : s;
      };
    }
    const hfNormalizer = this.hf.normalizer!;
    return (ch) => hfNormalizer.normalize(ch);
  }

  /** Normalizes a whole string with the per-character normalizer (or the library's). */
  #normalizeWhole(text: string): string {
    if (this.#normChar === null) return this.hf.normalizer ? this.hf.normalizer.normalize(text) : text;
    let out = '';
    for (const ch of text) out += this.#normChar(ch, ch.codePointAt(0)!);
    return out;
  }

  #parseTemplate(pp: Json | null, source: string): [TemplateItem[], TemplateItem[]] {
    const special = (name: string, typeId: number, ids?: number[], tokens?: string[]): TemplateItem => {
      const resolvedIds = ids ?? [this.#tokensToIds.get(name)!];
      if (resolvedIds.some((id) => typeof id !== 'number')) {
        throw new RootsError('ERR_CONFIG', `${source}: post_processor special token ${JSON.stringify(name)} is not in the vocabulary`);
      }
      return { special: true, ids: resolvedIds, tokens: tokens ?? [name], typeId };
    };
    if (pp === null) return [BARE_SINGLE, BARE_PAIR];
    switch (pp.type) {
      case 'TemplateProcessing': {
        const specials = (pp.special_tokens ?? {}) as Record<string, Json>;
        const parse = (items: Json[]): TemplateItem[] => items.map((item) => {
          if (item.SpecialToken) {
            const def = specials[item.SpecialToken.id];
            return special(item.SpecialToken.id, item.SpecialToken.type_id ?? 0, def?.ids, def?.tokens);
          }
          if (item.Sequence) return { special: false, seq: item.Sequence.id === 'B' ? 1 : 0, typeId: item.Sequence.type_id ?? 0 };
          throw new RootsError('ERR_CONFIG', `${source}: unknown TemplateProcessing item ${JSON.stringify(item)}`);
        });
        return [parse(pp.single ?? []), parse(pp.pair ?? [])];
      }
      case 'BertProcessing': {
        const [clsName, clsId] = pp.cls as [string, number];
        const [sepName, sepId] = pp.sep as [string, number];
        return [
          [special(clsName, 0, [clsId]), { special: false, seq: 0, typeId: 0 }, special(sepName, 0, [sepId])],
          [special(clsName, 0, [clsId]), { special: false, seq: 0, typeId: 0 }, special(sepName, 0, [sepId]), { special: false, seq: 1, typeId: 1 }, special(sepName, 1, [sepId])],
        ];
      }
      case 'RobertaProcessing': {
        const [clsName, clsId] = pp.cls as [string, number];
        const [sepName, sepId] = pp.sep as [string, number];
        return [
          [special(clsName, 0, [clsId]), { special: false, seq: 0, typeId: 0 }, special(sepName, 0, [sepId])],
          [special(clsName, 0, [clsId]), { special: false, seq: 0, typeId: 0 }, special(sepName, 0, [sepId]), special(sepName, 0, [sepId]), { special: false, seq: 1, typeId: 0 }, special(sepName, 0, [sepId])],
        ];
      }
      default:
        throw new RootsError('ERR_CONFIG', `${source}: post_processor type ${JSON.stringify(pp.type)} is not supported (expected TemplateProcessing, BertProcessing or RobertaProcessing)`);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Vocabulary
  // ---------------------------------------------------------------------------------------------

  /** Number of ids (highest id + 1, added tokens included): the embedding rows the model needs. */
  get vocabSize(): number {
    return this.hf.model!.vocab.length;
  }
  /** Whether the normalizer lowercases (HF `do_lower_case`). */
  get doLowerCase(): boolean {
    const n = this.#json.normalizer as Json | null;
    if (n === null) return false;
    if (n.type === 'BertNormalizer') return n.lowercase ?? true;
    const lowers = (m: Json): boolean => m.type === 'Lowercase' || (m.type === 'Sequence' && (m.normalizers as Json[]).some(lowers));
    return lowers(n);
  }
  /** Id of `[CLS]` (HF `cls_token_id`), undefined if the vocabulary lacks it; likewise below. */
  get clsTokenId(): number | undefined { return this.#tokensToIds.get(this.specialTokens.cls); }
  get sepTokenId(): number | undefined { return this.#tokensToIds.get(this.specialTokens.sep); }
  get padTokenId(): number | undefined { return this.#tokensToIds.get(this.specialTokens.pad); }
  get unkTokenId(): number { return this.#unkId; }
  get maskTokenId(): number | undefined { return this.#tokensToIds.get(this.specialTokens.mask); }
  /** Ids of all special tokens (HF `all_special_ids`). */
  get allSpecialIds(): number[] { return [...this.#specialIds].sort((a, b) => a - b); }

  /** The id of a token, or undefined when it is not in the vocabulary. */
  tokenToId(token: string): number | undefined {
    return this.#tokensToIds.get(token);
  }
  /** The token of an id, or undefined when the id is out of range. */
  idToToken(id: number): string | undefined {
    return this.hf.model!.vocab[id];
  }
  /** Tokens for ids (HF `convert_ids_to_tokens`); unknown ids give the unknown token. */
  convertIdsToTokens(ids: ArrayLike<number>): string[] {
    const vocab = this.hf.model!.vocab;
    return Array.from(ids, (id) => vocab[id] ?? this.specialTokens.unk);
  }
  /** Ids for tokens (HF `convert_tokens_to_ids`); unknown tokens give the unknown id. */
  convertTokensToIds(tokens: readonly string[]): number[] {
    return tokens.map((t) => this.#tokensToIds.get(t) ?? this.#unkId);
  }
  /** token → id for the whole vocabulary, added tokens included (HF `get_vocab`). */
  getVocab(): Map<string, number> {
    return new Map(this.#tokensToIds);
  }
  /** Special tokens the template adds (HF `num_special_tokens_to_add`). */
  numSpecialTokensToAdd(pair = false): number {
    return (pair ? this.#pair : this.#single).reduce((n, item) => n + (item.special ? item.ids.length : 0), 0);
  }

  // ---------------------------------------------------------------------------------------------
  // Encoding
  // ---------------------------------------------------------------------------------------------

  /** Word pieces of `text` without special tokens (HF `tokenize`). */
  tokenize(text: string, pair?: string | null): string[] {
    return this.encode(text, pair, { addSpecialTokens: false }).tokens;
  }

  /**
   * Encodes a text, or a pair of texts (`pair`), with special tokens, truncation and padding.
   * Offsets index `text` (and `pair` for tokens whose `sequenceIds` is 1).
   */
  encode(text: string, pair?: string | null, options: EncodeOptions = {}): Encoding {
    if (typeof text !== 'string') throw new RootsError('ERR_INVALID_ARG', `Expected a string for text but received ${describe(text)}`);
    if (pair != null && typeof pair !== 'string') throw new RootsError('ERR_INVALID_ARG', `Expected a string or null for pair but received ${describe(pair)}`);
    this.#checkOffsets(options);
    const a = this.#encodeText(text);
    const b = pair == null ? null : this.#encodeText(pair);
    return this.#finish(a, b, options, options.padding === 'max_length' ? 'max_length' : false);
  }

  /**
   * Encodes pre-split words (HF `is_split_into_words`): each word is tokenized on its own (cached)
   * and every word yields at least one token (`[UNK]` for a word that would vanish, such as a
   * control character), so `wordIds` covers every word. Offsets index each word.
   */
  encodeWords(words: readonly string[], pair?: readonly string[] | null, options: EncodeOptions = {}): Encoding {
    this.#checkOffsets(options);
    const a = this.#encodeWordList(words, 'words');
    const b = pair == null ? null : this.#encodeWordList(pair, 'pair');
    return this.#finish(a, b, options, options.padding === 'max_length' ? 'max_length' : false);
  }

  /** Encodes texts or `[text, pair]` tuples, then pads them together as `options.padding` says. */
  encodeBatch(inputs: readonly (string | readonly [string, string])[], options: EncodeOptions = {}): Encoding[] {
    if (!Array.isArray(inputs)) throw new RootsError('ERR_INVALID_ARG', `Expected an array of inputs but received ${describe(inputs)}`);
    const encs = inputs.map((input, i) => {
      if (typeof input === 'string') return this.encode(input, null, { ...options, padding: false });
      if (Array.isArray(input) && input.length === 2) return this.encode(input[0], input[1], { ...options, padding: false });
      throw new RootsError('ERR_INVALID_ARG', `Expected a string or a [text, pair] tuple for inputs[${i}] but received ${describe(input)}`);
    });
    return this.pad(encs, options);
  }

  /** Encodes lists of pre-split words, then pads them together as `options.padding` says. */
  encodeWordsBatch(inputs: readonly (readonly string[])[], options: EncodeOptions = {}): Encoding[] {
    if (!Array.isArray(inputs)) throw new RootsError('ERR_INVALID_ARG', `Expected an array of word lists but received ${describe(inputs)}`);
    return this.pad(inputs.map((words) => this.encodeWords(words, null, { ...options, padding: false })), options);
  }

  /**
   * Pads encodings (new objects; the inputs are not changed): to the longest (`padding: true` or
   * `'longest'`) or to `maxLength` (`'max_length'`), rounded up to `padToMultipleOf`.
   */
  pad(encodings: readonly Encoding[], options: Pick<EncodeOptions, 'padding' | 'maxLength' | 'padToMultipleOf'> = {}): Encoding[] {
    const strategy = options.padding === true ? 'longest' : options.padding || false;
    if (strategy === false) return encodings.slice();
    if (strategy !== 'longest' && strategy !== 'max_length') {
      throw new RootsError('ERR_INVALID_ARG', `Expected padding to be true, false, 'longest' or 'max_length' but received ${describe(strategy)}`);
    }
    let target = strategy === 'longest' ? Math.max(0, ...encodings.map((e) => e.ids.length)) : this.#maxLength(options.maxLength, 'padding: \'max_length\'');
    if (options.padToMultipleOf !== undefined) {
      const m = expectPositiveInt('padToMultipleOf', options.padToMultipleOf);
      target = Math.ceil(target / m) * m;
    }
    return encodings.map((e) => this.#padOne(e, target));
  }

  #padOne(e: Encoding, target: number): Encoding {
    const n = target - e.ids.length;
    if (n <= 0) return e;
    const padId = this.padTokenId;
    if (padId === undefined) throw new RootsError('ERR_CONFIG', `Cannot pad: the pad token ${JSON.stringify(this.specialTokens.pad)} is not in the vocabulary`);
    const fill = <T>(arr: T[], v: T): T[] => arr.concat(new Array<T>(n).fill(v));
    const out: Encoding = {
      ids: fill(e.ids, padId),
      tokens: fill(e.tokens, this.specialTokens.pad),
      typeIds: fill(e.typeIds, 0),
      attentionMask: fill(e.attentionMask, 0),
      specialTokensMask: fill(e.specialTokensMask, 1),
      wordIds: fill(e.wordIds, null),
      sequenceIds: fill(e.sequenceIds, null),
    };
    if (e.offsets) out.offsets = e.offsets.concat(Array.from({ length: n }, (): [number, number] => [0, 0]));
    return out;
  }

  #maxLength(value: number | undefined, what: string): number {
    if (value !== undefined) return expectPositiveInt('maxLength', value);
    if (this.modelMaxLength !== undefined) return this.modelMaxLength;
    throw new RootsError('ERR_INVALID_ARG', `${what} needs maxLength: pass maxLength (the tokenizer has no model_max_length)`);
  }

  /** Truncation, template and padding for one or two encoded sequences. */
  #finish(a: Seq, b: Seq | null, options: EncodeOptions, padding: false | 'max_length'): Encoding {
    const addSpecial = options.addSpecialTokens ?? true;
    const strategy: TruncationStrategy | false = options.truncation === true ? 'longest_first' : options.truncation || false;
    if (strategy !== false) {
      if (strategy !== 'longest_first' && strategy !== 'only_first' && strategy !== 'only_second') {
        throw new RootsError('ERR_INVALID_ARG', `Expected truncation to be true, false, 'longest_first', 'only_first' or 'only_second' but received ${describe(strategy)}`);
      }
      const maxLength = this.#maxLength(options.maxLength, 'truncation');
      const budget = maxLength - (addSpecial ? this.numSpecialTokensToAdd(b !== null) : 0);
      if (budget < 0) throw new RootsError('ERR_INVALID_ARG', `maxLength ${maxLength} is shorter than the ${maxLength - budget} special tokens the template adds`);
      const left = options.truncationSide === 'left';
      if (options.truncationSide !== undefined && options.truncationSide !== 'left' && options.truncationSide !== 'right') {
        throw new RootsError('ERR_INVALID_ARG', `Expected truncationSide 'left' or 'right' but received ${describe(options.truncationSide)}`);
      }
      [a, b] = truncatePair(a, b, budget, strategy, left);
    }
    const template = addSpecial ? (b === null ? this.#single : this.#pair) : (b === null ? BARE_SINGLE : BARE_PAIR);
    const enc: Encoding = { ids: [], tokens: [], typeIds: [], attentionMask: [], specialTokensMask: [], wordIds: [], sequenceIds: [] };
    const offsets: [number, number][] | undefined = options.returnOffsets ? [] : undefined;
    for (const item of template) {
      if (item.special) {
        for (let i = 0; i < item.ids.length; i++) {
          enc.ids.push(item.ids[i]);
          enc.tokens.push(item.tokens[i] ?? this.idToToken(item.ids[i]) ?? '');
          enc.typeIds.push(item.typeId);
          enc.attentionMask.push(1);
          enc.specialTokensMask.push(1);
          enc.wordIds.push(null);
          enc.sequenceIds.push(null);
          offsets?.push([0, 0]);
        }
      } else {
        const s = item.seq === 0 ? a : b;
        if (s === null) continue;
        for (let i = 0; i < s.ids.length; i++) {
          enc.ids.push(s.ids[i]);
          enc.tokens.push(s.tokens[i]);
          enc.typeIds.push(item.typeId);
          enc.attentionMask.push(1);
          enc.specialTokensMask.push(0);
          enc.wordIds.push(s.words[i]);
          enc.sequenceIds.push(item.seq);
          offsets?.push([s.starts[i], s.ends[i]]);
        }
      }
    }
    if (offsets) enc.offsets = offsets;
    if (padding === 'max_length') return this.pad([enc], { padding, maxLength: options.maxLength, padToMultipleOf: options.padToMultipleOf })[0];
    return enc;
  }

  /** Encodes pre-split words, one cached encoding per distinct word. */
  #encodeWordList(words: readonly string[], name: string): Seq {
    if (!Array.isArray(words)) throw new RootsError('ERR_INVALID_ARG', `Expected an array of word strings for ${name} but received ${describe(words)}`);
    const seq: Seq = { ids: [], tokens: [], words: [], starts: [], ends: [] };
    for (let w = 0; w < words.length; w++) {
      const word = words[w];
      let enc = this.#wordCache.get(word);
      if (enc === undefined) {
        if (typeof word !== 'string') throw new RootsError('ERR_INVALID_ARG', `Expected a string for ${name}[${w}] but received ${describe(word)}`);
        enc = this.#encodeText(word);
        if (enc.ids.length === 0) enc = { ids: [this.#unkId], tokens: [this.specialTokens.unk], words: [0], starts: [0], ends: [word.length] };
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

  #checkOffsets(options: EncodeOptions): void {
    if (options.returnOffsets && this.#normChar === null) {
      throw new RootsError('ERR_UNSUPPORTED', 'Offsets need a WordPiece tokenizer with a per-character normalizer and a BERT/whitespace pre-tokenizer; this tokenizer.json has other components');
    }
  }

  /**
   * Ids, tokens, word ids and offsets of one text, without special tokens. Tokenizers outside the
   * aligned pipeline go through the library's encode (no word ids, no offsets).
   */
  #encodeText(text: string): Seq {
    const seq: Seq = { ids: [], tokens: [], words: [], starts: [], ends: [] };
    if (this.#normChar === null) {
      const enc = this.hf.encode(text, { add_special_tokens: false });
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
          // A dropped character (control, format, combining mark) joins the unit before it, so a
          // token's span covers e.g. the accent of "cafe\u0301" or the joiner inside an emoji.
          if (lastIsWordChar) mapE[mapE.length - 1] = i + len;
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
    const tokens = this.hf.model!._call([word]);
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

  /** Empties the word caches (benchmarks measure cold and warm runs with it). */
  clearCache(): void {
    this.#pieceCache = new Map();
    this.#wordCache = new Map();
    this.#charCache.clear();
  }

  // ---------------------------------------------------------------------------------------------
  // Decoding and saving
  // ---------------------------------------------------------------------------------------------

  /** Text for ids, joining `##` pieces (HF `decode`). */
  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const list = Array.from(ids);
    for (let i = 0; i < list.length; i++) {
      if (!Number.isInteger(list[i])) throw new RootsError('ERR_INVALID_ARG', `Expected integer token ids but ids[${i}] is ${describe(list[i])}`);
    }
    const kept = options.skipSpecialTokens ? list.filter((id) => !this.#specialIds.has(id)) : list;
    if (kept.length === 0) return '';
    return this.hf.decode(kept, { skip_special_tokens: false, clean_up_tokenization_spaces: options.cleanUpTokenizationSpaces });
  }

  /** Decodes each row (HF `batch_decode`). */
  batchDecode(rows: readonly ArrayLike<number>[], options: DecodeOptions = {}): string[] {
    return rows.map((r) => this.decode(r, options));
  }

  /** The tokenizer.json this tokenizer runs (patched: `model.type` present). */
  toJSON(): Json {
    return this.#json;
  }

  /**
   * Writes tokenizer.json, tokenizer_config.json, special_tokens_map.json and (for WordPiece)
   * vocab.txt into `dir`, so a model folder is self-contained for us and for HF Transformers.
   */
  async save(dir: string | URL): Promise<void> {
    const path = dir instanceof URL ? fileURLToPath(dir) : dir;
    const model = this.#json.model as Json;
    const norm = this.#json.normalizer as Json | null;
    const specials = {
      unk_token: this.specialTokens.unk, sep_token: this.specialTokens.sep, pad_token: this.specialTokens.pad,
      cls_token: this.specialTokens.cls, mask_token: this.specialTokens.mask,
    };
    const config: Json = { ...this.#config };
    delete config.added_tokens_decoder;
    Object.assign(config, specials, {
      do_lower_case: this.doLowerCase,
      ...(norm?.type === 'BertNormalizer' && { strip_accents: norm.strip_accents ?? null, tokenize_chinese_chars: norm.handle_chinese_chars ?? true }),
      clean_up_tokenization_spaces: config.clean_up_tokenization_spaces ?? true,
      tokenizer_class: config.tokenizer_class ?? (model.type === 'WordPiece' ? 'BertTokenizer' : 'PreTrainedTokenizerFast'),
      ...(this.modelMaxLength !== undefined && { model_max_length: this.modelMaxLength }),
    });
    let vocabTxt: string | undefined;
    if (model.type === 'WordPiece') {
      const byId: string[] = [];
      for (const [token, id] of Object.entries(model.vocab as Record<string, number>)) byId[id] = token;
      for (let i = 0; i < byId.length; i++) {
        if (byId[i] === undefined) throw new RootsError('ERR_CONFIG', `Cannot write vocab.txt: no token has id ${i} (ids must run 0..${byId.length - 1} without gaps)`);
      }
      vocabTxt = byId.join('\n') + '\n';
    }
    try {
      await mkdir(path, { recursive: true });
      await writeFile(join(path, 'tokenizer.json'), JSON.stringify(this.#json, null, 2) + '\n');
      await writeFile(join(path, 'tokenizer_config.json'), JSON.stringify(config, null, 2) + '\n');
      await writeFile(join(path, 'special_tokens_map.json'), JSON.stringify(specials, null, 2) + '\n');
      if (vocabTxt !== undefined) await writeFile(join(path, 'vocab.txt'), vocabTxt);
    } catch (err) {
      throw new RootsError('ERR_IO', `Cannot save the tokenizer to ${path}: ${(err as Error).message}`, { cause: err });
    }
  }
}

/**
 * Truncates one or two sequences so their lengths sum to at most `budget`, as the Rust crate does:
 * `longest_first` gives the shorter sequence what it needs (up to half) and the rest to the other.
 */
function truncatePair(a: Seq, b: Seq | null, budget: number, strategy: TruncationStrategy, left: boolean): [Seq, Seq | null] {
  const cut = (s: Seq, n: number): Seq => {
    if (s.ids.length <= n) return s;
    const from = left ? s.ids.length - n : 0;
    const to = left ? s.ids.length : n;
    return { ids: s.ids.slice(from, to), tokens: s.tokens.slice(from, to), words: s.words.slice(from, to), starts: s.starts.slice(from, to), ends: s.ends.slice(from, to) };
  };
  if (b === null) {
    if (strategy === 'only_second') throw new RootsError('ERR_INVALID_ARG', "truncation 'only_second' needs a pair of sequences");
    return [cut(a, budget), null];
  }
  const n1 = a.ids.length;
  const n2 = b.ids.length;
  if (n1 + n2 <= budget) return [a, b];
  if (strategy === 'only_first') {
    if (n2 >= budget) throw new RootsError('ERR_INVALID_ARG', `truncation 'only_first' cannot fit: the second sequence alone has ${n2} tokens and maxLength leaves ${budget} for both (use 'longest_first')`);
    return [cut(a, budget - n2), b];
  }
  if (strategy === 'only_second') {
    if (n1 >= budget) throw new RootsError('ERR_INVALID_ARG', `truncation 'only_second' cannot fit: the first sequence alone has ${n1} tokens and maxLength leaves ${budget} for both (use 'longest_first')`);
    return [a, cut(b, budget - n1)];
  }
  const swap = n1 > n2;
  const short = swap ? n2 : n1;
  let keepShort = short;
  let keepLong = Math.max(short, budget - short);
  if (keepShort + keepLong > budget) {
    keepShort = Math.floor(budget / 2);
    keepLong = keepShort + (budget % 2);
  }
  return swap ? [cut(a, keepLong), cut(b, keepShort)] : [cut(a, keepShort), cut(b, keepLong)];
}
