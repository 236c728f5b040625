/** The tokenizer: loading (tokenizer.json, vocab.txt), the aligned encoder with offsets, templates, saving. */
export { Tokenizer } from './tokenizer.js';
export { parseVocab, bertTokenizerJson } from './tokenizer.js';
export type {
  Encoding, EncodeOptions, DecodeOptions, TokenizerLoadOptions, TruncationStrategy, PaddingStrategy, SpecialTokens,
} from './tokenizer.js';
