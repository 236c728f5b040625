/**
 * `roots cache list [--json]` and `roots cache remove ID[@REVISION]... [--dry-run]`: what the shared
 * Hugging Face cache holds (the client's `scanCacheDir`, the same scan as Python's `hf cache ls`), and
 * removing a model or one revision of it (its snapshot, the refs naming it, and the blobs no other
 * revision uses, as Python's `delete_revisions` does).
 */
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { scanCacheDir, scanCachedRepo, type CachedRepoInfo, type HFCacheInfo } from '@huggingface/hub';
import { RootsError } from '../errors.js';
import { cacheDirSource, hubCacheDir, isCommit, parseHubId, repoFolder } from '../hub/cache.js';
import { formatBytes } from '../hub/download.js';
import { processIO, table, type CliIO } from './common.js';

function repoName(r: CachedRepoInfo): string {
  return r.id.type === 'model' ? r.id.name : `${r.id.type}s/${r.id.name}`;
}

async function scan(cacheDir: string): Promise<HFCacheInfo> {
  if (!existsSync(cacheDir)) return { repos: [], size: 0, warnings: [] };
  return scanCacheDir(cacheDir);
}

/** `roots cache list`: one row per repository (revisions with their refs, size on disk, files). */
export async function runCacheList(o: { json?: boolean }, io: CliIO = processIO): Promise<unknown> {
  const cacheDir = hubCacheDir();
  const info = await scan(cacheDir);
  const repos = [...info.repos].sort((a, b) => repoName(a).localeCompare(repoName(b))).map((r) => ({
    id: repoName(r), type: r.id.type, path: r.path, size: r.size, files: r.filesCount, lastModified: r.lastModifiedAt.toISOString(),
    revisions: r.revisions.map((v) => ({ commit: v.commitOid, refs: [...v.refs].sort(), size: v.size, files: v.files.map((f) => f.path.slice(v.path.length + 1)).sort() })),
  }));
  const result = { cacheDir, size: info.size, repos, warnings: info.warnings.map((w) => w.message) };
  if (o.json) { io.out(JSON.stringify(result, null, 2) + '\n'); return result; }
  io.out(`Hugging Face cache: ${cacheDir} (${cacheDirSource()})${existsSync(cacheDir) ? '' : ': no such folder yet'}\n`);
  if (repos.length) {
    const rows = [['REPO', 'REVISIONS', 'SIZE', 'FILES', 'MODIFIED']];
    for (const r of repos) {
      const revs = r.revisions.map((v) => `${v.commit.slice(0, 7)}${v.refs.length ? ` (${v.refs.join(', ')})` : ''}`).join('; ');
      rows.push([r.id, revs, formatBytes(r.size), String(r.files), r.lastModified.slice(0, 10)]);
    }
    io.out(table(rows));
  }
  io.out(`${repos.length} repositories, ${formatBytes(info.size)}\n`);
  for (const w of result.warnings) io.err(`roots: warning: ${w}\n`);
  return result;
}

/** `roots cache remove`: whole models (`org/name`) or single revisions (`org/name@REVISION`). */
export async function runCacheRemove(ids: string[], o: { dryRun?: boolean }, io: CliIO = processIO): Promise<{ removed: string[]; freed: number }> {
  if (!ids.length) throw new RootsError('ERR_INVALID_ARG', 'Give the models to remove: roots cache remove org/name[@revision] ... (roots cache list shows them)');
  const cacheDir = hubCacheDir();
  const plans: { label: string; paths: string[]; freed: number }[] = [];
  for (const arg of ids) {
    const id = parseHubId(arg);
    if (!id) throw new RootsError('ERR_INVALID_ARG', `${arg} is not a Hub id (org/name or org/name@revision)`);
    const repoDir = repoFolder(cacheDir, id.repo);
    if (!existsSync(repoDir)) throw new RootsError('ERR_IO', `${id.repo} is not in the Hugging Face cache ${cacheDir} (${cacheDirSource()}); roots cache list shows what is`);
    const repo = await scanCachedRepo(repoDir);
    if (!arg.includes('@')) {
      plans.push({ label: id.repo, paths: [repoDir, join(cacheDir, '.locks', repoDir.slice(cacheDir.length + 1))], freed: repo.size });
      continue;
    }
    let commit = id.revision;
    if (!isCommit(commit)) commit = (await readFile(join(repoDir, 'refs', id.revision), 'utf8').catch(() => '')).trim();
    const rev = repo.revisions.find((v) => v.commitOid === commit);
    if (!rev) throw new RootsError('ERR_IO', `${id.repo} has no revision ${id.revision} in the cache ${cacheDir}; it has ${repo.revisions.map((v) => `${v.commitOid.slice(0, 7)}${v.refs.length ? ` (${v.refs.join(', ')})` : ''}`).join(', ') || 'no snapshots'}`);
    // Blobs this revision alone uses go with it; refs naming it too.
    const kept = new Set(repo.revisions.filter((v) => v !== rev).flatMap((v) => v.files.map((f) => f.blob.path)));
    const blobs = [...new Map(rev.files.filter((f) => !kept.has(f.blob.path)).map((f) => [f.blob.path, f.blob.size])).entries()];
    const refs = rev.refs.map((r) => join(repoDir, 'refs', r));
    plans.push({ label: `${id.repo}@${id.revision} (${commit.slice(0, 7)})`, paths: [rev.path, ...refs, ...blobs.map(([p]) => p)], freed: blobs.reduce((s, [, n]) => s + n, 0) });
  }
  let freed = 0;
  for (const p of plans) {
    if (!o.dryRun) for (const path of p.paths) await rm(path, { recursive: true, force: true });
    freed += p.freed;
    io.out(`${o.dryRun ? 'would remove' : 'removed'} ${p.label}: ${formatBytes(p.freed)}\n`);
  }
  return { removed: plans.map((p) => p.label), freed };
}

export function registerCache(program: Command): void {
  const cache = program.command('cache').description('the shared Hugging Face cache (HF_HUB_CACHE, HF_HOME): list what it holds, remove models or revisions');
  cache.command('list')
    .description('models in the cache: revisions and their refs, size on disk, files')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => { await runCacheList(o); });
  cache.command('remove')
    .description('remove models (org/name) or single revisions (org/name@REVISION: its snapshot, its refs, blobs no other revision uses)')
    .argument('<ids...>', 'org/name or org/name@revision')
    .option('--dry-run', 'print what would be removed')
    .action(async (ids: string[], o: { dryRun?: boolean }) => { await runCacheRemove(ids, o); });
  // One `roots: error: ...` line for commander's own errors, as the top-level commands have.
  for (const c of cache.commands) c.configureOutput({ outputError: (str, write) => write(str.startsWith('roots:') ? str : `roots: ${str}`) });
}
