// Text classification end to end on shared data (read in place): SST-2 (single sentences), TREC
// (Latin-1, six classes, class weights), sentence pairs, and multi-label, each with a tiny BERT from
// a fresh start: the loss falls, the dev metrics are computed, and the saved model reloads with
// identical predictions. Plus the pieces: format detection, readers, class weights, features,
// scoring, and the pipeline's output shapes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { detectFormat, readIntentSlotData, readTextData } from '../lib/data/formats.js';
import { LabelVocab } from '../lib/data/labels.js';
import { collate } from '../lib/data/collate.js';
import type { TextExample } from '../lib/data/readers.js';
import { RootsError } from '../lib/errors.js';
import { BertForSequenceClassification } from '../lib/models/bert.js';
import { pipeline } from '../lib/pipelines/index.js';
import {
  TextClassificationTask, evaluateTextClassification, inverseFrequencyWeights, parseClassWeights, type TextClassificationDetails,
} from '../lib/tasks/text-classification.js';
import { Tokenizer } from '../lib/tokenizer/index.js';
import { LOG_FILE, Trainer } from '../lib/trainer/trainer.js';
import { tmp } from './helpers.js';
import {
  SNIPS, SST2, TREC, firstLast, needSnips, needSst2, needTrec, strided, tinySequenceModel, trainLosses, uncasedTokenizer,
} from './textcls-fixtures.js';

const isRootsError = (code: string, re: RegExp) => (e: unknown) => e instanceof RootsError && e.code === code && re.test(e.message);

test('formats: detected from the name, a folder, or the first line; else an error asking for --format', () => {
  const d = tmp('roots-fmt-');
  try {
    const p = (name: string, text: string) => { const f = join(d.dir, name); writeFileSync(f, text); return f; };
    mkdirSync(join(d.dir, 'snips'));
    assert.equal(detectFormat(join(d.dir, 'snips'), 'intent-slots'), 'seq');
    assert.equal(detectFormat(p('a.tsv', 'x'), 'text'), 'tsv');
    assert.equal(detectFormat(p('a.csv', 'x'), 'text'), 'csv');
    assert.equal(detectFormat(p('a.jsonl', 'x'), 'text'), 'jsonl');
    assert.equal(detectFormat(p('TREC.test.all', 'x'), 'text'), 'trec');
    assert.equal(detectFormat(p('train_5500.label', 'x'), 'text'), 'trec');
    assert.equal(detectFormat(p('eng.train', 'EU B-ORG\n'), 'tagged'), 'conll');
    assert.equal(detectFormat(p('data1', '{"text": "hi", "label": 1}\n'), 'text'), 'jsonl');
    assert.equal(detectFormat(p('data2', 'LOC:city Where is Paris ?\n'), 'text'), 'trec');
    assert.equal(detectFormat(p('data3', 'label\tsentence\n1\tgood\n'), 'text'), 'tsv');
    assert.throws(() => detectFormat(p('data4', 'just some words\n'), 'text'), isRootsError('ERR_PARSE', /data4 from its name or first line: pass --format \(tsv, csv, jsonl, trec\)/));
    // A format that does not hold the kind of data asked for.
    return assert.rejects(readTextData(p('b.tsv', 'x'), { format: 'seq' }), isRootsError('ERR_INVALID_ARG', /format seq does not hold labelled texts .*use tsv or csv or jsonl or trec/));
  } finally {
    d.cleanup();
  }
});

test('readers on the shared files: SST-2 (label-first header, CRLF), TREC (Latin-1 byte), SNIPS folders', { skip: needSst2 || needTrec || needSnips }, async () => {
  const train = await readTextData(join(SST2, 'train.tsv'));
  assert.equal(train.length, 67349);
  assert.deepEqual(train[0], { text: 'hide new secretions from the parental units', line: 2, label: '0' });
  assert.deepEqual(LabelVocab.fromLabels(train.map((e) => e.label)).labels, ['0', '1']);
  const dev = await readTextData(join(SST2, 'dev.tsv'));   // header "label<TAB>content"
  assert.equal(dev.length, 872);

  // TREC.train.all has one Latin-1 byte (line 66): UTF-8 is refused with the line and the fix.
  await assert.rejects(readTextData(join(TREC, 'TREC.train.all')), isRootsError('ERR_PARSE', /TREC\.train\.all:66: invalid UTF-8 .*encoding: 'latin1'/));
  const trec = await readTextData(join(TREC, 'TREC.train.all'), { encoding: 'latin1' });
  assert.equal(trec.length, 5452);
  assert.match(trec[65].text, /sister\u00f0city/);
  assert.deepEqual(LabelVocab.fromLabels(trec.map((e) => e.label)).labels, ['ABBR', 'DESC', 'ENTY', 'HUM', 'LOC', 'NUM']);
  assert.equal((await readTextData(join(TREC, 'TREC.test.all'))).length, 500);

  const snips = await readIntentSlotData(join(SNIPS, 'dev'));
  assert.equal(snips.length, 700);
  assert.equal(snips[0].tokens.length, snips[0].tags.length);
  assert.ok(snips[0].intent);
});

test('class weights: inverse frequency normalised to mean 1, or one per label', () => {
  const labels = new LabelVocab(['a', 'b', 'c']);
  assert.deepEqual(inverseFrequencyWeights(['a', 'a', 'a', 'b'], labels), [0.5, 1.5, 1]);       // c never occurs: 1
  assert.deepEqual(inverseFrequencyWeights([['a', 'b'], ['a'], []], labels), [2 / 3, 4 / 3, 1]);  // multi-label: positives
  assert.deepEqual(parseClassWeights('1, 2,0.5', labels, []), [1, 2, 0.5]);
  assert.deepEqual(parseClassWeights('auto', labels, ['a', 'b']), [1, 1, 1]);
  assert.throws(() => parseClassWeights('1,2', labels, []), isRootsError('ERR_INVALID_ARG', /2 weights but there are 3 labels \(a, b, c\)/));
  assert.throws(() => parseClassWeights('1,x,2', labels, []), isRootsError('ERR_INVALID_ARG', /expected 'auto' or comma-separated non-negative numbers/));
  assert.throws(() => parseClassWeights('1,-1,2', labels, []), isRootsError('ERR_INVALID_ARG', /non-negative/));
});

test('features: pairs get segment ids and are cut longest-first; multi-label targets become a 0/1 row', async () => {
  const tokenizer = Tokenizer.fromVocab(['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'a', 'b', 'c', 'd'], { do_lower_case: true });
  const labels = new LabelVocab(['x', 'y', 'z']);
  const ctx = { tokenizer, labels, maxLength: 8 };
  const single = new TextClassificationTask().features([{ text: 'a b', textPair: 'c c c c c d', label: 'y' }], { ...ctx, training: true });
  assert.deepEqual(Array.from(single[0].inputIds), [2, 4, 5, 3, 6, 6, 6, 3]);          // [CLS] a b [SEP] c c c [SEP]
  assert.deepEqual(Array.from(single[0].tokenTypeIds!), [0, 0, 0, 0, 1, 1, 1, 1]);
  assert.equal(single[0].label, 1);
  const multi = new TextClassificationTask({ multiLabel: true }).features([{ text: 'a', label: ['x', 'z'] }, { text: 'b', label: 'y' }, { text: 'c', label: [] }], { ...ctx, training: true });
  const batch = collate(multi, { padTokenId: 0, numLabels: 3 });
  assert.deepEqual(Array.from(batch.labelsFloat!), [1, 0, 1, 0, 1, 0, 0, 0, 0]);
  assert.equal(batch.labels, undefined);
  // Evaluation data with a class the model lacks: no targets (no loss), still predicted and scored.
  const unknown = new TextClassificationTask().features([{ text: 'a', label: 'x' }, { text: 'b', label: 'new' }], ctx);
  assert.equal(unknown[0].label, undefined);
  assert.throws(() => new TextClassificationTask().features([{ text: 'a', label: ['x', 'y'] }], { ...ctx, training: true }), isRootsError('ERR_INVALID_ARG', /has 2 labels but the model is single-label/));
});

test('scoring: accuracy, macro/weighted F1, MCC, report and confusion matrix; multi-label micro/macro F1 and exact match', () => {
  const labels = new LabelVocab(['neg', 'pos']);
  const ctx = { tokenizer: Tokenizer.fromVocab(['[PAD]', '[UNK]', '[CLS]', '[SEP]']), labels, maxLength: 8 };
  const examples: TextExample[] = [{ text: '', label: 'neg' }, { text: '', label: 'neg' }, { text: '', label: 'pos' }, { text: '', label: 'pos' }];
  const logits = [[2, 0], [0, 1], [0, 3], [0, 1]].map((r) => Float32Array.from(r));
  const ev = new TextClassificationTask().score(examples, [], { logits, numLabels: 2, loss: 0.5 }, ctx);
  assert.equal(ev.metrics.accuracy, 0.75);
  assert.ok(Math.abs(ev.metrics.f1_macro - (2 / 3 + 0.8) / 2) < 1e-12);
  assert.ok(Math.abs(ev.metrics.mcc - 1 / Math.sqrt(3)) < 1e-12);
  assert.equal(ev.metrics.loss, 0.5);
  const d = ev.details as TextClassificationDetails;
  assert.deepEqual(d.confusion, { labels: ['neg', 'pos'], matrix: [[1, 1], [0, 2]] });
  assert.deepEqual(d.predictions, ['neg', 'pos', 'pos', 'pos']);
  assert.match(ev.report!, /accuracy +0\.7500 +4\n[\s\S]*confusion matrix\ngold \\ predicted +neg +pos\n +neg +1 +1\n +pos +0 +2\n/);

  const three = new LabelVocab(['a', 'b', 'c']);
  const ml: TextExample[] = [{ text: '', label: ['a', 'b'] }, { text: '', label: ['c'] }, { text: '', label: [] }];
  const mlLogits = [[3, 1, -2], [-1, -1, 2], [-3, 0.1, -2]].map((r) => Float32Array.from(r));   // sigmoid >= 0.5 <=> logit >= 0
  const mev = new TextClassificationTask({ multiLabel: true }).score(ml, [], { logits: mlLogits, numLabels: 3, loss: null }, { ...ctx, labels: three });
  assert.deepEqual((mev.details as TextClassificationDetails).predictions, [['a', 'b'], ['c'], ['b']]);
  assert.equal(mev.metrics.exact_match, 2 / 3);
  assert.equal(mev.metrics.f1_micro, 2 * 3 / (2 * 3 + 1));     // tp 3, fp 1, fn 0
  assert.equal(mev.metrics.loss, undefined);
  const strict = new TextClassificationTask({ multiLabel: true, threshold: 0.99 }).score(ml, [], { logits: mlLogits, numLabels: 3, loss: null }, { ...ctx, labels: three });
  assert.deepEqual((strict.details as TextClassificationDetails).predictions, [[], [], []]);
});

test('SST-2: train from scratch, dev metrics, save, reload with identical predictions; the pipeline', { skip: needSst2 }, async (t) => {
  const d = tmp('roots-sst2-');
  try {
    const train = strided(await readTextData(join(SST2, 'train.tsv')), 3000);
    const dev = strided(await readTextData(join(SST2, 'dev.tsv')), 300);
    const tokenizer = await uncasedTokenizer(64);
    const model = tinySequenceModel(tokenizer, ['0', '1']);
    const out = join(d.dir, 'run');
    const trainer = new Trainer({
      model, tokenizer, train, eval: dev, task: 'text-classification',
      args: { outputDir: out, maxSteps: 180, batchSize: 32, learningRate: 3e-3, warmupRatio: 0.1, weightDecay: 0.01, evalSteps: 90, loggingSteps: 15, progress: 'none' },
    });
    const result = await trainer.train();
    assert.equal(result.globalStep, 180);
    const [first, last] = firstLast(trainLosses(join(out, LOG_FILE)));
    const ev = await trainer.evaluate();
    t.diagnostic(`SST-2 train loss ${first.toFixed(3)} -> ${last.toFixed(3)}; dev ${JSON.stringify(ev.metrics)}`);
    assert.ok(last < first * 0.9, `loss ${first} -> ${last}`);
    assert.deepEqual(Object.keys(ev.metrics).sort(), ['accuracy', 'f1_macro', 'f1_weighted', 'loss', 'mcc']);
    assert.ok(ev.metrics.accuracy > 0.55, `dev accuracy ${ev.metrics.accuracy}`);
    assert.match(ev.report!, /^ +precision +recall +f1-score +support\n\n +0 [\s\S]* +1 [\s\S]*accuracy [\s\S]*confusion matrix/);
    const details = ev.details as TextClassificationDetails;
    assert.equal(details.confusion!.matrix.flat().reduce((a, b) => a + b, 0), dev.length);
    assert.deepEqual(result.evaluation!.metrics, ev.metrics, 'the final weights are the best checkpoint\'s, scored on dev');

    // Saved and reloaded: the same scores and the same predictions.
    const saved = join(d.dir, 'final');
    await trainer.saveModel(saved);
    const reloaded = await BertForSequenceClassification.fromPretrained(saved, { log: null });
    assert.deepEqual(reloaded.loadReport.missingKeys, []);
    assert.deepEqual(reloaded.labels, ['0', '1']);
    // Batched as the trainer's evaluation (evalBatchSize 64), so the loss sums in the same order.
    const evReloaded = await evaluateTextClassification(reloaded, await Tokenizer.fromPretrained(saved), dev, { maxLength: 64, batchSize: 64 });
    assert.deepEqual(evReloaded.metrics, ev.metrics);
    assert.deepEqual(evReloaded.details.predictions, details.predictions);

    const texts = ['a gorgeous , witty , seductive movie .', 'the worst film of the year , dull and lifeless .', dev[0].text];
    const inMemory = await pipeline('text-classification', { model, tokenizer }, { maxLength: 64 });
    const fromDisk = await pipeline('sentiment-analysis', saved, { maxLength: 64 });
    const a = await inMemory(texts);
    assert.deepEqual(await fromDisk(texts), a);
    assert.equal(a.length, 3);
    for (const r of a) {
      assert.equal(r.length, 1, 'the best label only by default');
      assert.ok(['0', '1'].includes(r[0].label) && r[0].score >= 0.5 && r[0].score <= 1);
    }
    // The pipeline agrees with the evaluation's predictions.
    assert.equal(a[2][0].label, details.predictions[0]);
    const one = await fromDisk(texts[0], { topK: null });
    assert.deepEqual(one.map((s) => s.label).sort(), ['0', '1']);
    assert.ok(Math.abs(one[0].score + one[1].score - 1) < 1e-9 && one[0].score >= one[1].score, 'softmax scores, best first');
    assert.deepEqual(await fromDisk(texts[0], { topK: 1 }), [one[0]]);
    await assert.rejects(fromDisk(texts[0], { topK: 0 }), isRootsError('ERR_INVALID_ARG', /Expected positive integer for topK but received 0/));
    t.diagnostic(JSON.stringify(a.slice(0, 2)));
    inMemory.dispose();
    fromDisk.dispose();
    await assert.rejects(fromDisk('x'), isRootsError('ERR_DISPOSED', /disposed/));
    await assert.rejects(pipeline('intent-slots', saved), isRootsError('ERR_INVALID_ARG', /final holds a BertForSequenceClassification; the pipeline needs a trained intent-slots model/));
    reloaded.dispose();
    model.dispose();
  } finally {
    d.cleanup();
  }
});

test('sentence pairs: the second text matters (its segment ids), pipeline takes { text, textPair }', { skip: needSst2 }, async (t) => {
  // A pair task built from SST-2: the label is the sentiment of the second sentence of the pair.
  const sst = strided(await readTextData(join(SST2, 'train.tsv')), 4000, 1);
  const pairs: TextExample[] = [];
  for (let i = 0; i + 1 < sst.length; i += 2) pairs.push({ text: sst[i].text, textPair: sst[i + 1].text, label: sst[i + 1].label === '1' ? 'positive' : 'negative' });
  const train = pairs.slice(0, 1800);
  const dev = pairs.slice(1800);
  const tokenizer = await uncasedTokenizer(64);
  const model = tinySequenceModel(tokenizer, ['negative', 'positive']);
  const task = new TextClassificationTask();
  const features = task.features(train.slice(0, 5), { tokenizer, labels: new LabelVocab(['negative', 'positive']), maxLength: 64, training: true });
  assert.ok(features.every((f) => f.tokenTypeIds && Array.from(f.tokenTypeIds).includes(1) && f.inputIds.length <= 64));
  const trainer = new Trainer({ model, tokenizer, train, eval: dev, task, args: { maxSteps: 120, batchSize: 32, learningRate: 3e-3, warmupRatio: 0.1, loggingSteps: 10, evalStrategy: 'no', progress: 'none' } });
  const losses: number[] = [];
  trainer.callbacks.onLog = (r) => { losses.push(r.loss!); };
  await trainer.train();
  const ev = await trainer.evaluate();
  const [first, last] = firstLast(losses);
  t.diagnostic(`pairs: train loss ${first.toFixed(3)} -> ${last.toFixed(3)}; dev ${JSON.stringify(ev.metrics)}`);
  assert.ok(last < first * 0.95, `loss ${first} -> ${last}`);
  const clf = await pipeline('text-classification', { model, tokenizer }, { maxLength: 64, batchSize: 7 });
  const inputs = dev.slice(0, 20).map((e) => ({ text: e.text, textPair: e.textPair! }));
  const got = await clf(inputs);
  assert.deepEqual(got.map((r) => r[0].label), (ev.details as TextClassificationDetails).predictions.slice(0, 20), 'batched pipeline = evaluation');
  const alone = await clf({ text: inputs[3].text, text_pair: inputs[3].textPair });   // Transformers' spelling
  assert.equal(alone[0].label, got[3][0].label);
  assert.ok(Math.abs(alone[0].score - got[3][0].score) < 1e-5, 'alone or in a batch (other padding): the same scores up to rounding');
  const unpaired = await clf.logits([inputs[3].text]);
  assert.notDeepEqual(Array.from(unpaired[0]), Array.from((await clf.logits([inputs[3]]))[0]));
  await assert.rejects(clf([{ txt: 'x' } as never]), isRootsError('ERR_INVALID_ARG', /Expected a string or \{ text, textPair\? \} for input 0/));
  clf.dispose();
  model.dispose();
});

test('the trainer and the pipeline refuse a model with the wrong head', async () => {
  const tokenizer = Tokenizer.fromVocab(['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'a']);
  const { BertForTokenClassification } = await import('../lib/models/bert.js');
  const model = BertForTokenClassification.fromConfig({ vocab_size: 5, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 8 }, { labels: ['O', 'B-X'], log: null });
  assert.throws(() => new Trainer({ model, tokenizer, train: [{ text: 'a', label: 'x' }], task: 'text-classification' }), isRootsError('ERR_INVALID_ARG', /text-classification task needs a BertForSequenceClassification model, not a token head/));
  await assert.rejects(pipeline('text-classification', { model, tokenizer }), isRootsError('ERR_INVALID_ARG', /needs a sequence-classification model, not a token head/));
  await assert.rejects(pipeline('intent-slots', { model, tokenizer }), isRootsError('ERR_INVALID_ARG', /needs a BertForIntentAndSlots, not a token head/));
  model.dispose();
});
