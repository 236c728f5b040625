/**
 * Readers for the corpora NLP fine-tuning uses: CoNLL column files, JSONL, TSV/CSV with a header,
 * TREC question classification, and the seq.in / seq.out / label folders of intent-and-slot
 * corpora (ATIS, SNIPS); TSV/CSV files are read by delimited.ts. Every reader reports problems with the file, the line and what was
 * expected, and files are UTF-8 unless `encoding: 'latin1'` says otherwise (invalid UTF-8 is an
 * error, never silently replaced).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RootsError, describe } from '../errors.js';

/** Text encodings the readers accept. */
export type FileEncoding = 'utf-8' | 'utf8' | 'latin1';

/** Options every reader takes. */
export interface ReadOptions {
  /** Default `'utf-8'` (invalid bytes are an error); `'latin1'` reads ISO-8859-1. */
  encoding?: FileEncoding;
}

/** A sentence with one tag per token (NER, POS, slot filling). */
export interface TaggedSentence {
  tokens: string[];
  tags: string[];
  /** 0-based index of the document (CoNLL `-DOCSTART-` boundaries); 0 when the file has none. */
  document?: number;
  /** 1-based line of the first token in the source file. */
  line?: number;
}

/** A text (or text pair) with its label(s), for sequence classification. */
export interface TextExample {
  text: string;
  /** second text of a pair (NLI, paraphrase, QA relevance) */
  textPair?: string;
  /** class name; an array for multi-label data; absent for unlabelled data */
  label?: string | string[];
  /** 1-based line in the source file */
  line?: number;
}

/** An utterance with slot tags and an intent (joint intent detection and slot filling). */
export interface IntentSlotExample extends TaggedSentence {
  /** intent label (absent when the folder has no `label` file) */
  intent?: string;
}

/** A file path or a file: URL. */
export type Source = string | URL;

/** The path of a source (checked). */
export function pathOf(source: Source): string {
  if (source instanceof URL) return fileURLToPath(source);
  if (typeof source !== 'string' || source === '') {
    throw new RootsError('ERR_INVALID_ARG', `Expected a file path but received ${describe(source)}`);
  }
  return source;
}

/** Byte offset of the first invalid UTF-8 sequence in `buf`, or -1 when it is valid UTF-8. */
function firstInvalidUtf8(buf: Uint8Array): number {
  let i = 0;
  const n = buf.length;
  while (i < n) {
    const b = buf[i];
    if (b < 0x80) { i++; continue; }
    let need: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) { need = 1; min = 0x80; } else if (b >= 0xe0 && b <= 0xef) { need = 2; min = 0x800; } else if (b >= 0xf0 && b <= 0xf4) { need = 3; min = 0x10000; } else return i;
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = buf[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

/** `--encoding latin1` and its API form, for messages. */
const LATIN1_HINT = "--encoding latin1 (API: { encoding: 'latin1' })";

/**
 * The byte order of UTF-16 text: from a byte-order mark, or from NUL bytes in every other position
 * of the first 4 KiB (ASCII text in UTF-16 is half NULs; UTF-8 and Latin-1 text has none). Null
 * when the bytes do not look like UTF-16.
 */
function utf16Of(bytes: Uint8Array): { order: 'LE' | 'BE'; bom: boolean } | null {
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) return { order: 'LE', bom: true };
  if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff) return { order: 'BE', bom: true };
  const n = Math.min(bytes.length, 4096) & ~1;
  if (n < 4) return null;
  let evenNul = 0;
  let oddNul = 0;
  for (let i = 0; i < n; i += 2) {
    if (bytes[i] === 0) evenNul++;
    if (bytes[i + 1] === 0) oddNul++;
  }
  const pairs = n / 2;
  if (oddNul >= pairs * 0.3 && evenNul <= pairs * 0.05) return { order: 'LE', bom: false };
  if (evenNul >= pairs * 0.3 && oddNul <= pairs * 0.05) return { order: 'BE', bom: false };
  return null;
}

/**
 * Decodes a file's bytes. UTF-16 (by its byte-order mark or its NUL bytes) is refused with the
 * command that converts it. UTF-8 is checked strictly: the error names the line and byte and, when
 * the bad bytes look like Latin-1 / Windows-1252 text, points to `--encoding latin1`. A UTF-8 BOM
 * is dropped.
 */
export function decodeText(bytes: Uint8Array, path: string, encoding: FileEncoding = 'utf-8'): string {
  if (encoding !== 'latin1' && encoding !== 'utf-8' && encoding !== 'utf8') {
    throw new RootsError('ERR_INVALID_ARG', `Expected encoding 'utf-8' or 'latin1' but received ${describe(encoding)}`);
  }
  const utf16 = utf16Of(bytes);
  if (utf16) {
    const how = utf16.bom ? `byte-order mark ${utf16.order === 'LE' ? 'FF FE' : 'FE FF'}` : 'a NUL byte before or after every ASCII character';
    const from = utf16.bom ? 'UTF-16' : `UTF-16${utf16.order}`;
    throw new RootsError('ERR_PARSE',
      `${path}: the file is UTF-16 (${utf16.order === 'LE' ? 'little' : 'big'}-endian; ${how}), which the readers do not read: ` +
      `convert it to UTF-8, e.g. iconv -f ${from} -t UTF-8 ${shellQuote(path)} > ${shellQuote(`${path}.utf8`)}`);
  }
  if (encoding === 'latin1') return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (err) {
    const at = Math.max(0, firstInvalidUtf8(bytes));
    let line = 1;
    let lineStart = 0;
    for (let i = 0; i < at; i++) if (bytes[i] === 0x0a) { line++; lineStart = i + 1; }
    const hex = Array.from(bytes.subarray(at, at + 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    const nul = bytes.indexOf(0);
    // Latin-1 text has no NUL bytes and its bytes 0x80-0x9F are rare (Windows-1252 puts quotes there).
    const why = nul >= 0
      ? `The file has NUL bytes (the first at byte ${nul}): it is binary or in an encoding other than UTF-8, UTF-16 and Latin-1; convert it to UTF-8`
      : `The file is probably Latin-1 or Windows-1252: pass ${LATIN1_HINT} to read it as ISO-8859-1`;
    throw new RootsError('ERR_PARSE', `${path}:${line}: invalid UTF-8 at byte ${at} (column ${at - lineStart + 1}, bytes ${hex}). ${why}`, { cause: err });
  }
}

/** `s` quoted for a POSIX shell when it needs it (for commands in messages). */
function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`;
}

/** Reads a text file with {@link decodeText}; missing or unreadable files are ERR_IO. */
export async function readTextFile(source: Source, options: ReadOptions = {}): Promise<string> {
  const path = pathOf(source);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : (err as Error).message;
    throw new RootsError('ERR_IO', `Cannot read ${path}: ${why}`, { cause: err });
  }
  return decodeText(bytes, path, options.encoding);
}

/** Splits text into lines (LF or CRLF), without a trailing empty line. */
export function splitLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

// ---------------------------------------------------------------------------------------------
// CoNLL
// ---------------------------------------------------------------------------------------------

/** Options for {@link readConll} / {@link parseConll}. */
export interface ConllOptions extends ReadOptions {
  /** Column holding the token (default 0). Negative counts from the end. */
  tokenColumn?: number;
  /** Column holding the tag (default -1, the last). `null` reads untagged files (tags empty). */
  tagColumn?: number | null;
  /**
   * Field separator: `'tab'`, `'whitespace'`, or auto (default): lines containing a TAB split on
   * TABs (tokens may then contain spaces), other lines on runs of whitespace.
   */
  delimiter?: 'tab' | 'whitespace';
  /** Every token line must have as many columns as the first one (default true). */
  strictColumns?: boolean;
}

/**
 * Reads a CoNLL-style column file: one token per line, sentences separated by blank lines or lines
 * of only whitespace (WNUT-17 uses a lone TAB), `-DOCSTART-` lines as document boundaries.
 */
export async function readConll(source: Source, options: ConllOptions = {}): Promise<TaggedSentence[]> {
  return parseConll(await readTextFile(source, options), { ...options, source: pathOf(source) });
}

/** Parses CoNLL text (see {@link readConll}); `source` names it in error messages. */
export function parseConll(text: string, options: ConllOptions & { source?: string } = {}): TaggedSentence[] {
  const source = options.source ?? '<conll>';
  const tokenColumn = options.tokenColumn ?? 0;
  const tagColumn = options.tagColumn === undefined ? -1 : options.tagColumn;
  if (!Number.isInteger(tokenColumn)) throw new RootsError('ERR_INVALID_ARG', `Expected an integer for tokenColumn but received ${describe(tokenColumn)}`);
  if (tagColumn !== null && !Number.isInteger(tagColumn)) throw new RootsError('ERR_INVALID_ARG', `Expected an integer or null for tagColumn but received ${describe(tagColumn)}`);
  const strict = options.strictColumns ?? true;
  const out: TaggedSentence[] = [];
  let tokens: string[] = [];
  let tags: string[] = [];
  let firstLine = 0;
  let document = 0;
  let sawContent = false;
  let columns = -1;
  let columnsLine = 0;
  const flush = (): void => {
    if (tokens.length > 0) out.push({ tokens, tags, document, line: firstLine });
    tokens = [];
    tags = [];
  };
  const lines = splitLines(text);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    const lineNo = i + 1;
    if (raw.trim() === '') { flush(); continue; }
    const fields = options.delimiter === 'whitespace' || (options.delimiter !== 'tab' && !raw.includes('\t'))
      ? raw.trim().split(/\s+/)
      : raw.replace(/[\t\r ]+$/, '').split('\t');
    if (fields[0] === '-DOCSTART-') {
      flush();
      if (sawContent) document++;
      continue;
    }
    sawContent = true;
    if (strict) {
      if (columns < 0) { columns = fields.length; columnsLine = lineNo; } else if (fields.length !== columns) {
        throw new RootsError('ERR_PARSE', `${source}:${lineNo}: expected ${columns} columns like line ${columnsLine} but found ${fields.length}: ${describe(raw)} ` +
          '(a token with a space in it? Separate the columns with TABs; the API reads ragged lines with { strictColumns: false }, the CLI has no flag for it)');
      }
    }
    const needed = Math.max(tokenColumn < 0 ? -tokenColumn : tokenColumn + 1, tagColumn === null ? 0 : tagColumn < 0 ? -tagColumn : tagColumn + 1);
    if (fields.length < needed || (tagColumn !== null && tagColumn < 0 && fields.length < 2)) {
      throw new RootsError('ERR_PARSE', `${source}:${lineNo}: expected at least ${Math.max(needed, 2)} columns (token column ${tokenColumn}, tag column ${tagColumn}) but found ${fields.length}: ${describe(raw)} ` +
        '(choose the columns with --token-column N and --tag-column N; API: { tokenColumn: N, tagColumn: N })');
    }
    const token = fields.at(tokenColumn)!;
    if (token === '') throw new RootsError('ERR_PARSE', `${source}:${lineNo}: empty token in column ${tokenColumn}: ${describe(raw)}`);
    if (tokens.length === 0) firstLine = lineNo;
    tokens.push(token);
    if (tagColumn !== null) {
      const tag = fields.at(tagColumn)!;
      if (tag === '') throw new RootsError('ERR_PARSE', `${source}:${lineNo}: empty tag in column ${tagColumn}: ${describe(raw)}`);
      tags.push(tag);
    }
  }
  flush();
  return out;
}

// ---------------------------------------------------------------------------------------------
// JSONL
// ---------------------------------------------------------------------------------------------

/** Options for {@link readTaggedJsonl}. */
export interface TaggedJsonlOptions extends ReadOptions {
  /** Field with the token list (default `'tokens'`). */
  tokensField?: string;
  /** Field with the tag list (default `'tags'`, then `'ner_tags'`). */
  tagsField?: string;
  /** Names for integer tags (HF datasets store `ner_tags` as class ids). */
  tagNames?: readonly string[];
}

/** Options for {@link readTextJsonl}. */
export interface TextJsonlOptions extends ReadOptions {
  /** Field with the text (default: the first of `text`, `text_a`, `sentence`, `sentence1`). */
  textField?: string;
  /** Field with the second text of a pair (default: `text_b` or `sentence2` when present). */
  textPairField?: string;
  /** Field with the label (default `'label'`): a string, a number, or an array (multi-label). */
  labelField?: string;
  /** Names for integer labels. */
  labelNames?: readonly string[];
  /** Every record must have a label (default true). */
  requireLabel?: boolean;
}

const TEXT_FIELDS = ['text', 'text_a', 'sentence', 'sentence1'];
const PAIR_FIELDS = ['text_b', 'sentence2'];

/** Parses JSONL text: one JSON object per non-blank line, with its 1-based line (errors name the line). */
export function parseJsonl(text: string, source: string): { value: Record<string, unknown>; line: number }[] {
  const out: { value: Record<string, unknown>; line: number }[] = [];
  const lines = splitLines(text);
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(lines[i]);
    } catch (err) {
      throw new RootsError('ERR_PARSE', `${source}:${i + 1}: invalid JSON (${(err as Error).message}): ${describe(lines[i])}`, { cause: err });
    }
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      throw new RootsError('ERR_PARSE', `${source}:${i + 1}: expected a JSON object per line but found ${Array.isArray(value) ? 'an array' : describe(value)}`);
    }
    out.push({ value: value as Record<string, unknown>, line: i + 1 });
  }
  return out;
}

/** A label value as a class name: strings as they are, integers through `names` when given. */
function labelName(value: unknown, names: readonly string[] | undefined, where: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isInteger(value)) {
    if (!names) return String(value);
    if (value < 0 || value >= names.length) throw new RootsError('ERR_PARSE', `${where}: label id ${value} is outside the ${names.length} names given`);
    return names[value];
  }
  if (typeof value === 'boolean') return String(value);
  throw new RootsError('ERR_PARSE', `${where}: expected a string or integer label but found ${describe(value)}`);
}

/** Reads `{"tokens": [...], "tags": [...]}` lines (token classification). */
export async function readTaggedJsonl(source: Source, options: TaggedJsonlOptions = {}): Promise<TaggedSentence[]> {
  const path = pathOf(source);
  const records = parseJsonl(await readTextFile(path, options), path);
  return records.map(({ value, line }) => {
    const where = `${path}:${line}`;
    const tokensField = options.tokensField ?? 'tokens';
    const tagsField = options.tagsField ?? ('tags' in value || !('ner_tags' in value) ? 'tags' : 'ner_tags');
    const tokens = value[tokensField];
    const tags = value[tagsField];
    if (!Array.isArray(tokens) || tokens.some((t) => typeof t !== 'string')) {
      throw new RootsError('ERR_PARSE', `${where}: expected field "${tokensField}" to be an array of strings but found ${describe(tokens)} (keys: ${Object.keys(value).join(', ')})`);
    }
    if (!Array.isArray(tags)) {
      throw new RootsError('ERR_PARSE', `${where}: expected field "${tagsField}" to be an array of tags but found ${describe(tags)} (keys: ${Object.keys(value).join(', ')})`);
    }
    if (tags.length !== tokens.length) {
      throw new RootsError('ERR_PARSE', `${where}: "${tokensField}" has ${tokens.length} tokens but "${tagsField}" has ${tags.length} tags`);
    }
    return { tokens: tokens as string[], tags: tags.map((t, i) => labelName(t, options.tagNames, `${where} ${tagsField}[${i}]`)), line };
  });
}

/** Reads `{"text": ..., "label": ...}` or `{"text_a": ..., "text_b": ..., "label": ...}` lines. */
export async function readTextJsonl(source: Source, options: TextJsonlOptions = {}): Promise<TextExample[]> {
  const path = pathOf(source);
  const records = parseJsonl(await readTextFile(path, options), path);
  const labelField = options.labelField ?? 'label';
  return records.map(({ value, line }) => {
    const where = `${path}:${line}`;
    const textField = options.textField ?? TEXT_FIELDS.find((f) => f in value);
    if (textField === undefined || typeof value[textField] !== 'string') {
      throw new RootsError('ERR_PARSE', `${where}: expected a string field ${options.textField ? `"${options.textField}"` : `(one of ${TEXT_FIELDS.join(', ')})`} but found ${textField ? describe(value[textField]) : `keys ${Object.keys(value).join(', ')}`}` +
        `${options.textField ? '' : '; name the field with --text-column NAME (API: { textField: NAME })'}`);
    }
    const example: TextExample = { text: value[textField] as string, line };
    const pairField = options.textPairField ?? PAIR_FIELDS.find((f) => f in value);
    if (pairField !== undefined) {
      if (typeof value[pairField] !== 'string') throw new RootsError('ERR_PARSE', `${where}: expected field "${pairField}" to be a string but found ${describe(value[pairField])}`);
      example.textPair = value[pairField] as string;
    }
    const label = value[labelField];
    if (label === null && (options.requireLabel ?? true)) {
      throw new RootsError('ERR_PARSE', `${where}: "${labelField}" is null; expected a class name (a string), a class id (an integer) or an array of them (multi-label). ` +
        'Drop the unlabelled records, or read them with the API option { requireLabel: false }');
    }
    if (label === undefined || label === null) {
      if (options.requireLabel ?? true) {
        throw new RootsError('ERR_PARSE', `${where}: no "${labelField}" field (keys: ${Object.keys(value).join(', ')}); name the label field with --label-column NAME ` +
          '(API: { labelField: NAME }), or read unlabelled data with the API option { requireLabel: false }');
      }
    } else {
      example.label = Array.isArray(label)
        ? label.map((l, i) => labelName(l, options.labelNames, `${where} ${labelField}[${i}]`))
        : labelName(label, options.labelNames, `${where} ${labelField}`);
    }
    return example;
  });
}

// ---------------------------------------------------------------------------------------------
// TREC
// ---------------------------------------------------------------------------------------------

/**
 * Coarse TREC classes in the order harvardnlp/sent-conv-torch numbers them (its TREC.*.all files
 * write `0`..`5` instead of `DESC:manner`).
 */
export const TREC_NUMERIC_LABELS: readonly string[] = ['DESC', 'ENTY', 'ABBR', 'HUM', 'LOC', 'NUM'];

/** Options for {@link readTrec}. */
export interface TrecOptions extends ReadOptions {
  /** `'coarse'` (6 classes, default) or `'fine'` (50 classes such as `HUM:ind`). */
  labels?: 'coarse' | 'fine';
  /** Class names for files with numeric labels (default {@link TREC_NUMERIC_LABELS}). */
  numericLabels?: readonly string[];
}

/**
 * Reads TREC question classification data: lines `COARSE:fine question text` (Li & Roth's files),
 * or `N question text` with a numeric coarse class.
 */
export async function readTrec(source: Source, options: TrecOptions = {}): Promise<TextExample[]> {
  const path = pathOf(source);
  const mode = options.labels ?? 'coarse';
  if (mode !== 'coarse' && mode !== 'fine') throw new RootsError('ERR_INVALID_ARG', `Expected labels 'coarse' or 'fine' but received ${describe(mode)}`);
  const numeric = options.numericLabels ?? TREC_NUMERIC_LABELS;
  const out: TextExample[] = [];
  splitLines(await readTextFile(path, options)).forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    let m = /^([A-Z]+):(\S+)\s+(.*)$/.exec(raw);
    if (m) {
      out.push({ text: m[3].trim(), label: mode === 'coarse' ? m[1] : `${m[1]}:${m[2]}`, line });
      return;
    }
    m = /^(\d+)\s+(.*)$/.exec(raw);
    if (m) {
      if (mode === 'fine') throw new RootsError('ERR_PARSE', `${path}:${line}: this file has numeric (coarse) labels only; fine labels need the COARSE:fine format`);
      const id = Number(m[1]);
      if (id >= numeric.length) throw new RootsError('ERR_PARSE', `${path}:${line}: numeric label ${id} is outside the ${numeric.length} class names (${numeric.join(', ')})`);
      out.push({ text: m[2].trim(), label: numeric[id], line });
      return;
    }
    throw new RootsError('ERR_PARSE', `${path}:${line}: expected "COARSE:fine question" or "N question" but found ${describe(raw)}`);
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Intent + slots (seq.in / seq.out / label)
// ---------------------------------------------------------------------------------------------

/** Options for {@link readIntentSlots}. */
export interface IntentSlotOptions extends ReadOptions {
  /** file names inside the folder (defaults: seq.in, seq.out, label) */
  seqIn?: string;
  seqOut?: string;
  label?: string;
}

/**
 * Reads a folder in the JointBERT layout (ATIS, SNIPS): `seq.in` (space-separated words), `seq.out`
 * (one slot tag per word) and `label` (one intent per line), all line-aligned. A missing `label`
 * file leaves `intent` unset.
 */
export async function readIntentSlots(dir: Source, options: IntentSlotOptions = {}): Promise<IntentSlotExample[]> {
  const base = pathOf(dir);
  const inPath = join(base, options.seqIn ?? 'seq.in');
  const outPath = join(base, options.seqOut ?? 'seq.out');
  const labelPath = join(base, options.label ?? 'label');
  const words = splitLines(await readTextFile(inPath, options));
  const tags = splitLines(await readTextFile(outPath, options));
  let intents: string[] | undefined;
  try {
    intents = splitLines(await readTextFile(labelPath, options));
  } catch (err) {
    if (!(err instanceof RootsError && err.code === 'ERR_IO' && /no such file/.test(err.message))) throw err;
  }
  if (tags.length !== words.length) throw new RootsError('ERR_PARSE', `${outPath} has ${tags.length} lines but ${inPath} has ${words.length}; they must be line-aligned`);
  if (intents && intents.length !== words.length) throw new RootsError('ERR_PARSE', `${labelPath} has ${intents.length} lines but ${inPath} has ${words.length}; they must be line-aligned`);
  return words.map((w, i) => {
    const tokens = w.trim().split(/\s+/).filter((t) => t !== '');
    const t = tags[i].trim().split(/\s+/).filter((x) => x !== '');
    if (tokens.length === 0) throw new RootsError('ERR_PARSE', `${inPath}:${i + 1}: empty utterance`);
    if (t.length !== tokens.length) throw new RootsError('ERR_PARSE', `${outPath}:${i + 1}: ${t.length} tags for the ${tokens.length} words of ${inPath}:${i + 1}`);
    const example: IntentSlotExample = { tokens, tags: t, line: i + 1 };
    if (intents) {
      const intent = intents[i].trim();
      if (intent === '') throw new RootsError('ERR_PARSE', `${labelPath}:${i + 1}: empty intent label`);
      example.intent = intent;
    }
    return example;
  });
}
