// Text classification end to end, continued: TREC (Latin-1, six classes, class weights, scored on
// its test file) and multi-label classification (sigmoid + binary cross-entropy with pos_weight) on
// SNIPS utterances, each with a tiny BERT from a fresh start: the loss falls, the metrics are
// computed on the held-out split, and the saved model reloads with identical predictions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readIntentSlotData, readTextData } from '../lib/data/formats.js';
import { LabelVocab } from '../lib/data/labels.js';
import type { TextExample } from '../lib/data/readers.js';
import { BertForSequenceClassification } from '../lib/models/bert.js';
import { pipeline } from '../lib/pipelines/index.js';
import { TextClassificationTask, evaluateTextClassification, inverseFrequencyWeights, type TextClassificationDetails } from '../lib/tasks/text-classification.js';
import { Tokenizer } from '../lib/tokenizer/index.js';
import { LOG_FILE, Trainer } from '../lib/trainer/trainer.js';
import { tmp } from './helpers.js';
import { SNIPS, TREC, firstLast, needSnips, needTrec, strided, tinySequenceModel, trainLosses, uncasedTokenizer } from './textcls-fixtures.js';

test('TREC (Latin-1): six classes with auto class weights; metrics on the test file; reload identical', { skip: needTrec }, async (t) => {
  const d = tmp('roots-trec-');
  try {
    const train = await readTextData(join(TREC, 'TREC.train.all'), { encoding: 'latin1' });
    const test = await readTextData(join(TREC, 'TREC.test.all'));
    const labels = new TextClassificationTask().labelsOf(train);
    const weights = inverseFrequencyWeights(train.map((e) => e.label), new LabelVocab(labels));
    assert.ok(Math.abs(weights.reduce((a, b) => a + b, 0) / weights.length - 1) < 1e-12);
    assert.ok(weights[labels.indexOf('ABBR')] > 3, 'the rare class weighs most');
    const tokenizer = await uncasedTokenizer(64);
    const model = tinySequenceModel(tokenizer, labels, { config: { class_weights: weights } });
    const trainer = new Trainer({
      model, tokenizer, train: strided(train, 2500), eval: test, task: 'text-classification',
      args: { outputDir: join(d.dir, 'run'), maxSteps: 150, batchSize: 32, learningRate: 3e-3, warmupRatio: 0.1, evalSteps: 75, loggingSteps: 15, progress: 'none' },
    });
    await trainer.train();
    const [first, last] = firstLast(trainLosses(join(d.dir, 'run', LOG_FILE)));
    const ev = await trainer.evaluate();
    t.diagnostic(`TREC train loss ${first.toFixed(3)} -> ${last.toFixed(3)}; test ${JSON.stringify(ev.metrics)}`);
    assert.ok(last < first * 0.8, `loss ${first} -> ${last}`);
    assert.ok(ev.metrics.accuracy > 0.35, `test accuracy ${ev.metrics.accuracy}`);
    assert.match(ev.report!, /ABBR[\s\S]*DESC[\s\S]*ENTY[\s\S]*HUM[\s\S]*LOC[\s\S]*NUM/);
    const saved = join(d.dir, 'final');
    await trainer.saveModel(saved);
    const reloaded = await BertForSequenceClassification.fromPretrained(saved, { log: null });
    assert.deepEqual(reloaded.config.class_weights, weights, 'class weights travel in config.json');
    const evReloaded = await evaluateTextClassification(reloaded, await Tokenizer.fromPretrained(saved), test, { maxLength: 64, batchSize: 64 });
    assert.deepEqual(evReloaded.details.predictions, (ev.details as TextClassificationDetails).predictions);
    assert.deepEqual(evReloaded.metrics, ev.metrics);
    reloaded.dispose();
    model.dispose();
  } finally {
    d.cleanup();
  }
});

test('multi-label: sigmoid + BCE with pos_weight, label sets in and out, threshold, reload identical', { skip: needSnips }, async (t) => {
  // Real utterances with a real label set: which slot types an utterance mentions (SNIPS).
  const toExample = (u: { tokens: string[]; tags: string[] }): TextExample => ({
    text: u.tokens.join(' '), label: [...new Set(u.tags.filter((x) => x !== 'O').map((x) => x.slice(2)))].sort(),
  });
  const train = strided(await readIntentSlotData(join(SNIPS, 'train')), 2500).map(toExample);
  const dev = strided(await readIntentSlotData(join(SNIPS, 'dev')), 250).map(toExample);
  // The eight most frequent slot types (a tiny model from scratch learns 39 sigmoids slowly).
  const counts = new Map<string, number>();
  for (const e of train) for (const l of e.label!) counts.set(l, (counts.get(l) ?? 0) + 1);
  const top = new Set([...counts].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([l]) => l));
  for (const e of [...train, ...dev]) e.label = (e.label as string[]).filter((l) => top.has(l));
  const task = new TextClassificationTask({ multiLabel: true, threshold: 0.3 });
  const labels = task.labelsOf([...train, ...dev]);
  assert.equal(labels.length, 8);
  const weights = inverseFrequencyWeights(train.map((e) => e.label), new LabelVocab(labels));
  const tokenizer = await uncasedTokenizer(64);
  const model = tinySequenceModel(tokenizer, labels, { problemType: 'multi_label_classification', config: { class_weights: weights } });
  const d = tmp('roots-ml-');
  try {
    const trainer = new Trainer({
      model, tokenizer, train, eval: dev, task,
      args: { outputDir: join(d.dir, 'run'), maxSteps: 200, batchSize: 32, learningRate: 3e-3, warmupRatio: 0.1, evalSteps: 100, loggingSteps: 20, progress: 'none' },
    });
    assert.equal(trainer.args.metricForBestModel, 'f1_micro');
    assert.equal(new Trainer({ model, tokenizer, train, task: 'text-classification' }).task.defaultMetric, 'f1_micro', "'text-classification' is multi-label when the model's problem_type is");
    await trainer.train();
    const [first, last] = firstLast(trainLosses(join(d.dir, 'run', LOG_FILE)));
    const ev = await trainer.evaluate();
    t.diagnostic(`multi-label (${labels.length} labels): train loss ${first.toFixed(3)} -> ${last.toFixed(3)}; dev ${JSON.stringify(ev.metrics)}`);
    assert.ok(last < first * 0.75, `loss ${first} -> ${last}`);
    assert.deepEqual(Object.keys(ev.metrics).sort(), ['exact_match', 'f1_macro', 'f1_micro', 'loss', 'precision_micro', 'recall_micro']);
    assert.ok(ev.metrics.f1_micro > 0.1, `micro F1 ${ev.metrics.f1_micro}`);
    assert.match(ev.report!, /micro avg[\s\S]*samples avg[\s\S]*exact match \(subset accuracy\)/);
    const predicted = (ev.details as TextClassificationDetails).predictions as string[][];

    const saved = join(d.dir, 'final');
    await trainer.saveModel(saved);
    const clf = await pipeline('text-classification', saved, { maxLength: 64, threshold: 0.3 });
    assert.equal(clf.multiLabel, true);
    const sets = await clf(dev.map((e) => e.text));
    assert.deepEqual(sets.map((s) => s.map((x) => x.label).sort()), predicted.map((p) => [...p].sort()), 'label sets out: the evaluation\'s predictions');
    assert.ok(sets.some((s) => s.length > 0) && sets.some((s) => s.length > 1), 'some utterances get two or more labels');
    for (const s of sets) for (let i = 0; i < s.length; i++) assert.ok(s[i].score >= 0.3 && (i === 0 || s[i - 1].score >= s[i].score));
    assert.ok((await clf(dev.map((e) => e.text), { threshold: 0.5 })).flat().length <= sets.flat().length, 'a higher threshold, fewer labels');
    const all = await clf(dev[0].text, { topK: null });
    assert.equal(all.length, labels.length);
    assert.ok(all.reduce((a, x) => a + x.score, 0) !== 1, 'independent sigmoid scores');
    assert.deepEqual(await clf(dev[0].text, { threshold: 0 }), all, 'threshold 0: every label');
    const reloaded = await BertForSequenceClassification.fromPretrained(saved, { log: null });
    assert.equal(reloaded.config.problem_type, 'multi_label_classification');
    const evReloaded = await evaluateTextClassification(reloaded, tokenizer, dev, { maxLength: 64, batchSize: 64, threshold: 0.3 });
    assert.deepEqual(evReloaded.details.predictions, predicted);
    assert.deepEqual(evReloaded.metrics, ev.metrics);
    reloaded.dispose();
    clf.dispose();
    model.dispose();
  } finally {
    d.cleanup();
  }
});

