// End to end on real data: a tiny BERT from a fresh start (bert-base-cased's vocabulary) trained on
// a CoNLL-2003 subset, evaluated, saved, reloaded, and used through the pipeline: the loss falls,
// and the saved model predicts exactly what the in-memory model predicts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readConll } from '../lib/data/readers.js';
import { LabelVocab } from '../lib/data/labels.js';
import { Tokenizer } from '../lib/tokenizer/index.js';
import { Trainer, LOG_FILE } from '../lib/trainer/trainer.js';
import { readJsonlLog, type TrainLogRecord } from '../lib/trainer/log.js';
import { convertSentences, evaluateNer } from '../lib/tasks/ner.js';
import { BertForTokenClassification } from '../lib/models/bert.js';
import { pipeline } from '../lib/pipelines/index.js';
import { requireSharedData, sharedData, tmp } from './helpers.js';

const conll = join(sharedData, 'ner', 'conll2003');
const vocabDir = join(sharedData, 'vocab', 'bert-base-cased');

test('CoNLL-2003 subset: train from scratch, evaluate, save, reload, predict', { skip: requireSharedData(join(conll, 'eng.train'), join(conll, 'eng.testa'), vocabDir) }, async (t) => {
  const dir = tmp('roots-e2e-');
  try {
    // IOB1 in the files; trained in IOB2 (same entities).
    const train = convertSentences((await readConll(join(conll, 'eng.train'))).slice(0, 800), 'IOB2');
    const dev = convertSentences((await readConll(join(conll, 'eng.testa'))).slice(0, 200), 'IOB2');
    const labels = [...LabelVocab.fromTags([...train, ...dev].map((s) => s.tags)).labels];
    assert.deepEqual(labels, ['O', 'B-LOC', 'I-LOC', 'B-MISC', 'I-MISC', 'B-ORG', 'I-ORG', 'B-PER', 'I-PER']);
    const tokenizer = await Tokenizer.fromPretrained(vocabDir, { doLowerCase: false, modelMaxLength: 128 });
    const model = BertForTokenClassification.fromConfig(
      { vocab_size: tokenizer.vocabSize, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 128, max_position_embeddings: 128 },
      { labels, seed: 1, log: null },
    );
    const out = join(dir.dir, 'run');
    const trainer = new Trainer({
      model, tokenizer, train, eval: dev, task: 'ner',
      args: { outputDir: out, maxSteps: 150, batchSize: 16, learningRate: 3e-3, warmupRatio: 0.1, weightDecay: 0.01, evalSteps: 75, loggingSteps: 10, progress: 'none' },
    });
    const result = await trainer.train();
    assert.equal(result.globalStep, 150);
    assert.equal(result.skippedSteps, 0);

    // The loss fell.
    const losses = readJsonlLog(join(out, LOG_FILE)).filter((r): r is TrainLogRecord => r.type === 'train').map((r) => r.loss!);
    t.diagnostic(`train loss ${losses[0].toFixed(3)} -> ${losses.at(-1)!.toFixed(3)}; dev F1 ${result.evaluation!.metrics.f1.toFixed(3)}; ${Math.round(result.tokensPerSecond)} tokens/s`);
    assert.ok(losses.at(-1)! < losses[0] * 0.6, `loss ${losses[0]} -> ${losses.at(-1)}`);
    const evals = readJsonlLog(join(out, LOG_FILE)).filter((r) => r.type === 'eval');
    assert.equal(evals.length, 2);

    // Evaluated: seqeval report over the four CoNLL types; a model this small already finds entities.
    const ev = await trainer.evaluate();
    assert.match(ev.report!, /LOC[\s\S]*MISC[\s\S]*ORG[\s\S]*PER[\s\S]*micro avg/);
    assert.ok(ev.metrics.f1 > 0.05, `dev F1 ${ev.metrics.f1}`);
    assert.ok(ev.metrics.loss < 1.0, `dev loss ${ev.metrics.loss}`);

    // Saved and reloaded: the same weights, the same scores, the same predictions.
    const saved = join(dir.dir, 'final');
    await trainer.saveModel(saved);
    const reloaded = await BertForTokenClassification.fromPretrained(saved, { log: null });
    assert.deepEqual(reloaded.loadReport.missingKeys, []);
    assert.deepEqual(reloaded.labels, labels);
    const evReloaded = await evaluateNer(reloaded, await Tokenizer.fromPretrained(saved), dev, { batchSize: 32, maxLength: 128 });
    assert.deepEqual(evReloaded.metrics, ev.metrics);

    const texts = [
      'EU rejects German call to boycott British lamb.',
      'Peter Blackburn met officials of the European Commission in Brussels on Thursday.',
      'Shares of Deutsche Bank rose 3 percent in Frankfurt after the news from Washington.',
      dev.slice(0, 30).map((s) => s.tokens.join(' ')).join(' '),   // several hundred tokens: windows
    ];
    const inMemory = await pipeline('ner', { model, tokenizer }, { aggregation: 'first', maxLength: 128 });
    const fromDisk = await pipeline('ner', saved, { aggregation: 'first', maxLength: 128 });
    const a = await inMemory(texts);
    const b = await fromDisk(texts);
    assert.deepEqual(b, a, 'the saved model predicts exactly what the in-memory model predicts');
    assert.ok(a.flat().length > 5, `${a.flat().length} entities`);
    for (const [k, ents] of a.entries()) for (const e of ents) assert.ok(e.start < e.end && e.end <= texts[k].length);
    t.diagnostic(JSON.stringify(a[1]));
    for (const strategy of ['none', 'simple', 'average', 'max'] as const) {
      assert.deepEqual(await fromDisk(texts, { aggregation: strategy }), await inMemory(texts, { aggregation: strategy }), strategy);
    }
    inMemory.dispose();
    fromDisk.dispose();
    reloaded.dispose();
    model.dispose();
  } finally {
    dir.cleanup();
  }
});
