// The CLI for text classification and intent + slots as a user runs it (child processes): roots
// init, then roots train --task text-classification (TREC, SST-2) and --task intent-slots (SNIPS) on
// the shared files read in place, roots eval reproducing the dev scores of training, roots predict,
// and one-line errors for bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { oneLineError, roots, tmp } from './helpers.js';
import { SNIPS, SST2, TREC, VOCAB, needSnips, needSst2, needTrec } from './textcls-fixtures.js';


const d = tmp('roots-cli-cls-');
const init = join(d.dir, 'init');
const skip = needSst2 || needTrec || needSnips;
test.after(() => d.cleanup());

test('roots init: a tiny uncased model folder', { skip }, () => {
  const r = roots('init', '--vocab', join(VOCAB, 'vocab.txt'), '--hidden', '32', '--layers', '2', '--heads', '2', '--intermediate', '64', '--max-position', '64', '--out', init);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /lowercased/);
});

test('bad input: non-zero exit and one line on stderr', { skip }, () => {
  const tc = ['train', '--task', 'text-classification', '--model', init, '--out', join(d.dir, 'x')];
  oneLineError(roots(...tc, '--train', join(TREC, 'TREC.train.all')), /TREC\.train\.all:66: invalid UTF-8 .*pass --encoding latin1/);
  oneLineError(roots(...tc, '--train', join(TREC, 'TREC.test.all'), '--metric', 'slot_f1'), /--metric slot_f1 is not a text-classification metric \(accuracy, f1_macro, f1_weighted, mcc, loss\)/);
  oneLineError(roots(...tc, '--train', join(TREC, 'TREC.test.all'), '--class-weights', '1,2'), /--class-weights has 2 weights but there are 6 labels \(ABBR, DESC, ENTY, HUM, LOC, NUM\)/);
  oneLineError(roots(...tc, '--train', join(TREC, 'TREC.test.all'), '--slot-loss-weight', '2'), /--slot-loss-weight is for --task intent-slots/);
  oneLineError(roots(...tc, '--train', join(SST2, 'dev.tsv'), '--text-column', 'review'), /dev\.tsv:1: the header has columns \[label, content\] but no text column "review"/);
  oneLineError(roots(...tc, '--train', join(SST2, 'dev.tsv'), '--format', 'seq'), /format seq does not hold labelled texts/);
  oneLineError(roots(...tc, '--train', join(SST2, 'dev.tsv'), '--format', 'xml'), /'--format <name>' argument 'xml' is invalid\. expected one of conll, tsv, csv, jsonl, trec, seq/);
  oneLineError(roots(...tc, '--train', join(SST2, 'dev.tsv'), '--threshold', '0.3'), /--threshold is for multi-label classification/);
  const is = ['train', '--task', 'intent-slots', '--model', init, '--out', join(d.dir, 'x')];
  oneLineError(roots(...is, '--train', join(SNIPS, 'train', 'seq.in')), /--train .*seq\.in: not a folder \(intent-slots reads a folder with seq\.in, seq\.out and label\)/);
  oneLineError(roots(...is, '--train', join(SNIPS, 'train'), '--multi-label'), /--multi-label is for --task text-classification, not for --task intent-slots/);
  oneLineError(roots('train', '--model', init, '--train', join(SST2, 'dev.tsv'), '--out', join(d.dir, 'x'), '--class-weights', 'auto'), /--class-weights is for --task text-classification and intent-slots, not for --task ner/);
});

test('text classification: TREC (Latin-1) from a fresh start, eval reproduces the dev scores, predict', { skip }, () => {
  const out = join(d.dir, 'trec');
  const r = roots('train', '--task', 'text-classification', '--model', init, '--train', join(TREC, 'TREC.train.all'), '--encoding', 'latin1',
    '--dev', join(TREC, 'TREC.test.all'), '--out', out, '--max-train-samples', '2000', '--max-steps', '40', '--eval-steps', '20',
    '--batch-size', '16', '--lr', '3e-3', '--class-weights', 'auto', '--precision', 'fp32', '--progress', 'plain', '--json');
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  assert.equal(summary.task, 'text-classification');
  assert.equal(summary.multiLabel, false);
  assert.deepEqual(summary.labels, ['ABBR', 'DESC', 'ENTY', 'HUM', 'LOC', 'NUM']);
  assert.equal(summary.classWeights.length, 6);
  assert.equal(summary.result.globalStep, 40);
  assert.deepEqual(Object.keys(summary.dev).sort(), ['accuracy', 'f1_macro', 'f1_weighted', 'loss', 'mcc']);
  assert.match(r.stderr, /^Training text-classification: 2000 examples, 40 optimizer steps/m);
  assert.match(r.stderr, /^eval @ step 20 \(epoch [\d.]+\): accuracy /m);
  for (const f of ['config.json', 'model.safetensors', 'vocab.txt', 'trainer_log.jsonl', 'report.html', 'results.json']) assert.ok(existsSync(join(out, f)), f);
  const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  assert.deepEqual(config.architectures, ['BertForSequenceClassification']);
  assert.equal(config.problem_type, 'single_label_classification');
  assert.deepEqual(config.class_weights, summary.classWeights);

  // roots eval picks the task from config.json and reproduces the dev scores (same batches: 2 x 16).
  const ev = roots('eval', '--model', out, '--data', join(TREC, 'TREC.test.all'), '--precision', 'fp32', '--json');
  assert.equal(ev.code, 0, ev.stderr);
  const scores = JSON.parse(ev.stdout);
  assert.deepEqual(scores.metrics, summary.dev);
  assert.equal(scores.examples, 500);
  assert.equal(scores.confusionMatrix.matrix.flat().reduce((a: number, b: number) => a + b, 0), 500);
  const text = roots('eval', '--model', out, '--data', join(TREC, 'TREC.test.all'), '--precision', 'fp32');
  assert.match(text.stdout, /precision +recall +f1-score +support[\s\S]*confusion matrix[\s\S]*accuracy \d\.\d{4}, f1_macro/);

  const input = join(d.dir, 'questions.txt');
  writeFileSync(input, 'Who wrote Hamlet ?\n\nHow far is the moon from the earth ?\n');
  const p = roots('predict', '--model', out, '--input', input, '--top-k', '2', '--json', '--precision', 'fp32');
  assert.equal(p.code, 0, p.stderr);
  const lines = p.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 2);
  assert.equal(lines[0].text, 'Who wrote Hamlet ?');
  assert.equal(lines[0].labels.length, 2);
  assert.ok(lines[0].labels[0].score >= lines[0].labels[1].score);
  const plain = roots('predict', '--model', out, '--text', 'What is the capital of Peru ?', '--precision', 'fp32');
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stdout, /^What is the capital of Peru \?\n  (ABBR|DESC|ENTY|HUM|LOC|NUM) +0\.\d{4}\n$/);
  oneLineError(roots('predict', '--model', out, '--text', 'x', '--text-pair', 'y', '--text-pair', 'z'), /2 --text-pair values for 1 --text values/);
});

test('text classification: SST-2 TSV detected by name (label-first header), scores on --test', { skip }, () => {
  const out = join(d.dir, 'sst2');
  const r = roots('train', '--task', 'text-classification', '--model', init, '--train', join(SST2, 'train.tsv'), '--test', join(SST2, 'dev.tsv'),
    '--out', out, '--max-train-samples', '600', '--max-eval-samples', '100', '--max-steps', '12', '--batch-size', '16', '--lr', '3e-3',
    '--precision', 'fp32', '--progress', 'none');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Test \(.*dev\.tsv\):\n +precision[\s\S]*\n12 steps in .*completed; test: accuracy \d\.\d{4}, f1_macro \d\.\d{4}\n/);
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.equal(results.dev, null);
  // results.json holds the scores the summary printed, on all 100 test examples
  const printed = /test: accuracy (\d\.\d{4}), f1_macro (\d\.\d{4})/.exec(r.stdout)!;
  assert.equal(results.test.accuracy.toFixed(4), printed[1]);
  assert.equal(results.test.f1_macro.toFixed(4), printed[2]);
  assert.ok(Number.isInteger(Math.round(results.test.accuracy * 100 * 1e6) / 1e6), `accuracy ${results.test.accuracy} is not k/100`);
});

test('intent + slots: SNIPS folders, one model folder, eval reproduces the dev scores, predict with offsets', { skip }, () => {
  const out = join(d.dir, 'snips');
  const r = roots('train', '--task', 'intent-slots', '--model', init, '--train', join(SNIPS, 'train'), '--dev', join(SNIPS, 'dev'),
    '--out', out, '--max-train-samples', '1500', '--max-steps', '40', '--eval-steps', '20', '--batch-size', '16', '--lr', '3e-3',
    '--slot-loss-weight', '2', '--precision', 'fp32', '--progress', 'plain', '--json');
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  assert.equal(summary.task, 'intent-slots');
  assert.equal(summary.labels.length, 7);
  assert.equal(summary.slotLabels[0], 'O');
  assert.deepEqual(Object.keys(summary.dev).sort(), ['exact_match', 'intent_accuracy', 'loss', 'slot_f1', 'slot_precision', 'slot_recall']);
  assert.match(r.stderr, /^eval @ step 20 \(epoch [\d.]+\): exact_match /m);
  const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  assert.deepEqual(config.architectures, ['BertForIntentAndSlots']);
  assert.equal(config.slot_loss_weight, 2);
  assert.equal(Object.keys(config.slot_id2label).length, summary.slotLabels.length);

  const ev = roots('eval', '--model', out, '--data', join(SNIPS, 'dev'), '--precision', 'fp32', '--json');
  assert.equal(ev.code, 0, ev.stderr);
  const scores = JSON.parse(ev.stdout);
  assert.deepEqual(scores.metrics, summary.dev);
  assert.equal(scores.examples, 700);
  assert.match(scores.report, /^Intents\n[\s\S]*Slots\n[\s\S]*micro avg/);

  const text = 'add this tune to my  Sunday Chill playlist';
  const p = roots('predict', '--model', out, '--text', text, '--json', '--precision', 'fp32');
  assert.equal(p.code, 0, p.stderr);
  const result = JSON.parse(p.stdout);
  assert.equal(result.text, text);
  assert.ok(summary.labels.includes(result.intent.label));
  for (const s of result.slots) assert.equal(text.slice(s.start, s.end), s.word);
  const plain = roots('predict', '--model', out, '--text', text, '--precision', 'fp32');
  assert.match(plain.stdout, /^add this tune to my {2}Sunday Chill playlist\n  intent +\w+ +0\.\d{4}\n/);
  oneLineError(roots('predict', '--model', out, '--text', text, '--top-k', '2'), /^roots: error: --top-k is for question-answering, relation-classification, text-classification and masked-LM models \(--model .*snips is an intent-slots model\)$/);
});
