// Question answering end to end as a user runs it (child processes): roots init, roots train --task
// question-answering on a small generated SQuAD file, roots eval printing the official script's line and
// writing SQuAD's predictions file (--predictions), roots predict --question --context, pipeline(), and
// one-line errors for bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSquadJson } from '../lib/data/squad.js';
import { squadScores } from '../lib/metrics/squad.js';
import { pipeline } from '../lib/pipelines/index.js';
import { oneLineError, roots, tmp } from './helpers.js';

const d = tmp('roots-qa-cli-');
test.after(() => d.cleanup());

const NAMES = ['anna', 'bert', 'carl', 'dora', 'emil', 'fritz'];
const CITIES = ['paris', 'rome', 'oslo', 'bern', 'wien', 'riga'];
const WORDS = ['who', 'lives', 'in', 'where', 'does', 'live', 'the', 'city', 'of', 'is', 'home', 'to', '?', '.', ','];
writeFileSync(join(d.dir, 'vocab.txt'), ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...NAMES, ...CITIES, ...WORDS].join('\n') + '\n');
// Contexts "anna lives in paris. bert lives in rome. ..." and questions about each person and city.
function article(k: number): unknown {
  const people = NAMES.map((n, i) => [n, CITIES[(i + k) % CITIES.length]] as const);
  const context = people.map(([n, c]) => `${n} lives in ${c}.`).join(' ');
  const qas = people.flatMap(([n, c], i) => [
    { id: `a${k}-where-${i}`, question: `where does ${n} live?`, answers: [{ text: c, answer_start: context.indexOf(`${n} lives in ${c}`) + `${n} lives in `.length }] },
    { id: `a${k}-who-${i}`, question: `who lives in ${c}?`, answers: [{ text: n, answer_start: context.indexOf(`${n} lives in`) }, { text: `${n}`, answer_start: context.indexOf(`${n} lives in`) }] },
  ]);
  return { title: `t${k}`, paragraphs: [{ context, qas }] };
}
const squadFile = join(d.dir, 'squad.json');
writeFileSync(squadFile, JSON.stringify({ version: '1.1', data: [article(0), article(1)] }));
const init = join(d.dir, 'init');
const model = join(d.dir, 'model');

test('roots init + train --task question-answering: windows of a long context, the official metrics on --test', () => {
  let r = roots('init', '--vocab', join(d.dir, 'vocab.txt'), '--hidden', '32', '--layers', '1', '--heads', '2', '--intermediate', '64', '--max-position', '64', '--out', init);
  assert.equal(r.code, 0, r.stderr);
  // --max-length 32 with --doc-stride 8: every context (~30 tokens) needs two windows or more.
  r = roots('train', '--task', 'question-answering', '--model', init, '--train', squadFile, '--test', squadFile, '--out', model,
    '--max-steps', '4', '--batch-size', '8', '--lr', '1e-3', '--max-length', '32', '--doc-stride', '8', '--progress', 'none', '--json');
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  assert.equal(summary.task, 'question-answering');
  assert.ok(summary.test.exact_match >= 0 && summary.test.exact_match <= 100 && summary.test.f1 >= summary.test.exact_match, r.stdout);
  assert.deepEqual(JSON.parse(readFileSync(join(model, 'config.json'), 'utf8')).architectures, ['BertForQuestionAnswering']);
});

test('roots eval: the official script\'s output line, and --predictions writes SQuAD\'s {id: answer} file', () => {
  const preds = join(d.dir, 'preds.json');
  const r = roots('eval', '--model', model, '--data', squadFile, '--max-length', '32', '--doc-stride', '8', '--predictions', preds);
  assert.equal(r.code, 0, r.stderr);
  const m = /^\{"exact_match": ([\d.e+-]+), "f1": ([\d.e+-]+)\}$/m.exec(r.stdout);
  assert.ok(m, r.stdout);
  const predictions = JSON.parse(readFileSync(preds, 'utf8')) as Record<string, string>;
  const examples = parseSquadJson(readFileSync(squadFile, 'utf8'));
  assert.deepEqual(Object.keys(predictions).sort(), examples.map((e) => e.id).sort());
  for (const e of examples) assert.ok(e.context.includes(predictions[e.id]), `${predictions[e.id]} is a span of the context`);
  // The printed figures are the official metric of the written file (as evaluate-v1.1.py would print them).
  const s = squadScores(examples.map((e) => ({ id: e.id, answers: e.answers.map((a) => a.text) })), predictions);
  assert.equal(Number(m[1]), s.exact_match);
  assert.equal(Number(m[2]), s.f1);
});

test('roots predict --question --context and pipeline(\'question-answering\'): Transformers\' output shape', async () => {
  const context = 'anna lives in paris. bert lives in rome.';
  const r = roots('predict', '--model', model, '--question', 'where does anna live?', '--question', 'who lives in rome?', '--context', context, '--top-k', '2', '--json');
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 2);
  for (const line of lines) {
    assert.equal(line.answers.length, 2);
    for (const a of line.answers) assert.equal(context.slice(a.start, a.end), a.answer);
    assert.ok(line.answers[0].score >= line.answers[1].score);
  }
  const qa = await pipeline('question-answering', model, { maxLength: 32, docStride: 8 });
  try {
    const one = await qa({ question: 'where does anna live?', context });
    assert.ok(!Array.isArray(one));
    assert.deepEqual(Object.keys(one).sort(), ['answer', 'end', 'score', 'start']);
    assert.equal(context.slice(one.start, one.end), one.answer);
    const two = await qa('where does anna live?', context, { topK: 2 });
    assert.ok(Array.isArray(two) && two.length === 2 && two[0].score >= two[1].score);
    assert.deepEqual(two[0], one);
    const many = await qa([{ question: 'who lives in rome?', context }, { question: 'where does bert live?', context }]);
    assert.equal(many.length, 2);
    await assert.rejects(qa({ question: '', context }), /Input 0: the question is empty/);
  } finally {
    qa.dispose();
  }
});

test('bad input: one line naming the file, the field and the fix', () => {
  const bad = join(d.dir, 'bad.jsonl');
  writeFileSync(bad, `${JSON.stringify({ id: 'x', question: 'who?', context: 'anna lives in paris.', answers: { text: ['anna'], answer_start: [3] } })}\n`);
  const t = ['train', '--task', 'question-answering', '--model', init, '--out', join(d.dir, 'x')];
  oneLineError(roots(...t, '--train', bad), /bad\.jsonl:1: field answers\[0\]: the answer "anna" is not in the context at answer_start 3 \(the context has "a li" there; the text occurs at 0\); fix answer_start or the answer text/);
  oneLineError(roots('train', '--model', init, '--out', join(d.dir, 'x'), '--train', bad, '--doc-stride', '8'), /--doc-stride is for --task question-answering, not for --task ner/);
  oneLineError(roots('predict', '--model', model, '--text', 'anna'), /--text is not for question-answering models: give --question "\.\.\." --context "\.\.\."/);
});
