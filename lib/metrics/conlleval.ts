/**
 * The conlleval format and report: reading files whose last two columns are the gold and the
 * predicted tag (one token a line, blank lines between sentences), and printing the summary
 * conlleval.pl prints, or the same numbers as JSON.
 *
 * Chunking is seqeval's (see ./seqeval.ts): the default mode is conlleval's lenient chunking, and
 * `scheme` switches to seqeval's strict mode. For IOB1/IOB2 tags both agree with conlleval.pl.
 */
import { readFile } from 'node:fs/promises';
import { RootsError, describe } from '../errors.js';
import { formatFixed, padStart } from './report-text.js';
import { checkTag, entityScores, parseScheme, type EntityScores, type TaggingScheme } from './seqeval.js';

/** A conlleval file read into sentences of gold and predicted tags. */
export interface ConllData {
  /** Gold tags, one array per sentence. */
  yTrue: string[][];
  /** Predicted tags, one array per sentence. */
  yPred: string[][];
  /** The tokens (first column), one array per sentence. */
  tokens: string[][];
  /** 1-based line number of each sentence's first token (for messages). */
  lines: number[];
}

/** Options of {@link parseConll}. */
export interface ParseConllOptions {
  /** Column delimiter (a literal string). Default: any run of whitespace. */
  delimiter?: string;
  /** Name of the source, used in error messages. Default `'<input>'`. */
  source?: string;
}

/** Options of {@link runScore}. */
export interface ScoreOptions {
  /** Column delimiter (a literal string). Default: any run of whitespace. */
  delimiter?: string;
  /** Strict mode with this scheme (IOB1, IOB2, IOE1, IOE2, IOBES, BILOU; case-insensitive). */
  scheme?: string;
  /** Tags carry their prefix at the end (`PER-B`). Default false. */
  suffix?: boolean;
  /** Print JSON instead of the conlleval summary. */
  json?: boolean;
}

/** The JSON form of a score (`roots score --json`): fractions in [0, 1] and counts. */
export interface ScoreJson {
  mode: 'default' | 'strict';
  scheme: TaggingScheme | null;
  tokens: number;
  correctTokens: number;
  accuracy: number;
  /** Gold entities ("phrases"). */
  gold: number;
  /** Predicted entities. */
  predicted: number;
  /** Correct predicted entities. */
  correct: number;
  precision: number;
  recall: number;
  f1: number;
  macro: { precision: number; recall: number; f1: number };
  weighted: { precision: number; recall: number; f1: number };
  types: { type: string; precision: number; recall: number; f1: number; gold: number; predicted: number; correct: number }[];
}

/** Whether a UTF-16 code unit is whitespace as the regular expression `\s` defines it. */
function isSpace(c: number): boolean {
  if (c <= 32) return c === 32 || (c >= 9 && c <= 13);
  if (c < 0xa0) return false;
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029
    || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

/** Lines whose first field marks a sentence (document) boundary rather than a token. */
const BOUNDARY_FIELDS = new Set(['-X-', '-DOCSTART-']);

/** `O`, or a prefix and a type (`B-PER`, `PER-B`): what a gold-tag column holds. */
const TAG_SHAPE = /^(O|[BIESLU]-.+|.+-[BIESLU])$/;

/**
 * Parses conlleval input: one token a line, fields separated by whitespace (or `delimiter`), the
 * last two fields being the gold and the predicted tag. Blank lines, and lines whose first field
 * is `-X-` (conlleval's boundary) or `-DOCSTART-`, end a sentence and are not tokens (conlleval.pl
 * itself would count a `-DOCSTART- -X- O O` line as one correctly tagged token; here it is not
 * counted). Boundary lines may have any number of fields; every token line must have as many as
 * the first one (as conlleval.pl requires). CRLF line ends are accepted.
 *
 * @throws RootsError ERR_PARSE naming the source and line for a line with fewer than 2 fields, a
 *   line whose field count differs from the first token line's, input without any token, or a
 *   2-column input whose first column holds something other than tags (tokens and tags, with no
 *   predictions: scoring it would read the tokens as gold tags);
 *   ERR_INVALID_ARG for an empty delimiter.
 */
export function parseConll(text: string, options: ParseConllOptions = {}): ConllData {
  const source = options.source ?? '<input>';
  const delimiter = options.delimiter;
  if (delimiter !== undefined && (typeof delimiter !== 'string' || delimiter.length === 0)) {
    throw new RootsError('ERR_INVALID_ARG', `Expected a non-empty string for delimiter but received ${describe(delimiter)}`);
  }
  const data: ConllData = { yTrue: [], yPred: [], tokens: [], lines: [] };
  let gold: string[] = [], pred: string[] = [], toks: string[] = [];
  let firstLine = 0;
  let columns = -1, columnsLine = 0;
  // A 2-column file is gold and predicted tags only (conlleval.pl reads it so); one whose first
  // column is not tags is tokens and tags, and scoring it would read the tokens as gold tags.
  let notTag: { line: number; value: string } | null = null;
  const flush = () => {
    if (gold.length > 0) {
      data.yTrue.push(gold); data.yPred.push(pred); data.tokens.push(toks); data.lines.push(firstLine);
      gold = []; pred = []; toks = [];
    }
  };
  // Field positions of the current line (whitespace mode scans the text without splitting it).
  const starts: number[] = [], ends: number[] = [];
  let fields: string[] = [];
  let count = 0;
  let lineStart = 0, lineEnd = 0;
  const field = (k: number) => (delimiter === undefined ? text.slice(starts[k]!, ends[k]!) : fields[k]!);
  const lineText = () => text.slice(lineStart, lineEnd);
  const n = text.length;
  let lineNo = 0;
  for (let pos = 0; pos < n;) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = n;
    lineNo++;
    lineStart = pos;
    lineEnd = nl > pos && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
    pos = nl + 1;
    count = 0;
    if (delimiter === undefined) {
      let i = lineStart;
      while (i < lineEnd) {
        while (i < lineEnd && isSpace(text.charCodeAt(i))) i++;
        if (i >= lineEnd) break;
        starts[count] = i;
        while (i < lineEnd && !isSpace(text.charCodeAt(i))) i++;
        ends[count++] = i;
      }
    } else {
      const line = lineText();
      if (line.trim() !== '') {
        fields = line.split(delimiter);
        while (fields.length > 0 && fields[fields.length - 1] === '') fields.pop(); // as Perl's split
        count = fields.length;
      }
    }
    if (count === 0) { flush(); continue; }
    const first = field(0);
    if (BOUNDARY_FIELDS.has(first)) { flush(); continue; }
    if (count < 2) {
      throw new RootsError('ERR_PARSE',
        `${source}:${lineNo}: expected at least 2 columns (gold tag and predicted tag last) but found ${count}: ${describe(lineText())}`);
    }
    if (columns < 0) { columns = count; columnsLine = lineNo; }
    else if (count !== columns) {
      throw new RootsError('ERR_PARSE',
        `${source}:${lineNo}: expected ${columns} columns like line ${columnsLine} but found ${count}: ${describe(lineText())}`);
    }
    if (gold.length === 0) firstLine = lineNo;
    if (count === 2 && notTag === null && !TAG_SHAPE.test(field(0))) notTag = { line: lineNo, value: field(0) };
    gold.push(field(count - 2));
    pred.push(field(count - 1));
    toks.push(first);
  }
  flush();
  if (columns === 2 && notTag !== null) {
    throw new RootsError('ERR_PARSE',
      `${source}:${notTag.line}: 2 columns, and the first, ${describe(notTag.value)}, is not a tag: conlleval input is "token ... gold-tag predicted-tag", ` +
      'the last two columns being the gold and the predicted tag (2 columns are read as those two). A file of tokens and their tags has no predictions ' +
      'to score: add the predicted tag as a third column, or score a model on it with `roots eval --model DIR --data FILE`');
  }
  if (data.yTrue.length === 0) {
    throw new RootsError('ERR_PARSE',
      `${source}: no tokens found (expected lines of "token ... gold-tag predicted-tag", sentences separated by blank lines)`);
  }
  return data;
}

/**
 * Reads a conlleval file (`'-'` reads standard input). See {@link parseConll}.
 * @throws RootsError ERR_IO when the file cannot be read; ERR_PARSE as {@link parseConll}.
 */
export async function readConll(file: string, options: Omit<ParseConllOptions, 'source'> = {}): Promise<ConllData> {
  if (typeof file !== 'string' || file.length === 0) {
    throw new RootsError('ERR_INVALID_ARG', `Expected a file path but received ${describe(file)}`);
  }
  let text: string;
  try {
    text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new RootsError('ERR_IO', `Cannot read ${file === '-' ? 'standard input' : file}: ${reason}`, { cause: err });
  }
  return parseConll(text, { ...options, source: file === '-' ? '<stdin>' : file });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** conlleval's `%6.2f`. */
function f6(x: number): string {
  return padStart(formatFixed(x, 2), 6);
}

/**
 * The summary conlleval.pl prints, from entity scores:
 *
 * ```
 * processed 961 tokens with 459 phrases; found: 539 phrases; correct: 371.
 * accuracy:  84.08%; precision:  68.83%; recall:  80.83%; FB1:  74.35
 *              ADJP: precision:   0.00%; recall:   0.00%; FB1:   0.00  1
 * ```
 *
 * Per type, the last number is the number of predicted phrases, as in conlleval. Percentages are
 * computed the way the Perl script computes them, so the text matches to the digit.
 */
export function conllevalSummary(scores: EntityScores): string {
  const { tokens, gold, predicted, correct } = scores;
  let precision = predicted > 0 ? (100 * correct) / predicted : 0;
  let recall = gold > 0 ? (100 * correct) / gold : 0;
  let fb1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  let out = `processed ${tokens} tokens with ${gold} phrases; found: ${predicted} phrases; correct: ${correct}.\n`;
  if (tokens > 0) {
    out += `accuracy: ${f6((100 * scores.correctTokens) / tokens)}%; precision: ${f6(precision)}%; recall: ${f6(recall)}%; FB1: ${f6(fb1)}\n`;
  }
  for (const t of scores.types) {
    precision = t.predicted > 0 ? (100 * t.correct) / t.predicted : 0;
    recall = t.support > 0 ? (100 * t.correct) / t.support : 0;
    fb1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    out += `${padStart(t.type, 17)}: precision: ${f6(precision)}%; recall: ${f6(recall)}%; FB1: ${f6(fb1)}  ${t.predicted}\n`;
  }
  return out;
}

/** The JSON form of entity scores (see {@link ScoreJson}). */
export function scoreJson(scores: EntityScores): ScoreJson {
  const prf = (s: { precision: number; recall: number; f1: number }) => ({ precision: s.precision, recall: s.recall, f1: s.f1 });
  return {
    mode: scores.mode,
    scheme: scores.scheme,
    tokens: scores.tokens,
    correctTokens: scores.correctTokens,
    accuracy: scores.accuracy,
    gold: scores.gold,
    predicted: scores.predicted,
    correct: scores.correct,
    precision: scores.micro.precision,
    recall: scores.micro.recall,
    f1: scores.micro.f1,
    macro: prf(scores.macro),
    weighted: prf(scores.weighted),
    types: scores.types.map((t) => ({
      type: t.type, precision: t.precision, recall: t.recall, f1: t.f1, gold: t.support, predicted: t.predicted, correct: t.correct,
    })),
  };
}

/** Scores conlleval text (already read): the entity scores of its gold and predicted columns. */
export function scoreConll(text: string, options: Omit<ScoreOptions, 'json'> & { source?: string } = {}): EntityScores {
  const scheme = options.scheme === undefined ? undefined : parseScheme(options.scheme);
  const data = parseConll(text, { delimiter: options.delimiter, source: options.source });
  return scoreData(data, options.source ?? '<input>', scheme, options.suffix === true);
}

/** Scores parsed data; in strict mode a tag the scheme does not allow is reported by line. */
function scoreData(data: ConllData, source: string, scheme: TaggingScheme | undefined, suffix: boolean): EntityScores {
  if (scheme !== undefined) {
    const ok = new Set<string>();
    for (let s = 0; s < data.yTrue.length; s++) {
      for (const [column, tags] of [['gold', data.yTrue[s]!], ['predicted', data.yPred[s]!]] as const) {
        for (let k = 0; k < tags.length; k++) {
          const tag = tags[k]!;
          if (ok.has(tag)) continue;
          const why = checkTag(tag, { scheme, suffix });
          if (why !== null) {
            throw new RootsError('ERR_PARSE', `${source}:${data.lines[s]! + k}: invalid ${column} tag ${describe(tag)}: ${why}`);
          }
          ok.add(tag);
        }
      }
    }
  }
  return entityScores(data.yTrue, data.yPred, { scheme, suffix });
}

/**
 * `roots score FILE`: reads a conlleval file and returns the conlleval summary (or, with `json`,
 * the scores as pretty-printed JSON), ending with a newline.
 *
 * @throws RootsError ERR_INVALID_ARG for an unknown scheme or a tag the scheme does not allow,
 *   ERR_IO when the file cannot be read, ERR_PARSE for malformed or empty input.
 */
export async function runScore(file: string, options: ScoreOptions = {}): Promise<string> {
  // Check the scheme before reading, so a typo fails fast even on a large file.
  const scheme = options.scheme === undefined ? undefined : parseScheme(options.scheme);
  const data = await readConll(file, { delimiter: options.delimiter });
  const scores = scoreData(data, file === '-' ? '<stdin>' : file, scheme, options.suffix === true);
  return options.json ? JSON.stringify(scoreJson(scores), null, 2) + '\n' : conllevalSummary(scores);
}
