// Backpressure over HTTP, made deterministic by a gate in front of the text-classification pipeline
// (registerServedTask replaces its row in this test process): a full queue answers 503 with
// Retry-After, a request past its deadline 504, a client that disconnects has its work dropped, a
// shutdown answers everything already queued before the models are freed, and the memory budget
// unloads the least recently used idle model.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { pipeline } from '../lib/pipelines/index.js';
import { createServer } from '../lib/serve/app.js';
import { registerServedTask, servedTasks, type ServedPipeline } from '../lib/serve/tasks.js';
import type { BertPreTrainedModel } from '../lib/models/bert.js';
import { tmp } from './helpers.js';
import { assertClose, writeServeModels } from './serve-helpers.js';

const t = tmp('roots-serve-bp-');
before(async () => { await writeServeModels(t.dir, ['cls']); });
after(() => t.cleanup());

/** Every call of the gated pipeline (its inputs), the models it ran on, and the gate. */
const seen: string[][] = [];
const models: BertPreTrainedModel[] = [];
let gate: Promise<void> | null = null;
let open = () => {};
const hold = () => { gate = new Promise((r) => { open = r; }); };
const release = () => { gate = null; open(); };

const row = servedTasks().find((r) => r.task === 'text-classification')!;
registerServedTask({
  ...row,
  async create(src, o) {
    const inner = await row.create(src, o);
    if (typeof src === 'object') models.push(src.model);
    const gated = async (inputs: never[], options?: never) => {
      seen.push([...(inputs as string[])]);
      if (gate) await gate;
      return inner(inputs, options);
    };
    return Object.assign(gated, { labels: inner.labels, dispose: () => inner.dispose() }) as ServedPipeline;
  },
});

const body = (inputs: unknown) => JSON.stringify({ inputs });
/** Waits until `cond` holds, checking after each turn of the event loop (no fixed delays). */
async function until(cond: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await cond())) await new Promise((r) => setImmediate(r));
}

test('a full queue answers 503 with Retry-After; a request past its deadline 504; every 200 is the pipeline\'s answer', async () => {
  const app = await createServer({ models: t.dir, maxBatchSize: 2, maxWaitMs: 0, maxQueue: 2, timeoutMs: 60_000, preload: true });
  const post = (inputs: unknown) => app.inject({ method: 'POST', url: '/v1/models/cls/predict', payload: body(inputs), headers: { 'content-type': 'application/json' } });
  const depth = async () => Number(/^roots_serve_queue_depth\{model="cls"\} (\d+)$/m.exec((await app.inject({ url: '/metrics' })).body)![1]);
  seen.length = 0;
  hold();
  const first = post('a great movie');
  await until(() => seen.length === 1);
  const queued = [post('a bad movie'), post('the movie is great')];
  await until(async () => (await depth()) === 2);
  const over = await post('paris');
  assert.equal(over.statusCode, 503);
  assert.equal(over.headers['retry-after'], '1');
  assert.match(over.json().error, /queue is full \(2 inputs waiting, maxQueue 2\)/);
  release();
  const answers = await Promise.all([first, ...queued]);
  const direct = await pipeline('text-classification', join(t.dir, 'cls'));
  const expected = await direct(['a great movie', 'a bad movie', 'the movie is great']);
  direct.dispose();
  assertClose(answers.map((r) => r.json()), JSON.parse(JSON.stringify(expected)));
  assert.ok(!seen.flat().includes('paris'), 'the refused request never ran');
  await app.close();

  const slow = await createServer({ models: t.dir, timeoutMs: 50, preload: true });
  hold();
  const late = await slow.inject({ method: 'POST', url: '/v1/models/cls/predict', payload: body('a great movie'), headers: { 'content-type': 'application/json' } });
  assert.equal(late.statusCode, 504);
  assert.match(late.json().error, /No answer within 50 ms/);
  release();
  await slow.close();
});

test('a client that disconnects has its queued work dropped; shutdown answers what is queued, then frees the models', async () => {
  models.length = 0;
  const app = await createServer({ models: t.dir, maxBatchSize: 1, maxWaitMs: 0, preload: true });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const depth = async () => Number(/^roots_serve_queue_depth\{model="cls"\} (\d+)$/m.exec(await (await fetch(`${url}/metrics`)).text())![1]);
  const post = (inputs: unknown) => fetch(`${url}/v1/models/cls/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(inputs) });
  seen.length = 0;
  hold();
  const running = post('a great movie');
  await until(() => seen.length === 1);
  // A raw request that goes away while queued.
  const gone = request(`${url}/v1/models/cls/predict`, { method: 'POST', headers: { 'content-type': 'application/json' } });
  gone.on('error', () => {});
  gone.end(body('angela merkel'));
  await until(async () => (await depth()) === 1);
  gone.destroy();
  await until(async () => (await depth()) === 0);
  const queued = post('a bad movie');
  await until(async () => (await depth()) === 1);
  // Shut down with one request running and one queued: both are answered, then the model is freed.
  const closing = app.close();
  release();
  const [r1, r2] = await Promise.all([running, queued]);
  assert.deepEqual([r1.status, r2.status], [200, 200]);
  await closing;
  assert.deepEqual(seen, [['a great movie'], ['a bad movie']], 'the disconnected request never ran');
  assert.ok(models.length > 0, 'the pipelines were made');
  assert.ok(models.every((m) => m.disposed), 'close() freed the models');
});

test('memory budget: loading a model unloads the least recently used idle one', async () => {
  const d = tmp('roots-serve-budget-');
  try {
    await writeServeModels(d.dir, ['ner', 'cls', 'mlm']);
    const lines: string[] = [];
    // A budget that holds any two of the three models, not all three.
    const sizes = ['ner', 'cls', 'mlm'].map((n) => statSync(join(d.dir, n, 'model.safetensors')).size).sort((a, b) => b - a);
    const app = await createServer({ models: d.dir, memoryBudget: sizes[0] + sizes[1] + 1, log: (l) => lines.push(l) });
    const loaded = async () => (await app.inject({ url: '/v1/models' })).json().models.filter((m: { loaded: boolean }) => m.loaded).map((m: { name: string }) => m.name);
    const post = (name: string, inputs: string) => app.inject({ method: 'POST', url: `/v1/models/${name}/predict`, payload: body(inputs), headers: { 'content-type': 'application/json' } });
    assert.equal((await post('ner', 'paris')).statusCode, 200);
    assert.equal((await post('cls', 'a great movie')).statusCode, 200);
    assert.deepEqual(await loaded(), ['cls', 'ner']);
    assert.equal((await post('mlm', 'the [MASK] of france')).statusCode, 200);
    assert.deepEqual(await loaded(), ['cls', 'mlm']);
    assert.ok(lines.some((l) => /unloading ner \(memory budget\)/.test(l)), lines.join('\n'));
    // An unloaded model loads again on its next request.
    assert.equal((await post('ner', 'paris')).statusCode, 200);
    assert.deepEqual(await loaded(), ['mlm', 'ner']);
    await app.close();
    await assert.rejects(createServer({ models: d.dir, memoryBudget: 1000 }), /need about \d+ KB, more than the memory budget of 1 KB: raise --memory-budget/);
  } finally {
    d.cleanup();
  }
});
