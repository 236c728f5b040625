/**
 * Relation-classification data: the SemEval-2010 Task 8 format, JSONL with a text and two entity
 * spans, and marked text (`<e1>…</e1>` as SemEval writes it, or `[E1]…[/E1]` as the model reads it).
 *
 * SemEval-2010 Task 8 (TRAIN_FILE.TXT, TEST_FILE_FULL.TXT): per example a line
 * `ID<TAB>"sentence with <e1>…</e1> and <e2>…</e2>"`, a line with the relation (`Cause-Effect(e1,e2)`,
 * …, `Other`), a `Comment:` line and a blank line. The test file without answers (TEST_FILE.txt) has
 * the sentence lines only; both are read.
 *
 * JSONL: one object per line, `{"id"?, "text", "e1", "e2", "relation"?}` where a span is
 * `[start, end]` or `{"start", "end", "type"?}` (JS string offsets, end exclusive); or
 * `{"id"?, "text": "… <e1>…</e1> … <e2>…</e2> …", "relation"?}` with the markers in the text.
 *
 * Every error names the file, the line and what was expected: a missing or doubled marker, a span
 * outside the text, overlapping spans; never a silently wrong example.
 */
import { readFile } from 'node:fs/promises';
import { RootsError, describe } from '../errors.js';

/** One entity of a relation example: a span of the text (JS string offsets, end exclusive). */
export interface RelationSpan {
  start: number;
  end: number;
  /** Entity type (typed markers: `[E1:PER]`); optional. */
  type?: string;
}

/** A relation example: a text, its two entities (e1 is the first argument), and the relation. */
export interface RelationExample {
  /** The example's id (SemEval: the sentence number); the official scorer keys on it. */
  id?: string;
  /** The text without markers. */
  text: string;
  e1: RelationSpan;
  e2: RelationSpan;
  /** The relation (SemEval: `Cause-Effect(e1,e2)`, `Other`); absent in unlabelled data. */
  relation?: string;
  /** 1-based line in the source file (messages). */
  line?: number;
  /** The file it was read from (messages). */
  source?: string;
}

/** How messages name an example: its file, id and line (`train.jsonl: example 7 (line 7)`). */
export function exampleWhere(ex: RelationExample, i: number): string {
  return `${ex.source ? `${ex.source}: ` : ''}example ${ex.id ?? i + 1}${ex.line ? ` (line ${ex.line})` : ''}`;
}

/** Labelled data has a relation for every example: one without (among others with) is an error. */
function checkAllLabelled(examples: readonly RelationExample[], source: string, what: string): void {
  const labelled = examples.filter((e) => e.relation !== undefined).length;
  if (labelled !== 0 && labelled !== examples.length) {
    const bad = examples.find((e) => e.relation === undefined)!;
    throw new RootsError('ERR_PARSE', `${source} line ${bad.line}: example ${bad.id ?? examples.indexOf(bad) + 1} has no ${what}, but others do`);
  }
}

/** The two marker styles {@link parseMarkedText} reads. */
const MARKER_STYLES = [
  { open1: '<e1>', close1: '</e1>', open2: '<e2>', close2: '</e2>' },
  { open1: '[E1]', close1: '[/E1]', open2: '[E2]', close2: '[/E2]' },
] as const;

/**
 * A marked text (`… <e1>Paris</e1> … <e2>France</e2> …`, or with `[E1]`/`[/E1]`/`[E2]`/`[/E2]`)
 * as the plain text and the two spans. Each of the four markers must occur exactly once, each
 * entity's opening marker before its closing one, and the entities must not overlap.
 * `where` names the input in errors ("train.txt line 5").
 */
export function parseMarkedText(marked: string, where = 'text'): { text: string; e1: RelationSpan; e2: RelationSpan } {
  const style = MARKER_STYLES.find((s) => marked.includes(s.open1) || marked.includes(s.open2) || marked.includes(s.close1) || marked.includes(s.close2));
  if (!style) throw new RootsError('ERR_PARSE', `${where}: no entity markers; mark the two entities as <e1>…</e1> and <e2>…</e2> (or [E1]…[/E1] and [E2]…[/E2]), or give the spans (e1, e2)`);
  const other = MARKER_STYLES.find((s) => s !== style)!;
  for (const m of [other.open1, other.close1, other.open2, other.close2]) {
    if (marked.includes(m)) throw new RootsError('ERR_PARSE', `${where}: mixes ${style.open1} markers with ${m}; use one style`);
  }
  const found: { marker: string; at: number }[] = [];
  for (const marker of [style.open1, style.close1, style.open2, style.close2]) {
    const at = marked.indexOf(marker);
    if (at < 0) throw new RootsError('ERR_PARSE', `${where}: the marker ${marker} is missing (each of ${style.open1} ${style.close1} ${style.open2} ${style.close2} must occur exactly once)`);
    if (marked.indexOf(marker, at + 1) >= 0) throw new RootsError('ERR_PARSE', `${where}: the marker ${marker} occurs more than once (each of ${style.open1} ${style.close1} ${style.open2} ${style.close2} must occur exactly once)`);
    found.push({ marker, at });
  }
  const [o1, c1, o2, c2] = found;
  if (c1.at < o1.at) throw new RootsError('ERR_PARSE', `${where}: ${style.close1} comes before ${style.open1}`);
  if (c2.at < o2.at) throw new RootsError('ERR_PARSE', `${where}: ${style.close2} comes before ${style.open2}`);
  if (!(c1.at < o2.at || c2.at < o1.at)) throw new RootsError('ERR_PARSE', `${where}: the entities overlap (${style.open1}…${style.close1} and ${style.open2}…${style.close2} must not nest or cross)`);
  // Remove the markers in text order, tracking where each lands in the plain text.
  const order = [...found].sort((a, b) => a.at - b.at);
  let text = '';
  let from = 0;
  const pos = new Map<string, number>();
  for (const m of order) {
    text += marked.slice(from, m.at);
    pos.set(m.marker, text.length);
    from = m.at + m.marker.length;
  }
  text += marked.slice(from);
  const e1 = { start: pos.get(style.open1)!, end: pos.get(style.close1)! };
  const e2 = { start: pos.get(style.open2)!, end: pos.get(style.close2)! };
  if (e1.end === e1.start) throw new RootsError('ERR_PARSE', `${where}: entity 1 is empty (${style.open1}${style.close1})`);
  if (e2.end === e2.start) throw new RootsError('ERR_PARSE', `${where}: entity 2 is empty (${style.open2}${style.close2})`);
  return { text, e1, e2 };
}

/** Checks two spans against a text: integers inside it, non-empty, not overlapping. */
export function checkSpans(text: string, e1: RelationSpan, e2: RelationSpan, where: string): void {
  for (const [name, s] of [['e1', e1], ['e2', e2]] as const) {
    if (!Number.isInteger(s.start) || !Number.isInteger(s.end) || s.start < 0 || s.end > text.length || s.start >= s.end) {
      throw new RootsError('ERR_PARSE', `${where}: ${name} = [${s.start}, ${s.end}] is not a non-empty span of the text (expected integers 0 <= start < end <= ${text.length}, end exclusive)`);
    }
  }
  if (e1.start < e2.end && e2.start < e1.end) {
    throw new RootsError('ERR_PARSE', `${where}: the entity spans overlap (e1 = [${e1.start}, ${e1.end}] ${JSON.stringify(text.slice(e1.start, e1.end))}, e2 = [${e2.start}, ${e2.end}] ${JSON.stringify(text.slice(e2.start, e2.end))}); relation classification needs two disjoint entities`);
  }
}

/** The SemEval-2010 Task 8 file format (see the module comment); `source` names it in errors. */
export function parseSemEval(content: string, source = 'input'): RelationExample[] {
  const lines = content.split(/\r?\n/);
  const out: RelationExample[] = [];
  const ids = new Set<string>();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '') continue;
    const where = `${source} line ${i + 1}`;
    const m = /^(\S+)\t"(.*)"\s*$/.exec(line);
    if (!m) throw new RootsError('ERR_PARSE', `${where}: expected ID<TAB>"sentence with <e1>…</e1> and <e2>…</e2>" (the SemEval-2010 Task 8 format; use --format jsonl for JSONL) but found ${JSON.stringify(line.slice(0, 80))}`);
    const [, id, sentence] = m;
    if (ids.has(id)) throw new RootsError('ERR_PARSE', `${where}: the id ${id} occurs twice (the official scorer keys on it)`);
    ids.add(id);
    const ex: RelationExample = { id, ...parseMarkedText(sentence, where), line: i + 1, source };
    // The relation line, then the comment line, when present (the answer key of the test set, or training data).
    const next = lines[i + 1];
    if (next !== undefined && next.trim() !== '' && !/^\S+\t"/.test(next)) {
      const relation = next.trim();
      if (relation.startsWith('Comment:')) throw new RootsError('ERR_PARSE', `${source} line ${i + 2}: expected the relation of example ${id} but found a Comment: line`);
      ex.relation = relation;
      i++;
      if (lines[i + 1]?.startsWith('Comment:')) i++;
    }
    out.push(ex);
  }
  checkAllLabelled(out, source, 'relation line');
  return out;
}

function readSpan(v: unknown, field: string, where: string): RelationSpan {
  if (Array.isArray(v) && v.length === 2) return { start: v[0], end: v[1] };
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    if (o.type !== undefined && typeof o.type !== 'string') throw new RootsError('ERR_PARSE', `${where}: ${field}.type must be a string but is ${describe(o.type)}`);
    return { start: o.start as number, end: o.end as number, ...(o.type !== undefined ? { type: o.type as string } : {}) };
  }
  throw new RootsError('ERR_PARSE', `${where}: expected ${field} as [start, end] or {"start", "end", "type"?} (character offsets, end exclusive) but found ${describe(v)}`);
}

/** JSONL relation examples (see the module comment); `source` names the file in errors. */
export function parseRelationJsonl(content: string, source = 'input'): RelationExample[] {
  const out: RelationExample[] = [];
  const lines = content.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    const where = `${source} line ${i + 1}`;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(lines[i]);
    } catch (e) {
      throw new RootsError('ERR_PARSE', `${where}: not valid JSON (${(e as Error).message})`);
    }
    if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new RootsError('ERR_PARSE', `${where}: expected a JSON object {"text", "e1", "e2", "relation"?}`);
    if (typeof o.text !== 'string') throw new RootsError('ERR_PARSE', `${where}: expected a string "text" field but found ${describe(o.text)}`);
    if (o.relation !== undefined && typeof o.relation !== 'string') throw new RootsError('ERR_PARSE', `${where}: "relation" must be a string but is ${describe(o.relation)}`);
    if (o.id !== undefined && typeof o.id !== 'string' && typeof o.id !== 'number') throw new RootsError('ERR_PARSE', `${where}: "id" must be a string or number but is ${describe(o.id)}`);
    let ex: RelationExample;
    if (o.e1 === undefined && o.e2 === undefined) {
      ex = { ...parseMarkedText(o.text, where) };
    } else {
      if (o.e1 === undefined || o.e2 === undefined) throw new RootsError('ERR_PARSE', `${where}: has ${o.e1 === undefined ? 'e2 but no e1' : 'e1 but no e2'}; give both spans (or mark both entities in the text)`);
      ex = { text: o.text, e1: readSpan(o.e1, 'e1', where), e2: readSpan(o.e2, 'e2', where) };
      checkSpans(ex.text, ex.e1, ex.e2, where);
    }
    if (o.id !== undefined) ex.id = String(o.id);
    if (o.relation !== undefined) ex.relation = o.relation as string;
    ex.line = i + 1;
    ex.source = source;
    out.push(ex);
  }
  checkAllLabelled(out, source, '"relation"');
  return out;
}

/** Formats {@link readRelations} takes. */
export type RelationFormat = 'semeval' | 'jsonl';

/**
 * Reads relation examples: JSONL (`.jsonl`, or `format: 'jsonl'`) or the SemEval-2010 Task 8
 * format (anything else, or `format: 'semeval'`).
 */
export async function readRelations(path: string, options: { format?: RelationFormat } = {}): Promise<RelationExample[]> {
  const content = await readFile(path, 'utf8');
  const format = options.format ?? (/\.jsonl$/i.test(path) ? 'jsonl' : 'semeval');
  return format === 'jsonl' ? parseRelationJsonl(content, path) : parseSemEval(content, path);
}
