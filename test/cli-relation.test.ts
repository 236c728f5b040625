// The CLI for relation classification as a user runs it (child processes): roots train --task
// relation-classification on a small SemEval-format file the test writes, the trained folder
// (markers in the tokenizer, grown embeddings, the relation head), roots eval printing the official
// scorer's output and writing id<TAB>relation lines, roots predict on marked text, typed markers
// from JSONL, and one-line errors for bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { oneLineError, roots, tmp } from './helpers.js';

const d = tmp('roots-cli-re-');
test.after(() => d.cleanup());
const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'the', 'cat', 'sat', 'on', 'mat', 'a', 'dog', 'chased', 'ball', 'in', 'garden', 'of', 'box', 'made', 'by', 'machine', '.'];
const sentences: [string, string][] = [
  ['The <e1>cat</e1> sat on the <e2>mat</e2>.', 'Entity-Destination(e1,e2)'],
  ['The <e2>dog</e2> chased the <e1>ball</e1>.', 'Other'],
  ['The <e1>box</e1> made by a <e2>machine</e2>.', 'Product-Producer(e1,e2)'],
  ['The <e2>box</e2> made by a <e1>machine</e1>.', 'Product-Producer(e2,e1)'],
  ['A <e1>dog</e1> in the <e2>garden</e2>.', 'Entity-Destination(e1,e2)'],
  ['The <e1>ball</e1> of the <e2>dog</e2>.', 'Other'],
];
const semeval = (from: number) => sentences.map(([s, r], i) => `${from + i}\t"${s}"\n${r}\nComment:\n\n`).join('');

test('train, eval (official scorer output, --predictions), predict; bad input', () => {
  const init = join(d.dir, 'init'), out = join(d.dir, 're'), train = join(d.dir, 'train.txt'), testFile = join(d.dir, 'test.txt');
  writeFileSync(join(d.dir, 'vocab.txt'), vocab.join('\n') + '\n');
  writeFileSync(train, semeval(1));
  writeFileSync(testFile, semeval(101));
  assert.equal(roots('init', '--vocab', join(d.dir, 'vocab.txt'), '--hidden', '16', '--layers', '1', '--heads', '2', '--intermediate', '32', '--max-position', '32', '--out', init).code, 0);
  const r = roots('train', '--task', 'relation-classification', '--model', init, '--train', train, '--test', testFile, '--out', out,
    '--max-steps', '3', '--batch-size', '4', '--lr', '1e-3', '--precision', 'fp32', '--json');
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  assert.equal(summary.task, 'relation-classification');
  assert.deepEqual(summary.labels, ['Entity-Destination(e1,e2)', 'Other', 'Product-Producer(e1,e2)', 'Product-Producer(e2,e1)']);
  assert.deepEqual(Object.keys(summary.test).sort(), ['accuracy', 'loss', 'macro_f1', 'micro_f1']);
  const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  assert.deepEqual([config.architectures, config.vocab_size, config.relation_pooling, config.relation_markers], [['BertForRelationClassification'], vocab.length + 4, 'entity-start', 'plain']);
  const tokenizer = JSON.parse(readFileSync(join(out, 'tokenizer.json'), 'utf8'));
  assert.deepEqual(tokenizer.added_tokens.filter((t: { content: string }) => /^\[\/?E[12]\]$/.test(t.content)).map((t: { id: number; content: string }) => [t.id, t.content]),
    [[22, '[E1]'], [23, '[/E1]'], [24, '[E2]'], [25, '[/E2]']]);

  const predictions = join(d.dir, 'pred.txt');
  const ev = roots('eval', '--model', out, '--data', testFile, '--predictions', predictions);
  assert.equal(ev.code, 0, ev.stderr);
  assert.match(ev.stdout, /^<<< \(2\*9\+1\)-WAY EVALUATION \(USING DIRECTIONALITY\)>>>:/);
  assert.match(ev.stdout, /<<< The official score is \(9\+1\)-way evaluation with directionality taken into account: macro-averaged F1 = \d+\.\d\d% >>>/);
  const official = Number(/macro-averaged F1 = ([\d.]+)%/.exec(ev.stdout)![1]);
  assert.ok(Math.abs(official / 100 - summary.test.macro_f1) < 0.00005, 'eval reproduces the test score of training');
  const lines = readFileSync(predictions, 'utf8').split('\n').filter(Boolean);
  assert.deepEqual(lines.map((l) => l.split('\t')[0]), ['101', '102', '103', '104', '105', '106']);
  assert.ok(lines.every((l) => summary.labels.includes(l.split('\t')[1])));

  const p = roots('predict', '--model', out, '--text', 'The <e1>cat</e1> sat on the <e2>mat</e2>.', '--json');
  assert.equal(p.code, 0, p.stderr);
  const rec = JSON.parse(p.stdout.trim());
  assert.ok(summary.labels.includes(rec.relations[0].relation));

  const tr = ['train', '--task', 'relation-classification', '--model', init, '--out', join(d.dir, 'x')];
  writeFileSync(join(d.dir, 'doubled.txt'), '1\t"The <e1>cat</e1> <e1>sat</e1> on the <e2>mat</e2>."\nOther\n');
  oneLineError(roots(...tr, '--train', join(d.dir, 'doubled.txt')), /doubled\.txt line 1: the marker <e1> occurs more than once/);
  writeFileSync(join(d.dir, 'overlap.jsonl'), `${JSON.stringify({ text: 'the cat sat', e1: [4, 7], e2: [0, 5], relation: 'Other' })}\n`);
  oneLineError(roots(...tr, '--train', join(d.dir, 'overlap.jsonl')), /overlap\.jsonl line 1: the entity spans overlap/);
  // Errors found while encoding name the file too; a text that holds a marker itself is never taken for an entity.
  writeFileSync(join(d.dir, 'marked.jsonl'), `${JSON.stringify({ text: 'the cat sat', e1: [0, 3], e2: [8, 11], relation: 'A' })}\n${JSON.stringify({ text: 'the [E1] cat', e1: [9, 12], e2: [0, 3], relation: 'B' })}\n`);
  const marked = roots(...tr, '--train', join(d.dir, 'marked.jsonl'));  // after the fresh-initialisation notice
  assert.notEqual(marked.code, 0);
  assert.match(marked.stderr, /^roots: error: \S*marked\.jsonl: example 2 \(line 2\): the text itself contains the marker \[E1\]; entity markers may appear only where the spans put them$/m);
  writeFileSync(join(d.dir, 'unlabelled.txt'), '1\t"The <e1>cat</e1> sat on the <e2>mat</e2>."\n');
  oneLineError(roots(...tr, '--train', join(d.dir, 'unlabelled.txt')), /unlabelled\.txt: no example has a relation/);
  oneLineError(roots(...tr, '--train', train, '--format', 'tsv'), /--format tsv is not a relation format/);
  oneLineError(roots(...tr, '--train', train, '--typed-markers'), /train\.txt: example 1 \(line 1\): typed markers need an entity type for every entity, but e1 has none/);
  oneLineError(roots('train', '--model', init, '--train', train, '--out', join(d.dir, 'x'), '--typed-markers'), /--typed-markers is for --task relation-classification, not for --task ner/);
  oneLineError(roots('predict', '--model', out, '--text', 'The cat sat on the <e2>mat</e2>.'), /input 0: the marker <e1> is missing/);
});

test('typed markers from JSONL and [CLS] pooling', () => {
  const init = join(d.dir, 'init'), out = join(d.dir, 'typed'), train = join(d.dir, 'typed.jsonl');
  const rows = [
    { text: 'the cat sat on the mat .', e1: { start: 4, end: 7, type: 'ANIMAL' }, e2: { start: 19, end: 22, type: 'THING' }, relation: 'on' },
    { text: 'the dog chased the ball .', e1: { start: 4, end: 7, type: 'ANIMAL' }, e2: { start: 19, end: 23, type: 'THING' }, relation: 'chase' },
  ];
  writeFileSync(train, rows.map((x) => JSON.stringify(x)).join('\n') + '\n');
  const r = roots('train', '--task', 'relation-classification', '--model', init, '--train', train, '--out', out, '--typed-markers',
    '--relation-pooling', 'cls', '--max-steps', '2', '--batch-size', '2', '--precision', 'fp32', '--json');
  assert.equal(r.code, 0, r.stderr);
  const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  assert.deepEqual([config.vocab_size, config.relation_pooling, config.relation_markers], [vocab.length + 8, 'cls', 'typed']);
  const tokens = JSON.parse(readFileSync(join(out, 'tokenizer.json'), 'utf8')).added_tokens.map((t: { content: string }) => t.content);
  for (const m of ['[E1:ANIMAL]', '[/E1:ANIMAL]', '[E2:THING]', '[/E2:THING]', '[E1:THING]']) assert.ok(tokens.includes(m), m);
  const ev = roots('eval', '--model', out, '--data', train, '--json');
  assert.equal(ev.code, 0, ev.stderr);
  assert.equal(JSON.parse(ev.stdout).examples, 2);
});
