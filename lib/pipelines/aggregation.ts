/**
 * From per-token scores to entities, as Hugging Face's TokenClassificationPipeline does it
 * (transformers/pipelines/token_classification.py): `gather_pre_entities`, `aggregate`,
 * `aggregate_words`, `group_entities`, with the same five strategies.
 *
 * - `none`: one entry per token with its argmax label (`entity`, e.g. `B-PER`), `score`, `index`
 *   (position in the model input, `[CLS]` = 0), `word` (the token, `##` included), `start`/`end`.
 * - `simple`: `none`, then adjacent tokens grouped: a token joins the group before it when its tag
 *   type matches and it is not a `B-` tag. Groups carry `entity_group` (the type), the mean score,
 *   the detokenized `word`, and the character span.
 * - `first` / `average` / `max`: first the subwords of each word are forced to agree (the first
 *   subword's label; the argmax of the averaged scores; the label of the subword with the highest
 *   score), then grouped as in `simple`.
 *
 * Entries whose label (or group type) is in `ignoreLabels` (default `['O']`) are dropped.
 *
 * One deliberate difference: HF names a group by `entity.split("-")[-1]`, which turns WNUT-17's
 * `B-creative-work` into `work`; here the type is the tag without its `B-`/`I-` prefix
 * (`creative-work`), the same thing for every label without an inner hyphen.
 */
import { RootsError, describe } from '../errors.js';

export type AggregationStrategy = 'none' | 'simple' | 'first' | 'average' | 'max';
export const AGGREGATION_STRATEGIES: readonly AggregationStrategy[] = ['none', 'simple', 'first', 'average', 'max'];

/** One token before aggregation (HF's `pre_entity`). */
export interface PreEntity {
  /** The token (`##ing` for a continuation piece; the original text for an unknown token). */
  word: string;
  /** Softmax scores over the labels. */
  scores: ArrayLike<number>;
  start: number;
  end: number;
  /** Position in the model input (`[CLS]` = 0). */
  index: number;
  /** Continues the word of the token before it. */
  isSubword: boolean;
}

/** A token's prediction (`aggregation: 'none'`). */
export interface TokenEntity {
  entity: string;
  score: number;
  index: number;
  word: string;
  start: number;
  end: number;
}

/** An entity (`aggregation: 'simple' | 'first' | 'average' | 'max'`). */
export interface EntityGroup {
  entity_group: string;
  score: number;
  word: string;
  start: number;
  end: number;
}

export type NerEntity = TokenEntity | EntityGroup;

export interface AggregateOptions {
  /** Labels to drop (default `['O']`). */
  ignoreLabels?: readonly string[];
  /** Tokens to text (default: the WordPiece decoder, as HF's `convert_tokens_to_string`). */
  tokensToString?: (tokens: readonly string[]) => string;
}

/** Softmax of each row of a row-major `[rows * width]` array (max-shifted, as HF does). */
export function softmaxRows(values: ArrayLike<number>, width: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r + width <= values.length; r += width) {
    let max = -Infinity;
    for (let c = 0; c < width; c++) if (values[r + c] > max) max = values[r + c];
    let sum = 0;
    for (let c = 0; c < width; c++) { const e = Math.exp(values[r + c] - max); out[r + c] = e; sum += e; }
    for (let c = 0; c < width; c++) out[r + c] /= sum;
  }
  return out;
}

/** The index of the largest value (the first one on ties, as numpy's argmax). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best] || (Number.isNaN(values[best]) && !Number.isNaN(values[i]))) best = i;
  return best;
}

function maxOf(values: ArrayLike<number>): number {
  return values[argmax(values)];
}

/**
 * HF's WordPiece decoder (`convert_tokens_to_string` of BERT tokenizers): `##` pieces join the
 * token before, others get a space, and the cleanup removes the space before `.`, `?`, `!`, `,`
 * and in English contractions.
 */
export function wordPieceTokensToString(tokens: readonly string[], prefix = '##', cleanup = true): string {
  return tokens.map((token, i) => {
    let t = token;
    if (i !== 0) t = t.startsWith(prefix) ? t.slice(prefix.length) : ` ${t}`;
    if (cleanup) {
      t = t.replaceAll(' .', '.').replaceAll(' ?', '?').replaceAll(' !', '!').replaceAll(' ,', ',').replaceAll(" ' ", "'")
        .replaceAll(" n't", "n't").replaceAll(" 'm", "'m").replaceAll(' do not', " don't").replaceAll(" 's", "'s")
        .replaceAll(" 've", "'ve").replaceAll(" 're", "'re");
    }
    return t;
  }).join('');
}

/** HF's `get_tag`: `B-X` → [B, X], `I-X` → [I, X], anything else → [I, itself]. */
export function getTag(label: string): [string, string] {
  if (label.startsWith('B-')) return ['B', label.slice(2)];
  if (label.startsWith('I-')) return ['I', label.slice(2)];
  return ['I', label];
}

interface Scored { entity: string; score: number; word: string; start: number; end: number; index?: number }

function checkStrategy(strategy: unknown): AggregationStrategy {
  if (typeof strategy !== 'string' || !AGGREGATION_STRATEGIES.includes(strategy as AggregationStrategy)) {
    throw new RootsError('ERR_INVALID_ARG', `Expected aggregation strategy ${AGGREGATION_STRATEGIES.map((s) => `'${s}'`).join(', ')} but received ${describe(strategy)}`);
  }
  return strategy as AggregationStrategy;
}

/** HF's `aggregate_word`: one entry for the tokens of one word. */
function aggregateWord(tokens: readonly PreEntity[], strategy: AggregationStrategy, labels: readonly string[], toText: (t: readonly string[]) => string): Scored {
  const word = toText(tokens.map((t) => t.word));
  let id: number;
  let score: number;
  if (strategy === 'first') {
    id = argmax(tokens[0].scores);
    score = tokens[0].scores[id];
  } else if (strategy === 'max') {
    let best = tokens[0];
    for (const t of tokens) if (maxOf(t.scores) > maxOf(best.scores)) best = t;
    id = argmax(best.scores);
    score = best.scores[id];
  } else {
    const width = tokens[0].scores.length;
    const avg = new Float64Array(width);
    for (let c = 0; c < width; c++) {
      let sum = 0;
      let n = 0;
      for (const t of tokens) if (!Number.isNaN(t.scores[c])) { sum += t.scores[c]; n++; }
      avg[c] = n ? sum / n : NaN;
    }
    id = argmax(avg);
    score = avg[id];
  }
  return { entity: labels[id], score, word, start: tokens[0].start, end: tokens[tokens.length - 1].end };
}

/** HF's `group_sub_entities`: a run of entries as one entity. */
function groupSub(entries: readonly Scored[], toText: (t: readonly string[]) => string): EntityGroup {
  const scores = entries.map((e) => e.score).filter((s) => !Number.isNaN(s));
  return {
    entity_group: getTag(entries[0].entity)[1],
    score: scores.length ? scores.reduce((a, b) => a + b, 0) / scores.length : NaN,
    word: toText(entries.map((e) => e.word)),
    start: entries[0].start,
    end: entries[entries.length - 1].end,
  };
}

/** HF's `group_entities`: adjacent entries of the same type, a `B-` starting a new one. */
export function groupEntities(entries: readonly Scored[], toText: (t: readonly string[]) => string = wordPieceTokensToString): EntityGroup[] {
  const groups: EntityGroup[] = [];
  let current: Scored[] = [];
  for (const e of entries) {
    if (current.length === 0) { current.push(e); continue; }
    const [bi, tag] = getTag(e.entity);
    const [, lastTag] = getTag(current[current.length - 1].entity);
    if (tag === lastTag && bi !== 'B') current.push(e);
    else { groups.push(groupSub(current, toText)); current = [e]; }
  }
  if (current.length) groups.push(groupSub(current, toText));
  return groups;
}

/**
 * Entities of one text from its tokens (HF's `aggregate` + the `ignore_labels` filter).
 * `labels[i]` is the name of score column i (the model's id2label).
 */
export function aggregateEntities(preEntities: readonly PreEntity[], strategy: AggregationStrategy, labels: readonly string[], options: AggregateOptions = {}): NerEntity[] {
  checkStrategy(strategy);
  const ignore = new Set(options.ignoreLabels ?? ['O']);
  const toText = options.tokensToString ?? ((t: readonly string[]) => wordPieceTokensToString(t));
  if (preEntities.length === 0) return [];
  let entries: Scored[];
  if (strategy === 'none' || strategy === 'simple') {
    entries = preEntities.map((p) => {
      const id = argmax(p.scores);
      return { entity: labels[id], score: p.scores[id], index: p.index, word: p.word, start: p.start, end: p.end };
    });
  } else {
    entries = [];
    let word: PreEntity[] = [];
    for (const p of preEntities) {
      if (word.length === 0 || p.isSubword) word.push(p);
      else { entries.push(aggregateWord(word, strategy, labels, toText)); word = [p]; }
    }
    entries.push(aggregateWord(word, strategy, labels, toText));
  }
  if (strategy === 'none') {
    return entries.filter((e) => !ignore.has(e.entity)).map((e) => ({ entity: e.entity, score: e.score, index: e.index!, word: e.word, start: e.start, end: e.end }));
  }
  return groupEntities(entries, toText).filter((g) => !ignore.has(g.entity_group));
}

export { checkStrategy as parseAggregation };
