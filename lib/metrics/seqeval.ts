/**
 * Entity-level metrics for sequence labelling (NER, chunking), compatible with Python's
 * seqeval 1.2 and with conlleval.pl.
 *
 * Two ways to turn tags into entities:
 *
 * - **Default** (no `scheme`): seqeval's `get_entities`, the conlleval chunking. Lenient: a tag's
 *   first character is its prefix (`B`, `I`, `E`, `S`, `O`, …) and the rest after the first `-`
 *   its type; an `I-` after `O` or after another type starts a chunk; `B-`/`I-`/`E-`/`S-` (IOB1,
 *   IOB2, IOE, IOBES) are all understood. A tag without a `-` is split the way seqeval splits it
 *   (`'PER'` has prefix `P` and type `ER`; a bare `'B'` has type `_`).
 * - **Strict** (`scheme` given): seqeval's `mode='strict'` with a scheme class (IOB1, IOB2, IOE1,
 *   IOE2, IOBES, BILOU). Only well-formed tag runs form entities (in IOB2, `I-PER` after `O` is
 *   not an entity; in IOBES, `B-PER I-PER` without `E-PER` is not one); a tag whose prefix the
 *   scheme does not allow is an error.
 *
 * Entities are `{ type, start, end }` with `end` exclusive. Scores follow seqeval: precision,
 * recall and F1 per type (zero division yields 0), micro, macro and support-weighted averages,
 * and token accuracy (all tokens, `O` included).
 */
import { RootsError, describe } from '../errors.js';
import type { ReportRow, MetricScores } from './classification.js';
import { checkDigits, compareCodePoints, renderReport } from './report-text.js';
import {
  SCHEME_TABLES, lenientEntities, parseLenient, parseStrict, strictEntities, type StrictTag,
} from './entity-decoders.js';

/** A tagging scheme for strict entity extraction. */
export type TaggingScheme = 'IOB1' | 'IOB2' | 'IOE1' | 'IOE2' | 'IOBES' | 'BILOU';

/** All supported schemes. */
export const TAGGING_SCHEMES: readonly TaggingScheme[] = Object.freeze(['IOB1', 'IOB2', 'IOE1', 'IOE2', 'IOBES', 'BILOU'] as const);

/** An entity (chunk): its type and token span `[start, end)` within its sentence. */
export interface EntitySpan {
  type: string;
  start: number;
  /** One past the last token. */
  end: number;
}

/** An entity located in a corpus: the sentence index and the entity in it. */
export interface CorpusEntitySpan extends EntitySpan {
  sentence: number;
}

/** How tags are read. */
export interface EntityOptions {
  /** Strict mode with this scheme (name, case-insensitive); default: the lenient conlleval chunking. */
  scheme?: TaggingScheme | Lowercase<TaggingScheme>;
  /** Tags carry the prefix at the end (`PER-B`) instead of the start (`B-PER`). Default false. */
  suffix?: boolean;
}

/** Scores of one entity type. */
export interface EntityTypeScores extends MetricScores {
  type: string;
  /** Number of predicted entities of this type. */
  predicted: number;
  /** Number of predicted entities of this type that match a gold entity exactly. */
  correct: number;
}

/** Entity-level and token-level scores of a tagged corpus. */
export interface EntityScores {
  mode: 'default' | 'strict';
  scheme: TaggingScheme | null;
  /** Per entity type, sorted by type name (types seen in gold or predictions). */
  types: EntityTypeScores[];
  micro: MetricScores;
  macro: MetricScores;
  weighted: MetricScores;
  /** Number of gold entities. */
  gold: number;
  /** Number of predicted entities. */
  predicted: number;
  /** Number of predicted entities that match a gold entity (type and span). */
  correct: number;
  /** Number of tokens. */
  tokens: number;
  /** Number of tokens whose predicted tag equals the gold tag. */
  correctTokens: number;
  /** `correctTokens / tokens` (0 for no tokens). */
  accuracy: number;
}

/** Options of {@link classificationReport}. */
export interface EntityReportOptions extends EntityOptions {
  /** Digits after the decimal point (default 2). */
  digits?: number;
}

/** seqeval's `classification_report`: the text and the numbers in it. */
export interface EntityReport {
  /** Per entity type, sorted by name; `support` is the number of gold entities. */
  labels: ReportRow[];
  micro: MetricScores;
  macro: MetricScores;
  weighted: MetricScores;
  /** Token accuracy (not in seqeval's table; given alongside). */
  accuracy: number;
  /** The table as seqeval prints it (ends with a newline). */
  text: string;
}

/**
 * Resolves a scheme name, case-insensitively.
 * @throws RootsError ERR_INVALID_ARG naming the supported schemes.
 */
export function parseScheme(name: string): TaggingScheme {
  const upper = typeof name === 'string' ? name.toUpperCase() : '';
  const found = TAGGING_SCHEMES.find((s) => s === upper);
  if (!found) {
    throw new RootsError('ERR_INVALID_ARG', `Unknown tagging scheme ${describe(name)}: expected one of ${TAGGING_SCHEMES.join(', ')}`);
  }
  return found;
}

/**
 * Checks one tag against the options: `null` when it can be read, else why not (for messages).
 * In default mode any non-empty string can be read; in strict mode its prefix must be allowed by
 * the scheme.
 */
export function checkTag(tag: string, options: EntityOptions = {}): string | null {
  if (typeof tag !== 'string' || tag.length === 0) return 'a tag must be a non-empty string';
  if (options.scheme === undefined) return null;
  const name = parseScheme(options.scheme);
  const tables = SCHEME_TABLES[name];
  if (parseStrict(tag, options.suffix === true, tables) !== null) return null;
  return `scheme ${name} allows the ${options.suffix ? 'suffixes' : 'prefixes'} ${tables.allowed.join(', ')}`;
}

// ---------------------------------------------------------------------------------------------
// Tag readers with per-call caches
// ---------------------------------------------------------------------------------------------

type SentenceReader = (tags: readonly string[], sentence: number, name: string, out: EntitySpan[]) => void;

function badTag(name: string, sentence: number, index: number, value: unknown): never {
  throw new RootsError('ERR_INVALID_ARG',
    `Expected a non-empty string tag at ${name}[${sentence}][${index}] but received ${describe(value)}`);
}

/** Builds a function that extracts the entities of one sentence, caching parsed tags. */
function makeReader(options: EntityOptions): { read: SentenceReader; scheme: TaggingScheme | null } {
  const suffix = options.suffix === true;
  if (options.suffix !== undefined && typeof options.suffix !== 'boolean') {
    throw new RootsError('ERR_INVALID_ARG', `Expected a boolean for suffix but received ${describe(options.suffix)}`);
  }
  if (options.scheme === undefined) {
    return { read: cachedReader((tag) => parseLenient(tag, suffix), lenientEntities), scheme: null };
  }
  const schemeName = parseScheme(options.scheme);
  const tables = SCHEME_TABLES[schemeName];
  const parse = (tag: string, sentence: number, name: string, k: number): StrictTag => {
    const q = parseStrict(tag, suffix, tables);
    if (q === null) {
      throw new RootsError('ERR_INVALID_ARG',
        `Invalid tag ${describe(tag)} at ${name}[${sentence}][${k}] for scheme ${schemeName}: ` +
        `the ${suffix ? 'suffix' : 'prefix'} must be one of ${tables.allowed.join(', ')}`);
    }
    return q;
  };
  return { read: cachedReader(parse, (parsed, n, out) => strictEntities(parsed, n, tables, out)), scheme: schemeName };
}

/**
 * A sentence reader that parses each distinct tag string once (a corpus has a few dozen) into a
 * reused buffer, then hands the parsed sentence to `extract`.
 */
function cachedReader<T>(
  parse: (tag: string, sentence: number, name: string, k: number) => T,
  extract: (parsed: T[], length: number, out: EntitySpan[]) => void,
): SentenceReader {
  const cache = new Map<string, T>();
  let buf: T[] = [];
  return (tags, sentence, name, out) => {
    if (buf.length < tags.length) buf = new Array<T>(tags.length);
    for (let k = 0; k < tags.length; k++) {
      const tag = tags[k];
      let p = cache.get(tag as string);
      if (p === undefined) {
        if (typeof tag !== 'string' || tag.length === 0) badTag(name, sentence, k, tag);
        p = parse(tag, sentence, name, k);
        cache.set(tag, p);
      }
      buf[k] = p;
    }
    extract(buf, tags.length, out);
  };
}

// ---------------------------------------------------------------------------------------------
// Public extraction API
// ---------------------------------------------------------------------------------------------

/**
 * The entities of one tag sequence.
 *
 * @example
 * getEntities(['B-PER', 'I-PER', 'O', 'B-LOC'])          // [{type:'PER',start:0,end:2}, {type:'LOC',start:3,end:4}]
 * getEntities(['O', 'I-PER', 'I-PER'])                   // [{type:'PER',start:1,end:3}]  (lenient)
 * getEntities(['O', 'I-PER', 'I-PER'], { scheme: 'IOB2' }) // []  (strict: an entity must start with B-)
 * @throws RootsError ERR_INVALID_ARG for a non-string or empty tag, an unknown scheme, or (strict
 *   mode) a tag whose prefix the scheme does not allow.
 */
export function getEntities(tags: readonly string[], options: EntityOptions = {}): EntitySpan[] {
  if (!Array.isArray(tags)) throw new RootsError('ERR_INVALID_ARG', `Expected an array of tags but received ${describe(tags)}`);
  const { read } = makeReader(options);
  const out: EntitySpan[] = [];
  read(tags, 0, 'tags', out);
  return out;
}

/** The entities of every sentence of a corpus, each with its sentence index. */
export function extractEntities(sentences: readonly (readonly string[])[], options: EntityOptions = {}): CorpusEntitySpan[] {
  checkCorpus('sentences', sentences);
  const { read } = makeReader(options);
  const out: CorpusEntitySpan[] = [];
  const tmp: EntitySpan[] = [];
  sentences.forEach((tags, s) => {
    tmp.length = 0;
    read(tags, s, 'sentences', tmp);
    for (const e of tmp) out.push({ sentence: s, ...e });
  });
  return out;
}

function checkCorpus(name: string, corpus: unknown): asserts corpus is readonly (readonly string[])[] {
  if (!Array.isArray(corpus)) throw new RootsError('ERR_INVALID_ARG', `Expected an array of tag arrays for ${name} but received ${describe(corpus)}`);
  for (let i = 0; i < corpus.length; i++) {
    if (!Array.isArray(corpus[i])) {
      throw new RootsError('ERR_INVALID_ARG', `Expected an array of tags for ${name}[${i}] but received ${describe(corpus[i])}`);
    }
  }
}

/** Checks that gold and predicted corpora have the same shape. */
function checkShapes(yTrue: unknown, yPred: unknown): asserts yTrue is readonly (readonly string[])[] {
  checkCorpus('yTrue', yTrue);
  checkCorpus('yPred', yPred);
  const t = yTrue as readonly (readonly string[])[], p = yPred as readonly (readonly string[])[];
  if (t.length !== p.length) {
    throw new RootsError('ERR_INVALID_ARG', `Expected yTrue and yPred to have the same number of sentences but yTrue has ${t.length} and yPred has ${p.length}`);
  }
  for (let i = 0; i < t.length; i++) {
    if (t[i]!.length !== p[i]!.length) {
      throw new RootsError('ERR_INVALID_ARG', `Expected sentence ${i} to have as many predicted tags as gold tags but yTrue[${i}] has ${t[i]!.length} and yPred[${i}] has ${p[i]!.length}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Scoring
// ---------------------------------------------------------------------------------------------

interface TypeCounts { gold: number; predicted: number; correct: number }

function isStrictlyIncreasing(es: readonly EntitySpan[]): boolean {
  for (let k = 1; k < es.length; k++) if (es[k]!.start <= es[k - 1]!.start) return false;
  return true;
}

function counts(map: Map<string, TypeCounts>, type: string): TypeCounts {
  let c = map.get(type);
  if (c === undefined) { c = { gold: 0, predicted: 0, correct: 0 }; map.set(type, c); }
  return c;
}

/**
 * Adds one sentence's gold and predicted entities to the per-type counts. Entities are compared
 * as sets of (type, start, end), as seqeval does.
 */
function tally(gold: readonly EntitySpan[], pred: readonly EntitySpan[], map: Map<string, TypeCounts>): void {
  if (isStrictlyIncreasing(gold) && isStrictlyIncreasing(pred)) {
    // The usual case: spans do not share starts, so a merge by start finds the matches.
    for (const e of gold) counts(map, e.type).gold++;
    for (const e of pred) counts(map, e.type).predicted++;
    let a = 0, b = 0;
    while (a < gold.length && b < pred.length) {
      const g = gold[a]!, p = pred[b]!;
      if (g.start < p.start) a++;
      else if (g.start > p.start) b++;
      else {
        if (g.end === p.end && g.type === p.type) counts(map, g.type).correct++;
        a++; b++;
      }
    }
    return;
  }
  // Unusual tags can make the lenient reader emit overlapping chunks: compare as sets.
  const key = (e: EntitySpan) => `${e.start}\u0000${e.end}\u0000${e.type}`;
  const goldKeys = new Set<string>();
  for (const e of gold) { const k = key(e); if (!goldKeys.has(k)) { goldKeys.add(k); counts(map, e.type).gold++; } }
  const predKeys = new Set<string>();
  for (const e of pred) {
    const k = key(e);
    if (predKeys.has(k)) continue;
    predKeys.add(k);
    const c = counts(map, e.type);
    c.predicted++;
    if (goldKeys.has(k)) c.correct++;
  }
}

/** seqeval's precision, recall and F1 from counts (F1 as 2PR/(P+R); 0 on zero division). */
function seqevalScores(correct: number, predicted: number, gold: number): MetricScores {
  const precision = predicted === 0 ? 0 : correct / predicted;
  const recall = gold === 0 ? 0 : correct / gold;
  const denom = precision + recall;
  return { precision, recall, f1: denom === 0 ? 0 : (2 * precision * recall) / denom, support: gold };
}

/**
 * Entity-level precision, recall and F1 per type with micro, macro and weighted averages, and
 * token accuracy, for gold and predicted tag sequences of the same shape. seqeval's
 * `precision_recall_fscore_support` (and `accuracy_score`), with `zero_division=0`.
 *
 * @example
 * const yTrue = [['O', 'O', 'O', 'B-MISC', 'I-MISC', 'I-MISC', 'O'], ['B-PER', 'I-PER', 'O']];
 * const yPred = [['O', 'O', 'B-MISC', 'I-MISC', 'I-MISC', 'I-MISC', 'O'], ['B-PER', 'I-PER', 'O']];
 * entityScores(yTrue, yPred).micro.f1 // 0.5
 * @throws RootsError ERR_INVALID_ARG when the shapes differ (sentence count, or tag count within a
 *   sentence), a tag is not a non-empty string, or (strict mode) a tag does not fit the scheme.
 */
export function entityScores(
  yTrue: readonly (readonly string[])[], yPred: readonly (readonly string[])[], options: EntityOptions = {},
): EntityScores {
  checkShapes(yTrue, yPred);
  const { read, scheme: schemeName } = makeReader(options);
  const map = new Map<string, TypeCounts>();
  const goldEntities: EntitySpan[] = [];
  const predEntities: EntitySpan[] = [];
  let tokens = 0, correctTokens = 0;
  for (let s = 0; s < yTrue.length; s++) {
    const t = yTrue[s]!, p = yPred[s]!;
    goldEntities.length = 0;
    predEntities.length = 0;
    read(t, s, 'yTrue', goldEntities);
    read(p, s, 'yPred', predEntities);
    tally(goldEntities, predEntities, map);
    tokens += t.length;
    for (let k = 0; k < t.length; k++) if (t[k] === p[k]) correctTokens++;
  }
  return summarize(map, tokens, correctTokens, schemeName);
}

function summarize(map: Map<string, TypeCounts>, tokens: number, correctTokens: number, schemeName: TaggingScheme | null): EntityScores {
  const names = [...map.keys()].sort(compareCodePoints);
  const types: EntityTypeScores[] = [];
  let gold = 0, predicted = 0, correct = 0;
  for (const type of names) {
    const c = map.get(type)!;
    gold += c.gold; predicted += c.predicted; correct += c.correct;
    types.push({ type, ...seqevalScores(c.correct, c.predicted, c.gold), predicted: c.predicted, correct: c.correct });
  }
  let mp = 0, mr = 0, mf = 0, wp = 0, wr = 0, wf = 0;
  for (const t of types) {
    mp += t.precision; mr += t.recall; mf += t.f1;
    wp += t.precision * t.support; wr += t.recall * t.support; wf += t.f1 * t.support;
  }
  const n = types.length;
  const macro: MetricScores = n === 0
    ? { precision: 0, recall: 0, f1: 0, support: 0 }
    : { precision: mp / n, recall: mr / n, f1: mf / n, support: gold };
  // seqeval: with no gold entities the weighted average is 0 (zero_division=0).
  const weighted: MetricScores = gold === 0
    ? { precision: 0, recall: 0, f1: 0, support: 0 }
    : { precision: wp / gold, recall: wr / gold, f1: wf / gold, support: gold };
  return {
    mode: schemeName === null ? 'default' : 'strict',
    scheme: schemeName,
    types,
    micro: seqevalScores(correct, predicted, gold),
    macro,
    weighted,
    gold,
    predicted,
    correct,
    tokens,
    correctTokens,
    accuracy: tokens === 0 ? 0 : correctTokens / tokens,
  };
}

/**
 * Averaged entity-level F1 (seqeval's `f1_score`; default average `'micro'`).
 */
export function entityF1Score(
  yTrue: readonly (readonly string[])[], yPred: readonly (readonly string[])[],
  options: EntityOptions & { average?: 'micro' | 'macro' | 'weighted' } = {},
): number {
  const average = options.average ?? 'micro';
  if (average !== 'micro' && average !== 'macro' && average !== 'weighted') {
    throw new RootsError('ERR_INVALID_ARG', `Expected "micro", "macro" or "weighted" for average but received ${describe(average)}`);
  }
  return entityScores(yTrue, yPred, options)[average].f1;
}

/**
 * Token accuracy over all tokens, `O` included (seqeval's `accuracy_score`, conlleval's accuracy).
 * @throws RootsError ERR_INVALID_ARG when the shapes differ.
 */
export function tokenAccuracy(yTrue: readonly (readonly string[])[], yPred: readonly (readonly string[])[]): number {
  checkShapes(yTrue, yPred);
  let n = 0, ok = 0;
  for (let s = 0; s < yTrue.length; s++) {
    const t = yTrue[s]!, p = yPred[s]!;
    n += t.length;
    for (let k = 0; k < t.length; k++) if (t[k] === p[k]) ok++;
  }
  return n === 0 ? 0 : ok / n;
}

/**
 * seqeval's `classification_report`: per entity type (sorted by name) precision, recall,
 * f1-score and support (gold entities), then `micro avg`, `macro avg` and `weighted avg`.
 * Returns the text and the same numbers as data.
 *
 * @example
 * console.log(classificationReport(yTrue, yPred).text);
 * //               precision    recall  f1-score   support
 * //
 * //         MISC       0.00      0.00      0.00         1
 * //          PER       1.00      1.00      1.00         1
 * //
 * //    micro avg       0.50      0.50      0.50         2
 * //    macro avg       0.50      0.50      0.50         2
 * // weighted avg       0.50      0.50      0.50         2
 */
export function classificationReport(
  yTrue: readonly (readonly string[])[], yPred: readonly (readonly string[])[], options: EntityReportOptions = {},
): EntityReport {
  const digits = checkDigits(options.digits ?? 2);
  const scores = entityScores(yTrue, yPred, options);
  return reportFromScores(scores, digits);
}

/** Renders an {@link EntityReport} from already computed scores. */
export function reportFromScores(scores: EntityScores, digits = 2): EntityReport {
  checkDigits(digits);
  const labels: ReportRow[] = scores.types.map((t) => ({
    label: t.type, precision: t.precision, recall: t.recall, f1: t.f1, support: t.support,
  }));
  const text = renderReport(labels, [
    { label: 'micro avg', scores: scores.micro },
    { label: 'macro avg', scores: scores.macro },
    { label: 'weighted avg', scores: scores.weighted },
  ], digits);
  return { labels, micro: scores.micro, macro: scores.macro, weighted: scores.weighted, accuracy: scores.accuracy, text };
}
