// BatchedPipeline on a recording pipeline: gathering and splitting (answers as one-by-one calls, in
// order), sorting by length, batches never mixing parameters or adapters, the queue bound, timeouts,
// aborts, isolation of a failing input, and draining on close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchedPipeline } from '../lib/serve/batcher.js';
import { RootsError } from '../lib/errors.js';

/** A pipeline that answers `${tag}:${input}:${JSON(options)}` and records each call; `gate` holds calls until opened. */
function recorder(tag = 'base') {
  const calls: { inputs: string[]; options: unknown }[] = [];
  let open: () => void = () => {};
  let gate: Promise<void> | null = null;
  const fn = async (inputs: string[], options?: unknown) => {
    calls.push({ inputs: [...inputs], options });
    if (gate) await gate;
    if (inputs.includes('bad')) throw new RootsError('ERR_INVALID_ARG', 'bad input');
    return inputs.map((x) => `${tag}:${x}:${JSON.stringify(options ?? null)}`);
  };
  return {
    fn: fn as never, calls,
    hold() { gate = new Promise((r) => { open = r; }); },
    release() { gate = null; open(); },
  };
}

const code = (c: string) => (e: unknown) => e instanceof RootsError && e.code === c;
const tick = () => new Promise((r) => setImmediate(r));

test('requests are gathered up to maxBatchSize, sorted by length, and split back in order', async () => {
  const p = recorder();
  const b = new BatchedPipeline(p.fn, { maxBatchSize: 4, maxWaitMs: 60_000 });
  const texts = ['ccc', 'a', 'bbbbb', 'dd', 'e', 'ffffff', 'g', 'hh'];
  const answers = await Promise.all([
    ...texts.slice(0, 6).map((t) => b.run(t)),
    b.run(texts.slice(6)),  // a request of two inputs: a list back
  ]);
  assert.deepEqual(answers, [...texts.slice(0, 6).map((t) => `base:${t}:null`), texts.slice(6).map((t) => `base:${t}:null`)]);
  // Two full batches of 4 (the wait never expired; the second gathered while the first ran), each sorted by length.
  assert.deepEqual(p.calls.map((c) => c.inputs), [['a', 'dd', 'ccc', 'bbbbb'], ['e', 'g', 'hh', 'ffffff']]);
});

test('a batch never mixes parameters or adapters; each adapter runs its own pipeline', async () => {
  const base = recorder('base');
  const ad = recorder('ad');
  const b = new BatchedPipeline(base.fn, { maxBatchSize: 8, maxWaitMs: 0, adapters: { ad: ad.fn } });
  base.hold();
  const first = b.run('x');  // runs at once and holds the pipeline, while the rest queue
  await tick();
  const rest = Promise.all([
    b.run('a', { parameters: { topK: 2 } }), b.run('b'), b.run('c', { adapter: 'ad' }), b.run('d', { parameters: { topK: 2 } }), b.run('e', { adapter: 'ad' }),
  ]);
  base.release();
  assert.equal(await first, 'base:x:null');
  assert.deepEqual(await rest, ['base:a:{"topK":2}', 'base:b:null', 'ad:c:null', 'base:d:{"topK":2}', 'ad:e:null']);
  // The oldest request's group goes first; same-key requests batch together.
  assert.deepEqual(base.calls.map((c) => c.inputs), [['x'], ['a', 'd'], ['b']]);
  assert.deepEqual(ad.calls.map((c) => c.inputs), [['c', 'e']]);
  await assert.rejects(b.run('z', { adapter: 'nope' }), (e: unknown) => code('ERR_INVALID_ARG')(e) && /No adapter named "nope" \(loaded: ad\)/.test((e as Error).message));
});

test('the queue is bounded: past maxQueue inputs, ERR_OVERLOADED at once', async () => {
  const p = recorder();
  const b = new BatchedPipeline(p.fn, { maxBatchSize: 2, maxWaitMs: 0, maxQueue: 3 });
  p.hold();
  const running = b.run('r');
  await tick();
  const queued = [b.run('q1'), b.run(['q2', 'q3'])];
  assert.equal(b.queueDepth, 3);
  await assert.rejects(b.run('over'), (e: unknown) => code('ERR_OVERLOADED')(e) && /queue is full \(3 inputs waiting, maxQueue 3\)/.test((e as Error).message));
  await assert.rejects(b.run(['a', 'b', 'c']), code('ERR_INVALID_ARG'));  // more than one batch holds
  p.release();
  assert.deepEqual(await Promise.all([running, ...queued]), ['base:r:null', 'base:q1:null', ['base:q2:null', 'base:q3:null']]);
  assert.ok(!p.calls.some((c) => c.inputs.includes('over')));
});

test('timeouts and aborts: a queued request leaves the queue and never runs; a running one is answered with the error', async () => {
  const p = recorder();
  const b = new BatchedPipeline(p.fn, { maxBatchSize: 1, maxWaitMs: 0 });
  p.hold();
  const running = assert.rejects(b.run('slow', { timeoutMs: 30 }), code('ERR_TIMEOUT'));
  await tick();
  const ac = new AbortController();
  const aborted = assert.rejects(b.run('gone', { signal: ac.signal }), code('ERR_ABORTED'));
  const timed = assert.rejects(b.run('late', { timeoutMs: 30 }), (e: unknown) => code('ERR_TIMEOUT')(e) && /No answer within 30 ms/.test((e as Error).message));
  const kept = b.run('kept');
  assert.equal(b.queueDepth, 3);
  ac.abort();
  await Promise.all([aborted, timed, running]);
  assert.equal(b.queueDepth, 1);
  p.release();
  assert.equal(await kept, 'base:kept:null');
  assert.deepEqual(p.calls.map((c) => c.inputs), [['slow'], ['kept']]);
  const already = new AbortController();
  already.abort();
  await assert.rejects(b.run('x', { signal: already.signal }), code('ERR_ABORTED'));
});

test('a failing input fails only its own request (the batch is retried one request at a time)', async () => {
  const p = recorder();
  const b = new BatchedPipeline(p.fn, { maxBatchSize: 8, maxWaitMs: 60_000 });
  const out = await Promise.allSettled([b.run('a'), b.run('bad'), b.run(['c', 'd']), b.run('e'), b.run('f'), b.run('g'), b.run('h')]);
  assert.deepEqual(out.map((o) => o.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
  assert.deepEqual((out[2] as PromiseFulfilledResult<unknown>).value, ['base:c:null', 'base:d:null']);
  assert.match(((out[1] as PromiseRejectedResult).reason as Error).message, /bad input/);
});

test('close() finishes what is queued, then refuses new requests', async () => {
  const p = recorder();
  const b = new BatchedPipeline(p.fn, { maxBatchSize: 2, maxWaitMs: 60_000 });
  const pending = [b.run('a'), b.run('b'), b.run('c')];
  assert.equal(b.queueDepth, 1);  // a and b filled a batch; c waits for a partner that never comes
  await b.close();
  assert.deepEqual(await Promise.all(pending), ['base:a:null', 'base:b:null', 'base:c:null']);
  assert.ok(b.idle);
  await assert.rejects(b.run('d'), code('ERR_DISPOSED'));
});

test('options are checked', () => {
  const p = recorder();
  assert.throws(() => new BatchedPipeline(p.fn, { maxBatchSize: 0 }), /positive integer for maxBatchSize/);
  assert.throws(() => new BatchedPipeline(p.fn, { maxWaitMs: -1 }), /non-negative number for maxWaitMs/);
  assert.throws(() => new BatchedPipeline('x' as never), /Expected a pipeline/);
});
