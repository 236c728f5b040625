// The page at / in a real headless browser (Debian's chromium driven by playwright-core): it lists the
// served models, and shows what the pipelines answer: entities highlighted in the text, labels with
// scores, the intent and its slots, a question's answer in its context, relations and zero-shot labels with
// scores, the adapters of a base. Runs under CI (setup-system.sh installs
// chromium); elsewhere it skips when no chromium is found. ROOTS_CHROMIUM names another binary.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import { pipeline } from '../lib/pipelines/index.js';
import { createServer } from '../lib/serve/app.js';
import { inCI, tmp } from './helpers.js';
import { SENTENCES, writeServeModels } from './serve-helpers.js';

const executablePath = process.env.ROOTS_CHROMIUM ?? '/usr/bin/chromium';
const missing = existsSync(executablePath) ? null : `no chromium at ${executablePath} (apt-get install chromium, or set ROOTS_CHROMIUM)`;
if (missing && inCI()) throw new Error(`${missing}; CI runs the page test (scripts/setup-system.sh installs chromium)`);
const skip = missing ?? false;

const t = tmp('roots-page-');
let app: FastifyInstance;
let browser: Browser;
let page: Page;
let url: string;

before(async () => {
  if (skip) return;
  await writeServeModels(t.dir, ['ner', 'cls', 'cls-lora', 'slots', 'qa', 'rel', 'prompt']);
  app = await createServer({ models: t.dir });
  url = await app.listen({ host: '127.0.0.1', port: 0 });
  // --no-sandbox: CI containers run as root, where chromium's sandbox refuses to start.
  browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox'] });
  page = await browser.newPage();
  await page.goto(url + '/');
  await page.waitForFunction('document.querySelectorAll("#model option").length > 0');
});
after(async () => {
  await browser?.close();
  await app?.close();
  t.cleanup();
});

async function run(model: string, text: string): Promise<void> {
  await page.selectOption('#model', model);
  await page.fill('#text', text);
  await page.evaluate('document.getElementById("output").replaceChildren()');
  await page.click('#run');
  await page.waitForFunction('document.getElementById("output").childElementCount > 0 || document.getElementById("error").textContent !== ""');
  assert.equal(await page.textContent('#error'), '');
}

const marks = () => page.$$eval('#output mark.entity', (ms) => ms.map((m) => [m.getAttribute('data-label'), m.firstChild!.textContent]));

test('the page lists the models and highlights the entities the NER pipeline finds', { skip }, async () => {
  const options = await page.$$eval('#model option', (os) => os.map((o) => o.textContent));
  assert.deepEqual(options, ['cls (text-classification)', 'cls-lora (text-classification)', 'ner (ner)', 'prompt (zero-shot-classification)', 'qa (question-answering)',
    'rel (relation-classification)', 'slots (intent-slots)']);
  // The first fixture sentence where the (random-weight) model finds an entity.
  const ner = await pipeline('ner', join(t.dir, 'ner'), { aggregation: 'first' });
  const found = (await ner(SENTENCES)).findIndex((es) => es.length > 0);
  assert.ok(found >= 0, 'the fixture model finds entities');
  const text = SENTENCES[found];
  const expected = await ner(text);
  ner.dispose();
  await run('ner', text);
  assert.deepEqual(await marks(), expected.map((e) => [(e as { entity_group?: string }).entity_group ?? (e as { entity?: string }).entity, text.slice(e.start, e.end)]));
  // The text around the marks is the input, unchanged.
  assert.equal(await page.$eval('#output .text', (el) => Array.from(el.childNodes as ArrayLike<{ nodeName: string; textContent: string | null; firstChild: { textContent: string | null } | null }>).map((n) => (n.nodeName === 'MARK' ? n.firstChild!.textContent : n.textContent)).join('')), text);
});

test('labels with scores; the adapters of a base can be chosen', { skip }, async () => {
  const text = 'a great movie';
  const clf = await pipeline('text-classification', join(t.dir, 'cls'), { topK: null });
  const expected = await clf(text);
  clf.dispose();
  await run('cls', text);
  const rows = await page.$$eval('#output tr', (trs) => trs.slice(1).map((tr) => Array.from(tr.querySelectorAll('td') as ArrayLike<{ textContent: string | null }>).map((td) => td.textContent!.trim())));
  assert.deepEqual(rows, expected.map((l) => [l.label, `${(100 * l.score).toFixed(1)}%`]));
  assert.equal(await page.isVisible('#adapter'), true);
  assert.deepEqual(await page.$$eval('#adapter option', (os) => os.map((o) => o.getAttribute('value'))), ['', 'cls-lora']);
  await page.selectOption('#model', 'ner');
  assert.equal(await page.isVisible('#adapter'), false);
});

test('question answering: a question field, the answer highlighted in the context', { skip }, async () => {
  const context = 'angela merkel visited paris and berlin';
  const question = 'who visited paris ?';
  const qa = await pipeline('question-answering', join(t.dir, 'qa'));
  const expected = await qa({ question, context });
  qa.dispose();
  await page.selectOption('#model', 'qa');
  assert.equal(await page.isVisible('#question'), true);
  await page.fill('#question', question);
  await run('qa', context);
  assert.deepEqual(await marks(), [['answer', (expected as { answer: string }).answer]]);
  await page.selectOption('#model', 'ner');
  assert.equal(await page.isVisible('#question'), false);
});

test('the intent and its slots highlighted; a request error is shown, not thrown', { skip }, async () => {
  const text = 'play some jazz by miles davis';
  const nlu = await pipeline('intent-slots', join(t.dir, 'slots'));
  const expected = await nlu(text);
  nlu.dispose();
  await run('slots', text);
  assert.equal(await page.textContent('#output .intent strong'), expected.intent.label);
  assert.deepEqual(await marks(), expected.slots.map((s) => [s.entity, s.word]));
  await page.selectOption('#model', 'ner');
  await page.fill('#text', '   ');
  await page.click('#run');
  await page.waitForFunction('document.getElementById("error").textContent !== ""');
  assert.match((await page.textContent('#error'))!, /^400: inputs\[0\] is empty/);
});

test('relations for a marked text, and zero-shot labels, each with scores as the pipeline gives them', { skip }, async () => {
  const rows = () => page.$$eval('#output tr', (trs) => trs.slice(1).map((tr) => Array.from(tr.querySelectorAll('td') as ArrayLike<{ textContent: string | null }>).map((td) => td.textContent!.trim())));
  const marked = '<e1>angela</e1> visited <e2>paris</e2>';
  const re = await pipeline('relation-classification', join(t.dir, 'rel'), { topK: null });
  const relations = await re(marked) as { relation: string; score: number }[];
  re.dispose();
  await page.selectOption('#model', 'rel');
  assert.match((await page.getAttribute('#text', 'placeholder'))!, /<e1>author<\/e1>/);
  await run('rel', marked);
  assert.deepEqual(await rows(), relations.map((r) => [r.relation, `${(100 * r.score).toFixed(1)}%`]));
  const zs = await pipeline('zero-shot-classification', join(t.dir, 'prompt'));
  const expected = await zs('a great movie');
  zs.dispose();
  await run('prompt', 'a great movie');
  assert.deepEqual(await rows(), expected.labels.map((l, i) => [l, `${(100 * expected.scores[i]).toFixed(1)}%`]));
});
