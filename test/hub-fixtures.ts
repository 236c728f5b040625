// Fixtures of the Hub tests: a Hugging Face cache written the way Python's huggingface_hub writes it
// (blobs named by etag, relative symlinks in snapshots/<commit>/, refs/main), and a stand-in for the
// Hub on loopback that answers the requests @huggingface/hub makes (model info, tree, paths-info,
// resolve with ranges), records them, and can cut a file off half way.
import { createHash } from 'node:crypto';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

/** Files that Git stores through LFS on the Hub (their etag is the content's sha256, as on the Hub). */
const LFS = /\.(safetensors|bin)$/;

/** The git blob id of `data` (the Hub's oid, and Python's etag for a file not in LFS). */
export function gitOid(data: Buffer): string {
  return createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The blob name Python gives a file: sha256 for LFS files, else the git oid. */
export function etagOf(path: string, data: Buffer): string {
  return LFS.test(path) ? sha256(data) : gitOid(data);
}

/** A fake 40-hex commit id derived from a label. */
export function commitId(label: string): string {
  return createHash('sha1').update(label).digest('hex');
}

/**
 * Writes `files` into `cacheDir` exactly as `hf_hub_download` does: models--org--name/blobs/<etag>,
 * snapshots/<commit>/<file> -> ../../blobs/<etag> (relative), refs/<branch> holding the commit (no newline).
 */
export function writePythonCache(cacheDir: string, repo: string, commit: string, files: Map<string, Buffer>, branch = 'main'): string {
  const repoDir = join(cacheDir, `models--${repo.replace('/', '--')}`);
  const snapshot = join(repoDir, 'snapshots', commit);
  mkdirSync(join(repoDir, 'blobs'), { recursive: true });
  mkdirSync(join(repoDir, 'refs'), { recursive: true });
  mkdirSync(snapshot, { recursive: true });
  for (const [path, data] of files) {
    const etag = etagOf(path, data);
    writeFileSync(join(repoDir, 'blobs', etag), data);
    symlinkSync(join('..', '..', 'blobs', etag), join(snapshot, path));
  }
  writeFileSync(join(repoDir, 'refs', branch), commit);
  return snapshot;
}

export interface StandInRepo {
  commit: string;
  files: Map<string, Buffer>;
  /** Branches and tags besides the commit itself (default { main: commit }). */
  refs?: Record<string, string>;
  /** 'gated': 401 GatedRepo without a token, 403 with one that is not `allowedToken`. */
  access?: 'public' | 'gated' | 'private';
  allowedToken?: string;
}

export interface StandInHub {
  url: string;
  /** Every request: `METHOD path` (with query). */
  requests: string[];
  /** `repo/path` of every full (not ranged) file download. */
  downloads: string[];
  /** Paths whose next full download sends half of the body, then drops the connection. */
  truncateOnce: Set<string>;
  close(): Promise<void>;
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function treeEntry(path: string, data: Buffer, commit: string): Record<string, unknown> {
  const lfs = LFS.test(path);
  return {
    type: 'file', path, size: data.length,
    oid: lfs ? gitOid(Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(data)}\nsize ${data.length}\n`)) : gitOid(data),
    ...(lfs ? { lfs: { oid: sha256(data), size: data.length, pointerSize: 134 } } : {}),
    lastCommit: { id: commit, title: 'upload', date: '2026-11-30T00:00:00.000Z' },
  };
}

/** Starts the stand-in on 127.0.0.1 (a free port). */
export async function startStandInHub(repos: Record<string, StandInRepo>): Promise<StandInHub> {
  const requests: string[] = [];
  const downloads: string[] = [];
  const truncateOnce = new Set<string>();
  const body = (req: IncomingMessage) => new Promise<string>((ok) => { let s = ''; req.on('data', (c) => { s += c; }); req.on('end', () => ok(s)); });

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(`${req.method} ${url.pathname}${url.search}`);
    const path = decodeURIComponent(url.pathname);
    const api = path.startsWith('/api/models/');
    const rest = api ? path.slice('/api/models/'.length) : path.slice(1);
    const name = Object.keys(repos).sort((a, b) => b.length - a.length).find((n) => rest.startsWith(`${n}/`));
    if (!name) return json(res, 401, { error: 'Repository not found' }, { 'X-Error-Code': 'RepoNotFound' });
    const repo = repos[name];
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '') || null;
    if (repo.access === 'private' && token !== repo.allowedToken) return json(res, 401, { error: 'Repository not found' }, { 'X-Error-Code': 'RepoNotFound' });
    if (repo.access === 'gated' && token !== repo.allowedToken) {
      return json(res, token ? 403 : 401, { error: `Access to model ${name} is restricted.` }, { 'X-Error-Code': 'GatedRepo' });
    }
    const [kind, rev, ...fileParts] = rest.slice(name.length + 1).split('/');
    const refs = repo.refs ?? { main: repo.commit };
    const commit = rev === repo.commit ? rev : rev === 'HEAD' ? refs.main : refs[rev];
    if (!commit) return json(res, 404, { error: `Invalid rev id: ${rev}` }, { 'X-Error-Code': 'RevisionNotFound' });

    if (api && kind === 'revision') {
      return json(res, 200, { _id: `id-${name}`, id: name, sha: commit, private: repo.access === 'private', gated: repo.access === 'gated' ? 'auto' : false, downloads: 0, likes: 0, lastModified: '2026-11-30T00:00:00.000Z', pipeline_tag: 'token-classification' });
    }
    if (api && kind === 'tree') return json(res, 200, [...repo.files].map(([p, d]) => treeEntry(p, d, commit)));
    if (api && kind === 'paths-info' && req.method === 'POST') {
      const asked = (JSON.parse(await body(req)) as { paths: string[] }).paths;
      return json(res, 200, asked.filter((p) => repo.files.has(p)).map((p) => treeEntry(p, repo.files.get(p)!, commit)));
    }
    if (!api && kind === 'resolve') {
      const file = fileParts.join('/');
      const data = repo.files.get(file);
      if (!data) return json(res, 404, { error: 'Entry not found' }, { 'X-Error-Code': 'EntryNotFound' });
      const etag = `"${etagOf(file, data)}"`;
      const headers = { 'Content-Type': 'application/octet-stream', ETag: etag, ...(LFS.test(file) ? { 'X-Linked-ETag': etag, 'X-Linked-Size': String(data.length) } : {}), 'X-Repo-Commit': commit, 'Accept-Ranges': 'bytes' };
      const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
      if (range) {
        const [a, b] = [Number(range[1]), Math.min(Number(range[2]), data.length - 1)];
        res.writeHead(206, { ...headers, 'Content-Range': `bytes ${a}-${b}/${data.length}`, 'Content-Length': String(b - a + 1) });
        return res.end(data.subarray(a, b + 1));
      }
      if (req.method === 'HEAD') { res.writeHead(200, { ...headers, 'Content-Length': String(data.length) }); return res.end(); }
      res.writeHead(200, { ...headers, 'Content-Length': String(data.length) });
      downloads.push(`${name}/${file}`);
      if (truncateOnce.delete(file)) {
        res.write(data.subarray(0, data.length >> 1), () => setTimeout(() => res.socket?.destroy(), 20));
        return;
      }
      return res.end(data);
    }
    return json(res, 404, { error: `not handled: ${req.method} ${path}` });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`, requests, downloads, truncateOnce,
    close: () => new Promise<void>((ok) => { server.closeAllConnections(); server.close(() => ok()); }),
  };
}
