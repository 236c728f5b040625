/**
 * The Hugging Face cache as Python's `huggingface_hub` lays it out and as roots reads it without a
 * single request: `<cache>/models--org--name/{blobs/, snapshots/<commit>/<file> -> ../../blobs/<etag>,
 * refs/<branch or tag>}`. Also: Hub ids (`org/name@revision`), the environment variables Python
 * honours (HF_HOME, HF_HUB_CACHE, HF_HUB_OFFLINE, HF_TOKEN, HF_ENDPOINT), and which files each kind
 * of folder needs.
 */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { getHFHubCachePath, getRepoFolderName } from '@huggingface/hub';
import { RootsError } from '../errors.js';

/** How a Hub id is resolved: Hugging Face's `from_pretrained` keyword arguments, camelCased. */
export interface HubOptions {
  /** Branch, tag or commit (default: the id's `@revision`, else `main`). */
  revision?: string;
  /** The hub cache folder (default HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub). */
  cacheDir?: string;
  /** Use the cache only, never the network (default: the HF_HUB_OFFLINE variable). */
  localFilesOnly?: boolean;
  /** Access token for private and gated models (default HF_TOKEN, else the file `hf auth login` writes). */
  token?: string;
  /** The Hub's address (default HF_ENDPOINT, else https://huggingface.co). */
  endpoint?: string;
  /** Download progress on standard error: a bar on a terminal (`auto`, the default), plain lines, or nothing. */
  progress?: 'auto' | 'bar' | 'plain' | 'none';
}

/** What the caller will read from the folder, so what must be in the snapshot. */
export type ModelFiles = 'model' | 'tokenizer' | 'model+tokenizer' | 'adapter';

/** One of `files` must be there; `all`: fetch each that the repository has, `first`: the first it has. */
interface FileGroup { files: readonly string[]; fetch: 'first' | 'all'; what: string }

export const WEIGHTS = ['model.safetensors', 'pytorch_model.bin'] as const;
const CONFIG: FileGroup = { files: ['config.json'], fetch: 'first', what: 'config.json' };
const WEIGHT_GROUP: FileGroup = { files: WEIGHTS, fetch: 'first', what: 'weights roots can read (model.safetensors or pytorch_model.bin)' };
const TOKENIZER: FileGroup = { files: ['tokenizer.json', 'vocab.txt'], fetch: 'all', what: 'a tokenizer (tokenizer.json or vocab.txt)' };
const TOKENIZER_EXTRAS = ['tokenizer_config.json', 'special_tokens_map.json'];

/** Per kind: the groups that must be present, and the files fetched when the repository has them. */
export const NEEDS: Record<ModelFiles, { groups: FileGroup[]; optional: string[] }> = {
  model: { groups: [CONFIG, WEIGHT_GROUP], optional: [] },
  tokenizer: { groups: [TOKENIZER], optional: [...TOKENIZER_EXTRAS, 'config.json'] },
  'model+tokenizer': { groups: [CONFIG, WEIGHT_GROUP, TOKENIZER], optional: TOKENIZER_EXTRAS },
  adapter: {
    groups: [
      { files: ['adapter_config.json'], fetch: 'first', what: 'adapter_config.json' },
      { files: ['adapter_model.safetensors', 'adapter_model.bin'], fetch: 'first', what: 'adapter weights (adapter_model.safetensors or adapter_model.bin)' },
    ],
    // roots saves the task's head and labels beside PEFT's two files.
    optional: ['config.json'],
  },
};

export const DEFAULT_ENDPOINT = 'https://huggingface.co';
const COMMIT = /^[0-9a-f]{40}$/;
// The Hub's rule for repository names (huggingface_hub's validate_repo_id), with an optional owner.
const REPO_ID = /^(?:[A-Za-z0-9][\w.-]*\/)?[A-Za-z0-9][\w.-]*$/;

export function isCommit(revision: string): boolean {
  return COMMIT.test(revision);
}

/** A Hub id and its revision. */
export interface HubId { repo: string; revision: string }

/**
 * Splits `org/name@revision` (or `name`). Returns null for what cannot be a Hub id (a path such as
 * `./x`, `/x`, `a/b/c`), which callers then treat as a folder path. `revision` (an option) and an
 * `@revision` in the id must agree.
 */
export function parseHubId(source: string, revision?: string): HubId | null {
  const at = source.indexOf('@');
  const repo = at < 0 ? source : source.slice(0, at);
  const inId = at < 0 ? undefined : source.slice(at + 1);
  if (!REPO_ID.test(repo) || repo.includes('--') || repo.includes('..') || repo.length > 96 || repo.endsWith('.git')) return null;
  if (inId !== undefined && (inId === '' || inId.includes('..') || inId.startsWith('/'))) {
    throw new RootsError('ERR_INVALID_ARG', `${source}: expected a revision (branch, tag or commit) after @`);
  }
  if (inId !== undefined && revision !== undefined && inId !== revision) {
    throw new RootsError('ERR_INVALID_ARG', `${source} names revision ${inId} but the revision option says ${revision}: give one`);
  }
  return { repo, revision: inId ?? revision ?? 'main' };
}

/** True for HF_HUB_OFFLINE values Python reads as on (1, ON, YES, TRUE). */
export function envOffline(): boolean {
  return /^(1|on|yes|true)$/i.test(process.env.HF_HUB_OFFLINE ?? '');
}

/** The cache folder: the option, else the client's reading of HF_HUB_CACHE / HF_HOME (Python's order). */
export function hubCacheDir(options: Pick<HubOptions, 'cacheDir'> = {}): string {
  return options.cacheDir ?? getHFHubCachePath();
}

/** The variable that set the cache folder, for error messages. */
export function cacheDirSource(options: Pick<HubOptions, 'cacheDir'> = {}): string {
  if (options.cacheDir) return 'the cacheDir option';
  for (const v of ['HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'HF_HOME', 'XDG_CACHE_HOME']) if (process.env[v]) return `${v}=${process.env[v]}`;
  return 'the default; HF_HUB_CACHE or HF_HOME move it';
}

export function hubEndpoint(options: Pick<HubOptions, 'endpoint'> = {}): string {
  return (options.endpoint ?? process.env.HF_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
}

/** The token: the option, HF_TOKEN, else the file `hf auth login` writes (HF_TOKEN_PATH, else HF_HOME/token). */
export async function hubToken(options: Pick<HubOptions, 'token'> = {}): Promise<string | undefined> {
  if (options.token) return options.token;
  if (process.env.HF_TOKEN) return process.env.HF_TOKEN.trim();
  const home = process.env.HF_HOME ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'huggingface');
  const file = process.env.HF_TOKEN_PATH ?? join(home, 'token');
  try {
    return (await readFile(file, 'utf8')).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** `<cache>/models--org--name`. */
export function repoFolder(cacheDir: string, repo: string): string {
  return join(cacheDir, getRepoFolderName({ type: 'model', name: repo }));
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile(); // follows the snapshot's symlink to its blob
  } catch {
    return false;
  }
}

/** The groups of `need` that `dir` lacks (each as the words for what is missing). */
export async function missingFiles(dir: string, need: ModelFiles): Promise<string[]> {
  const missing: string[] = [];
  for (const g of NEEDS[need].groups) {
    let found = false;
    for (const f of g.files) if (await isFile(join(dir, f))) { found = true; break; }
    if (!found) missing.push(g.what);
  }
  return missing;
}

/** What the cache holds for an id: the snapshot folder (when its commit is known) and what it lacks. */
export interface CacheLookup {
  /** `<cache>/models--org--name`. */
  repoDir: string;
  /** The commit the revision names in the cache (refs/<revision>, or the revision itself), or null. */
  commit: string | null;
  /** snapshots/<commit>, when it exists. */
  snapshot: string | null;
  /** What `need` lacks there (all of it when there is no snapshot). */
  missing: string[];
}

/** Looks an id up in the cache, reading files only. */
export async function lookupCache(cacheDir: string, id: HubId, need: ModelFiles): Promise<CacheLookup> {
  const repoDir = repoFolder(cacheDir, id.repo);
  let commit: string | null = null;
  if (isCommit(id.revision)) commit = id.revision;
  else {
    try {
      const ref = (await readFile(join(repoDir, 'refs', id.revision), 'utf8')).trim();
      if (isCommit(ref)) commit = ref;
    } catch { /* no such ref */ }
  }
  const snapshot = commit && existsSync(join(repoDir, 'snapshots', commit)) ? join(repoDir, 'snapshots', commit) : null;
  const missing = snapshot ? await missingFiles(snapshot, need) : NEEDS[need].groups.map((g) => g.what);
  return { repoDir, commit, snapshot, missing };
}

/**
 * The Hub id of a snapshot folder (`.../models--org--name/snapshots/<commit>` → `org/name`), or null.
 * A model loaded from the cache is named by its id (as Transformers' `_name_or_path` and PEFT's
 * `base_model_name_or_path` name it), not by the snapshot path.
 */
export function hubIdOfSnapshot(dir: string): string | null {
  const m = /(?:^|[\\/])models--([^\\/]+)[\\/]snapshots[\\/][0-9a-f]{40}[\\/]*$/.exec(dir);
  return m ? m[1].split('--').join('/') : null;
}
