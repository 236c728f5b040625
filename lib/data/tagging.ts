/**
 * Tag schemes for chunks (named entities, slots): IOB1, IOB2, IOE1, IOE2, IOBES and BILOU.
 * Conversion goes through spans: tags → spans (one decoder for every scheme, conlleval's chunk
 * rules, so ill-formed sequences decode the way conlleval and seqeval's default mode read them)
 * → tags in the target scheme.
 */
import { RootsError, describe } from '../errors.js';

/** The chunk tagging schemes. Tags are `PREFIX-TYPE` (e.g. `B-PER`) or `O`. */
export type TagScheme = 'IOB1' | 'IOB2' | 'IOE1' | 'IOE2' | 'IOBES' | 'BILOU';

/** All schemes, in the order {@link detectScheme} prefers when data fits several. */
export const TAG_SCHEMES: readonly TagScheme[] = ['IOB2', 'IOB1', 'IOE2', 'IOE1', 'IOBES', 'BILOU'];

/** A chunk: tokens `[start, end)` of one entity type. */
export interface Span {
  type: string;
  start: number;
  end: number;
}

type Prefix = 'B' | 'I' | 'E' | 'S' | 'O';

/** Splits a tag into its prefix (BILOU's L and U read as E and S) and type. */
export function parseTag(tag: string, index = -1): { prefix: Prefix; type: string } {
  if (tag === 'O') return { prefix: 'O', type: '' };
  const dash = tag.indexOf('-');
  const p = dash < 0 ? tag : tag.slice(0, dash);
  const type = dash < 0 ? '' : tag.slice(dash + 1);
  switch (p) {
    case 'B': case 'I': case 'E': case 'S': return { prefix: p, type };
    case 'L': return { prefix: 'E', type };
    case 'U': return { prefix: 'S', type };
    default:
      throw new RootsError('ERR_INVALID_ARG', `Expected a tag like B-TYPE, I-TYPE, E-TYPE, S-TYPE, L-TYPE, U-TYPE or O${index >= 0 ? ` at position ${index}` : ''} but found ${describe(tag)}`);
  }
}

/**
 * Why `tag` is not a chunk tag, or null when it is one: `O`, or a prefix (B, I, E, S, L, U) alone or
 * followed by `-` and a non-empty type. {@link parseTag} reads `B-` as a chunk of an empty type;
 * data readers reject it with this.
 */
export function chunkTagProblem(tag: string): string | null {
  if (tag === 'O') return null;
  const dash = tag.indexOf('-');
  const prefix = dash < 0 ? tag : tag.slice(0, dash);
  if (!['B', 'I', 'E', 'S', 'L', 'U'].includes(prefix)) {
    return `${describe(tag)} is not a chunk tag (expected O, or B-, I-, E-, S-, L- or U- and a type, e.g. B-PER)`;
  }
  if (dash >= 0 && dash === tag.length - 1) return `${describe(tag)} has no entity type after "${prefix}-" (expected e.g. ${prefix}-PER)`;
  return null;
}

/**
 * Spans of a tag sequence in any scheme. A chunk starts at B/S, at I/E after O, after an ended
 * chunk (E/S) or after another type; it ends before B/S/O, after E/S, or before another type.
 */
export function tagsToSpans(tags: readonly string[]): Span[] {
  const spans: Span[] = [];
  let start = -1;
  let prev: Prefix = 'O';
  let prevType = '';
  for (let i = 0; i <= tags.length; i++) {
    const { prefix, type } = i < tags.length ? parseTag(tags[i], i) : { prefix: 'O' as Prefix, type: '' };
    const ends = prev === 'E' || prev === 'S' ||
      ((prev === 'B' || prev === 'I') && (prefix === 'B' || prefix === 'S' || prefix === 'O')) ||
      (prev !== 'O' && prevType !== type);
    const starts = prefix === 'B' || prefix === 'S' ||
      ((prev === 'E' || prev === 'S' || prev === 'O') && (prefix === 'I' || prefix === 'E')) ||
      (prefix !== 'O' && prevType !== type);
    if (ends && start >= 0) {
      spans.push({ type: prevType, start, end: i });
      start = -1;
    }
    if (starts) start = i;
    prev = prefix;
    prevType = type;
  }
  return spans;
}

/** Tags for spans in a scheme, for a sentence of `length` tokens. Spans must not overlap. */
export function spansToTags(spans: readonly Span[], length: number, scheme: TagScheme): string[] {
  if (!TAG_SCHEMES.includes(scheme)) throw new RootsError('ERR_INVALID_ARG', `Expected a tag scheme (${TAG_SCHEMES.join(', ')}) but received ${describe(scheme)}`);
  const tags = new Array<string>(length).fill('O');
  const sorted = [...spans].sort((a, b) => a.start - b.start);
  for (let k = 0; k < sorted.length; k++) {
    const { type, start, end } = sorted[k];
    if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && end > start && end <= length)) {
      throw new RootsError('ERR_INVALID_ARG', `Span ${JSON.stringify(sorted[k])} is outside a sentence of ${length} tokens`);
    }
    if (k > 0 && sorted[k - 1].end > start) {
      throw new RootsError('ERR_INVALID_ARG', `Spans ${JSON.stringify(sorted[k - 1])} and ${JSON.stringify(sorted[k])} overlap`);
    }
    const t = (p: string): string => (type === '' ? p : `${p}-${type}`);
    const touchesPrev = k > 0 && sorted[k - 1].end === start && sorted[k - 1].type === type;
    const touchesNext = k + 1 < sorted.length && sorted[k + 1].start === end && sorted[k + 1].type === type;
    const single = end - start === 1;
    for (let i = start; i < end; i++) tags[i] = t('I');
    switch (scheme) {
      case 'IOB1': if (touchesPrev) tags[start] = t('B'); break;
      case 'IOB2': tags[start] = t('B'); break;
      case 'IOE1': if (touchesNext) tags[end - 1] = t('E'); break;
      case 'IOE2': tags[end - 1] = t('E'); break;
      case 'IOBES': if (single) tags[start] = t('S'); else { tags[start] = t('B'); tags[end - 1] = t('E'); } break;
      case 'BILOU': if (single) tags[start] = t('U'); else { tags[start] = t('B'); tags[end - 1] = t('L'); } break;
    }
  }
  return tags;
}

/** Converts tags from any scheme to `to` (through spans). */
export function convertTags(tags: readonly string[], to: TagScheme): string[] {
  return spansToTags(tagsToSpans(tags), tags.length, to);
}

/**
 * Guesses the scheme of tagged data. BILOU if L-/U- appear, IOBES if S- or E- appear with B-,
 * IOE2/IOE1 if E- appears without B- (IOE2 when every chunk ends in E-), IOB1 if some chunk starts
 * with I-, else IOB2. Returns null when there is no chunk at all.
 */
export function detectScheme(sentences: Iterable<readonly string[]>): TagScheme | null {
  const seen = new Set<string>();
  let chunkStartsWithI = false;
  let chunkEndsWithoutE = false;
  let any = false;
  for (const tags of sentences) {
    for (let i = 0; i < tags.length; i++) {
      const tag = tags[i];
      if (tag === 'O') continue;
      any = true;
      const dash = tag.indexOf('-');
      seen.add(dash < 0 ? tag : tag.slice(0, dash));
    }
    for (const span of tagsToSpans(tags)) {
      if (parseTag(tags[span.start]).prefix === 'I') chunkStartsWithI = true;
      const last = tags[span.end - 1];
      if (!(last.startsWith('E-') || last === 'E' || last.startsWith('L-') || last === 'L' || last.startsWith('S-') || last.startsWith('U-'))) chunkEndsWithoutE = true;
    }
  }
  if (!any) return null;
  if (seen.has('L') || seen.has('U')) return 'BILOU';
  if (seen.has('S') || (seen.has('E') && seen.has('B'))) return 'IOBES';
  if (seen.has('E')) return chunkEndsWithoutE ? 'IOE1' : 'IOE2';
  return chunkStartsWithI ? 'IOB1' : 'IOB2';
}
