// The HTTP server (createServer) over a folder of tiny models: every task's answer (ner,
// text-classification, intent-slots, fill-mask, question-answering, relation-classification,
// zero-shot-classification from a saved prompt) equals a direct
// pipeline call (one by one and under concurrent requests, which batch: labels, words and offsets
// exactly, scores to 1e-5, as padding in a batch moves the logits' last bits), adapter routing (an adapter
// folder by name, or chosen per request over its base), every validation error, /v1/models, /health,
// /ready, the metrics endpoint's format, and `roots serve` stopping on SIGTERM after answering.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { BertForSequenceClassification } from '../lib/models/bert.js';
import { pipeline } from '../lib/pipelines/index.js';
import { createServer } from '../lib/serve/app.js';
import type { Tokenizer } from '../lib/tokenizer/index.js';
import { repoRoot, tmp } from './helpers.js';
import { RELATION_LABELS, SENTENCES, assertClose, writeServeModels } from './serve-helpers.js';

const t = tmp('roots-serve-');
let tokenizer: Tokenizer;
let app: FastifyInstance;
const json = (x: unknown) => JSON.parse(JSON.stringify(x)) as unknown;

before(async () => {
  tokenizer = await writeServeModels(t.dir);
  app = await createServer({ models: t.dir, maxBatchSize: 8, maxInputs: 4, maxTextLength: 200, bodyLimit: 4096 });
});
after(async () => {
  await app?.close();
  t.cleanup();
});

const predict = (name: string, body: unknown) => app.inject({ method: 'POST', url: `/v1/models/${name}/predict`, payload: body as object });

test('GET /v1/models: every folder by name, with task, labels and adapters; /health and /ready', async () => {
  const res = await app.inject({ url: '/v1/models' });
  assert.equal(res.statusCode, 200);
  const models = (res.json() as { models: Record<string, unknown>[] }).models;
  assert.deepEqual(models.map((m) => [m.name, m.task, m.adapter]), [
    ['cls', 'text-classification', false], ['cls-lora', 'text-classification', true], ['mlm', 'fill-mask', false],
    ['ner', 'ner', false], ['prompt', 'zero-shot-classification', false], ['qa', 'question-answering', false],
    ['rel', 'relation-classification', false], ['slots', 'intent-slots', false],
  ]);
  assert.deepEqual(models[0].labels, ['neg', 'pos']);
  assert.deepEqual(models[0].adapters, ['cls-lora']);
  assert.equal(models[1].base, 'cls');
  assert.deepEqual(models[6].labels, RELATION_LABELS);
  assert.deepEqual(models[4].labels, ['positive', 'negative'], 'zero-shot: the verbalizer labels');
  assert.equal(models[2].labels, null, 'fill-mask: no labels');
  assert.deepEqual(models[7].slot_labels, ['O', 'B-artist', 'I-artist', 'B-genre']);
  assert.equal((await app.inject({ url: '/health' })).json().status, 'ok');
  assert.equal((await app.inject({ url: '/ready' })).statusCode, 200);
});

test('each task answers as its pipeline called directly, one input and a list, under concurrent requests', async () => {
  const cases: [string, string, Record<string, unknown> | undefined, (dir: string) => Promise<(x: unknown, o?: unknown) => Promise<unknown>>][] = [
    ['ner', 'ner', undefined, async (d) => (await pipeline('ner', d, { aggregation: 'first' })) as never],
    ['ner', 'ner', { aggregation_strategy: 'none' }, async (d) => (await pipeline('ner', d, { aggregation: 'none' })) as never],
    ['cls', 'text-classification', { top_k: null }, async (d) => (await pipeline('text-classification', d, { topK: null })) as never],
    ['slots', 'intent-slots', undefined, async (d) => (await pipeline('intent-slots', d)) as never],
    ['mlm', 'fill-mask', { top_k: 3 }, async (d) => (await pipeline('fill-mask', d, { topK: 3 })) as never],
    ['qa', 'question-answering', { top_k: 2, max_answer_len: 4 }, async (d) => {
      const qa = await pipeline('question-answering', d);
      return Object.assign((x: unknown) => qa(x as never, { topK: 2, maxAnswerLength: 4 }), { dispose: () => qa.dispose() }) as never;
    }],
    ['rel', 'relation-classification', undefined, async (d) => (await pipeline('relation-classification', d)) as never],
    ['rel', 'relation-classification', { top_k: null }, async (d) => (await pipeline('relation-classification', d, { topK: null })) as never],
    ['prompt', 'zero-shot-classification', undefined, async (d) => (await pipeline('zero-shot-classification', d)) as never],
    ['prompt', 'zero-shot-classification', { candidate_labels: ['negative', 'positive'] }, async (d) => {
      const zs = await pipeline('zero-shot-classification', d);
      return Object.assign((x: string) => zs(x, ['negative', 'positive']), { dispose: () => zs.dispose() }) as never;
    }],
  ];
  // Relation inputs: marked texts in both styles, and spans (one with a type, which a plain-marker model ignores).
  const relations = SENTENCES.map((s, i) => {
    const words = [...s.matchAll(/\S+/g)];
    const [a, b] = [words[0], words[words.length - 1]];
    if (words.length < 2) return { text: `${s} paris`, e1: [0, s.length], e2: { start: s.length + 1, end: s.length + 6 } };
    if (i % 3 === 0) return { text: s, e1: { start: a.index, end: a.index + a[0].length, type: 'X' }, e2: [b.index, b.index + b[0].length] };
    const [o1, c1, o2, c2] = i % 3 === 1 ? ['<e1>', '</e1>', '<e2>', '</e2>'] : ['[E1]', '[/E1]', '[E2]', '[/E2]'];
    return `${o1}${a[0]}${c1}${s.slice(a.index + a[0].length, b.index)}${o2}${b[0]}${c2}`;
  });
  for (const [name, , parameters, make] of cases) {
    const direct = await make(join(t.dir, name));
    const texts: unknown[] = name === 'mlm' ? SENTENCES.map((s) => s.replace(/^\S+/, '[MASK]'))
      : name === 'qa' ? SENTENCES.map((s) => ({ question: 'who visited paris ?', context: s })) : name === 'rel' ? relations : SENTENCES;
    const expected = await Promise.all(texts.map((s) => direct(s)));
    (direct as unknown as { dispose(): void }).dispose();
    // Concurrent single-input requests (they batch) and one list request: each answer as the direct call's.
    const answers = await Promise.all(texts.map((s) => predict(name, { inputs: s, parameters })));
    answers.forEach((r, i) => {
      assert.equal(r.statusCode, 200, r.body);
      assertClose(r.json(), json(expected[i]), 1e-5, `${name} ${JSON.stringify(parameters)} input ${i}`);
    });
    const list = await predict(name, { inputs: texts.slice(0, 3), parameters });
    assertClose(list.json(), json(expected.slice(0, 3)));
  }
  // Pairs for text classification.
  const pairs = await predict('cls', { inputs: [{ text: 'a great movie', text_pair: 'a bad movie' }] });
  const clf = await pipeline('text-classification', join(t.dir, 'cls'));
  assertClose(pairs.json(), json(await clf([{ text: 'a great movie', textPair: 'a bad movie' }])));
  clf.dispose();
});

test('adapters: the adapter folder by its name, or chosen per request over its base, as the base + adapter pipeline', async () => {
  const base = await BertForSequenceClassification.fromPretrained(join(t.dir, 'cls'), { log: null });
  await base.loadAdapter(join(t.dir, 'cls-lora'), { name: 'cls-lora' });
  const withAdapter = await pipeline('text-classification', { model: base, tokenizer, adapter: 'cls-lora' }, { topK: null });
  const plain = await pipeline('text-classification', { model: base, tokenizer, adapter: null }, { topK: null });
  const expected = await withAdapter(SENTENCES);
  const baseline = await plain(SENTENCES);
  base.dispose();
  assert.notDeepEqual(expected, baseline, 'the adapter changes the answers');
  const parameters = { top_k: null };
  const [byName, byChoice, byBase] = await Promise.all([
    Promise.all(SENTENCES.map((s) => predict('cls-lora', { inputs: s, parameters }))),
    Promise.all(SENTENCES.map((s) => predict('cls', { inputs: s, parameters, adapter: 'cls-lora' }))),
    Promise.all(SENTENCES.map((s) => predict('cls', { inputs: s, parameters }))),
  ]);
  assertClose(byName.map((r) => r.json()), json(expected));
  assertClose(byChoice.map((r) => r.json()), json(expected));
  assertClose(byBase.map((r) => r.json()), json(baseline));
});

test('validation: 400, 404 and 413 with a message naming the problem', async () => {
  const raw = (payload: string, type = 'application/json') => app.inject({ method: 'POST', url: '/v1/models/ner/predict', payload, headers: { 'content-type': type } });
  const cases: [Promise<{ statusCode: number; json(): unknown }>, number, RegExp][] = [
    [raw('{"inputs": "a'), 400, /Malformed JSON body: Unterminated string/],
    [raw('[1, 2]'), 400, /Expected a JSON object \{"inputs"/],
    [predict('ner', { text: 'x' }), 400, /Unknown field "text" in the request/],
    [predict('ner', { parameters: {} }), 400, /no "inputs"/],
    [predict('ner', { inputs: [] }), 400, /"inputs" is an empty list/],
    [predict('ner', { inputs: '   ' }), 400, /inputs\[0\] is empty/],
    [predict('ner', { inputs: ['ok', 7] }), 400, /inputs\[1\]: expected a string but received 7/],
    [predict('cls', { inputs: { text: 'a', label: 1 } }), 400, /inputs\[0\]: unknown field "label"/],
    [predict('ner', { inputs: 'a', parameters: { top_k: 2 } }), 400, /parameters\.top_k is not a ner parameter \(known: aggregation_strategy, ignore_labels\)/],
    [predict('ner', { inputs: 'a', parameters: { aggregation_strategy: 'best' } }), 400, /parameters\.aggregation_strategy: expected one of none, simple, first, average, max but received "best"/],
    [predict('cls', { inputs: 'a', parameters: { topK: 0 } }), 400, /parameters\.topK: expected a positive integer/],
    [predict('slots', { inputs: 'a', parameters: { top_k: 1 } }), 400, /not a intent-slots parameter \(it takes none\)/],
    [predict('mlm', { inputs: 'no mask here' }), 400, /No mask token \(\[MASK\]\) found in text 0/],
    [predict('cls', { inputs: 'a', adapter: 'nope' }), 404, /cls has no adapter named "nope" \(adapters on this base and head: cls-lora\)/],
    [predict('cls', { inputs: 'a', adapter: 3 }), 400, /"adapter": expected an adapter name/],
    [predict('cls-lora', { inputs: 'a', adapter: 'other' }), 400, /cls-lora is itself an adapter; request its base \(cls\) to choose another/],
    [predict('nope', { inputs: 'a' }), 404, /No model named "nope" \(served: cls, cls-lora, mlm, ner, prompt, qa, rel, slots/],
    [predict('qa', { inputs: 'a' }), 400, /inputs\[0\]: expected \{"question", "context"\} but received "a"/],
    [predict('qa', { inputs: { question: 'who', context: 7 } }), 400, /inputs\[0\]\.context: expected a string but received 7/],
    [predict('qa', { inputs: { question: 'who', context: 'x' }, parameters: { align_to_words: 1 } }), 400, /parameters\.align_to_words: expected true or false/],
    [predict('rel', { inputs: 'paris is in france' }), 400, /inputs\[0\]: no entity markers; mark the two entities as <e1>…<\/e1> and <e2>…<\/e2>/],
    [predict('rel', { inputs: ['<e1>paris</e1> is in <e2>france</e2>', '<e1>paris</e1> in <e2>france'] }), 400, /inputs\[1\]: the marker <\/e2> is missing/],
    [predict('rel', { inputs: '<e1>paris</e1> is in [E2]france[/E2]' }), 400, /inputs\[0\]: mixes <e1> markers with \[E2\]; use one style/],
    [predict('rel', { inputs: { text: 'paris is in france', e1: [0, 5], e2: [3, 8] } }), 400, /inputs\[0\]: the entity spans overlap/],
    [predict('rel', { inputs: { text: 'paris is in france', e1: [0, 5], e2: [12, 40] } }), 400, /inputs\[0\]: e2 = \[12, 40\] is not a non-empty span of the text/],
    [predict('rel', { inputs: { text: 'paris is in france', e1: [0, 5] } }), 400, /inputs\[0\]\.e2: expected \[start, end\] or \{"start", "end", "type"\}/],
    [predict('rel', { inputs: { text: 'paris is in france', e1: { start: 0, end: 5, kind: 'LOC' }, e2: [12, 18] } }), 400, /inputs\[0\]\.e1: unknown field "kind"/],
    [predict('rel', { inputs: { text: 'paris', e1: [0, 1], e2: [2, 3], relation: 'x' } }), 400, /inputs\[0\]: unknown field "relation" \(expected \{"text", "e1", "e2"\}\)/],
    [predict('rel', { inputs: '<e1>paris</e1> is in <e2>france</e2>', parameters: { top_k: 0 } }), 400, /parameters\.top_k: expected a positive integer/],
    [predict('prompt', { inputs: 'a great movie', parameters: { candidate_labels: [] } }), 400, /parameters\.candidate_labels: expected a non-empty array of label words but received an array of length 0/],
    [predict('prompt', { inputs: 'a great movie', parameters: { candidate_labels: ['great', 'great'] } }), 400, /parameters\.candidate_labels: the labels must be distinct/],
    [predict('prompt', { inputs: 'a great movie', parameters: { candidate_labels: ['positive', 'zebra'] } }), 400, /has no word for the label "zebra"/],
    [app.inject({ url: '/v2/x' }), 404, /No route GET \/v2\/x/],
    [predict('ner', { inputs: ['a', 'b', 'c', 'd', 'e'] }), 413, /5 inputs in one request, at most 4 \(--max-inputs\)/],
    [predict('ner', { inputs: 'paris '.repeat(40) }), 413, /inputs\[0\] has 240 characters, more than 200 \(--max-text-length\)/],
    [raw(JSON.stringify({ inputs: 'x'.repeat(5000) })), 413, /larger than the limit of 4096 bytes/],
  ];
  for (const [res, status, message] of cases) {
    const r = await res;
    assert.equal(r.statusCode, status, JSON.stringify(r.json()));
    assert.match((r.json() as { error: string }).error, message);
  }
  // The server still answers.
  assert.equal((await predict('ner', { inputs: 'paris' })).statusCode, 200);
});

test('GET /metrics: Prometheus text with request counts and latencies by model and status, batch sizes, tokens, queue depth', async () => {
  await predict('ner', { inputs: ['angela merkel', 'paris'] });
  const res = await app.inject({ url: '/metrics' });
  assert.equal(res.statusCode, 200);
  assert.match(res.headers['content-type'] as string, /^text\/plain; version=0\.0\.4/);
  const text = res.body;
  for (const [name, type] of [['roots_serve_requests_total', 'counter'], ['roots_serve_request_duration_seconds', 'histogram'], ['roots_serve_batch_size', 'histogram'],
    ['roots_serve_tokens_total', 'counter'], ['roots_serve_queue_depth', 'gauge'], ['roots_serve_model_memory_bytes', 'gauge']]) {
    assert.match(text, new RegExp(`^# TYPE ${name} ${type}$`, 'm'));
  }
  // Every sample line is `name{labels} value`.
  for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) assert.match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$/);
  const count = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
  assert.ok(count(/^roots_serve_requests_total\{model="ner",status="200"\} (\d+)$/m) >= 2);
  assert.ok(count(/^roots_serve_requests_total\{model="ner",status="400"\} (\d+)$/m) >= 1);
  assert.ok(count(/^roots_serve_requests_total\{model="\(unknown\)",status="404"\} (\d+)$/m) >= 1);
  assert.ok(count(/^roots_serve_request_duration_seconds_count\{model="ner",status="200"\} (\d+)$/m) >= 2);
  // The tokens counted are the tokens the model saw: 'angela merkel' + 'paris' is 3 more than before.
  assert.ok(count(/^roots_serve_tokens_total\{model="ner"\} (\d+)$/m) >= 3);
  assert.match(text, /^roots_serve_queue_depth\{model="ner"\} 0$/m);
});

test('roots serve: listens, answers, and on SIGTERM finishes and exits 0', { timeout: 180_000 }, async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e',
    `const { main } = await import(${JSON.stringify(join(repoRoot, 'lib', 'cli', 'index.ts'))}); await main(['node', 'roots', 'serve', '--models', ${JSON.stringify(t.dir)}, '--port', '0']);`],
  { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /listening on (http:\/\/\S+) /.exec(stderr);
      if (m) resolve(m[1]);
    });
    child.on('exit', () => reject(new Error(`roots serve exited: ${stderr}`)));
  });
  try {
    const res = await fetch(`${url}/v1/models/cls/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: 'a great movie' }) });
    const answer = await res.json() as { label: string }[];
    assert.equal(res.status, 200, JSON.stringify(answer));
    assert.ok(['neg', 'pos'].includes(answer[0].label));
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  const code = await new Promise<number | null>((resolve) => { child.on('exit', (c) => resolve(c)); child.kill('SIGTERM'); });
  assert.equal(code, 0, stderr);
  assert.match(stderr, /SIGTERM: finishing queued requests, then exiting\n[\s\S]*roots serve: stopped/);
});
