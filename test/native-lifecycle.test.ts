// The native boundary: errors with codes, async jobs that never block the event loop, dispose
// semantics, busy objects, live-object counters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { native, call, callSync } from '../lib/native.js';
import { RootsError, TorchError } from '../lib/errors.js';

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
    const addon = require(${JSON.stringify(new URL('../build/Release/roots_native.node', import.meta.url).pathname)});
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
