/**
 * Normalization one code point at a time, as the Rust `tokenizers` crate's BertNormalizer does it
 * (what HF Transformers' fast tokenizers run), so every normalized character maps back to the
 * original string; and the pre-tokenizer patterns of the library's `BertPreTokenizer`.
 */
import type { Normalizer } from '@huggingface/tokenizers';
import type { Json } from './types.js';

/** Punctuation as the library's (and Rust's) BertPreTokenizer defines it: \p{P} plus ASCII symbols. */
const PUNCT = '\\p{P}\\u0021-\\u002F\\u003A-\\u0040\\u005B-\\u0060\\u007B-\\u007E';
export const PRE_TOKENIZER_PATTERNS: Record<string, string> = {
  BertPreTokenizer: `[^\\s${PUNCT}]+|[${PUNCT}]`,
  Whitespace: '\\w+|[^\\w\\s]+',
  WhitespaceSplit: '\\S+',
};
/** Normalizers that work one code point at a time (so alignment is exact). */
const PER_CHAR_NORMALIZERS = new Set(['BertNormalizer', 'Lowercase', 'NFD', 'NFKD', 'StripAccents', 'Sequence']);
const CONTROL = /^(?:\p{Cc}|\p{Cf}|\p{Co}|\p{Cs})$/u;
const WHITESPACE = /^\s$/u;
const MARK_NONSPACING = /\p{Mn}/gu;

/** A function normalizing one code point (`ch` is its string, `cp` its value). */
export type CharNormalizer = (ch: string, cp: number) => string;

/**
 * CJK Unified Ideographs and extensions, as BERT's `_is_chinese_char` (and the Rust crate) define
 * them. Unlike the JS library this is tested on code points, so extension B-F characters split too.
 */
function isChineseChar(cp: number): boolean {
  return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);
}

/** Whether a tokenizer.json normalizer works one code point at a time. */
export function isPerCharNormalizer(n: Json): boolean {
  if (!PER_CHAR_NORMALIZERS.has(n.type)) return false;
  return n.type !== 'Sequence' || (Array.isArray(n.normalizers) && n.normalizers.every((m: Json) => isPerCharNormalizer(m)));
}

/**
 * A function normalizing one code point, following the Rust crate for BertNormalizer; other
 * per-character normalizers go through the library's (`hfNormalizer`).
 */
export function makeCharNormalizer(normalizer: Json | null, hfNormalizer: Normalizer | null): CharNormalizer {
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
  return (ch) => hfNormalizer!.normalize(ch);
}

/** A regex matching any of `contents`, longest first (added tokens), or null when there are none. */
export function alternation(contents: string[]): RegExp | null {
  const list = contents.filter((c) => c.length > 0).sort((a, b) => b.length - a.length);
  if (list.length === 0) return null;
  return new RegExp(list.map((c) => c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
}
