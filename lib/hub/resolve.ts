/**
 * The one place a model argument becomes a folder: every entry point that takes a model folder
 * (`fromPretrained`, `Tokenizer.fromPretrained`, `pipeline`, the CLI's `--model`) passes its
 * argument through {@link resolveModelSource}. An existing path is returned as it is; otherwise a Hub
 * id (`org/name`, `org/name@revision`) is looked up in the shared Hugging Face cache (no request when
 * it is there), and downloaded into that cache when it is not and downloads are on.
 *
 * Cache first, like `from_pretrained(..., local_files_only=True)` followed by a download: a branch
 * already in the cache is not checked for newer commits (`roots cache remove org/name` drops it;
 * a commit hash as the revision pins one).
 */
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { RootsError } from '../errors.js';
import {
  type HubOptions, type ModelFiles, cacheDirSource, envOffline, hubCacheDir, hubEndpoint, hubToken, lookupCache, parseHubId,
} from './cache.js';
import { downloadSnapshot } from './download.js';

/** Where a resolved model comes from. */
export interface ResolvedModel {
  /** The folder to read. */
  dir: string;
  /** For a Hub id: the id, the revision asked for and the commit it names. */
  hub?: { repo: string; revision: string; commit: string; downloaded: boolean };
}

/** Extra hooks for callers (the CLI): where plain progress lines go; the flag to name in errors. */
export interface ResolveHooks {
  say?: (line: string) => void;
  flag?: string;
}

/**
 * Resolves `source` to a folder holding what `need` names. A string that is an existing path, or
 * that cannot be a Hub id (`./x`, `/x`, `a/b/c`), is returned unchanged (the caller's own checks
 * then speak for a missing folder).
 */
export async function resolveModelSource(source: string, need: ModelFiles, options: HubOptions = {}, hooks: ResolveHooks = {}): Promise<string> {
  return (await resolveModel(source, need, options, hooks)).dir;
}

/** {@link resolveModelSource} with where the folder came from. */
export async function resolveModel(source: string, need: ModelFiles, options: HubOptions = {}, hooks: ResolveHooks = {}): Promise<ResolvedModel> {
  if (typeof source !== 'string' || source === '' || existsSync(source)) return { dir: source };
  const id = parseHubId(source, options.revision);
  if (!id) return { dir: source };
  const cacheDir = hubCacheDir(options);
  const cacheSource = cacheDirSource(options);
  const found = await lookupCache(cacheDir, id, need);
  if (found.snapshot && found.missing.length === 0) return { dir: found.snapshot, hub: { ...id, commit: found.commit!, downloaded: false } };

  const offline = options.localFilesOnly ?? envOffline();
  if (offline) {
    const flag = hooks.flag ? `${hooks.flag} ` : '';
    const why = options.localFilesOnly ? 'the localFilesOnly option is set' : `HF_HUB_OFFLINE=${process.env.HF_HUB_OFFLINE}`;
    const on = options.localFilesOnly ? 'drop localFilesOnly' : 'unset HF_HUB_OFFLINE';
    const held = found.snapshot
      ? `holds ${id.repo} at commit ${found.commit} (revision ${id.revision}) without ${found.missing.join(', ')}`
      : found.commit
        ? `names commit ${found.commit} for ${id.repo}@${id.revision} but has no snapshots/${found.commit}`
        : existsSync(found.repoDir) ? `holds ${id.repo} but not revision ${id.revision}` : `has no ${id.repo}`;
    throw new RootsError('ERR_IO',
      `${flag}${source} is not a folder, and the Hugging Face cache ${cacheDir} (${cacheSource}) ${held}; downloads are off (${why}): ${on} to download it, point HF_HUB_CACHE or HF_HOME at the cache that holds it, or pass a folder path`);
  }
  const dir = await downloadSnapshot({
    id, need, cacheDir, cacheSource, endpoint: hubEndpoint(options), token: await hubToken(options), progress: options.progress ?? 'auto', say: hooks.say,
  });
  const after = await lookupCache(cacheDir, { ...id, revision: basename(dir) }, need);
  if (after.missing.length) {
    throw new RootsError('ERR_IO', `${id.repo}@${id.revision}: after the download ${dir} still lacks ${after.missing.join(', ')} (cache ${cacheDir})`);
  }
  return { dir, hub: { ...id, commit: after.commit!, downloaded: true } };
}
