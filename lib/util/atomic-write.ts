/**
 * Atomic file writes: the data goes to a temporary name in the target's folder (same file system,
 * so the rename is atomic), is flushed with fsync, and is renamed over the target; the folder is
 * then fsynced so the rename itself survives a crash. On failure the temporary file is removed and
 * the target is untouched: a reader sees the old file or the new one, never half of one.
 *
 * Hand-written rather than npm's `write-file-atomic` because the model and optimizer files are
 * written by the native addon to a path we hand it ({@link atomicPath}), which that package cannot
 * express; its string/buffer form would be the only half we used.
 */
import { open, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /**
   * Flush the file and its folder to disk before and after the rename (default true). Pass false
   * for files that are cheap to lose in a power cut (reports, summaries): the rename is still atomic.
   */
  fsync?: boolean;
}

let counter = 0;

/** A fresh temporary name next to `path`: hidden, unique to this process and call. */
function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${++counter}`);
}

const IGNORED_SYNC_ERRORS = new Set(['EISDIR', 'EINVAL', 'EPERM', 'EBADF']);

/** Flushes a file (or, where the file system allows it, a folder) to disk. */
export async function fsyncPath(path: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, 'r');
    await fh.sync();
  } catch (e) {
    // Some file systems refuse fsync on folders (or on read-only handles); the rename is atomic anyway.
    if (!IGNORED_SYNC_ERRORS.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
  } finally {
    await fh?.close();
  }
}

function fsyncPathSync(path: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    fsyncSync(fd);
  } catch (e) {
    if (!IGNORED_SYNC_ERRORS.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * The "temporary path, then commit" form: `write(tmp)` creates the file at `tmp` (for example the
 * native addon saving tensors); when it resolves, the file is flushed and renamed to `path`. If
 * `write` or the commit fails, `tmp` is removed and the error rethrown.
 */
export async function atomicPath<T>(path: string, write: (tmp: string) => Promise<T>, options: AtomicWriteOptions = {}): Promise<T> {
  const tmp = tempPathFor(path);
  const sync = options.fsync ?? true;
  try {
    const result = await write(tmp);
    if (sync) await fsyncPath(tmp);
    await rename(tmp, path);
    if (sync) await fsyncPath(dirname(path));
    return result;
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Writes `data` to `path` atomically (see the file comment). */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  await atomicPath(path, (tmp) => writeFile(tmp, data), options);
}

/** {@link writeFileAtomic} for the few callers that must not yield (the trainer log's rewrite). */
export function writeFileAtomicSync(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): void {
  const tmp = tempPathFor(path);
  const sync = options.fsync ?? true;
  try {
    writeFileSync(tmp, data);
    if (sync) fsyncPathSync(tmp);
    renameSync(tmp, path);
    if (sync) fsyncPathSync(dirname(path));
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
