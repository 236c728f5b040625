/** The tokenizer's types: options, encodings, and the internal per-sequence arrays. */
import type { HubOptions } from '../hub/cache.js';

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
export interface TokenizerLoadOptions extends HubOptions {
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
// biome-ignore lint/suspicious/noExplicitAny: parsed JSON, read field by field (the loader checks the structure first)
export type Json = Record<string, any>;

/** One encoded sequence before the template: parallel arrays, one entry per token. */
export interface Seq {
  ids: number[];
  tokens: string[];
  words: (number | null)[];
  starts: number[];
  ends: number[];
}

export type TemplateItem = { special: true; ids: number[]; tokens: string[]; typeId: number } | { special: false; seq: 0 | 1; typeId: number };

export interface AddedTokenInfo {
  id: number;
  content: string;
  special: boolean;
  normalized: boolean;
}
