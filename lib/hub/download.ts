/**
 * Downloading a model folder into the shared cache with the official client (`@huggingface/hub`):
 * `modelInfo` names the commit, `listFiles` what the repository holds, and `downloadFileToCacheDir`
 * writes each file Python's way (blobs/<etag>, written as `<etag>.incomplete` and renamed when
 * complete, then a relative symlink in snapshots/<commit>/). Only the files a folder of the wanted
 * kind needs are fetched (safetensors over .bin), and refs/<branch> is written last, atomically.
 * Concurrent roots processes fetching one repository take turns on a lock in `<cache>/.locks/`.
 */
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import lockfile from 'proper-lockfile';
import { HubApiError, downloadFileToCacheDir, getRepoFolderName, listFiles, modelInfo, type ListFileEntry } from '@huggingface/hub';
import { RootsError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { NEEDS, isCommit, repoFolder, type HubId, type HubOptions, type ModelFiles } from './cache.js';

export interface DownloadContext {
  id: HubId;
  need: ModelFiles;
  cacheDir: string;
  /** Words naming where the cache folder came from (for errors). */
  cacheSource: string;
  endpoint: string;
  token: string | undefined;
  progress: NonNullable<HubOptions['progress']>;
  /** Where plain progress lines go (default standard error). */
  say?: (line: string) => void;
}

/** The files of the repository to fetch for `need`, or an error naming what it lacks. */
export function selectFiles(entries: readonly ListFileEntry[], ctx: Pick<DownloadContext, 'id' | 'need'>, commit: string): ListFileEntry[] {
  const byPath = new Map(entries.filter((e) => e.type === 'file').map((e) => [e.path, e]));
  const chosen: ListFileEntry[] = [];
  for (const g of NEEDS[ctx.need].groups) {
    const present = g.files.filter((f) => byPath.has(f));
    if (!present.length) {
      const names = [...byPath.keys()];
      const sharded = names.find((n) => /\.(safetensors|bin)\.index\.json$/.test(n));
      const has = names.length ? `it has ${names.slice(0, 12).join(', ')}${names.length > 12 ? ', ...' : ''}` : 'it is empty';
      throw new RootsError('ERR_CHECKPOINT',
        `${ctx.id.repo} (revision ${ctx.id.revision}, commit ${commit}) has no ${g.what}; ${has}` +
        (sharded ? ` (${sharded} is a sharded checkpoint: roots reads single-file checkpoints)` : ''));
    }
    for (const f of g.fetch === 'first' ? present.slice(0, 1) : present) chosen.push(byPath.get(f)!);
  }
  for (const f of NEEDS[ctx.need].optional) if (byPath.has(f) && !chosen.some((c) => c.path === f)) chosen.push(byPath.get(f)!);
  return chosen;
}

function sizeOf(e: ListFileEntry): number {
  return e.lfs?.size ?? e.size;
}

/** The blob name the client gives a file (its `downloadFileToCacheDir`: LFS sha256, else xet hash, else git oid). */
function etagOf(e: ListFileEntry): string | undefined {
  return e.lfs?.oid ?? e.xetHash ?? e.oid;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  do { v /= 1000; i++; } while (v >= 1000 && i < units.length - 1);
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/**
 * The client prints `Downloading <file> to <blob>.incomplete` with console.debug, which is standard
 * output in Node and would mix into `roots predict --json`. Those lines (and only those) are dropped
 * while a download runs; roots reports progress itself.
 */
let quietDepth = 0;
let savedDebug: typeof console.debug | null = null;
async function withoutClientDebug<T>(work: () => Promise<T>): Promise<T> {
  if (quietDepth++ === 0) {
    const debug = console.debug;
    savedDebug = debug;
    console.debug = (...args: unknown[]) => {
      if (typeof args[0] === 'string' && /^Downloading .* to .*\.incomplete$/.test(args[0])) return;
      debug.apply(console, args);
    };
  }
  try {
    return await work();
  } finally {
    if (--quietDepth === 0 && savedDebug) { console.debug = savedDebug; savedDebug = null; }
  }
}

/** The Hub's answer as a RootsError naming the fix (token, revision, endpoint, offline mode). */
function hubError(e: unknown, ctx: DownloadContext, errorCode: string | null): RootsError {
  const { repo, revision } = ctx.id;
  const where = `(cache ${ctx.cacheDir}, ${ctx.cacheSource})`;
  if (e instanceof RootsError) return e;
  if (e instanceof HubApiError) {
    const status = e.statusCode;
    const page = `${ctx.endpoint}/${repo}`;
    if (errorCode === 'RevisionNotFound' || (status === 404 && /revision/i.test(e.message))) {
      return new RootsError('ERR_INVALID_ARG', `${repo} has no revision "${revision}" on ${ctx.endpoint} (see the branches, tags and commits at ${page}; pick one with ${repo}@REVISION or the revision option) ${where}`, { cause: e });
    }
    if (errorCode === 'GatedRepo' || status === 403) {
      return new RootsError('ERR_IO', `${repo} is gated or private and ${ctx.token ? 'the token (HF_TOKEN) has no access to it' : 'no token was sent'}: accept its conditions at ${page}, then set HF_TOKEN to a token of that account ${where}`, { cause: e });
    }
    if (status === 401 || status === 404) {
      return new RootsError('ERR_IO', `${repo}: no such model on ${ctx.endpoint}, or it is private or gated and ${ctx.token ? 'the token (HF_TOKEN) has no access to it' : 'no token was sent (set HF_TOKEN, or log in with `hf auth login`)'}; a local folder of that name does not exist either ${where}`, { cause: e });
    }
    return new RootsError('ERR_IO', `the Hub at ${ctx.endpoint} answered ${status} for ${repo}@${revision}: ${e.message} ${where}`, { cause: e });
  }
  const err = e as Error & { cause?: { code?: string; message?: string } };
  if (err instanceof TypeError && /^Your access token must start with/.test(err.message)) {
    return new RootsError('ERR_INVALID_ARG', `the token does not look like a Hugging Face token (they start with hf_): check HF_TOKEN`, { cause: e });
  }
  const cause = err.cause?.code ?? err.cause?.message ?? err.message;
  return new RootsError('ERR_IO',
    `cannot download ${repo}@${revision} from ${ctx.endpoint} (${cause}); set HF_HUB_OFFLINE=1 to use only the cache, or HF_ENDPOINT for a mirror, or pass a local folder ${where}`, { cause: e });
}

/** Shows bytes fetched: a bar on a terminal, one line per file otherwise. */
class DownloadProgress {
  #bar: cliProgress.SingleBar | null = null;
  #done = 0;
  #timer: NodeJS.Timeout | null = null;
  #plain: ((line: string) => void) | null = null;

  constructor(ctx: DownloadContext, total: number, commit: string) {
    const mode = ctx.progress === 'auto' ? (process.stderr.isTTY ? 'bar' : 'plain') : ctx.progress;
    const label = `${ctx.id.repo}@${commit.slice(0, 7)}`;
    if (mode === 'bar') {
      this.#bar = new cliProgress.SingleBar({
        stream: process.stderr, format: `${label} |{bar}| {got} / {all} {file}`, barsize: 30, hideCursor: true, fps: 4,
        barCompleteChar: '\u2588', barIncompleteChar: '\u2591', clearOnComplete: false,
      });
      this.#bar.start(total, 0, { got: formatBytes(0), all: formatBytes(total), file: '' });
    } else if (mode === 'plain') {
      this.#plain = (line) => (ctx.say ?? ((l: string) => process.stderr.write(`${l}\n`)))(line);
      this.#plain(`roots: downloading ${label} into ${repoFolder(ctx.cacheDir, ctx.id.repo)} (${formatBytes(total)})`);
    }
  }

  /** Watches `<etag>.incomplete` grow while `entry` downloads (works for plain and Xet transfers alike). */
  startFile(entry: ListFileEntry, incomplete: string | null): void {
    this.#plain?.(`roots:   ${entry.path} (${formatBytes(sizeOf(entry))})`);
    const bar = this.#bar;
    if (!bar) return;
    const all = formatBytes(bar.getTotal());
    bar.update(this.#done, { got: formatBytes(this.#done), all, file: entry.path });
    if (!incomplete) return;
    this.#timer = setInterval(() => {
      stat(incomplete).then((s) => {
        const v = this.#done + Math.min(s.size, sizeOf(entry));
        bar.update(v, { got: formatBytes(v), all, file: entry.path });
      }, () => {});
    }, 250);
  }

  endFile(entry: ListFileEntry): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#done += sizeOf(entry);
    this.#bar?.update(this.#done, { got: formatBytes(this.#done), all: formatBytes(this.#bar.getTotal()), file: '' });
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#bar?.stop();
  }
}

/**
 * Fetches what `ctx.need` requires of `ctx.id` into the cache and returns the snapshot folder.
 * Files already in the snapshot are not fetched again; a failed file leaves no file in the snapshot
 * (and its `.incomplete` blob is removed).
 */
export async function downloadSnapshot(ctx: DownloadContext): Promise<string> {
  const { repo, revision } = ctx.id;
  // The last non-OK answer's X-Error-Code (RevisionNotFound, GatedRepo, ...): HubApiError drops headers.
  let errorCode: string | null = null;
  const fetchFn: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    if (!res.ok) errorCode = res.headers.get('x-error-code');
    return res;
  };
  const common = { hubUrl: ctx.endpoint, accessToken: ctx.token, fetch: fetchFn };
  const hubRepo = { type: 'model' as const, name: repo };
  const repoDir = repoFolder(ctx.cacheDir, repo);
  let commit: string;
  let chosen: ListFileEntry[];
  try {
    const info = await modelInfo({ ...common, name: repo, revision, additionalFields: ['sha'] });
    commit = info.sha;
    if (typeof commit !== 'string' || !isCommit(commit)) throw new RootsError('ERR_IO', `the Hub at ${ctx.endpoint} gave no commit for ${repo}@${revision}`);
    const entries: ListFileEntry[] = [];
    for await (const e of listFiles({ ...common, repo: hubRepo, revision: commit })) entries.push(e);
    chosen = selectFiles(entries, ctx, commit);
  } catch (e) {
    throw hubError(e, ctx, errorCode);
  }

  const lockDir = join(ctx.cacheDir, '.locks', getRepoFolderName(hubRepo));
  await mkdir(lockDir, { recursive: true });
  // A lock lost mid-download (its folder removed, e.g. by `roots cache remove`) must not throw from
  // proper-lockfile's timer (its default): the files are still written the client's safe way.
  const release = await lockfile.lock(lockDir, {
    lockfilePath: join(lockDir, 'roots.lock'), realpath: false, stale: 30_000,
    retries: { retries: 1200, minTimeout: 250, maxTimeout: 1000, factor: 1.2 },
    onCompromised: () => {},
  });
  const progress = new DownloadProgress(ctx, chosen.reduce((s, e) => s + sizeOf(e), 0), commit);
  const snapshot = join(repoDir, 'snapshots', commit);
  try {
    await withoutClientDebug(async () => {
      for (const entry of chosen) {
        const etag = etagOf(entry);
        const incomplete = etag ? join(repoDir, 'blobs', `${etag}.incomplete`) : null;
        progress.startFile(entry, incomplete);
        try {
          const path = await downloadFileToCacheDir({ ...common, repo: hubRepo, path: entry.path, revision: commit, cacheDir: ctx.cacheDir });
          const got = (await stat(path)).size;
          if (got !== sizeOf(entry)) {
            await rm(path, { force: true });
            throw new RootsError('ERR_IO', `${repo}@${commit}: ${entry.path} arrived with ${got} bytes, the Hub lists ${sizeOf(entry)}; it was removed from the cache: run again`);
          }
        } catch (e) {
          if (incomplete) await rm(incomplete, { force: true });
          if (e instanceof RootsError || e instanceof HubApiError) throw hubError(e, ctx, errorCode);
          const cause = (e as Error & { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
          throw new RootsError('ERR_IO', `the download of ${entry.path} of ${repo}@${commit.slice(0, 7)} from ${ctx.endpoint} broke off (${cause}); nothing of it stays in the snapshot: run again (cache ${ctx.cacheDir})`, { cause: e });
        } finally {
          progress.endFile(entry);
        }
      }
    });
    // The ref is written once the files are in, atomically: a reader never sees a half-written hash.
    if (revision !== commit) {
      await mkdir(join(repoDir, 'refs', ...revision.split('/').slice(0, -1)), { recursive: true });
      await writeFileAtomic(join(repoDir, 'refs', revision), commit, { fsync: false });
    }
  } finally {
    progress.stop();
    await release().catch(() => {});
  }
  return snapshot;
}
