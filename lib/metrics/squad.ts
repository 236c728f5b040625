/**
 * The SQuAD v1.1 metric, as the official evaluation script (evaluate-v1.1.py) computes it:
 * answers are normalised (lower case, ASCII punctuation removed, the articles a/an/the removed,
 * whitespace collapsed); exact match and token F1 of a prediction are each the maximum over the
 * question's gold answers; both are averaged over every question of the dataset (a question without
 * a prediction scores 0) and reported in percent.
 *
 * Python details the script inherits, kept here: `\b` in its article regex is Unicode-aware (a
 * letter such as "é" is a word character, so "éa" keeps its "a"); `str.split()` splits on Python's
 * whitespace set (which includes U+001C..U+001F and U+0085 and excludes U+FEFF, unlike JS `\s`);
 * `string.punctuation` is ASCII only; F1 is 0 when either side normalises to nothing (v1.1, unlike
 * v2.0's script, which scores two empty answers 1).
 */

/** Python's `string.punctuation`. */
const PUNCTUATION = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');
/** The characters for which Python's `str.isspace()` is true. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: Python's whitespace includes U+001C..U+001F
const PY_WHITESPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/u;
/** `\b(a|an|the)\b` with Python 3's Unicode word characters (letters, numbers, underscore). */
const ARTICLES = /(?<![\p{L}\p{N}_])(?:a|an|the)(?![\p{L}\p{N}_])/gu;

/** Python's `str.split()`: runs of whitespace separate, leading and trailing whitespace ignored. */
function pySplit(s: string): string[] {
  return s.split(PY_WHITESPACE).filter((t) => t !== '');
}

/** The official script's `normalize_answer`. */
export function normalizeAnswer(s: string): string {
  let t = '';
  for (const ch of s.toLowerCase()) if (!PUNCTUATION.has(ch)) t += ch;
  return pySplit(t.replace(ARTICLES, ' ')).join(' ');
}

/** 1 when the normalised prediction equals the normalised gold answer, else 0. */
export function squadExactMatch(prediction: string, gold: string): number {
  return normalizeAnswer(prediction) === normalizeAnswer(gold) ? 1 : 0;
}

/** Token F1 between the normalised answers (bag of tokens, counts clipped). */
export function squadF1(prediction: string, gold: string): number {
  const p = pySplit(normalizeAnswer(prediction));
  const g = pySplit(normalizeAnswer(gold));
  const counts = new Map<string, number>();
  for (const t of g) counts.set(t, (counts.get(t) ?? 0) + 1);
  let same = 0;
  for (const t of p) {
    const c = counts.get(t) ?? 0;
    if (c > 0) { same++; counts.set(t, c - 1); }
  }
  if (same === 0) return 0;
  const precision = same / p.length;
  const recall = same / g.length;
  return (2 * precision * recall) / (precision + recall);
}

/** A question to score: its id and the texts of its gold answers. */
export interface SquadGold {
  id: string;
  answers: readonly string[];
}

export interface SquadScores {
  /** Exact match in percent (the script's `exact_match`). */
  exact_match: number;
  /** Token F1 in percent. */
  f1: number;
  /** Questions scored (all of them; unanswered ones count as 0). */
  total: number;
  /** Ids of questions without a prediction. */
  unanswered: string[];
}

/**
 * The official `evaluate(dataset, predictions)`: EM and F1 in percent over every question of `gold`,
 * each the maximum over its gold answers.
 */
export function squadScores(gold: readonly SquadGold[], predictions: ReadonlyMap<string, string> | Readonly<Record<string, string>>): SquadScores {
  const get = predictions instanceof Map ? (id: string) => predictions.get(id) : (id: string) => (Object.hasOwn(predictions, id) ? (predictions as Record<string, string>)[id] : undefined);
  let em = 0;
  let f1 = 0;
  const unanswered: string[] = [];
  for (const q of gold) {
    const p = get(q.id);
    if (p === undefined) { unanswered.push(q.id); continue; }
    em += Math.max(...q.answers.map((a) => squadExactMatch(p, a)));
    f1 += Math.max(...q.answers.map((a) => squadF1(p, a)));
  }
  const total = gold.length;
  return { exact_match: total ? (100 * em) / total : 0, f1: total ? (100 * f1) / total : 0, total, unanswered };
}
