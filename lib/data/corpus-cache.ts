/**
 * The token cache: a corpus tokenized once into a flat file of ids on disk, read back by positional
 * reads, so later epochs cost no tokenization and memory stays bounded whatever the corpus size.
 *
 * Layout of a cache folder (`<cacheDir>/<key>/`):
 * - `tokens.bin`: the token stream, little-endian Uint16 when the vocabulary has at most 65536 ids
 *   (else Int32): every document's ids (no [CLS]), each document followed by one [SEP]. The packer
 *   (lib/data/mlm.ts) cuts this stream into blocks, so documents come out separated by [SEP].
 * - `docs.bin`: Float64 offsets (in tokens) of each document's first token: the document index.
 * - `meta.json`: dtype, counts, the inputs and options the key was made from. Written last.
 *
 * The key is a hash of (each file's absolute path, size and mtime; the whole tokenizer.json, so the
 * vocabulary and the normalizer; the reading options; the format version): a changed corpus or
 * vocabulary gets a new cache. A cache is built in a temporary folder and renamed into place when
 * complete, so an interrupted or failed build leaves nothing a later run could mistake for a cache.
 *
 * Node has no mmap; nanoGPT's `np.memmap(train.bin)` serves it fixed-size slices that the OS pages
 * in on demand, and positional `read`s of fixed-size blocks into a reused buffer are the same thing
 * here: the page cache keeps hot parts in memory, the process holds one block at a time.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { RootsError, describe } from '../errors.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { readCorpusLines, type CorpusFile, type CorpusReadOptions } from './corpus.js';

export const CACHE_VERSION = 1;
const TOKENS_FILE = 'tokens.bin';
const DOCS_FILE = 'docs.bin';
const META_FILE = 'meta.json';
/** Ids buffered before each write (bounded memory while building). */
const WRITE_CHUNK = 1 << 20;

export type TokenDtype = 'uint16' | 'int32';

export interface TokenCacheMeta {
  version: number;
  key: string;
  dtype: TokenDtype;
  /** tokens in tokens.bin, separators included */
  tokens: number;
  documents: number;
  vocabSize: number;
  sepTokenId: number;
  files: CorpusFile[];
  options: { documents: string; maxLineBytes: number | null };
  /** seconds the build took (tokenization and writing) */
  buildSeconds: number;
}

export interface BuildCacheOptions extends CorpusReadOptions {
  /** Folder holding caches (one sub-folder per key). */
  cacheDir: string;
  /** Called after each chunk of lines with the tokens so far. */
  onProgress?: (tokens: number, lines: number) => void;
}

/** The cache key of (files, tokenizer, options). */
export function cacheKey(files: readonly CorpusFile[], tokenizer: Tokenizer, options: CorpusReadOptions): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ version: CACHE_VERSION, files: files.map((f) => [resolve(f.path), f.size, f.mtimeMs]), documents: options.documents ?? 'line', maxLineBytes: options.maxLineBytes ?? null }));
  h.update(JSON.stringify(tokenizer.toJSON()));
  return h.digest('hex').slice(0, 24);
}

/**
 * Opens the cache of (files, tokenizer, options), building it first when there is none. `built`
 * says whether this call tokenized the corpus.
 */
export async function openTokenCache(files: readonly CorpusFile[], tokenizer: Tokenizer, options: BuildCacheOptions): Promise<{ cache: TokenCache; built: boolean }> {
  if (!options || typeof options.cacheDir !== 'string' || options.cacheDir === '') throw new RootsError('ERR_INVALID_ARG', `Expected a cacheDir folder but received ${describe(options?.cacheDir)}`);
  const key = cacheKey(files, tokenizer, options);
  const dir = join(resolve(options.cacheDir), key);
  try {
    return { cache: await TokenCache.open(dir), built: false };
  } catch (err) {
    if (!(err instanceof RootsError && err.code === 'ERR_IO')) throw err;
  }
  await buildTokenCache(dir, key, files, tokenizer, options);
  return { cache: await TokenCache.open(dir), built: true };
}

async function buildTokenCache(dir: string, key: string, files: readonly CorpusFile[], tokenizer: Tokenizer, options: BuildCacheOptions): Promise<void> {
  const sep = tokenizer.sepTokenId;
  if (sep === undefined) throw new RootsError('ERR_CONFIG', `The tokenizer has no ${tokenizer.specialTokens.sep} token; pretraining separates documents with it`);
  const vocabSize = tokenizer.vocabSize;
  const dtype: TokenDtype = vocabSize <= 65536 ? 'uint16' : 'int32';
  const parent = resolve(options.cacheDir);
  await mkdir(parent, { recursive: true });
  const tmp = await mkdtemp(join(parent, `.${key}.tmp-`));
  const t0 = performance.now();
  let tokensFh: FileHandle | null = null;
  let docsFh: FileHandle | null = null;
  try {
    tokensFh = await open(join(tmp, TOKENS_FILE), 'w');
    docsFh = await open(join(tmp, DOCS_FILE), 'w');
    const ids = dtype === 'uint16' ? new Uint16Array(WRITE_CHUNK) : new Int32Array(WRITE_CHUNK);
    const docStarts = new Float64Array(1 << 16);
    let n = 0; // ids buffered
    let total = 0; // ids written or buffered
    let d = 0; // doc starts buffered
    let documents = 0;
    let lines = 0;
    let open_ = false; // a document is open (its [SEP] not yet written)
    const flushIds = async (): Promise<void> => {
      if (n > 0) await tokensFh!.write(new Uint8Array(ids.buffer, 0, n * ids.BYTES_PER_ELEMENT));
      n = 0;
    };
    const append = async (arr: readonly number[]): Promise<void> => {
      let i = 0;
      while (i < arr.length) {
        const k = Math.min(arr.length - i, WRITE_CHUNK - n);
        for (let j = 0; j < k; j++) ids[n++] = arr[i++];
        total += k;
        if (n === WRITE_CHUNK) await flushIds();
      }
    };
    const endDoc = async (): Promise<void> => {
      if (open_) await append([sep]);
      open_ = false;
    };
    for await (const batch of readCorpusLines(files, options)) {
      for (const l of batch) {
        const enc = tokenizer.encode(l.text, null, { addSpecialTokens: false });
        if (l.docStart) await endDoc();
        if (enc.ids.length === 0) continue;
        if (!open_) {
          docStarts[d++] = total;
          documents++;
          if (d === docStarts.length) {
            await docsFh.write(new Uint8Array(docStarts.buffer, 0, d * 8));
            d = 0;
          }
          open_ = true;
        }
        await append(enc.ids);
      }
      lines += batch.length;
      options.onProgress?.(total, lines);
    }
    await endDoc();
    await flushIds();
    if (d > 0) await docsFh.write(new Uint8Array(docStarts.buffer, 0, d * 8));
    if (documents === 0) {
      throw new RootsError('ERR_INVALID_ARG', `The corpus (${files.map((f) => f.path).join(', ')}) has no text: every file is empty or blank`);
    }
    await tokensFh.close();
    tokensFh = null;
    await docsFh.close();
    docsFh = null;
    const meta: TokenCacheMeta = {
      version: CACHE_VERSION, key, dtype, tokens: total, documents, vocabSize, sepTokenId: sep, files: [...files],
      options: { documents: options.documents ?? 'line', maxLineBytes: options.maxLineBytes ?? null },
      buildSeconds: (performance.now() - t0) / 1000,
    };
    await writeFile(join(tmp, META_FILE), JSON.stringify(meta, null, 1) + '\n');
    try {
      await rename(tmp, dir);
    } catch (err) {
      // Another process finished the same cache first: theirs is as good as ours.
      if ((err as NodeJS.ErrnoException).code !== 'ENOTEMPTY' && (err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  } finally {
    await tokensFh?.close().catch(() => {});
    await docsFh?.close().catch(() => {});
    await rm(tmp, { recursive: true, force: true });
  }
}

/** A built token cache, read by positional reads. */
export class TokenCache {
  readonly dir: string;
  readonly meta: TokenCacheMeta;
  readonly #fh: FileHandle;
  readonly #width: number;

  private constructor(dir: string, meta: TokenCacheMeta, fh: FileHandle) {
    this.dir = dir;
    this.meta = meta;
    this.#fh = fh;
    this.#width = meta.dtype === 'uint16' ? 2 : 4;
  }

  /** Opens a complete cache folder (ERR_IO when there is none). */
  static async open(dir: string): Promise<TokenCache> {
    let meta: TokenCacheMeta;
    try {
      meta = JSON.parse(await readFile(join(dir, META_FILE), 'utf8')) as TokenCacheMeta;
    } catch (err) {
      throw new RootsError('ERR_IO', `No token cache in ${dir}: ${(err as Error).message}`, { cause: err });
    }
    if (meta.version !== CACHE_VERSION || (meta.dtype !== 'uint16' && meta.dtype !== 'int32')) throw new RootsError('ERR_IO', `The token cache in ${dir} has another format (version ${meta.version}); delete it to rebuild`);
    const size = (await stat(join(dir, TOKENS_FILE))).size;
    if (size !== meta.tokens * (meta.dtype === 'uint16' ? 2 : 4)) throw new RootsError('ERR_CHECKPOINT', `${join(dir, TOKENS_FILE)} has ${size} bytes, expected ${meta.tokens} tokens; delete the folder to rebuild`);
    return new TokenCache(dir, meta, await open(join(dir, TOKENS_FILE), 'r'));
  }

  /** Tokens in the stream (document separators included). */
  get length(): number {
    return this.meta.tokens;
  }

  /**
   * Reads `count` ids from position `start` into `out` (from `out[offset]`), converting to Int32.
   * `scratch` (optional) is a reused byte buffer of at least `count * 4` bytes.
   */
  async read(start: number, count: number, out: Int32Array, offset = 0, scratch?: Buffer): Promise<void> {
    if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > this.meta.tokens) {
      throw new RootsError('ERR_INVALID_ARG', `Cannot read tokens [${start}, ${start + count}) of a cache of ${this.meta.tokens}`);
    }
    const bytes = count * this.#width;
    const buf = scratch && scratch.length >= bytes ? scratch : Buffer.allocUnsafe(bytes);
    const { bytesRead } = await this.#fh.read(buf, 0, bytes, start * this.#width);
    if (bytesRead !== bytes) throw new RootsError('ERR_IO', `Short read from ${join(this.dir, TOKENS_FILE)} at token ${start} (file changed?)`);
    if (this.#width === 2) for (let i = 0; i < count; i++) out[offset + i] = buf.readUInt16LE(i * 2);
    else for (let i = 0; i < count; i++) out[offset + i] = buf.readInt32LE(i * 4);
  }

  /** The document index (offsets of each document's first token), read whole: for tests and statistics. */
  async documentStarts(): Promise<Float64Array> {
    const buf = await readFile(join(this.dir, DOCS_FILE));
    return new Float64Array(buf.buffer, buf.byteOffset, buf.length / 8).slice();
  }

  async close(): Promise<void> {
    await this.#fh.close();
  }
}
