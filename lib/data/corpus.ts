/**
 * Unlabelled text corpora for pretraining and vocabulary training, read as streams.
 *
 * A corpus is a list of text files, folders (every regular file under them, recursively, in sorted
 * order, dot-files skipped) or globs (`*`, `?`, `**`), each optionally gzip'd (`.gz`, decompressed
 * through a zlib stream). Documents are one per line (`documents: 'line'`) or runs of lines
 * separated by blank lines (`'blank-line'`). Nothing is ever read whole: lines are cut out of the
 * byte stream as it arrives, so memory stays bounded by the read chunk plus the longest line, and
 * the longest line is bounded by `maxLineBytes`.
 *
 * Bad input is an error naming the file and line: a NUL byte (a binary file), invalid UTF-8, a line
 * longer than `maxLineBytes` (`--max-line-bytes`), a pattern that matches no file.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { createGunzip } from 'node:zlib';
import { RootsError, describe, expectPositiveInt } from '../errors.js';

/** One input file of a corpus, with what the token cache keys on. */
export interface CorpusFile {
  path: string;
  size: number;
  mtimeMs: number;
}

/** How lines become documents. */
export type DocumentMode = 'line' | 'blank-line';

export interface CorpusReadOptions {
  /** `'line'` (default): each non-blank line is a document; `'blank-line'`: blank lines separate documents. */
  documents?: DocumentMode;
  /** Longest line accepted, in bytes (default 4 MiB; `--max-line-bytes`). Longer lines are an error. */
  maxLineBytes?: number;
}

/** One line of a corpus, with where it came from. */
export interface CorpusLine {
  text: string;
  file: string;
  /** 1-based line number in `file` */
  line: number;
  /**
   * True on the first line of a new document (always true in `'line'` mode). Blank lines are not
   * yielded; in `'blank-line'` mode they only end the current document.
   */
  docStart: boolean;
}

export const DEFAULT_MAX_LINE_BYTES = 4 * 1024 * 1024;

/**
 * Expands files, folders and globs into a sorted, de-duplicated list of files with their sizes and
 * modification times. `flag` names the option in errors (default `--corpus`).
 *
 * Globs are matched here (Node 20 has no `fs.glob`, and the three wildcards we support do not
 * justify a dependency): `*` and `?` within one path segment, `**` across segments.
 */
export async function resolveCorpusFiles(inputs: string | readonly string[], flag = '--corpus'): Promise<CorpusFile[]> {
  const list = typeof inputs === 'string' ? [inputs] : inputs;
  if (!Array.isArray(list) || list.length === 0) throw new RootsError('ERR_INVALID_ARG', `${flag}: expected at least one file, folder or glob`);
  const out = new Map<string, CorpusFile>();
  for (const input of list) {
    if (typeof input !== 'string' || input === '') throw new RootsError('ERR_INVALID_ARG', `${flag}: expected a path or glob but received ${describe(input)}`);
    const paths = /[*?]/.test(input) ? await expandGlob(input) : await expandPath(input, flag);
    if (paths.length === 0) throw new RootsError('ERR_INVALID_ARG', `${flag} ${input}: no files match`);
    for (const p of paths) {
      const s = await stat(p);
      out.set(p, { path: p, size: s.size, mtimeMs: s.mtimeMs });
    }
  }
  return [...out.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

async function expandPath(input: string, flag: string): Promise<string[]> {
  const path = resolve(input);
  let s: Awaited<ReturnType<typeof stat>>;
  try {
    s = await stat(path);
  } catch (err) {
    throw new RootsError('ERR_IO', `${flag} ${input}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or folder' : (err as Error).message}`, { cause: err });
  }
  if (s.isFile()) return [path];
  if (!s.isDirectory()) throw new RootsError('ERR_INVALID_ARG', `${flag} ${input}: not a regular file or folder`);
  return walk(path);
}

/** Every regular file under `dir` (dot-files and dot-folders skipped), sorted. */
async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...await walk(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

async function expandGlob(pattern: string): Promise<string[]> {
  const abs = resolve(pattern);
  const segments = abs.split(sep);
  // The fixed prefix (segments without wildcards) is where the walk starts.
  let k = 0;
  while (k < segments.length && !/[*?]/.test(segments[k])) k++;
  const root = segments.slice(0, k).join(sep) || sep;
  const parts = segments.slice(k);
  let source = '';
  parts.forEach((seg, i) => {
    const last = i === parts.length - 1;
    if (seg === '**') source += last ? '.*' : '(?:[^/]+/)*';
    else source += segmentRegex(seg) + (last ? '' : '/');
  });
  const re = new RegExp('^' + source + '$');
  let files: string[];
  try {
    files = await walk(root);
  } catch {
    return [];
  }
  return files.filter((f) => re.test(f.slice(root.length + (root.endsWith(sep) ? 0 : 1)).split(sep).join('/')));
}

function segmentRegex(seg: string): string {
  return seg.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
}

/**
 * The lines of one file, in batches (one batch per chunk read, so the per-line cost of an async
 * generator is paid once per chunk). Each line is checked for NUL bytes and valid UTF-8 before it
 * is decoded; `\r\n` endings and a leading BOM are removed.
 */
export async function* readFileLines(file: string, options: CorpusReadOptions = {}): AsyncGenerator<CorpusLine[]> {
  const maxLineBytes = expectPositiveInt('maxLineBytes', options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
  const blankMode = (options.documents ?? 'line') === 'blank-line';
  if (options.documents !== undefined && options.documents !== 'line' && options.documents !== 'blank-line') {
    throw new RootsError('ERR_INVALID_ARG', `Expected documents 'line' or 'blank-line' but received ${describe(options.documents)}`);
  }
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const raw = createReadStream(file, { highWaterMark: 1 << 20 });
  const stream = file.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  const where = (line: number): string => `${file}:${line}`;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let lineNo = 0;
  let inDoc = false;
  const emit = (bytes: Buffer, out: CorpusLine[]): void => {
    lineNo++;
    let end = bytes.length;
    if (end > 0 && bytes[end - 1] === 13) end--;
    let start = 0;
    if (lineNo === 1 && end >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) start = 3;
    const body = bytes.subarray(start, end);
    if (body.indexOf(0) !== -1) {
      throw new RootsError('ERR_PARSE', `${where(lineNo)}: NUL byte at column ${body.indexOf(0) + 1}; this looks like a binary file, not text (remove it from the corpus)`);
    }
    let text: string;
    try {
      text = decoder.decode(body);
    } catch (err) {
      throw new RootsError('ERR_PARSE', `${where(lineNo)}: invalid UTF-8 near byte ${firstInvalidUtf8(body) + 1} of the line (the corpus must be UTF-8 text)`, { cause: err });
    }
    if (text.trim() === '') {
      inDoc = false;
      return;
    }
    out.push({ text, file, line: lineNo, docStart: blankMode ? !inDoc : true });
    inDoc = true;
  };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const out: CorpusLine[] = [];
      let from = 0;
      for (;;) {
        const nl = chunk.indexOf(10, from);
        if (nl === -1) break;
        const piece = chunk.subarray(from, nl);
        if (pendingBytes + piece.length > maxLineBytes) throw tooLong(where(lineNo + 1), maxLineBytes);
        if (pending.length > 0) {
          pending.push(piece);
          emit(Buffer.concat(pending), out);
          pending = [];
          pendingBytes = 0;
        } else {
          emit(piece, out);
        }
        from = nl + 1;
      }
      if (from < chunk.length) {
        const rest = chunk.subarray(from);
        pendingBytes += rest.length;
        if (pendingBytes > maxLineBytes) throw tooLong(where(lineNo + 1), maxLineBytes);
        pending.push(Buffer.from(rest)); // a copy: the stream may reuse its chunk
      }
      if (out.length > 0) yield out;
    }
    if (pendingBytes > 0) {
      const out: CorpusLine[] = [];
      emit(Buffer.concat(pending), out);
      if (out.length > 0) yield out;
    }
  } catch (err) {
    if (err instanceof RootsError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'Z_DATA_ERROR' || e.code === 'Z_BUF_ERROR') throw new RootsError('ERR_PARSE', `${file}: not a valid gzip file (${e.message}); only .gz files are decompressed`, { cause: err });
    throw new RootsError('ERR_IO', `Cannot read ${file}: ${e.message}`, { cause: err });
  } finally {
    raw.destroy();
    if (stream !== raw) (stream as NodeJS.ReadableStream & { destroy(): void }).destroy();
  }
}

function tooLong(where: string, limit: number): RootsError {
  return new RootsError('ERR_PARSE', `${where}: the line is longer than ${limit} bytes (maxLineBytes); split it, or raise the limit with --max-line-bytes`);
}

/** Index of the first byte where `bytes` stops being valid UTF-8 (for the error message). */
function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    const n = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
    if (n === 0 || i + n > bytes.length) return i;
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(i, i + n));
    } catch {
      return i;
    }
    i += n;
  }
  return i;
}

/** The lines of every file of a corpus, in order, in batches. */
export async function* readCorpusLines(files: readonly CorpusFile[], options: CorpusReadOptions = {}): AsyncGenerator<CorpusLine[]> {
  for (const f of files) yield* readFileLines(f.path, options);
}

/** A short label for a corpus in messages: the file, or the first file and a count. */
export function corpusLabel(files: readonly CorpusFile[]): string {
  if (files.length === 0) return '(no files)';
  return files.length === 1 ? files[0].path : `${join(basename(dirname(files[0].path)), basename(files[0].path))} and ${files.length - 1} more`;
}
