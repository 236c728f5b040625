/**
 * A small WordPiece vocabulary from a corpus, for models trained from scratch (the demo, tests).
 * Not a full WordPiece trainer: special tokens, every character (alone and as `##c`), the words
 * seen at least `minFrequency` times, then the most frequent word-initial and `##` pieces of the
 * rest, up to `size` entries. Rare words (the generated names) split into pieces, which is what the
 * pipeline's aggregation strategies are for.
 */
export interface VocabOptions {
  /** Largest vocabulary (default 2000). */
  size?: number;
  /** Words seen this often become whole tokens (default 3). */
  minFrequency?: number;
  /** Lowercase everything (an uncased vocabulary). Default false. */
  lowercase?: boolean;
}

export const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;

/** Splits a word the way BERT's pre-tokenizer would (punctuation apart). */
function pieces(word: string): string[] {
  return word.match(/[\p{L}\p{N}]+|[^\p{L}\p{N}\s]/gu) ?? [];
}

export function buildVocab(sentences: Iterable<readonly string[]>, options: VocabOptions = {}): string[] {
  const size = options.size ?? 2000;
  const minFrequency = options.minFrequency ?? 3;
  const words = new Map<string, number>();
  for (const s of sentences) {
    for (const raw of s) {
      for (const w of pieces(options.lowercase ? raw.toLowerCase() : raw)) words.set(w, (words.get(w) ?? 0) + 1);
    }
  }
  const vocab: string[] = [...SPECIAL_TOKENS];
  const seen = new Set<string>(vocab);
  const add = (t: string): void => { if (!seen.has(t) && vocab.length < size) { seen.add(t); vocab.push(t); } };
  const chars = new Set<string>();
  for (const w of words.keys()) for (const c of w) chars.add(c);
  for (const c of [...chars].sort()) { add(c); add(`##${c}`); }
  const byCount = [...words.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  for (const [w, n] of byCount) if (n >= minFrequency) add(w);
  // Pieces of the rare words: prefixes and ## suffixes of 2-4 characters, most frequent first.
  const counts = new Map<string, number>();
  for (const [w, n] of byCount) {
    if (n >= minFrequency || w.length < 3) continue;
    for (let len = 2; len <= 4 && len < w.length; len++) {
      counts.set(w.slice(0, len), (counts.get(w.slice(0, len)) ?? 0) + n);
      for (let i = 1; i + len <= w.length; i++) {
        const p = `##${w.slice(i, i + len)}`;
        counts.set(p, (counts.get(p) ?? 0) + n);
      }
    }
  }
  for (const [p] of [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))) add(p);
  return vocab;
}
