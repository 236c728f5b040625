/**
 * Tags to entities, seqeval's two ways: the default (lenient) mode of `get_entities` and
 * conlleval's chunk rules, and the strict mode of seqeval's scheme classes, as transition tables
 * per scheme. seqeval.ts reads tags through these and scores the entities.
 */
import type { EntitySpan, TaggingScheme } from './seqeval.js';

// ---------------------------------------------------------------------------------------------
// Default mode: seqeval's get_entities / conlleval's startOfChunk and endOfChunk
// ---------------------------------------------------------------------------------------------

export interface LenientTag { prefix: string; type: string }

const OUTSIDE: LenientTag = { prefix: 'O', type: '_' };

/** The first code point of `s` and the rest (Python's `s[0]`, `s[1:]`). */
function splitFirst(s: string): [string, string] {
  const cp = s.codePointAt(0)!;
  const n = cp > 0xffff ? 2 : 1;
  return [s.slice(0, n), s.slice(n)];
}

/** The last code point of `s` and the rest (Python's `s[-1]`, `s[:-1]`). */
function splitLast(s: string): [string, string] {
  const last = s.charCodeAt(s.length - 1);
  const n = last >= 0xdc00 && last <= 0xdfff && s.length >= 2 ? 2 : 1;
  return [s.slice(s.length - n), s.slice(0, s.length - n)];
}

/** Splits a tag as seqeval's `get_entities` does. */
export function parseLenient(tag: string, suffix: boolean): LenientTag {
  if (suffix) {
    const [prefix, rest] = splitLast(tag);
    const dash = rest.lastIndexOf('-');
    return { prefix, type: (dash < 0 ? rest : rest.slice(0, dash)) || '_' };
  }
  const [prefix, rest] = splitFirst(tag);
  const dash = rest.indexOf('-');
  return { prefix, type: (dash < 0 ? rest : rest.slice(dash + 1)) || '_' };
}

function endOfChunk(prevTag: string, tag: string, prevType: string, type: string): boolean {
  if (prevTag === 'E' || prevTag === 'S') return true;
  if ((prevTag === 'B' || prevTag === 'I') && (tag === 'B' || tag === 'S' || tag === 'O')) return true;
  return prevTag !== 'O' && prevTag !== '.' && prevType !== type;
}

function startOfChunk(prevTag: string, tag: string, prevType: string, type: string): boolean {
  if (tag === 'B' || tag === 'S') return true;
  if ((prevTag === 'E' || prevTag === 'S' || prevTag === 'O') && (tag === 'E' || tag === 'I')) return true;
  return tag !== 'O' && tag !== '.' && prevType !== type;
}

/**
 * Entities of one sentence (the first `n` parsed tags) in default mode. Each sentence is read as
 * if preceded and followed by `O` (seqeval flattens sentences with an `O` after each). Unlike
 * seqeval, the very first sentence also starts after an `O` of type `_` (seqeval uses an empty
 * type there), which only matters for bare tags whose prefix is not B/I/E/S/O.
 */
export function lenientEntities(tags: readonly LenientTag[], n: number, out: EntitySpan[]): void {
  let prevTag = 'O', prevType = '_', begin = 0;
  for (let i = 0; i <= n; i++) {
    const t = i < n ? tags[i]! : OUTSIDE;
    if (endOfChunk(prevTag, t.prefix, prevType, t.type)) out.push({ type: prevType, start: begin, end: i });
    if (startOfChunk(prevTag, t.prefix, prevType, t.type)) begin = i;
    prevTag = t.prefix;
    prevType = t.type;
  }
}

// ---------------------------------------------------------------------------------------------
// Strict mode: seqeval's scheme classes and Tokens.entities
// ---------------------------------------------------------------------------------------------

const PREFIXES = ['I', 'O', 'B', 'E', 'S', 'U', 'L'] as const;
type Prefix = (typeof PREFIXES)[number];
const P_INDEX: Record<string, number> = { I: 0, O: 1, B: 2, E: 3, S: 4, U: 5, L: 6 };
const NP = PREFIXES.length;
const SAME = 1, DIFF = 2, ANY = 3;

type Pattern = readonly [prev: Prefix | '*', cur: Prefix | '*', cond: number];

export interface SchemeTables {
  allowed: readonly Prefix[];
  /** `table[prev * NP + cur]`: bit SAME and/or DIFF when the pattern matches for that tag relation. */
  start: Uint8Array;
  inside: Uint8Array;
  end: Uint8Array;
}

function table(patterns: readonly Pattern[]): Uint8Array {
  const t = new Uint8Array(NP * NP);
  for (const [prev, cur, cond] of patterns) {
    for (let p = 0; p < NP; p++) {
      if (prev !== '*' && P_INDEX[prev] !== p) continue;
      for (let c = 0; c < NP; c++) {
        if (cur !== '*' && P_INDEX[cur] !== c) continue;
        t[p * NP + c]! |= cond;
      }
    }
  }
  return t;
}

function scheme(allowed: readonly Prefix[], start: Pattern[], inside: Pattern[], end: Pattern[]): SchemeTables {
  return { allowed, start: table(start), inside: table(inside), end: table(end) };
}

/** seqeval's pattern sets (seqeval/scheme.py), as (previous prefix, current prefix, type relation). */
export const SCHEME_TABLES: Record<TaggingScheme, SchemeTables> = {
  IOB1: scheme(['I', 'O', 'B'],
    [['O', 'I', ANY], ['I', 'I', DIFF], ['B', 'I', ANY], ['I', 'B', SAME], ['B', 'B', SAME]],
    [['B', 'I', SAME], ['I', 'I', SAME]],
    [['I', 'I', DIFF], ['I', 'O', ANY], ['I', 'B', ANY], ['B', 'O', ANY], ['B', 'I', DIFF], ['B', 'B', SAME]]),
  IOE1: scheme(['I', 'O', 'E'],
    [['O', 'I', ANY], ['I', 'I', DIFF], ['E', 'I', ANY], ['E', 'E', SAME]],
    [['I', 'I', SAME], ['I', 'E', SAME]],
    [['I', 'I', DIFF], ['I', 'O', ANY], ['I', 'E', DIFF], ['E', 'I', SAME], ['E', 'E', SAME]]),
  IOB2: scheme(['I', 'O', 'B'],
    [['*', 'B', ANY]],
    [['B', 'I', SAME], ['I', 'I', SAME]],
    [['I', 'O', ANY], ['I', 'I', DIFF], ['I', 'B', ANY], ['B', 'O', ANY], ['B', 'I', DIFF], ['B', 'B', ANY]]),
  IOE2: scheme(['I', 'O', 'E'],
    [['O', 'I', ANY], ['O', 'E', ANY], ['E', 'I', ANY], ['E', 'E', ANY], ['I', 'I', DIFF], ['I', 'E', DIFF]],
    [['I', 'E', SAME], ['I', 'I', SAME]],
    [['E', '*', ANY]]),
  IOBES: scheme(['I', 'O', 'B', 'E', 'S'],
    [['*', 'B', ANY], ['*', 'S', ANY]],
    [['B', 'I', SAME], ['B', 'E', SAME], ['I', 'I', SAME], ['I', 'E', SAME]],
    [['S', '*', ANY], ['E', '*', ANY]]),
  BILOU: scheme(['B', 'I', 'L', 'O', 'U'],
    [['*', 'B', ANY], ['*', 'U', ANY]],
    [['B', 'I', SAME], ['B', 'L', SAME], ['I', 'I', SAME], ['I', 'L', SAME]],
    [['U', '*', ANY], ['L', '*', ANY]]),
};

export interface StrictTag { prefix: number; type: string }

const STRICT_OUTSIDE: StrictTag = { prefix: P_INDEX.O!, type: '_' };

/** Strips every leading and trailing `-` (Python's `str.strip('-')`). */
function stripDashes(s: string): string {
  let a = 0, b = s.length;
  while (a < b && s.charCodeAt(a) === 45) a++;
  while (b > a && s.charCodeAt(b - 1) === 45) b--;
  return s.slice(a, b);
}

/** Splits a tag as seqeval's `Token` does; `null` when the scheme does not allow its prefix. */
export function parseStrict(tag: string, suffix: boolean, tables: SchemeTables): StrictTag | null {
  const [prefix, rest] = suffix ? splitLast(tag) : splitFirst(tag);
  if (!(tables.allowed as readonly string[]).includes(prefix)) return null;
  return { prefix: P_INDEX[prefix]!, type: stripDashes(rest) || '_' };
}

function matches(t: Uint8Array, prev: StrictTag, cur: StrictTag): boolean {
  const cond = t[prev.prefix * NP + cur.prefix]!;
  return cond !== 0 && (cond & (prev.type === cur.type ? SAME : DIFF)) !== 0;
}

/** Entities of one sentence (the first `n` parsed tags) in strict mode (seqeval's `Tokens.entities`). */
export function strictEntities(tags: readonly StrictTag[], n: number, tables: SchemeTables, out: EntitySpan[]): void {
  const at = (k: number) => (k < n ? tags[k]! : STRICT_OUTSIDE);
  let i = 0;
  let prev = STRICT_OUTSIDE;
  while (i <= n) {
    const token = at(i);
    if (matches(tables.start, prev, token)) {
      // Walk forward over tokens that continue the chunk; the trailing O never does.
      let j = i + 1;
      let last = token;
      while (j <= n && matches(tables.inside, last, at(j))) { last = at(j); j++; }
      if (matches(tables.end, at(j - 1), at(j))) out.push({ type: token.type, start: i, end: j });
      i = j;
    } else {
      i++;
    }
    prev = at(i - 1);
  }
}
