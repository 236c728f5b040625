// The native boundary: errors with codes, async jobs that never block the event loop, dispose
// semantics, busy objects, live-object counters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { native, call, callSync, type NativeExceptionKind } from '../lib/native.js';
import { RootsError, TorchError } from '../lib/errors.js';
import type { Batch } from '../lib/batch.js';
import { BertForTokenClassification } from '../lib/models/bert.js';

// The addon the rest of the process loaded (ROOTS_NATIVE_PATH, e.g. CI's LibTorch 2.x build): a worker
// must not load a second LibTorch beside it.
const addonPath = process.env.ROOTS_NATIVE_PATH ?? new URL('../build/Release/roots_native.node', import.meta.url).pathname;

test('info() reports LibTorch, threads and features', () => {
  const i = native().info();
  assert.match(i.torchVersion, /^\d+\.\d+/);
  assert.ok(i.numThreads >= 1);
  assert.equal(typeof i.cudaAvailable, 'boolean');
  assert.equal(typeof i.mkldnn, 'boolean');
});

test('setNumThreads changes the intra-op thread count and rejects bad values', () => {
  const n = native();
  const before = n.info().numThreads;
  n.setNumThreads(1);
  assert.equal(n.info().numThreads, 1);
  n.setNumThreads(before);
  assert.throws(() => n.setNumThreads(0), (e: Error & { code?: string }) => e.code === 'ERR_INVALID_ARG');
});

test('a torch error reaches JS as TorchError with code and message, without the C++ backtrace', () => {
  const st = new (native().SelfTest)(8);
  try {
    assert.throws(() => callSync(() => st.throwTorch()), (e: unknown) => {
      assert.ok(e instanceof TorchError);
      assert.equal((e as TorchError).code, 'ERR_TORCH');
      assert.match((e as Error).message, /shape|size|mat1|cannot be multiplied/i);
      assert.doesNotMatch((e as Error).message, /frame #\d|Exception raised from/);
      return true;
    });
  } finally {
    st.dispose();
  }
});

test('async failures reject with the error class and keep the caller on the stack', async () => {
  const st = new (native().SelfTest)(8);
  async function callerFrame() { return await call(() => st.failAsync('torch')); }
  await assert.rejects(callerFrame(), (e: unknown) => {
    assert.ok(e instanceof TorchError);
    assert.match((e as Error).stack ?? '', /callerFrame/);
    return true;
  });
  await assert.rejects(call(() => st.failAsync('std')), (e: unknown) => e instanceof RootsError && (e as RootsError).code === 'ERR_NATIVE' && /self-test failure: std/.test((e as Error).message));
  st.dispose();
});

test('event loop stays live while a native job runs for over a second', async () => {
  const st = new (native().SelfTest)(256);
  let ticks = 0;
  const timer = setInterval(() => { ticks++; }, 10);
  const started = Date.now();
  const count = await st.spin(1200);
  const elapsed = Date.now() - started;
  clearInterval(timer);
  st.dispose();
  assert.ok(elapsed >= 1200, `job ran ${elapsed} ms`);
  assert.ok(count > 0);
  // A blocked loop would tick 0-1 times; a live one ~elapsed/10 (allow a noisy, shared machine).
  assert.ok(ticks >= 20, `timers fired only ${ticks} times in ${elapsed} ms`);
});

test('dispose twice is harmless; use after dispose is ERR_DISPOSED; counters return to zero', async () => {
  const n = native();
  const before = n.liveObjects().selfTests;
  const st = new n.SelfTest(16);
  assert.equal(n.liveObjects().selfTests, before + 1);
  st.dispose();
  st.dispose();
  assert.equal(st.disposed, true);
  assert.equal(n.liveObjects().selfTests, before);
  assert.throws(() => callSync(() => st.sum()), (e: unknown) => e instanceof RootsError && (e as RootsError).code === 'ERR_DISPOSED');
  await assert.rejects(call(() => st.spin(1)), (e: unknown) => (e as RootsError).code === 'ERR_DISPOSED');
});

test('a second job while one runs is ERR_BUSY; dispose while busy frees after the job', async () => {
  const n = native();
  const before = n.liveObjects().selfTests;
  const st = new n.SelfTest(64);
  const p = st.spin(200);
  assert.equal(st.busy, true);
  await assert.rejects(call(() => st.spin(1)), (e: unknown) => (e as RootsError).code === 'ERR_BUSY');
  st.dispose();                     // deferred: the running job keeps its memory until it ends
  assert.equal(st.disposed, true);
  assert.ok((await p) > 0);
  assert.equal(n.liveObjects().selfTests, before);
  assert.equal(n.liveObjects().jobs, 0);
});

test('the addon loads and works in worker_threads, and the worker can exit with live objects', async () => {
  const code = `
    const { parentPort } = require('node:worker_threads');
    const addon = require(${JSON.stringify(addonPath)});
    const st = new addon.SelfTest(32);
    st.spin(50).then((n) => { parentPort.postMessage({ n, live: addon.liveObjects().selfTests }); });
  `;
  const w = new Worker(code, { eval: true });
  const msg = await new Promise<{ n: number; live: number }>((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
  assert.ok(msg.n > 0);
  assert.ok(msg.live >= 1);
  const exit = await new Promise<number>((resolve) => w.once('exit', resolve));
  assert.equal(exit, 0);
});

test('objects dropped without dispose are freed by GC', async (t) => {
  if (typeof globalThis.gc !== 'function') { t.skip('run with --expose-gc'); return; }
  const n = native();
  const before = n.liveObjects().selfTests;
  (() => { for (let i = 0; i < 5; i++) new n.SelfTest(8); })();
  for (let i = 0; i < 10 && n.liveObjects().selfTests > before; i++) {
    globalThis.gc();
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(n.liveObjects().selfTests, before);
});

test('every kind of C++ exception reaches JS with a code, from a synchronous call and from a job', async () => {
  const st = new (native().SelfTest)(8);
  const cases: [NativeExceptionKind, string, RegExp][] = [
    ['torch', 'ERR_TORCH', /mat1|shape|size|cannot be multiplied/i],
    ['roots', 'ERR_CONFIG', /self-test failure: roots/],
    ['std', 'ERR_NATIVE', /self-test failure: std/],
    ['unknown', 'ERR_NATIVE', /unknown native exception/],
  ];
  try {
    for (const [kind, code, re] of cases) {
      // The addon itself gives the code (one catch ladder at every entry point)...
      assert.throws(() => st.throw(kind), (e: Error & { code?: string }) => e.code === code && re.test(e.message), `sync ${kind}`);
      // ...and lib/native.ts turns it into the error class.
      assert.throws(() => callSync(() => st.throw(kind)), (e: unknown) => e instanceof RootsError && e.code === code && (kind !== 'torch' || e instanceof TorchError));
      await assert.rejects(call(() => st.failAsync(kind)), (e: unknown) => e instanceof RootsError && e.code === code && re.test((e as Error).message), `async ${kind}`);
    }
    // A bad argument to a native entry point is a coded error too, never an abort.
    assert.throws(() => st.throw(7 as unknown as NativeExceptionKind), (e: Error & { code?: string }) => e.code === 'ERR_INVALID_ARG' && /Expected a string for kind/.test(e.message));
  } finally {
    st.dispose();
  }
  assert.equal(native().liveObjects().jobs, 0);
});

// A model big enough that its memory stands out in V8's external-memory count (~0.4M parameters;
// weights, gradients and AdamW's two moments are 16 bytes a parameter after a step).
const sized = { vocab_size: 4000, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 128, max_position_embeddings: 64 };

function tokenBatch(B: number, T: number): Batch {
  const n = B * T;
  return {
    batchSize: B, seqLen: T, inputIds: Int32Array.from({ length: n }, (_, i) => 1 + (i * 37) % 3999),
    attentionMask: new Int32Array(n).fill(1), tokenTypeIds: new Int32Array(n), labels: Int32Array.from({ length: n }, (_, i) => i % 3),
  };
}

async function collect(done: () => boolean): Promise<void> {
  for (let i = 0; i < 20 && !done(); i++) {
    globalThis.gc!();
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('a Model dropped without dispose is freed by GC: liveObjects().models and V8\'s external-memory count go back', { skip: typeof globalThis.gc !== 'function' && 'run with --expose-gc' }, async () => {
  const n = native();
  await collect(() => false);  // start from a settled heap
  const before = n.liveObjects().models;
  const external = n.externalMemory();
  let bytes = 0;
  await (async () => {
    const models = [0, 1, 2].map(() => BertForTokenClassification.fromConfig(sized, { labels: ['a', 'b', 'c'], seed: 1 }));
    await models[0].trainStep(tokenBatch(2, 8), { learningRate: 1e-3 });  // optimizer state: 4 copies of the weights
    bytes = models[0].numParameters * 16 + 2 * models[0].numParameters * 8;
    assert.equal(n.liveObjects().models, before + 3);
    assert.ok(n.externalMemory() - external >= 0.9 * bytes, `external memory grew by ${n.externalMemory() - external}, expected ~${bytes}`);
  })();
  await collect(() => n.liveObjects().models === before);
  assert.equal(n.liveObjects().models, before);
  assert.ok(n.externalMemory() - external < 0.1 * bytes, `external memory still ${n.externalMemory() - external} above the start`);
  assert.equal(n.liveObjects().jobs, 0);
});

test('a worker thread can exit with a live Model, even mid-step; models on the main thread are unaffected', async () => {
  const n = native();
  const main = BertForTokenClassification.fromConfig(sized, { labels: ['a', 'b', 'c'], seed: 2 });
  const batch = tokenBatch(2, 16);
  await main.trainStep(batch, { learningRate: 1e-3 });
  const liveBefore = n.liveObjects();
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const addon = require(${JSON.stringify(addonPath)});
    const { config, batch } = workerData;
    const opts = { learningRate: 1e-3, weightDecay: 0, maxGradNorm: 1, betas: [0.9, 0.999], eps: 1e-8, rngSeed: 0 };
    const m = new addon.Model(config, { head: 'token', seed: 3, device: 'cpu' });
    m.trainStep([batch], opts).then((r) => {
      parentPort.postMessage({ step: r.step, live: addon.liveObjects() });
      m.trainStep([batch], opts);   // still running when the worker exits
      setImmediate(() => process.exit(0));
    });
  `;
  const w = new Worker(code, { eval: true, workerData: { config: main.config, batch } });
  const msg = await new Promise<{ step: number; live: { models: number; jobs: number } }>((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
  assert.equal(msg.step, 1);
  assert.deepEqual(msg.live, { models: 1, selfTests: 0, jobs: 0 }, 'a worker counts its own objects');
  assert.equal(await new Promise<number>((resolve) => w.once('exit', resolve)), 0);
  // The main thread's model and counters are its own: the worker's teardown left them alone.
  assert.deepEqual(n.liveObjects(), liveBefore);
  const r = await main.trainStep(batch, { learningRate: 1e-3 });
  assert.equal(r.step, 2);
  assert.ok(Number.isFinite(r.loss) && !r.skipped);
  assert.deepEqual((await main.forward(batch)).dims, [2, 16, 3]);
  // V8 is still told about the main thread's memory (a worker's exit once switched that off for
  // every thread): disposing gives it back.
  const external = n.externalMemory();
  const bytes = main.numParameters * 16;
  main.dispose();
  assert.ok(external - n.externalMemory() >= 0.9 * bytes, `dispose gave back ${external - n.externalMemory()} bytes of external memory, expected ~${bytes}`);
  assert.equal(n.liveObjects().models, liveBefore.models - 1);
  assert.equal(n.liveObjects().jobs, 0);
});
