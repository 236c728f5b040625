/**
 * One training run per output folder. Two runs writing into one folder interleave their logs,
 * delete each other's temporary checkpoints and load each other's weights as "the best", and both
 * report success; so a run locks its output folder first.
 *
 * The lock is proper-lockfile's (npm; used by npm's own tooling before it, and by Jest, pnpm and
 * others): a folder `roots-train.lock` made with mkdir (atomic, also on NFS), whose mtime the holder
 * refreshes every few seconds. Beside it `roots-train.lock.json` says who holds it (pid, host, start
 * time), because proper-lockfile records nothing about the holder and keeps its folder empty. Added
 * on top of proper-lockfile:
 * - a lock held by a process of this host that no longer runs is taken over at once, with a notice
 *   (proper-lockfile alone would wait for the mtime to go stale);
 * - a lock held by a live process of this host is never taken over, however old its mtime (a long
 *   synchronous step can delay the refresh);
 * - a lock of another host is taken over when its mtime has not been refreshed for `staleMs`;
 * - a second lock on the same folder in the same process is refused like any other.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, realpath, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { RootsError } from '../errors.js';

/** The lock itself (a folder) and the file naming its holder, inside the output folder. */
export const LOCK_NAME = 'roots-train.lock';
export const LOCK_OWNER_FILE = 'roots-train.lock.json';

/** Who holds a lock (roots-train.lock.json). */
export interface LockOwner {
  pid: number;
  host: string;
  /** ISO time the lock was taken. */
  started: string;
}

export interface OutputDirLock {
  /** The locked folder (as given). */
  readonly dir: string;
  /** The folder's real path. */
  readonly realDir: string;
  /** The lock folder. */
  readonly lockPath: string;
  /** Releases the lock (idempotent). */
  release(): Promise<void>;
}

export interface LockOptions {
  /** How the folder is named in messages (the CLI passes `--out DIR`; default the path). */
  label?: string;
  /** Where notices go (taking over a stale lock, losing the lock); default stderr. */
  log?: (message: string) => void;
  /** A lock of another host is stale after this many ms without a refresh (default 60 000). */
  staleMs?: number;
}

/** Real paths of the folders this process holds, with their owner files (removed on exit). */
const held = new Map<string, string>();
let exitHook = false;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';  // exists, owned by another user
  }
}

async function readOwner(path: string): Promise<LockOwner | null> {
  try {
    const o = JSON.parse(await readFile(path, 'utf8')) as LockOwner;
    return Number.isInteger(o?.pid) && typeof o.host === 'string' ? o : null;
  } catch {
    return null;  // absent, or being written
  }
}

function describeOwner(o: LockOwner | null): string {
  return o ? `pid ${o.pid} on host ${o.host}, started ${o.started}` : 'holder unknown';
}

/**
 * Locks `dir` (created if missing) for one training run; throws ERR_BUSY naming the holder and the
 * lock file when another live run holds it.
 */
export async function lockOutputDir(dir: string, options: LockOptions = {}): Promise<OutputDirLock> {
  const label = options.label ?? dir;
  const log = options.log ?? ((m: string) => { process.stderr.write(m + '\n'); });
  const staleMs = options.staleMs ?? 60_000;
  const created = !existsSync(dir);
  await mkdir(dir, { recursive: true });
  const realDir = await realpath(dir);
  const lockPath = join(realDir, LOCK_NAME);
  const ownerPath = join(realDir, LOCK_OWNER_FILE);
  const busy = (owner: LockOwner | null): RootsError => new RootsError('ERR_BUSY',
    `${label} is in use by another training run (${describeOwner(owner)}; lock ${join(dir, LOCK_NAME)}): ` +
    'wait for it to end, or train into another folder' + (owner && owner.host !== hostname() ? '' : ' (delete the lock if no such run exists)'));

  if (held.has(realDir)) {
    throw new RootsError('ERR_BUSY', `${label} is in use by another training run of this process (lock ${join(dir, LOCK_NAME)}): wait for its train() to end, or train into another folder`);
  }
  let notice: string | null = null;
  if (existsSync(lockPath)) {
    const owner = await readOwner(ownerPath);
    if (owner && owner.host === hostname()) {
      if (owner.pid !== process.pid && pidAlive(owner.pid)) throw busy(owner);
      // Its process is gone (killed, crashed, the machine rebooted): take it over now.
      await rmdir(lockPath).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'ENOENT') throw e; });
      notice = `Took over the lock of ${label}: its run (${describeOwner(owner)}) is no longer running`;
    } else if (!(await lockfile.check(realDir, { lockfilePath: lockPath, stale: staleMs, realpath: false }).catch(() => true))) {
      const age = await stat(lockPath).then((s) => Math.round((Date.now() - s.mtimeMs) / 1000), () => null);
      notice = `Took over the lock of ${label}: its run (${describeOwner(owner)}) has not refreshed it for ${age ?? '?'} s`;
    }
  }
  let unlock: () => Promise<void>;
  try {
    unlock = await lockfile.lock(realDir, {
      lockfilePath: lockPath, stale: staleMs, realpath: false,
      onCompromised: (e) => log(`warning: lost the lock of ${label} (${e.message}); another run may now write into it`),
    });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOCKED') throw busy(await readOwner(ownerPath));
    throw new RootsError('ERR_IO', `Cannot lock ${label} (${lockPath}): ${(e as Error).message}`, { cause: e });
  }
  const owner: LockOwner = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
  await writeFile(ownerPath, JSON.stringify(owner) + '\n');
  held.set(realDir, ownerPath);
  if (!exitHook) {
    exitHook = true;
    // proper-lockfile removes its lock folders on exit; the owner files go with them.
    process.once('exit', () => { for (const p of held.values()) try { unlinkSync(p); } catch { /* gone */ } });
  }
  if (notice) log(notice);

  let released = false;
  return {
    dir, realDir, lockPath,
    async release() {
      if (released) return;
      released = true;
      held.delete(realDir);
      await rm(ownerPath, { force: true });
      await unlock().catch(() => { /* already released (compromised) */ });
      // A run that failed before writing anything leaves no empty folder behind.
      if (created) await rmdir(realDir).catch(() => { /* not empty */ });
    },
  };
}
