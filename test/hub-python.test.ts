// Live cross-check with Python's huggingface_hub (ROOTS_HF_PYTHON, e.g. a venv with transformers;
// skipped without it): what roots downloads, Python's `scan_cache_dir` and
// `snapshot_download(local_files_only=True)` find as their own; and what Python's `hf_hub_download`
// writes from the same stand-in Hub, roots resolves offline to the same folder Python reports.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { resolveModel } from '../lib/hub/index.js';
import { Tokenizer } from '../lib/tokenizer/index.js';
import { tmp, liveHfPython } from './helpers.js';
import { commitId, etagOf, startStandInHub } from './hub-fixtures.js';
import { corpusFixture, tinyModel } from './ner-fixtures.js';

const { exe: py, skip } = liveHfPython('huggingface_hub');

function runPython(script: string, env: Record<string, string>): Promise<unknown> {
  const child = spawn(py!, ['-c', script], { env: { ...process.env, HF_HUB_DISABLE_TELEMETRY: '1', HF_HUB_DISABLE_XET: '1', HF_TOKEN: '', ...env } });
  let out = '';
  let err = '';
  child.stdout.on('data', (c) => { out += c; });
  child.stderr.on('data', (c) => { err += c; });
  return new Promise((ok, fail) => child.on('close', (code) => (code === 0 ? ok(JSON.parse(out.trim().split('\n').pop()!)) : fail(new Error(`python exited ${code}:\n${err}`)))));
}

test('live: Python\'s huggingface_hub reads what roots downloaded, and roots reads what Python downloaded', { skip }, async () => {
  const t = tmp('roots-hub-py-');
  const fixture = corpusFixture({ train: 20, dev: 2, test: 2 });
  const model = tinyModel(fixture, 3);
  const folder = join(t.dir, 'folder');
  await model.save(folder, { tokenizer: fixture.tokenizer });
  model.dispose();
  const files = new Map(readdirSync(folder).map((f) => [f, readFileSync(join(folder, f))]));
  const COMMIT = commitId('py-1');
  const hub = await startStandInHub({ 'org/tiny': { commit: COMMIT, files } });
  after(async () => { await hub.close(); t.cleanup(); });

  // roots downloads; Python scans and resolves offline.
  const ours = join(t.dir, 'roots-cache');
  const r = await resolveModel('org/tiny', 'model+tokenizer', { cacheDir: ours, endpoint: hub.url, progress: 'none' });
  const scanned = await runPython(`
import json, sys
from huggingface_hub import scan_cache_dir, snapshot_download
info = scan_cache_dir(${JSON.stringify(ours)})
repos = [{"id": r.repo_id, "type": r.repo_type, "size": r.size_on_disk, "revs": sorted([{"commit": v.commit_hash, "refs": sorted(v.refs), "files": sorted(f.file_name for f in v.files)} for v in r.revisions], key=lambda x: x["commit"])} for r in info.repos]
path = snapshot_download("org/tiny", cache_dir=${JSON.stringify(ours)}, local_files_only=True)
print(json.dumps({"repos": repos, "warnings": [str(w) for w in info.warnings], "snapshot": path}))
`, { HF_HUB_OFFLINE: '1' }) as { repos: { id: string; type: string; size: number; revs: { commit: string; refs: string[]; files: string[] }[] }[]; warnings: string[]; snapshot: string };
  assert.deepEqual(scanned.warnings, []);
  assert.deepEqual(scanned.repos.map((x) => [x.id, x.type, x.revs]), [['org/tiny', 'model', [{ commit: COMMIT, refs: ['main'], files: [...files.keys()].sort() }]]]);
  assert.equal(scanned.repos[0].size, [...files.values()].reduce((s, d) => s + d.length, 0));
  assert.equal(scanned.snapshot, r.dir);

  // Python downloads from the same stand-in; roots resolves it offline to Python's folder.
  const theirs = join(t.dir, 'python-cache');
  const got = await runPython(`
import json
from huggingface_hub import hf_hub_download
paths = [hf_hub_download("org/tiny", f, cache_dir=${JSON.stringify(theirs)}) for f in ${JSON.stringify([...files.keys()])}]
print(json.dumps(paths))
`, { HF_ENDPOINT: hub.url }) as string[];
  const snapshot = join(theirs, 'models--org--tiny', 'snapshots', COMMIT);
  assert.deepEqual(got, [...files.keys()].map((f) => join(snapshot, f)));
  // Python's own layout is the one writePythonCache builds for the offline tests: same blob names, same links.
  assert.deepEqual(readdirSync(join(theirs, 'models--org--tiny', 'blobs')).sort(), [...files].map(([f, d]) => etagOf(f, d)).sort());
  for (const [f, d] of files) assert.equal(readlinkSync(join(snapshot, f)), join('..', '..', 'blobs', etagOf(f, d)));
  assert.equal(readFileSync(join(theirs, 'models--org--tiny', 'refs', 'main'), 'utf8'), COMMIT);
  const resolved = await resolveModel('org/tiny', 'model+tokenizer', { cacheDir: theirs, localFilesOnly: true });
  assert.deepEqual(resolved, { dir: snapshot, hub: { repo: 'org/tiny', revision: 'main', commit: COMMIT, downloaded: false } });
  const tok = await Tokenizer.fromPretrained('org/tiny', { cacheDir: theirs, localFilesOnly: true });
  assert.deepEqual(tok.encode('Paris is big .').ids, fixture.tokenizer.encode('Paris is big .').ids);
});
