/**
 * Extractive question-answering data: SQuAD's JSON (`data[].paragraphs[].qas[].answers[]`, several
 * gold answers per question) and JSONL (one question per line, Hugging Face datasets' layout:
 * `{"id", "question", "context", "answers": {"text": [...], "answer_start": [...]}}`, or answers as
 * a list of `{"text", "answer_start"}`).
 *
 * Every answer is checked against its context: the text must stand at `answer_start` exactly (an
 * error names the file, the line, the field, what the context holds there and where the text does
 * occur). `answer_start` counts characters as Python does (code points, SQuAD's convention); the
 * examples hold JavaScript (UTF-16) offsets, so `context.slice(start, start + text.length)` is the
 * answer. Question ids must be unique (predictions are keyed by them).
 */
import { findNodeAtLocation, parseTree, type JSONPath } from 'jsonc-parser';
import { RootsError, describe } from '../errors.js';
import { type ReadOptions, type Source, parseJsonl, pathOf, readTextFile } from './readers.js';

/** A gold answer: its text and where it starts in the context (UTF-16 offset). */
export interface QaAnswer {
  text: string;
  start: number;
}

/** A question about a context, with its gold answers (none for unlabelled data). */
export interface QaExample {
  id: string;
  question: string;
  context: string;
  answers: QaAnswer[];
  /** The article's title (SQuAD JSON). */
  title?: string;
  /** 1-based line of the question in the source file (JSON: the line of its `id`). */
  line?: number;
}

export interface SquadReadOptions extends ReadOptions {
  /** `'json'` (SQuAD) or `'jsonl'`; default: `.jsonl` by extension, else SQuAD JSON. */
  format?: 'json' | 'jsonl';
  /** Every question must have at least one answer (default true; false for questions to predict). */
  requireAnswers?: boolean;
}

/** A SQuAD file as the official script reads it: the articles (for splits and the scorer). */
export interface SquadArticle {
  title?: string;
  paragraphs: { context: string; qas: { id: string; question: string; answers: { text: string; answer_start: number }[] }[] }[];
}

/** Reads SQuAD JSON or JSONL into {@link QaExample}s (see the module doc). */
export async function readSquad(source: Source, options: SquadReadOptions = {}): Promise<QaExample[]> {
  const path = pathOf(source);
  const text = await readTextFile(path, options);
  const format = options.format ?? (/\.jsonl$/i.test(path) ? 'jsonl' : 'json');
  return format === 'jsonl' ? parseSquadJsonl(text, path, options) : parseSquadJson(text, path, options);
}

/** The line of the value at `path` in a JSON text (computed only for error messages). */
function lineAt(text: string, path: JSONPath): number | undefined {
  if (!multiline(text)) return undefined;
  const node = findNodeAtLocation(parseTree(text) ?? { type: 'null', offset: 0, length: 0 } as never, path);
  if (!node) return undefined;
  let line = 1;
  for (let i = 0; i < node.offset; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function pathText(path: JSONPath): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** Parses SQuAD JSON text (see {@link readSquad}); `source` names it in errors. */
export function parseSquadJson(text: string, source = '<squad>', options: Pick<SquadReadOptions, 'requireAnswers'> = {}): QaExample[] {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (err) {
    const m = /position (\d+)/.exec((err as Error).message);
    const at = m ? text.slice(0, Number(m[1])).split('\n').length : undefined;
    throw new RootsError('ERR_PARSE', `${source}${at ? `:${at}` : ''}: invalid JSON (${(err as Error).message}); SQuAD files are one JSON object {"data": [...]} (JSONL: one question per line, name the file .jsonl)`, { cause: err });
  }
  const fail = (path: JSONPath, what: string): never => {
    const line = lineAt(text, path);
    throw new RootsError('ERR_PARSE', `${source}${line ? `:${line}` : ''}: ${pathText(path)}: ${what}`);
  };
  if (!root || typeof root !== 'object' || !Array.isArray((root as { data?: unknown }).data)) {
    fail([], `expected SQuAD's {"version", "data": [articles]} but found ${Array.isArray(root) ? 'an array' : describe(root)}${Array.isArray(root) ? '' : ` (keys: ${Object.keys(root ?? {}).join(', ')})`}`);
  }
  const out: QaExample[] = [];
  const seen = new Map<string, string>();
  const lines = multiline(text) ? idLines(text) : null;
  const articles = (root as { data: unknown[] }).data;
  articles.forEach((article, a) => {
    const paragraphs = (article as { paragraphs?: unknown })?.paragraphs;
    if (!Array.isArray(paragraphs)) fail(['data', a], `expected an article {"title", "paragraphs": [...]} but found ${describe(article)}`);
    const title = (article as { title?: unknown }).title;
    (paragraphs as unknown[]).forEach((paragraph, p) => {
      const where: JSONPath = ['data', a, 'paragraphs', p];
      const context = (paragraph as { context?: unknown })?.context;
      const qas = (paragraph as { qas?: unknown })?.qas;
      if (typeof context !== 'string') fail([...where, 'context'], `expected the context as a string but found ${describe(context)}`);
      if (!Array.isArray(qas)) fail([...where, 'qas'], `expected a list of questions but found ${describe(qas)}`);
      (qas as unknown[]).forEach((qa, q) => {
        const at: JSONPath = [...where, 'qas', q];
        const record = qa as Record<string, unknown>;
        if (!record || typeof record !== 'object' || Array.isArray(record)) fail(at, `expected a question {"id", "question", "answers"} but found ${describe(qa)}`);
        const ex = checkQuestion(record, context as string, {
          fail: (field, what) => fail(field === null ? at : [...at, ...field], what), requireAnswers: options.requireAnswers ?? true,
        });
        if (typeof title === 'string') ex.title = title;
        const line = lines?.get(ex.id);
        if (line !== undefined) ex.line = line;
        const prev = seen.get(ex.id);
        if (prev) fail([...at, 'id'], `question id ${JSON.stringify(ex.id)} was already used by ${prev}; ids must be unique (predictions are keyed by them)`);
        seen.set(ex.id, pathText(at));
        out.push(ex);
      });
    });
  });
  return out;
}

/** Whether a JSON text spans several lines (one-line files, SQuAD's own, get no line numbers). */
function multiline(text: string): boolean {
  const nl = text.indexOf('\n');
  return nl >= 0 && nl < text.trimEnd().length;
}

/** The line of each question id (`"id": "..."`), in one pass over the text. */
function idLines(text: string): Map<string, number> {
  const lines = new Map<string, number>();
  const re = /"id"\s*:\s*("(?:[^"\\]|\\.)*")/g;
  let line = 1;
  let from = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    for (let i = text.indexOf('\n', from); i >= 0 && i < m.index; i = text.indexOf('\n', i + 1)) line++;
    from = m.index;
    try { lines.set(JSON.parse(m[1]) as string, line); } catch { /* not a string id: the checks report it */ }
  }
  return lines;
}

/** Parses QA JSONL text (see {@link readSquad}). */
export function parseSquadJsonl(text: string, source = '<jsonl>', options: Pick<SquadReadOptions, 'requireAnswers'> = {}): QaExample[] {
  const seen = new Map<string, number>();
  return parseJsonl(text, source).map(({ value, line }) => {
    const context = value.context;
    const fail = (field: JSONPath | null, what: string): never => {
      throw new RootsError('ERR_PARSE', `${source}:${line}: ${field ? `field ${pathText(field)}: ` : ''}${what}`);
    };
    if (typeof context !== 'string') fail(['context'], `expected the context as a string but found ${describe(context)} (keys: ${Object.keys(value).join(', ')})`);
    const record = value.id === undefined ? { ...value, id: String(line) } : value;
    const ex = checkQuestion(record, context as string, { fail, requireAnswers: options.requireAnswers ?? true });
    ex.line = line;
    if (typeof value.title === 'string') ex.title = value.title;
    const prev = seen.get(ex.id);
    if (prev !== undefined) fail(['id'], `question id ${JSON.stringify(ex.id)} was already used on line ${prev}; ids must be unique (predictions are keyed by them)`);
    seen.set(ex.id, line);
    return ex;
  });
}

/** UTF-16 offset of the code point at `cp` (SQuAD counts code points; JS strings count UTF-16 units). */
function utf16Offset(context: string, cp: number): number {
  if (!/[\uD800-\uDFFF]/.test(context)) return cp;
  let i = 0;
  for (let n = 0; n < cp && i < context.length; n++) i += context.codePointAt(i)! > 0xffff ? 2 : 1;
  return i;
}

/** Length of a string in code points (SQuAD's characters). */
function codePoints(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length; i++) if ((text.charCodeAt(i) & 0xfc00) === 0xd800) n--;
  return n;
}

interface CheckContext {
  fail(field: JSONPath | null, what: string): never;
  requireAnswers: boolean;
}

/** A question record checked and converted: id, question, and answers that stand where they say. */
function checkQuestion(r: Record<string, unknown>, context: string, c: CheckContext): QaExample {
  const id = typeof r.id === 'number' ? String(r.id) : r.id;
  if (typeof id !== 'string' || id === '') c.fail(['id'], `expected a non-empty string id but found ${describe(r.id)}`);
  if (typeof r.question !== 'string' || r.question.trim() === '') c.fail(['question'], `expected a non-empty question but found ${describe(r.question)}`);
  if (r.is_impossible === true) c.fail(['is_impossible'], 'unanswerable questions (SQuAD 2.0) are not supported: roots reads SQuAD v1.1, where every question has an answer in its context');
  if (context.trim() === '') c.fail(['context'], 'the context is empty');
  const raw = r.answers;
  let list: { text: unknown; start: unknown; field: JSONPath }[];
  if (Array.isArray(raw)) {
    list = raw.map((a, i) => ({ text: (a as Record<string, unknown>)?.text, start: (a as Record<string, unknown>)?.answer_start, field: ['answers', i] }));
  } else if (raw && typeof raw === 'object' && Array.isArray((raw as { text?: unknown }).text)) {
    const { text, answer_start } = raw as { text: unknown[]; answer_start?: unknown };
    if (!Array.isArray(answer_start) || answer_start.length !== text.length) {
      c.fail(['answers', 'answer_start'], `expected one answer_start per answer text (${text.length}) but found ${describe(answer_start)}`);
    }
    list = text.map((t, i) => ({ text: t, start: (answer_start as unknown[])[i], field: ['answers', i] }));
  } else if (raw === undefined && !c.requireAnswers) {
    list = [];
  } else {
    c.fail(['answers'], `expected a list of {"text", "answer_start"} or {"text": [...], "answer_start": [...]} but found ${describe(raw)}`);
  }
  if (list!.length === 0 && c.requireAnswers) c.fail(['answers'], 'the question has no answer (every question to train on or score needs at least one)');
  const answers = list!.map(({ text, start, field }) => {
    if (typeof text !== 'string' || text === '') c.fail([...field, 'text'], `expected a non-empty answer text but found ${describe(text)}`);
    if (typeof start !== 'number' || !Number.isInteger(start) || start < 0) c.fail([...field, 'answer_start'], `expected a non-negative integer but found ${describe(start)}`);
    const s = utf16Offset(context, start as number);
    if (!context.startsWith(text as string, s)) {
      const found = context.indexOf(text as string);
      const length = codePoints(context);
      const there = (start as number) >= length ? `only ${length} characters` : `${JSON.stringify(context.slice(s, s + (text as string).length))} there`;
      // Offsets in messages count code points, as answer_start does.
      c.fail([...field], `the answer ${JSON.stringify(text)} is not in the context at answer_start ${start} (the context has ${there}; ` +
        (found >= 0 ? `the text occurs at ${codePoints(context.slice(0, found))}${context.indexOf(text as string, found + 1) >= 0 ? ' and later' : ''}` : 'the text does not occur in the context') +
        '); fix answer_start or the answer text');
    }
    return { text: text as string, start: s };
  });
  return { id: id as string, question: r.question as string, context, answers };
}

/**
 * Splits SQuAD articles deterministically for training and testing, never one article on both sides:
 * article `i` (0-based, file order) is held out when `i % every === every - 1`.
 */
export function splitArticles<T>(articles: readonly T[], every: number): { train: T[]; test: T[] } {
  if (!Number.isInteger(every) || every < 2) throw new RootsError('ERR_INVALID_ARG', `Expected an integer every >= 2 but received ${describe(every)}`);
  const train: T[] = [];
  const test: T[] = [];
  articles.forEach((a, i) => { (i % every === every - 1 ? test : train).push(a); });
  return { train, test };
}
