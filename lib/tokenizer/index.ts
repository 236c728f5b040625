/**
 * The tokenizer, one file per job: loading a model folder (load.ts), per-character normalization
 * (normalize.ts), the aligned word encoder with offsets (aligned.ts), pair templates, truncation and
 * padding (template.ts), saving (save.ts), and the Tokenizer class over them (tokenizer.ts).
 */
export { Tokenizer } from './tokenizer.js';
export { parseVocab, bertTokenizerJson } from './load.js';
export type {
  Encoding, EncodeOptions, DecodeOptions, TokenizerLoadOptions, TruncationStrategy, PaddingStrategy, SpecialTokens,
} from './types.js';
