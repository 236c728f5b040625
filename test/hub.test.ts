// Hub ids (lib/hub): resolved from a cache in Python's exact layout with no network (every library
// entry point), downloaded from a stand-in Hub on loopback into an empty cache (files, commit, refs;
// only the files a model folder needs; a second resolve makes no request), interrupted downloads,
// and the errors (offline and not cached, unknown revision, gated, private, no readable weights,
// unreachable Hub). The CLI side is in hub-cli.test.ts.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { BertForTokenClassification } from '../lib/models/bert.js';
import { Tokenizer } from '../lib/tokenizer/index.js';
import { pipeline } from '../lib/pipelines/index.js';
import { RootsError } from '../lib/errors.js';
import { parseHubId, resolveModel } from '../lib/hub/index.js';
import { corpusFixture, tinyModel } from './ner-fixtures.js';
import { rng, tmp } from './helpers.js';
import { makeBatch, perturb } from './peft-helpers.js';
import { commitId, etagOf, startStandInHub, writePythonCache, type StandInHub } from './hub-fixtures.js';

const t = tmp('roots-hub-');
after(() => t.cleanup());

// A tiny trained-shape NER model saved as a folder; its files are what the Hub and the cache hold.
const fixture = corpusFixture({ train: 40, dev: 4, test: 4 });
const source = tinyModel(fixture, 5);
const folder = join(t.dir, 'folder');
await source.save(folder, { tokenizer: fixture.tokenizer });
const files = new Map(readdirSync(folder).map((f) => [f, readFileSync(join(folder, f))]));
const COMMIT = commitId('tiny-1');
const TEXT = 'Angela Merkel visited Paris .';

/** Runs `fn` with these environment variables set (undefined: unset), then restores them. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((ok) => server.close(() => ok()));
  return port;
}

async function rejects(p: Promise<unknown>, re: RegExp): Promise<RootsError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof RootsError, `a RootsError, got ${(e as Error).stack}`);
    assert.match(e.message, re);
    return e;
  }
  assert.fail(`expected an error matching ${re}`);
}

test('Hub ids: org/name, name, @revision; paths are not ids', () => {
  assert.deepEqual(parseHubId('bert-base-cased'), { repo: 'bert-base-cased', revision: 'main' });
  assert.deepEqual(parseHubId('org/tiny@v1.0'), { repo: 'org/tiny', revision: 'v1.0' });
  assert.deepEqual(parseHubId('org/tiny', 'dev'), { repo: 'org/tiny', revision: 'dev' });
  assert.deepEqual(parseHubId('org/tiny@refs/pr/1'), { repo: 'org/tiny', revision: 'refs/pr/1' });
  for (const p of ['./x', '/abs/x', 'a/b/c', '../x', 'a--b/c', 'x.git', '']) assert.equal(parseHubId(p), null, p);
  assert.throws(() => parseHubId('org/tiny@'), /expected a revision/);
  assert.throws(() => parseHubId('org/tiny@a', 'b'), /names revision a but the revision option says b/);
});

test('offline: every entry point resolves org/tiny from a cache in Python\'s layout', async () => {
  const cache = join(t.dir, 'py-cache');
  const snapshot = writePythonCache(cache, 'org/tiny', COMMIT, files);
  await withEnv({ HF_HUB_CACHE: cache, HF_HUB_OFFLINE: '1', HF_ENDPOINT: 'http://127.0.0.1:9' }, async () => {
    const r = await resolveModel('org/tiny', 'model+tokenizer');
    assert.deepEqual(r, { dir: snapshot, hub: { repo: 'org/tiny', revision: 'main', commit: COMMIT, downloaded: false } });
    assert.equal((await resolveModel(`org/tiny@${COMMIT}`, 'model')).dir, snapshot);

    const model = await BertForTokenClassification.fromPretrained('org/tiny', { log: null });
    assert.equal(model.loadReport.source, join(snapshot, 'model.safetensors'));
    assert.deepEqual(model.loadReport.missingKeys, []);
    for (const p of ['bert.embeddings.word_embeddings.weight', 'classifier.weight']) assert.deepEqual(model.getParameter(p), source.getParameter(p));
    model.dispose();

    const tok = await Tokenizer.fromPretrained('org/tiny');
    assert.deepEqual(tok.encode(TEXT).ids, fixture.tokenizer.encode(TEXT).ids);

    const fromId = await pipeline('ner', 'org/tiny');
    const fromFolder = await pipeline('ner', folder);
    assert.deepEqual(await fromId(TEXT), await fromFolder(TEXT));
    fromId.dispose();
    fromFolder.dispose();

    // The HF_HOME route to the same cache (HF_HOME/hub).
    await withEnv({ HF_HUB_CACHE: undefined, HF_HOME: join(t.dir, 'home') }, async () => {
      writePythonCache(join(t.dir, 'home', 'hub'), 'org/tiny', COMMIT, files);
      assert.equal((await resolveModel('org/tiny', 'tokenizer')).dir, join(t.dir, 'home', 'hub', 'models--org--tiny', 'snapshots', COMMIT));
    });
  });
});

test('offline: an id not in the cache names the cache folder and HF_HUB_OFFLINE', async () => {
  const cache = join(t.dir, 'py-cache-2');
  writePythonCache(cache, 'org/tiny', COMMIT, new Map([...files].filter(([f]) => f !== 'model.safetensors')));
  await withEnv({ HF_HUB_CACHE: cache, HF_HUB_OFFLINE: '1' }, async () => {
    const e = await rejects(resolveModel('org/other', 'model'), /org\/other is not a folder, and the Hugging Face cache .*py-cache-2 \(HF_HUB_CACHE=.*\) has no org\/other; downloads are off \(HF_HUB_OFFLINE=1\): unset HF_HUB_OFFLINE to download it/);
    assert.equal(e.code, 'ERR_IO');
    await rejects(BertForTokenClassification.fromPretrained('org/tiny', { log: null }), /holds org\/tiny at commit [0-9a-f]{40} \(revision main\) without weights roots can read/);
    await rejects(resolveModel('org/tiny@v2', 'tokenizer'), /holds org\/tiny but not revision v2/);
    // The tokenizer alone is there: a tokenizer resolves.
    assert.ok(await Tokenizer.fromPretrained('org/tiny'));
  });
  await rejects(resolveModel('org/other', 'model', { cacheDir: cache, localFilesOnly: true }), /\(the cacheDir option\).*downloads are off \(the localFilesOnly option is set\): drop localFilesOnly/);
});

// ---------------------------------------------------------------------------------------------
// The stand-in Hub
// ---------------------------------------------------------------------------------------------

const REPO_FILES = new Map([...files, ['pytorch_model.bin', Buffer.from('a .bin the client must not fetch')], ['tf_model.h5', Buffer.from('tf')], ['README.md', Buffer.from('# tiny\n')]]);
const hub: StandInHub = await startStandInHub({
  'org/tiny': { commit: COMMIT, files: REPO_FILES, refs: { main: COMMIT, v1: COMMIT } },
  'org/gated': { commit: commitId('gated'), files, access: 'gated', allowedToken: 'hf_allowed' },
  'org/private': { commit: commitId('private'), files, access: 'private', allowedToken: 'hf_allowed' },
  'org/noweights': { commit: commitId('now'), files: new Map([['config.json', files.get('config.json')!], ['vocab.txt', files.get('vocab.txt')!], ['tf_model.h5', Buffer.from('tf')]]) },
  'org/sharded': { commit: commitId('sh'), files: new Map([['config.json', files.get('config.json')!], ['model.safetensors.index.json', Buffer.from('{}')], ['model-00001-of-00002.safetensors', Buffer.from('x')]]) },
});
after(() => hub.close());
const online = (cache: string, extra: Record<string, string | undefined> = {}) => ({ HF_HUB_CACHE: cache, HF_HUB_OFFLINE: undefined, HF_ENDPOINT: hub.url, HF_TOKEN: undefined, HF_HOME: join(t.dir, 'no-home'), ...extra });

test('online: a download into an empty cache writes Python\'s layout, only the files a folder needs, and the ref', async () => {
  const cache = join(t.dir, 'dl-cache');
  await withEnv(online(cache), async () => {
    hub.downloads.length = 0;
    const r = await resolveModel('org/tiny', 'model+tokenizer', { progress: 'none' });
    const repoDir = join(cache, 'models--org--tiny');
    assert.deepEqual(r, { dir: join(repoDir, 'snapshots', COMMIT), hub: { repo: 'org/tiny', revision: 'main', commit: COMMIT, downloaded: true } });
    assert.equal(readFileSync(join(repoDir, 'refs', 'main'), 'utf8'), COMMIT);
    // safetensors, not the .bin; no tf_model.h5, no README.
    assert.deepEqual(readdirSync(r.dir).sort(), [...files.keys()].sort());
    for (const [f, data] of files) {
      assert.ok(lstatSync(join(r.dir, f)).isSymbolicLink(), `${f} is a symlink`);
      assert.equal(readlinkSync(join(r.dir, f)), join('..', '..', 'blobs', etagOf(f, data)));
      assert.deepEqual(readFileSync(join(r.dir, f)), data);
    }
    assert.deepEqual(readdirSync(join(repoDir, 'blobs')).sort(), [...files].map(([f, d]) => etagOf(f, d)).sort());
    assert.deepEqual(hub.downloads.sort(), [...files.keys()].map((f) => `org/tiny/${f}`).sort());

    // A second resolve, and every entry point, read the cache without a request.
    hub.requests.length = 0;
    assert.equal((await resolveModel('org/tiny', 'model+tokenizer', { progress: 'none' })).dir, r.dir);
    const model = await BertForTokenClassification.fromPretrained('org/tiny', { log: null });
    model.dispose();
    await Tokenizer.fromPretrained('org/tiny');
    (await pipeline('ner', 'org/tiny')).dispose();
    assert.equal(hub.requests.length, 0, hub.requests.join('\n'));

    // Another ref to the same commit: one info request, no file fetched again, refs/v1 written.
    const v1 = await resolveModel('org/tiny@v1', 'model+tokenizer', { progress: 'none' });
    assert.equal(v1.dir, r.dir);
    assert.equal(readFileSync(join(repoDir, 'refs', 'v1'), 'utf8'), COMMIT);
    assert.ok(!hub.requests.some((q) => q.includes('/resolve/')), hub.requests.join('\n'));
    assert.equal(hub.downloads.length, files.size);
  });
});

test('online: an interrupted download leaves no file in the snapshot, no blob, no ref; a retry completes it', async () => {
  const cache = join(t.dir, 'cut-cache');
  await withEnv(online(cache), async () => {
    hub.truncateOnce.add('model.safetensors');
    await rejects(resolveModel('org/tiny', 'model', { progress: 'none' }), /the download of model\.safetensors of org\/tiny@[0-9a-f]{7} from http:\/\/127\.0\.0\.1:\d+ broke off \(.+\); nothing of it stays in the snapshot: run again \(cache .*cut-cache\)/);
    const repoDir = join(cache, 'models--org--tiny');
    const snap = join(repoDir, 'snapshots', COMMIT);
    assert.ok(!existsSync(join(snap, 'model.safetensors')), 'no weights in the snapshot');
    assert.deepEqual(readdirSync(join(repoDir, 'blobs')).filter((b) => b.startsWith(etagOf('model.safetensors', files.get('model.safetensors')!))), []);
    assert.ok(!existsSync(join(repoDir, 'refs', 'main')), 'no ref before the files are in');
    const r = await resolveModel('org/tiny', 'model', { progress: 'none' });
    assert.deepEqual(readFileSync(join(r.dir, 'model.safetensors')), files.get('model.safetensors'));
    assert.equal(readFileSync(join(repoDir, 'refs', 'main'), 'utf8'), COMMIT);
  });
});

test('online errors: unknown revision, gated and private without a token, no readable weights, sharded, unreachable Hub', async () => {
  const cache = join(t.dir, 'err-cache');
  await withEnv(online(cache), async () => {
    await rejects(resolveModel('org/tiny@nope', 'model', { progress: 'none' }), /org\/tiny has no revision "nope" on http:\/\/127\.0\.0\.1:\d+ .*org\/tiny@REVISION or the revision option.*cache .*err-cache/);
    await rejects(resolveModel('org/gated', 'model', { progress: 'none' }), /org\/gated is gated or private and no token was sent: accept its conditions at .*\/org\/gated, then set HF_TOKEN/);
    await rejects(resolveModel('org/gated', 'model', { progress: 'none', token: 'hf_other' }), /the token \(HF_TOKEN\) has no access/);
    await rejects(resolveModel('org/private', 'model', { progress: 'none' }), /org\/private: no such model on .*, or it is private or gated and no token was sent \(set HF_TOKEN/);
    await rejects(resolveModel('org/nosuch', 'model', { progress: 'none' }), /org\/nosuch: no such model/);
    await rejects(resolveModel('org/noweights', 'model+tokenizer', { progress: 'none' }), /org\/noweights \(revision main, commit [0-9a-f]{40}\) has no weights roots can read \(model\.safetensors or pytorch_model\.bin\); it has config\.json, vocab\.txt, tf_model\.h5/);
    await rejects(resolveModel('org/sharded', 'model', { progress: 'none' }), /model\.safetensors\.index\.json is a sharded checkpoint/);
    await rejects(resolveModel('org/tiny', 'model', { progress: 'none', token: 'not-a-token' }), /start with hf_\): check HF_TOKEN/);
    const closed = await closedPort();
    await rejects(resolveModel('org/tiny', 'model', { progress: 'none', endpoint: `http://127.0.0.1:${closed}` }), new RegExp(`cannot download org/tiny@main from http://127\\.0\\.0\\.1:${closed} \\(ECONNREFUSED\\); set HF_HUB_OFFLINE=1`));
  });
  // HF_TOKEN reaches the Hub.
  await withEnv(online(cache, { HF_TOKEN: 'hf_allowed' }), async () => {
    const r = await resolveModel('org/gated', 'model+tokenizer', { progress: 'none' });
    assert.deepEqual(readFileSync(join(r.dir, 'config.json')), files.get('config.json'));
  });
  // So does the token file `hf auth login` writes (HF_HOME/token) when HF_TOKEN is unset.
  const home = join(t.dir, 'token-home');
  mkdirSync(home, { recursive: true });
  writeFileSync(join(home, 'token'), 'hf_allowed\n');
  await withEnv(online(join(t.dir, 'token-cache'), { HF_HOME: home }), async () => {
    const r = await resolveModel('org/private', 'model+tokenizer', { progress: 'none' });
    assert.deepEqual(readFileSync(join(r.dir, 'config.json')), files.get('config.json'));
  });
});

test('online: two resolves of one id at once take turns on the cache lock and agree', async () => {
  const cache = join(t.dir, 'race-cache');
  await withEnv(online(cache), async () => {
    hub.downloads.length = 0;
    const [a, b] = await Promise.all([
      resolveModel('org/tiny', 'model+tokenizer', { progress: 'none' }),
      resolveModel('org/tiny', 'model+tokenizer', { progress: 'none' }),
    ]);
    assert.equal(a.dir, b.dir);
    for (const [f, data] of files) assert.deepEqual(readFileSync(join(a.dir, f)), data);
    assert.deepEqual(readdirSync(join(cache, 'models--org--tiny', 'blobs')).sort(), [...files].map(([f, d]) => etagOf(f, d)).sort());
    // Each file crossed the wire once: the second resolve found the first one's links.
    assert.deepEqual(hub.downloads.sort(), [...files.keys()].map((f) => `org/tiny/${f}`).sort());
  });
});

test('online: a tokenizer first fetches only tokenizer files; the model then adds only its weights to the snapshot', async () => {
  const cache = join(t.dir, 'partial-cache');
  await withEnv(online(cache), async () => {
    hub.downloads.length = 0;
    const tok = await Tokenizer.fromPretrained('org/tiny', { progress: 'none' });
    assert.deepEqual(tok.encode(TEXT).ids, fixture.tokenizer.encode(TEXT).ids);
    const tokenizerFiles = [...files.keys()].filter((f) => f !== 'model.safetensors').sort();
    assert.deepEqual(hub.downloads.sort(), tokenizerFiles.map((f) => `org/tiny/${f}`));
    hub.downloads.length = 0;
    const model = await BertForTokenClassification.fromPretrained('org/tiny', { log: null, progress: 'none' });
    model.dispose();
    assert.deepEqual(hub.downloads, ['org/tiny/model.safetensors']);
    assert.deepEqual(readdirSync(join(cache, 'models--org--tiny', 'snapshots', COMMIT)).sort(), [...files.keys()].sort());
  });
});

test('an adapter by Hub id: loadAdapter(\'org/tiny-lora\') on the model from \'org/tiny\'; adapters saved from it name the base by its id', async () => {
  const cache = join(t.dir, 'adapter-cache');
  const saved = join(t.dir, 'lora');
  const batch = makeBatch(rng(4), 2, 8, 'token', fixture.labels.length);
  await withEnv(online(cache), async () => {
    const trained = await BertForTokenClassification.fromPretrained('org/tiny', { log: null, progress: 'none' });
    trained.addAdapter('lora', { type: 'lora', r: 2, alpha: 4, targetModules: ['query', 'value'] });
    perturb(trained, 'lora', rng(5));
    trained.setAdapter('lora');
    const expected = (await trained.forward(batch)).logits;
    await trained.saveAdapter(saved, 'lora');
    trained.dispose();
    // As PEFT writes it for a model loaded by id: the id, not the snapshot path.
    assert.equal(JSON.parse(readFileSync(join(saved, 'adapter_config.json'), 'utf8')).base_model_name_or_path, 'org/tiny');

    const adapterHub = await startStandInHub({ 'org/tiny-lora': { commit: commitId('lora'), files: new Map(readdirSync(saved).map((f) => [f, readFileSync(join(saved, f))])) } });
    try {
      const model = await BertForTokenClassification.fromPretrained('org/tiny', { log: null });
      await model.loadAdapter('org/tiny-lora', { name: 'lora', endpoint: adapterHub.url, progress: 'none' });
      model.setAdapter('lora');
      assert.deepEqual((await model.forward(batch)).logits, expected);
      model.dispose();
      // PEFT's two files, and the config.json roots saves beside them (head and labels) when there is one.
      const wanted = ['adapter_config.json', 'adapter_model.safetensors', 'config.json'].filter((f) => existsSync(join(saved, f)));
      assert.deepEqual(adapterHub.downloads.sort(), wanted.map((f) => `org/tiny-lora/${f}`));
    } finally {
      await adapterHub.close();
    }
  });
});
