// The training loop: an interrupted and resumed run ends with exactly the weights of an
// uninterrupted one; early stopping with the best checkpoint restored; non-finite losses skipped,
// counted, and fatal after N in a row with the last good checkpoint intact; logs and report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Trainer, LOG_FILE, REPORT_FILE } from '../lib/trainer/trainer.js';
import { listCheckpoints } from '../lib/trainer/checkpoint.js';
import { readJsonlLog, type TrainLogRecord } from '../lib/trainer/log.js';
import type { TrainingArgs } from '../lib/trainer/args.js';
import { NerTask, evaluateNer } from '../lib/tasks/ner.js';
import type { Evaluation, FeatureOutputs, TaskContext } from '../lib/tasks/task.js';
import type { TokenFeature } from '../lib/data/align.js';
import type { TaggedSentence } from '../lib/data/readers.js';
import { RootsError } from '../lib/errors.js';
import { readSafetensorsF32, tmp } from './helpers.js';
import { corpusFixture, differing, snapshot, tinyModel } from './ner-fixtures.js';

const f = corpusFixture({ train: 64, dev: 16, test: 8 });

test('a run stopped after a checkpoint and resumed ends with exactly the weights of an uninterrupted run', async () => {
  const dir = tmp();
  try {
    // fp32 on CPU, dropout on (its masks are seeded per step), gradient accumulation across a
    // mid-epoch checkpoint: 64 sentences / batch 8 / accumulation 2 = 4 steps per epoch.
    const args = (outputDir: string): TrainingArgs => ({
      outputDir, maxSteps: 12, batchSize: 8, gradientAccumulationSteps: 2, learningRate: 2e-3, warmupSteps: 3, weightDecay: 0.01,
      evalSteps: 3, loadBestModelAtEnd: false, loggingSteps: 1, seed: 11, progress: 'none',
    });
    const full = tinyModel(f, 5);
    assert.equal(full.precision, 'fp32');
    await new Trainer({ model: full, tokenizer: f.tokenizer, train: f.train, eval: f.dev, args: args(join(dir.dir, 'a')) }).train();
    const expected = snapshot(full);
    full.dispose();

    // The same run, crashing right after checkpoint-6 is written (mid-epoch 2).
    const first = tinyModel(f, 5);
    const crash = new Trainer({
      model: first, tokenizer: f.tokenizer, train: f.train, eval: f.dev, args: args(join(dir.dir, 'b')),
      callbacks: { onSave: ({ step }) => { if (step === 6) throw new Error('simulated crash'); } },
    });
    await assert.rejects(crash.train(), /simulated crash/);
    first.dispose();
    assert.deepEqual((await listCheckpoints(join(dir.dir, 'b'))).map((c) => c.step), [3, 6]);

    // A new process would start from a differently initialised model: everything must come from the checkpoint.
    const second = tinyModel(f, 999);
    const resumed = new Trainer({ model: second, tokenizer: f.tokenizer, train: f.train, eval: f.dev, args: args(join(dir.dir, 'b')) });
    const r = await resumed.train({ resumeFromCheckpoint: true });
    assert.equal(r.globalStep, 12);
    assert.deepEqual(differing(snapshot(second), expected), [], 'every parameter equal to the last bit');
    assert.equal(second.optimizerStep, 12);
    second.dispose();

    // The logs agree too: the resumed log repeats nothing and has the same losses.
    const losses = (d: string) => readJsonlLog(join(dir.dir, d, LOG_FILE)).filter((x): x is TrainLogRecord => x.type === 'train').map((x) => [x.step, x.loss, x.learningRate]);
    assert.deepEqual(losses('b'), losses('a'));
    const evals = (d: string) => readJsonlLog(join(dir.dir, d, LOG_FILE)).filter((x) => x.type === 'eval').map((x) => [x.step, (x as { metrics: object }).metrics]);
    assert.deepEqual(evals('b'), evals('a'));
  } finally {
    dir.cleanup();
  }
});

/** NER with scripted evaluation metrics (to drive early stopping deterministically). */
class ScriptedTask extends NerTask {
  readonly values: number[];
  calls = 0;
  constructor(values: number[]) { super(); this.values = values; }
  override score(examples: readonly TaggedSentence[], features: readonly TokenFeature[], outputs: FeatureOutputs, ctx: TaskContext): Evaluation {
    const ev = super.score(examples, features, outputs, ctx);
    return { ...ev, metrics: { ...ev.metrics, f1: this.values[this.calls++] } };
  }
}

test('early stopping: stops after `patience` evaluations without improvement and restores the best checkpoint', async () => {
  const dir = tmp();
  try {
    const model = tinyModel(f, 2);
    const task = new ScriptedTask([0.5, 0.6, 0.55, 0.58, 0.9]);
    const saved = new Map<number, Float32Array>();
    const trainer = new Trainer({
      model, tokenizer: f.tokenizer, train: f.train, eval: f.dev, task,
      args: { outputDir: dir.dir, maxSteps: 20, batchSize: 8, learningRate: 5e-3, evalSteps: 2, saveTotalLimit: 1, earlyStopping: { patience: 2, metric: 'f1' }, progress: 'none' },
      callbacks: { onSave: ({ step }) => { saved.set(step, model.getParameter('classifier.weight')); } },
    });
    const r = await trainer.train();
    assert.equal(r.stopReason, 'early-stopping');
    assert.equal(r.globalStep, 8, 'evaluations at 2, 4 (best), 6, 8: two without improvement');
    assert.equal(task.calls, 4);
    assert.equal(r.bestStep, 4);
    assert.equal(r.bestMetric, 0.6);
    assert.equal(r.bestCheckpoint, join(dir.dir, 'checkpoint-4'));
    // saveTotalLimit 1 keeps the best and the newest, nothing else.
    assert.deepEqual((await listCheckpoints(dir.dir)).map((c) => c.step), [4, 8]);
    // The best weights are back in the model, and equal those saved at step 4.
    assert.deepEqual(Array.from(model.getParameter('classifier.weight')), Array.from(saved.get(4)!));
    const onDisk = readSafetensorsF32(join(dir.dir, 'checkpoint-4', 'model.safetensors')).get('classifier.weight')!.data;
    assert.deepEqual(Array.from(model.getParameter('classifier.weight')), Array.from(onDisk));
    assert.equal(r.evaluation?.metrics.f1, 0.6);
    model.dispose();
  } finally {
    dir.cleanup();
  }
});

test('non-finite losses: steps are skipped and counted; N in a row stop the run with ERR_TRAINING and the last good checkpoint intact', async (t) => {
  await t.test('a few bad steps are skipped and training goes on', async () => {
    const model = tinyModel(f, 3);
    const good = model.getParameter('classifier.weight');
    const trainer = new Trainer({
      model, tokenizer: f.tokenizer, train: f.train, args: { maxSteps: 8, batchSize: 8, learningRate: 1e-3, progress: 'none' },
      callbacks: {
        onStep: ({ step }) => {
          if (step === 2) model.setParameter('classifier.weight', new Float32Array(good.length).fill(NaN));
          if (step === 4) model.setParameter('classifier.weight', good);
        },
      },
    });
    const r = await trainer.train();
    assert.equal(r.globalStep, 8);
    assert.equal(r.skippedSteps, 2, 'steps 3 and 4 saw NaN weights');
    assert.equal(model.optimizerStep, 6);
    assert.ok(Number.isFinite(r.trainLoss!));
    model.dispose();
  });

  await t.test('five in a row end the run', async () => {
    const dir = tmp();
    try {
      const model = tinyModel(f, 3);
      const trainer = new Trainer({
        model, tokenizer: f.tokenizer, train: f.train, eval: f.dev,
        args: { outputDir: dir.dir, maxSteps: 40, batchSize: 8, learningRate: 1e-3, evalSteps: 2, loadBestModelAtEnd: false, progress: 'none' },
        callbacks: {
          onSave: ({ step }) => {
            if (step === 4) model.setParameter('bert.encoder.layer.0.output.dense.weight', new Float32Array(32 * 64).fill(NaN));
          },
        },
      });
      await assert.rejects(trainer.train(), (e: unknown) => {
        assert.ok(e instanceof RootsError && e.code === 'ERR_TRAINING', String(e));
        assert.match(e.message, /not finite \(NaN\/Infinity\) at 5 steps in a row \(steps 5-9\)/);
        assert.match(e.message, /checkpoint-4 \(step 4\)/);
        return true;
      });
      // No checkpoint was written after the NaN: checkpoint-4 is the newest, complete, and finite.
      const cks = await listCheckpoints(dir.dir);
      assert.deepEqual(cks.map((c) => c.step), [2, 4]);
      const w = readSafetensorsF32(join(dir.dir, 'checkpoint-4', 'model.safetensors'));
      for (const [name, { data }] of w) assert.ok(data.every(Number.isFinite), `${name} is finite`);
      const log = readJsonlLog(join(dir.dir, LOG_FILE));
      assert.equal(log.filter((r) => r.type === 'nonfinite').length, 5);
      assert.equal(log.at(-1)?.type, 'error');
      model.dispose();
    } finally {
      dir.cleanup();
    }
  });
});

test('logs, callbacks, checkpoints and the report of a run', async () => {
  const dir = tmp();
  try {
    const model = tinyModel(f, 4);
    const seen = { log: 0, eval: 0, save: [] as number[] };
    const trainer = new Trainer({
      model, tokenizer: f.tokenizer, train: f.train, eval: f.dev, task: 'ner',
      args: { outputDir: dir.dir, epochs: 2, batchSize: 16, learningRate: 3e-3, warmupRatio: 0.25, loggingSteps: 2, saveTotalLimit: 2, progress: 'none' },
      callbacks: {
        onLog: (r) => { seen.log++; assert.equal(r.type, 'train'); },
        onEvaluate: (r, ev) => { seen.eval++; assert.equal(typeof ev.metrics.f1, 'number'); assert.ok(ev.report?.includes('micro avg')); },
        onSave: ({ step, path }) => {
          seen.save.push(step);
          for (const file of ['config.json', 'model.safetensors', 'optimizer.safetensors', 'trainer_state.json', 'tokenizer.json', 'vocab.txt']) {
            assert.ok(existsSync(join(path, file)), `${file} in ${path}`);
          }
        },
      },
    });
    const untrained = (await evaluateNer(model, f.tokenizer, f.test)).metrics;
    const r = await trainer.train();
    assert.equal(r.globalStep, 8, '64 sentences / 16 = 4 steps per epoch');
    assert.equal(r.stopReason, 'completed');
    assert.equal(seen.eval, 2, 'evaluation every epoch by default');
    assert.deepEqual(seen.save, [4, 8]);
    assert.equal(seen.log, 4);
    assert.ok(r.tokens > 0 && r.tokensPerSecond > 0);
    const log = readJsonlLog(join(dir.dir, LOG_FILE));
    assert.deepEqual(log.map((x) => x.type), ['train', 'train', 'eval', 'save', 'train', 'train', 'eval', 'save', 'end']);
    const first = log[0] as TrainLogRecord;
    assert.equal(first.step, 2);
    assert.ok(Number.isFinite(first.loss!) && first.learningRate > 0 && first.tokensPerSecond > 0);
    const test = await trainer.evaluate(f.test, { name: 'test' });
    // It learned, against the same model before training. 8 steps find no entities yet (F1 stays near 0:
    // measured 0.03 before, 0 after), but the tags' loss and accuracy move (1.97 -> 1.67, 0.08 -> 0.74).
    assert.ok(test.metrics.loss < untrained.loss - 0.15, `test loss ${test.metrics.loss} fell from ${untrained.loss}`);
    assert.ok(test.metrics.accuracy > untrained.accuracy + 0.3, `test token accuracy ${test.metrics.accuracy} rose from ${untrained.accuracy}`);
    await trainer.writeReport();
    const html = readFileSync(join(dir.dir, REPORT_FILE), 'utf8');
    assert.ok(html.startsWith('<!doctype html>'));
    assert.equal((html.match(/<svg /g) ?? []).length, 4, 'loss, metrics, learning rate, throughput');
    assert.match(html, /<polyline[^>]+points="[\d.,\s-]+"/);
    assert.match(html, /<h2>test<\/h2>/);
    assert.match(html, /micro avg/);
    // A fresh run into a folder with checkpoints refuses, unless told to start over.
    const again = new Trainer({ model, tokenizer: f.tokenizer, train: f.train, args: { outputDir: dir.dir, maxSteps: 1, progress: 'none' } });
    await assert.rejects(again.train(), (e: unknown) => e instanceof RootsError && /already holds checkpoints \(checkpoint-4, checkpoint-8\)/.test(e.message));
    const over = new Trainer({ model, tokenizer: f.tokenizer, train: f.train, args: { outputDir: dir.dir, maxSteps: 1, progress: 'none', overwriteOutputDir: true, saveStrategy: 'no' } });
    await over.train();
    assert.deepEqual(readdirSync(dir.dir).filter((n) => n.startsWith('checkpoint')), []);
    model.dispose();
  } finally {
    dir.cleanup();
  }
});

test('freezing: args.freeze is applied before training', async () => {
  const model = tinyModel(f, 6);
  const emb = model.getParameter('bert.embeddings.word_embeddings.weight');
  const enc = model.getParameter('bert.encoder.layer.1.output.dense.weight');
  await new Trainer({ model, tokenizer: f.tokenizer, train: f.train, args: { maxSteps: 3, batchSize: 8, learningRate: 1e-2, freeze: 'embeddings', progress: 'none' } }).train();
  assert.deepEqual(Array.from(model.getParameter('bert.embeddings.word_embeddings.weight')), Array.from(emb));
  assert.notDeepEqual(Array.from(model.getParameter('bert.encoder.layer.1.output.dense.weight')), Array.from(enc));
  assert.equal(model.parameters().find((p) => p.name === 'bert.embeddings.LayerNorm.weight')!.trainable, false);
  model.dispose();
});

test('bad Trainer input is a clear error', () => {
  const model = tinyModel(f, 1);
  const err = (re: RegExp) => (e: unknown) => e instanceof RootsError && re.test(e.message);
  assert.throws(() => new Trainer({ model, tokenizer: f.tokenizer, train: [] }), err(/non-empty array of training examples/));
  assert.throws(() => new Trainer({ model, tokenizer: f.tokenizer, train: f.train, task: 'pos' as never }), err(/Unknown task "pos"/));
  assert.throws(() => new Trainer({ model, tokenizer: f.tokenizer, train: f.train, labels: ['O', 'B-X'] }), err(/differ from the model's labels/));
  assert.throws(() => new Trainer({ model, tokenizer: f.tokenizer, train: f.train, args: { maxLength: 100 } }), err(/exceeds the model's max_position_embeddings \(64\)/));
  const unknownTag = [{ tokens: ['Foo', 'bar'], tags: ['B-XYZ', 'O'] }];
  const t = new Trainer({ model, tokenizer: f.tokenizer, train: unknownTag, args: { progress: 'none' } });
  assert.throws(() => t.trainFeatures, err(/tag "B-XYZ" is not in the label vocabulary/));
  model.dispose();
});
