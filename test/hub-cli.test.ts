// Hub ids on the command line: `--model org/tiny` of predict, eval and train resolved offline from a
// cache in Python's layout (same output as the folder), a download from the loopback stand-in with
// progress on stderr and clean JSON on stdout, the offline error, and `roots cache list|remove`.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { generateCorpus, toConll } from '../lib/demo/corpus.js';
import { corpusFixture, tinyModel } from './ner-fixtures.js';
import { repoRoot, tmp } from './helpers.js';
import { commitId, etagOf, startStandInHub, writePythonCache } from './hub-fixtures.js';
import { runCacheList, runCacheRemove } from '../lib/cli/cache.js';
import { formatBytes } from '../lib/hub/download.js';
import { resolveModel } from '../lib/hub/index.js';

const t = tmp('roots-hub-cli-');
after(() => t.cleanup());
const fixture = corpusFixture({ train: 40, dev: 4, test: 4 });
const model = tinyModel(fixture, 7);
const folder = join(t.dir, 'folder');
await model.save(folder, { tokenizer: fixture.tokenizer });
model.dispose();
const files = new Map(readdirSync(folder).map((f) => [f, readFileSync(join(folder, f))]));
const COMMIT = commitId('cli-1');
const corpus = generateCorpus({ train: 24, dev: 8, test: 8, seed: 4 });
const data = { train: join(t.dir, 'train.conll'), test: join(t.dir, 'test.conll') };
writeFileSync(data.train, toConll(corpus.train));
writeFileSync(data.test, toConll(corpus.test));

const cliEntry = pathToFileURL(join(repoRoot, 'lib', 'cli', 'index.ts')).href;
/** `roots ...args` in a child process with `env` over this one's, without blocking (the stand-in Hub runs here). */
function roots(env: Record<string, string | undefined>, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const script = `const { main } = await import(${JSON.stringify(cliEntry)}); await main(['node', 'roots', ...process.argv.slice(1)]);`;
  const merged: Record<string, string | undefined> = { ...process.env, ROOTS_DEBUG: '', HF_TOKEN: undefined, HF_HOME: join(t.dir, 'no-home'), ...env };
  for (const k of Object.keys(merged)) if (merged[k] === undefined) delete merged[k];
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, ...args], { cwd: repoRoot, env: merged as NodeJS.ProcessEnv });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => { stdout += c; });
  child.stderr.on('data', (c) => { stderr += c; });
  return new Promise((ok) => child.on('close', (code) => ok({ code, stdout, stderr })));
}

function errorLine(r: { code: number | null; stderr: string }, re: RegExp): void {
  assert.equal(r.code, 1, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('(node:'));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^roots: error: /);
  assert.match(lines[0], re);
}

const offlineCache = join(t.dir, 'py-cache');
const snapshot = writePythonCache(offlineCache, 'org/tiny', COMMIT, files);
const offline = { HF_HUB_CACHE: offlineCache, HF_HUB_OFFLINE: '1' };
const TEXT = 'Angela Merkel visited Paris .';

test('offline: predict, eval and train take --model org/tiny from the cache, as they take the folder', async () => {
  const [byId, byFolder] = await Promise.all([
    roots(offline, 'predict', '--model', 'org/tiny', '--text', TEXT, '--json', '--device', 'cpu'),
    roots(offline, 'predict', '--model', folder, '--text', TEXT, '--json', '--device', 'cpu'),
  ]);
  assert.equal(byId.code, 0, byId.stderr);
  assert.deepEqual(JSON.parse(byId.stdout), JSON.parse(byFolder.stdout));

  const evalId = await roots(offline, 'eval', '--model', `org/tiny@${COMMIT}`, '--data', data.test, '--json', '--device', 'cpu', '--precision', 'fp32');
  const evalFolder = await roots(offline, 'eval', '--model', folder, '--data', data.test, '--json', '--device', 'cpu', '--precision', 'fp32');
  assert.equal(evalId.code, 0, evalId.stderr);
  assert.deepEqual(JSON.parse(evalId.stdout).metrics ?? JSON.parse(evalId.stdout), JSON.parse(evalFolder.stdout).metrics ?? JSON.parse(evalFolder.stdout));

  const out = join(t.dir, 'trained');
  const train = await roots(offline, 'train', '--model', 'org/tiny', '--train', data.train, '--out', out, '--epochs', '1', '--batch-size', '8', '--device', 'cpu', '--precision', 'fp32');
  assert.equal(train.code, 0, train.stderr);
  assert.ok(existsSync(join(out, 'model.safetensors')));
  // The cache is read, never written: the snapshot still links to the same blobs.
  assert.deepEqual(readdirSync(snapshot).sort(), [...files.keys()].sort());
});

test('offline: an id that is neither a folder nor cached is one line naming the cache and HF_HUB_OFFLINE', async () => {
  errorLine(await roots(offline, 'predict', '--model', 'org/missing', '--text', TEXT),
    /--model org\/missing is not a folder, and the Hugging Face cache .*py-cache \(HF_HUB_CACHE=.*\) has no org\/missing; downloads are off \(HF_HUB_OFFLINE=1\): unset HF_HUB_OFFLINE/);
  // A path that cannot be an id keeps the folder error.
  errorLine(await roots(offline, 'predict', '--model', './no/such/dir', '--text', TEXT), /--model \.\/no\/such\/dir: no such folder/);
});

test('online: --model downloads from the Hub (HF_ENDPOINT) with progress on stderr and clean JSON on stdout', async () => {
  const hub = await startStandInHub({ 'org/tiny': { commit: COMMIT, files } });
  try {
    const cache = join(t.dir, 'dl-cache');
    const env = { HF_HUB_CACHE: cache, HF_ENDPOINT: hub.url, HF_HUB_OFFLINE: undefined };
    const r = await roots(env, 'predict', '--model', 'org/tiny', '--text', TEXT, '--json', '--device', 'cpu');
    assert.equal(r.code, 0, r.stderr);
    const byFolder = await roots(offline, 'predict', '--model', folder, '--text', TEXT, '--json', '--device', 'cpu');
    assert.deepEqual(JSON.parse(r.stdout), JSON.parse(byFolder.stdout));
    assert.match(r.stderr, new RegExp(`roots: downloading org/tiny@${COMMIT.slice(0, 7)} into .*models--org--tiny`));
    assert.match(r.stderr, /roots: {3}model\.safetensors \(\d+(\.\d)? kB\)/);
    assert.equal(readFileSync(join(cache, 'models--org--tiny', 'refs', 'main'), 'utf8'), COMMIT);
    hub.requests.length = 0;
    const again = await roots(env, 'predict', '--model', 'org/tiny', '--text', TEXT, '--json', '--device', 'cpu');
    assert.equal(again.code, 0, again.stderr);
    assert.equal(hub.requests.length, 0, hub.requests.join('\n'));
    assert.doesNotMatch(again.stderr, /downloading/);
  } finally {
    await hub.close();
  }
});

test('roots cache list and remove', async () => {
  const cache = join(t.dir, 'list-cache');
  writePythonCache(cache, 'org/tiny', COMMIT, files);
  // A second revision sharing every blob but the weights.
  const other = new Map(files);
  other.set('model.safetensors', Buffer.concat([files.get('model.safetensors')!, Buffer.alloc(8)]));
  const COMMIT2 = commitId('cli-2');
  writePythonCache(cache, 'org/tiny', COMMIT2, other, 'v2');
  const env = { HF_HUB_CACHE: cache, HF_HUB_OFFLINE: '1' };

  // Through the command line once (registration, JSON on stdout) ...
  const list = await roots(env, 'cache', 'list', '--json');
  assert.equal(list.code, 0, list.stderr);
  const json = JSON.parse(list.stdout);
  assert.equal(json.cacheDir, cache);
  assert.equal(json.repos.length, 1);
  const repo = json.repos[0];
  assert.equal(repo.id, 'org/tiny');
  assert.deepEqual(repo.revisions.map((v: { commit: string; refs: string[] }) => [v.commit, v.refs]).sort(), [[COMMIT, ['main']], [COMMIT2, ['v2']]].sort());
  const blobSizes = new Map([...files, ...other].map(([f, d]) => [etagOf(f, d), d.length]));
  assert.equal(repo.size, [...blobSizes.values()].reduce((a, b) => a + b, 0));
  assert.deepEqual(repo.revisions.find((v: { commit: string }) => v.commit === COMMIT).files, [...files.keys()].sort());
  errorLine(await roots(env, 'cache', 'remove', 'org/none'), /org\/none is not in the Hugging Face cache .*list-cache \(HF_HUB_CACHE=.*\); roots cache list shows what is/);

  // ... the rest in this process (the same functions the commands run).
  const saved = process.env.HF_HUB_CACHE;
  process.env.HF_HUB_CACHE = cache;
  try {
    const io = { outText: '', errText: '', out(s: string) { this.outText += s; }, err(s: string) { this.errText += s; } };
    await runCacheList({}, io);
    assert.match(io.outText, new RegExp(`^Hugging Face cache: ${cache} \\(HF_HUB_CACHE=`));
    assert.match(io.outText, new RegExp(`org/tiny +.*${COMMIT.slice(0, 7)} \\(main\\)`));
    assert.match(io.outText, new RegExp(`1 repositories, ${formatBytes(repo.size).replace('.', '\\.')}\n$`));

    const repoDir = join(cache, 'models--org--tiny');
    const weights2 = etagOf('model.safetensors', other.get('model.safetensors')!);
    io.outText = '';
    const dry = await runCacheRemove(['org/tiny@v2'], { dryRun: true }, io);
    assert.equal(io.outText, `would remove org/tiny@v2 (${COMMIT2.slice(0, 7)}): ${formatBytes(other.get('model.safetensors')!.length)}\n`);
    assert.equal(dry.freed, other.get('model.safetensors')!.length);
    assert.ok(existsSync(join(repoDir, 'blobs', weights2)));
    await runCacheRemove(['org/tiny@v2'], {}, io);
    // Only what v2 alone used is gone: its snapshot, its ref, its weights blob.
    assert.ok(!existsSync(join(repoDir, 'snapshots', COMMIT2)));
    assert.ok(!existsSync(join(repoDir, 'refs', 'v2')));
    assert.deepEqual(readdirSync(join(repoDir, 'blobs')).sort(), [...files].map(([f, d]) => etagOf(f, d)).sort());
    assert.equal((await resolveModel('org/tiny', 'model+tokenizer', { localFilesOnly: true })).dir, join(repoDir, 'snapshots', COMMIT));

    await assert.rejects(runCacheRemove(['org/tiny@v9'], {}, io), /org\/tiny has no revision v9 in the cache .*; it has [0-9a-f]{7} \(main\)/);
    await runCacheRemove(['org/tiny'], {}, io);
    assert.ok(!existsSync(repoDir));
    assert.deepEqual(((await runCacheList({ json: true }, io)) as { repos: unknown[] }).repos, []);
  } finally {
    process.env.HF_HUB_CACHE = saved;
    if (saved === undefined) delete process.env.HF_HUB_CACHE;
  }
});
