// Serving int8 folders (`roots quantize`) and typed-marker relation models.
// int8: a folder made by runQuantize (the `roots quantize` command) runs int8 in the server
// (precision as saved, and 'auto' as the CLI passes it), and `precision: 'int8'` quantises an fp32
// folder on load. Dynamic int8 quantises each call's activations with that call's range, so an int8
// answer depends on the batch it ran in: single requests are compared with single direct calls, a list
// request with the direct call on the same list, and concurrent requests gathered into one batch
// (maxBatchSize 4, a long wait) with the direct call on those four; all to 1e-5.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { runQuantize } from '../lib/cli/quantize.js';
import { BertForRelationClassification } from '../lib/models/bert.js';
import { pipeline } from '../lib/pipelines/index.js';
import { createServer } from '../lib/serve/app.js';
import { withEntityMarkers } from '../lib/tasks/relation.js';
import { tmp } from './helpers.js';
import { RELATION_LABELS, SENTENCES, assertClose, writeServeModels } from './serve-helpers.js';

const t = tmp('roots-serve-int8-');
const fp32 = join(t.dir, 'fp32');
const served = join(t.dir, 'served');
const json = (x: unknown) => JSON.parse(JSON.stringify(x)) as unknown;
const quiet = { out: () => {}, err: () => {} };
const apps: FastifyInstance[] = [];

before(async () => {
  const tokenizer = await writeServeModels(fp32, ['ner', 'cls']);
  for (const name of ['ner', 'cls']) await runQuantize({ model: join(fp32, name), out: join(served, `${name}-int8`) }, quiet);
  cpSync(join(fp32, 'ner'), join(served, 'ner'), { recursive: true });
  // A relation model with typed markers ([E1:PER] ... [/E2:LOC]).
  const typed = withEntityMarkers(BertForRelationClassification.fromConfig({ hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32, max_position_embeddings: 64, vocab_size: tokenizer.vocabSize },
    { labels: RELATION_LABELS, seed: 12, log: null }), tokenizer, { types: ['PER', 'LOC'], seed: 13 });
  try { await typed.model.save(join(served, 'rel-typed'), { tokenizer: typed.tokenizer }); } finally { typed.model.dispose(); }
});
after(async () => {
  for (const a of apps) await a.close();
  t.cleanup();
});

async function server(o: Parameters<typeof createServer>[0]): Promise<FastifyInstance> {
  const app = await createServer(o);
  apps.push(app);
  return app;
}
const post = (app: FastifyInstance, name: string, body: unknown) => app.inject({ method: 'POST', url: `/v1/models/${name}/predict`, payload: body as object });

test('a roots quantize folder is served in int8: single requests, a list, and one gathered batch equal direct int8 pipeline calls', async () => {
  for (const precision of [undefined, 'auto'] as const) {
    const app = await server({ models: served, precision, maxBatchSize: 4, maxWaitMs: 0 });
    const gathering = await server({ models: served, precision, maxBatchSize: 4, maxWaitMs: 60_000 });
    const ner = await pipeline('ner', join(served, 'ner-int8'), { aggregation: 'first' });
    const cls = await pipeline('text-classification', join(served, 'cls-int8'), { topK: null });
    assert.equal(ner.model.precision, 'int8');
    try {
      for (const [name, direct, parameters] of [['ner-int8', ner, undefined], ['cls-int8', cls, { top_k: null }]] as const) {
        const call = (x: string | string[]) => (direct as (x: string | string[]) => Promise<unknown>)(x);
        // One at a time: each a batch of one.
        for (const s of SENTENCES.slice(0, 4)) {
          const r = await post(app, name, { inputs: s, parameters });
          assert.equal(r.statusCode, 200, r.body);
          assertClose(r.json(), json(await call(s)), 1e-5, `${name} ${s}`);
        }
        // A list: one batch, as the direct call on the list.
        const list = SENTENCES.slice(4, 8);
        assertClose((await post(app, name, { inputs: list, parameters })).json(), json(await call(list)), 1e-5, `${name} list`);
        // Four concurrent requests gathered into one batch (the batch runs when it holds maxBatchSize inputs).
        const four = SENTENCES.slice(8, 12);
        const answers = await Promise.all(four.map((s) => post(gathering, name, { inputs: s, parameters })));
        assertClose(answers.map((r) => r.json()), json(await call(four)), 1e-5, `${name} gathered`);
      }
      const models = (await app.inject({ url: '/v1/models' })).json().models as { name: string; precision: string | null }[];
      assert.deepEqual(models.map((m) => [m.name, m.precision]), [['cls-int8', 'int8'], ['ner', null], ['ner-int8', 'int8'], ['rel-typed', null]]);
    } finally {
      ner.dispose();
      cls.dispose();
    }
  }
});

test("precision 'int8' quantises an fp32 folder on load, as pipeline(..., { precision: 'int8' }) does; fp32 answers differ", async () => {
  const app = await server({ models: served, precision: 'int8', maxWaitMs: 0 });
  const plain = await server({ models: served, maxWaitMs: 0 });
  const ner = await pipeline('ner', join(served, 'ner'), { aggregation: 'none', precision: 'int8' });
  const fp = await pipeline('ner', join(served, 'ner'), { aggregation: 'none' });
  try {
    const parameters = { aggregation_strategy: 'none' };
    const q = await post(app, 'ner', { inputs: SENTENCES.slice(0, 4), parameters });
    assertClose(q.json(), json(await ner(SENTENCES.slice(0, 4))));
    const f = await post(plain, 'ner', { inputs: SENTENCES.slice(0, 4), parameters });
    assertClose(f.json(), json(await fp(SENTENCES.slice(0, 4))));
    assert.throws(() => assertClose(q.json(), f.json(), 1e-6), 'int8 moves the scores');
    assert.equal(((await app.inject({ url: '/v1/models/ner' })).json() as { precision: string }).precision, 'int8');
    assert.equal(((await plain.inject({ url: '/v1/models/ner' })).json() as { precision: string }).precision, 'fp32');
  } finally {
    ner.dispose();
    fp.dispose();
  }
});

test('an adapter over an int8 base, or under precision int8, is refused at start with the way out', async () => {
  const d = tmp('roots-serve-int8-adapter-');
  try {
    await writeServeModels(d.dir, ['cls-lora']);
    await assert.rejects(createServer({ models: d.dir, precision: 'int8' }),
      /cls-lora is an adapter and --precision int8 quantises its base; an int8 model takes no adapters \(serve the adapter over an fp32 base, or merge it first: roots merge, then roots quantize\)/);
    await runQuantize({ model: join(d.dir, 'cls'), out: join(t.dir, 'cls-q') }, quiet);
    rmSync(join(d.dir, 'cls'), { recursive: true });
    renameSync(join(t.dir, 'cls-q'), join(d.dir, 'cls'));
    await assert.rejects(createServer({ models: d.dir }), /cls-lora is an adapter and its base .*cls is an int8 folder; an int8 model takes no adapters/);
  } finally {
    d.cleanup();
  }
});

test('a typed-marker relation model: spans with types, as the direct call; a marked text or a missing or unknown type is a 400', async () => {
  const app = await server({ models: served, maxWaitMs: 0 });
  const re = await pipeline('relation-classification', join(served, 'rel-typed'), { topK: null });
  try {
    const input = { text: 'angela merkel visited paris', e1: { start: 0, end: 13, type: 'PER' }, e2: { start: 22, end: 27, type: 'LOC' } };
    const r = await post(app, 'rel-typed', { inputs: input, parameters: { top_k: null } });
    assert.equal(r.statusCode, 200, r.body);
    assertClose(r.json(), json(await re(input)));
    const cases: [unknown, RegExp][] = [
      ['<e1>angela</e1> visited <e2>paris</e2>', /inputs\[0\]: this model marks entities with their types \(\[E1:PER\]\), which a marked text cannot give/],
      [{ ...input, e2: [22, 27] }, /inputs\[0\]\.e2: this model marks entities with their types \(\[E1:PER\]\); give \{"start", "end", "type"\}/],
      [{ ...input, e2: { start: 22, end: 27, type: 'ORG' } }, /entity type "ORG" was not in the training data/],
    ];
    for (const [inputs, message] of cases) {
      const bad = await post(app, 'rel-typed', { inputs });
      assert.equal(bad.statusCode, 400, bad.body);
      assert.match((bad.json() as { error: string }).error, message);
    }
    // A good request still answers after the bad ones (the unknown type failed only its own request).
    assert.equal((await post(app, 'rel-typed', { inputs: input })).statusCode, 200);
  } finally {
    re.dispose();
  }
});
