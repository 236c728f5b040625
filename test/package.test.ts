// The npm tarball as a user gets it: `npm pack`, installed into a fresh project with no compiler on the
// PATH (so the prebuilt binary must serve), then an ES module and a CommonJS script that build a tiny
// model from a generated config, train a step and run a pipeline. Then the bad-input cases of loading:
// a corrupt prebuilt binary, no LibTorch, a LibTorch of another ABI, each one message and no crash.
// The LibTorch is whatever scripts/find-libtorch.mjs finds (CI's main run: Debian's 1.13; its 2.x leg
// runs this with LIBTORCH_USE_PYTORCH=1, which loads the 2.13 binary from a staged copy).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { findLibTorch, flavourOf } from '../scripts/find-libtorch.mjs';
import { prebuiltName } from '../scripts/prebuilt.mjs';
import { repoRoot, tmp } from './helpers.js';

const npmCli = join(dirname(dirname(process.execPath)), 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
const torch = findLibTorch();
const flavour = flavourOf(torch);

/** The environment of a machine without a compiler: PATH holds node and sh only; no npm_* from our own run. */
function bareEnv(bin: string, home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(npm_|ROOTS_NATIVE_PATH$|PATH$|XDG_CACHE_HOME$)/i.test(k)) env[k] = v;
  return { ...env, PATH: bin, XDG_CACHE_HOME: join(home, 'cache'), ...extra };
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 120_000 });
}

const esm = `import { BertForSequenceClassification, Tokenizer, info, pipeline } from 'roots-nlp';
import { readFileSync, writeFileSync } from 'node:fs';
writeFileSync('config.json', JSON.stringify({ vocab_size: 9, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32, max_position_embeddings: 16 }));
const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'good', 'bad', 'movie', 'a'];
const tokenizer = Tokenizer.fromVocab(vocab, { do_lower_case: true });
const model = BertForSequenceClassification.fromConfig(JSON.parse(readFileSync('config.json', 'utf8')), { labels: ['neg', 'pos'], log: null });
const batch = { batchSize: 2, seqLen: 4, inputIds: Int32Array.from([2, 5, 7, 3, 2, 6, 7, 3]), attentionMask: new Int32Array(8).fill(1), tokenTypeIds: new Int32Array(8), labels: Int32Array.from([1, 0]) };
const step = await model.trainStep(batch, { learningRate: 1e-3 });
const clf = await pipeline('text-classification', { model, tokenizer });
const [[top]] = await clf(['good movie']);
const maps = readFileSync('/proc/self/maps', 'utf8').split('\\n').map((l) => l.split(' ').pop()).filter((p) => /roots.native|roots-nlp\\.torch/.test(p));
console.log(JSON.stringify({ loss: step.loss, label: top.label, torch: info().torch.version, binary: maps[0] }));
clf.dispose?.();
model.dispose();
`;

const cjs = `const { BertForSequenceClassification, Tokenizer, RootsError, info, pipeline } = require('roots-nlp');
(async () => {
  const tokenizer = Tokenizer.fromVocab(['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'good', 'bad'], {});
  const model = BertForSequenceClassification.fromConfig({ vocab_size: 6, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 16 }, { labels: ['neg', 'pos'], log: null });
  const step = await model.trainStep({ batchSize: 1, seqLen: 3, inputIds: Int32Array.from([2, 4, 3]), attentionMask: new Int32Array(3).fill(1), tokenTypeIds: new Int32Array(3), labels: Int32Array.from([1]) }, { learningRate: 1e-3 });
  const clf = await pipeline('text-classification', { model, tokenizer });
  const [[top]] = await clf(['good']);
  const esm = await import('roots-nlp');
  console.log(JSON.stringify({ loss: step.loss, label: top.label, torch: info().torch.version, sameClass: esm.RootsError === RootsError }));
  model.dispose();
})().catch((e) => { console.error(e); process.exit(1); });
`;

const loadOnly = `import('roots-nlp').then((r) => { try { r.info(); console.log('loaded'); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); } });`;

test(`the packed tarball installs without a compiler and runs from ESM and CommonJS (prebuilt ${flavour})`, async (t) => {
  const { dir, cleanup } = tmp('roots-pack-');
  try {
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, 'node'));
    symlinkSync('/bin/sh', join(bin, 'sh'));
    for (const c of ['cc', 'gcc', 'g++', 'c++', 'cmake', 'make']) assert.ok(!existsSync(join(bin, c)));

    // The prebuilt binaries come from this checkout's builds (what `prepack` does); the TypeScript was
    // compiled by `npm ci`'s prepare, so the pack itself skips scripts (seconds, not a tsc run).
    const pre = run(process.execPath, [join(repoRoot, 'scripts', 'prebuild.mjs')], repoRoot, process.env);
    assert.equal(pre.status, 0, pre.stderr);
    const pack = run(process.execPath, [npmCli, 'pack', '--json', '--ignore-scripts', '--pack-destination', dir], repoRoot, process.env);
    assert.equal(pack.status, 0, pack.stderr);
    const [info] = JSON.parse(pack.stdout) as { filename: string; size: number; unpackedSize: number; files: { path: string }[] }[];
    const files = info.files.map((f) => f.path);
    t.diagnostic(`tarball: ${files.length} files, ${(info.size / 1e6).toFixed(2)} MB packed, ${(info.unpackedSize / 1e6).toFixed(2)} MB unpacked`);
    const stray = files.filter((f) => /^(test|bench|models|data|out|build[^/]*|node_modules|\.ci)\/|\.py$|^scripts\/(gpu|demo)|\.tsbuildinfo$/.test(f));
    assert.deepEqual(stray, [], 'no tests, benchmarks, data, build folders or Python scripts in the tarball');
    const base = `prebuilds/${process.platform}-${process.arch}/${prebuiltName(flavour)}`;
    for (const f of [`${base}.node`, `${base}.json`, 'dist/index.js', 'dist/index.d.ts', 'cjs/index.cjs', 'cjs/index.d.cts', 'scripts/install.mjs', 'CMakeLists.txt']) {
      assert.ok(files.includes(f), `${f} is in the tarball`);
    }
    assert.ok(info.size < 8e6, `the tarball is ${info.size} bytes (expected under 8 MB: the addon is about 1 MB a flavour)`);

    const project = join(dir, 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'roots-user', version: '1.0.0', private: true }));
    const env = bareEnv(bin, dir);
    const install = run(process.execPath, [npmCli, 'install', join(dir, info.filename), '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=warn'], project, env);
    t.diagnostic(`npm install: ${(install.stdout + install.stderr).trim().split('\n').slice(-3).join(' | ')}`);
    assert.equal(install.status, 0, install.stderr);
    const pkg = join(project, 'node_modules', 'roots-nlp');
    assert.ok(!existsSync(join(pkg, 'build')), 'nothing was built from source');

    writeFileSync(join(project, 'check.mjs'), esm);
    writeFileSync(join(project, 'check.cjs'), cjs);
    const e = run(process.execPath, ['check.mjs'], project, env);
    assert.equal(e.status, 0, e.stderr);
    const fromEsm = JSON.parse(e.stdout.trim().split('\n').pop()!);
    assert.ok(Number.isFinite(fromEsm.loss) && fromEsm.loss > 0);
    assert.ok(['neg', 'pos'].includes(fromEsm.label));
    assert.equal(fromEsm.torch.split('.').slice(0, 2).join('.'), torch.version.split('.').slice(0, 2).join('.'));
    assert.match(fromEsm.binary, new RegExp(`roots-nlp\\.${flavour}\\.napi\\.glibc\\.node$|/${flavour}-[0-9a-f]{16}/roots_native\\.node$`), 'the prebuilt binary (or its staged copy) is what runs');
    const c = run(process.execPath, ['check.cjs'], project, env);
    assert.equal(c.status, 0, c.stderr);
    const fromCjs = JSON.parse(c.stdout.trim().split('\n').pop()!);
    assert.ok(Number.isFinite(fromCjs.loss) && ['neg', 'pos'].includes(fromCjs.label));
    assert.equal(fromCjs.sameClass, true, 'require and import give the same module instance');

    // Bad input: each a RootsError ERR_NATIVE_LOAD with one message naming the fix, and exit code 0.
    writeFileSync(join(project, 'load.mjs'), loadOnly);
    const load = (extra: Record<string, string>) => {
      const r = run(process.execPath, ['load.mjs'], project, bareEnv(bin, dir, extra));
      assert.equal(r.status, 0, `no crash: ${r.stderr}`);
      return JSON.parse(r.stdout.trim()) as { code: string; message: string };
    };
    const none = load({ LIBTORCH: join(dir, 'no-libtorch') });
    assert.equal(none.code, 'ERR_NATIVE_LOAD');
    assert.match(none.message, /no share\/cmake\/Torch\/TorchConfig\.cmake under .*no-libtorch[\s\S]*apt-get install libtorch-dev[\s\S]*LIBTORCH_USE_PYTORCH=1/);
    // A LibTorch of the old C++ ABI (what pre-2.7 pytorch.org zips and wheels were): no binary fits.
    const other = join(dir, 'libtorch-old-abi');
    mkdirSync(join(other, 'share/cmake/Torch'), { recursive: true });
    mkdirSync(join(other, 'include/torch/headeronly'), { recursive: true });
    mkdirSync(join(other, 'lib'));
    writeFileSync(join(other, 'share/cmake/Torch/TorchConfig.cmake'), 'set(TORCH_CXX_FLAGS "-D_GLIBCXX_USE_CXX11_ABI=0")\n');
    writeFileSync(join(other, 'include/torch/headeronly/version.h'), '#define TORCH_VERSION_MAJOR 2\n#define TORCH_VERSION_MINOR 5\n#define TORCH_VERSION_PATCH 1\n');
    for (const l of ['libtorch.so', 'libtorch_cpu.so', 'libc10.so']) writeFileSync(join(other, 'lib', l), '');
    const abi = load({ LIBTORCH: other });
    assert.match(abi.message, /no binary for the LibTorch 2\.5\.1 \(pre-C\+\+11 ABI, CPU only[\s\S]*wanted torch2_5-precxx11-cpu[\s\S]*npx roots build/);
    // A corrupt prebuilt binary (a truncated or damaged download): caught by its SHA-256 before dlopen.
    const prebuilt = join(pkg, `${base}.node`);
    const bytes = readFileSync(prebuilt);
    bytes[bytes.length >> 1] ^= 0xff;
    writeFileSync(prebuilt, bytes);
    const corrupt = load({});
    assert.match(corrupt.message, /is corrupt \(its SHA-256 differs[\s\S]*Reinstall roots-nlp/);
  } finally {
    cleanup();
  }
});

test('the prebuilt layout is what node-gyp-build reads: platform folder, napi and libc tags', () => {
  const pre = join(repoRoot, 'prebuilds', `${process.platform}-${process.arch}`);
  if (!existsSync(pre)) return;   // made by the test above (or `npm pack`)
  const ngb = createRequire(import.meta.url)('node-gyp-build') as { parseTags(f: string): { napi?: boolean; libc?: string } | undefined };
  for (const f of readdirSync(pre).filter((x) => x.endsWith('.node'))) {
    const tags = ngb.parseTags(f);
    assert.equal(tags?.napi, true, f);
    assert.equal(tags?.libc, 'glibc', f);
    const record = JSON.parse(readFileSync(join(pre, f.replace(/\.node$/, '.json')), 'utf8'));
    assert.match(record.sha256, /^[0-9a-f]{64}$/);
    assert.equal(f, `${prebuiltName(record.flavour)}.node`);
  }
});
