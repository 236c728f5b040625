// Learning-rate schedules (values at known steps, as Hugging Face's get_scheduler computes them),
// the rates the Trainer actually passes to each step, and training-argument validation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { learningRateAt, resolveWarmupSteps, scheduleFactor, type Schedule } from '../lib/trainer/schedule.js';
import { resolveArgs } from '../lib/trainer/args.js';
import { Trainer } from '../lib/trainer/trainer.js';
import { NerTask } from '../lib/tasks/ner.js';
import { RootsError } from '../lib/errors.js';
import { corpusFixture, tinyModel } from './ner-fixtures.js';

const close = (a: number, b: number, msg?: string) => assert.ok(Math.abs(a - b) < 1e-12, `${msg ?? ''} ${a} vs ${b}`);

test('linear warmup then linear decay (get_linear_schedule_with_warmup)', () => {
  const s: Schedule = { name: 'linear', learningRate: 1e-3, warmupSteps: 10, totalSteps: 110 };
  close(learningRateAt(s, 0), 0, 'first step runs at 0, as in HF');
  close(learningRateAt(s, 5), 5e-4);
  close(learningRateAt(s, 10), 1e-3);
  close(learningRateAt(s, 60), 5e-4);
  close(learningRateAt(s, 109), 1e-5);
  close(learningRateAt(s, 110), 0);
  close(learningRateAt(s, 500), 0, 'never negative');
  close(scheduleFactor('linear', 3, 0, 12), 0.75, 'no warmup');
});

test('cosine decay after warmup (get_cosine_schedule_with_warmup, half a wave)', () => {
  const s: Schedule = { name: 'cosine', learningRate: 2, warmupSteps: 10, totalSteps: 110 };
  close(learningRateAt(s, 4), 0.8);
  close(learningRateAt(s, 10), 2);
  close(learningRateAt(s, 35), 1 + Math.cos(Math.PI / 4));
  close(learningRateAt(s, 60), 1);
  close(learningRateAt(s, 110), 0);
});

test('constant and constant with warmup', () => {
  for (const step of [0, 7, 1000]) close(scheduleFactor('constant', step, 10, 100), 1);
  close(scheduleFactor('constant_with_warmup', 0, 4, 100), 0);
  close(scheduleFactor('constant_with_warmup', 2, 4, 100), 0.5);
  close(scheduleFactor('constant_with_warmup', 4, 4, 100), 1);
  close(scheduleFactor('constant_with_warmup', 99, 4, 100), 1);
  assert.throws(() => scheduleFactor('exponential' as never, 1, 0, 10), (e: unknown) => e instanceof RootsError && /Unknown learning-rate schedule "exponential"/.test(e.message));
});

test('warmup steps: an explicit count wins, else ceil(ratio x total)', () => {
  assert.equal(resolveWarmupSteps(250, { warmupRatio: 0.06 }), 15);
  assert.equal(resolveWarmupSteps(101, { warmupRatio: 0.1 }), 11);
  assert.equal(resolveWarmupSteps(100, { warmupRatio: 0.1, warmupSteps: 3 }), 3);
  assert.equal(resolveWarmupSteps(100, {}), 0);
});

test('the Trainer passes the scheduled rate of every optimizer step to the native step', async () => {
  const f = corpusFixture({ train: 48, dev: 8, test: 8 });
  const model = tinyModel(f);
  const seen: { step: number; lr: number }[] = [];
  const trainer = new Trainer({
    model, tokenizer: f.tokenizer, train: f.train, task: 'ner',
    args: { maxSteps: 7, batchSize: 8, learningRate: 1e-3, warmupSteps: 2, lrScheduler: 'cosine', progress: 'none' },
    callbacks: { onStep: ({ step, learningRate }) => { seen.push({ step, lr: learningRate }); } },
  });
  const r = await trainer.train();
  assert.equal(r.globalStep, 7);
  const s: Schedule = { name: 'cosine', learningRate: 1e-3, warmupSteps: 2, totalSteps: 7 };
  assert.deepEqual(seen.map((x) => x.step), [1, 2, 3, 4, 5, 6, 7]);
  for (const [k, x] of seen.entries()) close(x.lr, learningRateAt(s, k), `step ${x.step}`);
  model.dispose();
});

test('training arguments are checked with messages that name them', () => {
  const task = new NerTask();
  const err = (re: RegExp) => (e: unknown) => e instanceof RootsError && re.test(e.message);
  assert.throws(() => resolveArgs({ batchSize: 0 }, false, task), err(/Expected a positive integer for args\.batchSize but received 0/));
  assert.throws(() => resolveArgs({ learningRate: -1 }, false, task), err(/args\.learningRate/));
  assert.throws(() => resolveArgs({ lrScheduler: 'step' as never }, false, task), err(/one of 'linear', 'cosine'/));
  assert.throws(() => resolveArgs({ evalStrategy: 'steps' }, false, task), err(/no eval set/));
  assert.throws(() => resolveArgs({ evalStrategy: 'steps' }, true, task), err(/needs args\.evalSteps/));
  assert.throws(() => resolveArgs({ earlyStopping: { patience: 2 } }, false, task), err(/needs evaluations/));
  assert.throws(() => resolveArgs({ saveStrategy: 'steps', saveSteps: 5 }, false, task), err(/no args\.outputDir/));
  assert.throws(() => resolveArgs({ outputDir: 'x', evalSteps: 10, saveSteps: 15, loadBestModelAtEnd: true }, true, task), err(/saveSteps \(15\) must be a multiple of evalSteps \(10\)/));
  assert.throws(() => resolveArgs({ lr: 1 } as never, false, task), err(/Unknown training argument "lr"/));
  assert.throws(() => resolveArgs({ batchsize: 3 } as never, false, task), err(/did you mean batchSize/));
  const a = resolveArgs({ outputDir: 'o', evalSteps: 10, earlyStopping: { patience: 3, metric: 'loss' } }, true, task);
  assert.equal(a.evalStrategy, 'steps');
  assert.equal(a.saveStrategy, 'steps');
  assert.equal(a.saveSteps, 10);
  assert.equal(a.metricForBestModel, 'loss');
  assert.equal(a.greaterIsBetter, false);
  assert.equal(a.loadBestModelAtEnd, true);
  const b = resolveArgs({}, false, task);
  assert.equal(b.evalStrategy, 'no');
  assert.equal(b.saveStrategy, 'no');
  assert.equal(b.loadBestModelAtEnd, false);
  assert.equal(b.metricForBestModel, 'f1');
  assert.equal(b.greaterIsBetter, true);
});
