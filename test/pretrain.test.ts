// Masked-LM pretraining through the Trainer (`task: 'mlm'`): a short run lowers the held-out loss;
// a run stopped mid-epoch and resumed ends with exactly the weights of an uninterrupted run; the
// evaluation (masked rows only, natively) agrees with a computation from the full logits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateCorpus } from '../lib/demo/corpus.js';
import { corpusBatches, type MlmBatches } from '../lib/data/mlm.js';
import type { TokenCache } from '../lib/data/corpus-cache.js';
import { BertForMaskedLM } from '../lib/models/bert.js';
import { evaluateMlm, mlmMetrics } from '../lib/tasks/mlm.js';
import { trainWordPiece } from '../lib/tokenizer/wordpiece-trainer.js';
import type { Tokenizer } from '../lib/tokenizer/index.js';
import { Trainer } from '../lib/trainer/trainer.js';
import type { TrainingArgs } from '../lib/trainer/args.js';
import { listCheckpoints } from '../lib/trainer/checkpoint.js';
import { maxRelError, readSafetensorsF32, requireTorchPython, runPython, tmp, writeSafetensors } from './helpers.js';

const dir = tmp('roots-pretrain-');
process.on('exit', () => dir.cleanup());

/** A generated text corpus (the demo's templated sentences), a vocabulary trained on it. */
async function fixture(): Promise<{ trainFile: string; smallFile: string; evalFile: string; tokenizer: Tokenizer }> {
  const c = generateCorpus({ train: 600, dev: 80, seed: 3 });
  const text = (s: { tokens: string[] }[]) => s.map((x) => x.tokens.join(' ')).join('\n') + '\n';
  const trainFile = join(dir.dir, 'train.txt');
  const evalFile = join(dir.dir, 'heldout.txt');
  const smallFile = join(dir.dir, 'small.txt');
  writeFileSync(trainFile, text(c.train));
  writeFileSync(smallFile, text(c.train.slice(0, 40)));
  writeFileSync(evalFile, text(c.dev));
  const { tokenizer } = await trainWordPiece(trainFile, { vocabSize: 300, minFrequency: 2 });
  return { trainFile, smallFile, evalFile, tokenizer };
}

const f = await fixture();
const config = { vocab_size: f.tokenizer.vocabSize, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 64 };

async function data(seqLen = 32, batchSize = 8, trainFile = f.trainFile): Promise<{ train: MlmBatches; held: MlmBatches; caches: TokenCache[] }> {
  const cacheDir = join(dir.dir, 'cache');
  const t = await corpusBatches(trainFile, f.tokenizer, { cacheDir, batchSize, seqLen, seed: 5 });
  const e = await corpusBatches(f.evalFile, f.tokenizer, { cacheDir, batchSize: 16, seqLen, seed: 5, shuffle: false, keepLastBlock: true });
  return { train: t.batches, held: e.batches, caches: [t.cache, e.cache] };
}

test('a short pretraining run lowers the held-out MLM loss; perplexity is exp(loss)', async () => {
  const { train, held, caches } = await data();
  const model = BertForMaskedLM.fromConfig(config, { seed: 1 });
  try {
    const trainer = new Trainer({
      model, tokenizer: f.tokenizer, task: 'mlm', train, eval: held,
      args: { maxSteps: 60, learningRate: 5e-3, warmupSteps: 6, evalSteps: 30, batchSize: 8, seed: 5, progress: 'none' },
    });
    const before = await trainer.evaluate();
    assert.ok(before.metrics.loss > Math.log(config.vocab_size) - 1, `an untrained model is near uniform (loss ${before.metrics.loss})`);
    const r = await trainer.train();
    assert.equal(r.globalStep, 60);
    assert.equal(trainer.args.metricForBestModel, 'loss');
    assert.equal(trainer.args.greaterIsBetter, false);
    const after = r.evaluation!.metrics;
    assert.ok(after.loss < before.metrics.loss - 0.5, `held-out loss ${before.metrics.loss} -> ${after.loss}`);
    assert.ok(after.accuracy > before.metrics.accuracy, `masked-token accuracy ${before.metrics.accuracy} -> ${after.accuracy}`);
    assert.equal(after.perplexity, Math.exp(after.loss));
    // The same masks at every evaluation: evaluating twice gives the same numbers.
    assert.deepEqual((await trainer.evaluate()).metrics, (await trainer.evaluate()).metrics);
  } finally {
    model.dispose();
    for (const c of caches) await c.close();
  }
});

test('masked-LM evaluation on the masked rows equals loss and accuracy computed from the full logits', async () => {
  const { held, caches } = await data();
  const model = BertForMaskedLM.fromConfig(config, { seed: 2 });
  try {
    const totals = await evaluateMlm(model, held);
    // Independently: the forward without labels (logits at every position), cross-entropy and
    // argmax in float64 at the labelled positions.
    let lossSum = 0, masked = 0, correct = 0;
    const V = config.vocab_size;
    for (let i = 0; i < held.length; i++) {
      const b = await held.batch(0, i);
      const { labels, ...unlabelled } = b;
      const out = await model.forward(unlabelled);
      assert.deepEqual(out.dims, [b.batchSize, b.seqLen, V]);
      for (let p = 0; p < labels.length; p++) {
        if (labels[p] === -100) continue;
        const row = out.logits.subarray(p * V, (p + 1) * V);
        let max = -Infinity, arg = 0;
        for (let j = 0; j < V; j++) if (row[j] > max) { max = row[j]; arg = j; }
        let z = 0;
        for (let j = 0; j < V; j++) z += Math.exp(row[j] - max);
        lossSum += Math.log(z) + max - row[labels[p]];
        masked++;
        if (arg === labels[p]) correct++;
      }
    }
    assert.equal(totals.masked, masked);
    assert.ok(masked > 100);
    assert.equal(totals.correct, correct);
    assert.ok(Math.abs(totals.lossSum / totals.masked - lossSum / masked) < 1e-5, `${totals.lossSum / totals.masked} vs ${lossSum / masked}`);
    const m = mlmMetrics(totals);
    assert.equal(m.perplexity, Math.exp(m.loss));
    assert.equal(m.accuracy, correct / masked);
  } finally {
    model.dispose();
    for (const c of caches) await c.close();
  }
});

test('pretraining stopped mid-epoch and resumed ends with exactly the weights of an uninterrupted run', async () => {
  const args = (outputDir: string): TrainingArgs => ({
    outputDir, maxSteps: 14, batchSize: 8, gradientAccumulationSteps: 1, learningRate: 2e-3, warmupSteps: 2, weightDecay: 0.01,
    evalSteps: 5, saveSteps: 5, loadBestModelAtEnd: false, seed: 5, progress: 'none',
  });
  const snapshot = (m: BertForMaskedLM) => new Map(m.parameters().map((p) => [p.name, m.getParameter(p.name)]));
  const run = async (out: string, seed: number, o: { stopAt?: number; resume?: boolean } = {}) => {
    const { train, held, caches } = await data(24, 8, f.smallFile);
    const model = BertForMaskedLM.fromConfig(config, { seed });
    try {
      const trainer: Trainer = new Trainer({
        model, tokenizer: f.tokenizer, task: 'mlm', train, eval: held, args: args(out),
        callbacks: { onStep: ({ step }) => { if (step === o.stopAt) trainer.stop(); } },
      });
      const r = await trainer.train({ resumeFromCheckpoint: o.resume });
      return { r, weights: snapshot(model), perEpoch: train.length };
    } finally {
      model.dispose();
      for (const c of caches) await c.close();
    }
  };
  const full = await run(join(dir.dir, 'a'), 1);
  assert.ok(full.perEpoch < 9 && 9 % full.perEpoch !== 0, `the stop at step 9 is mid-epoch, after an epoch boundary (${full.perEpoch} batches per epoch)`);
  const stopped = await run(join(dir.dir, 'b'), 1, { stopAt: 9 });
  assert.equal(stopped.r.stopReason, 'stopped');
  assert.deepEqual((await listCheckpoints(join(dir.dir, 'b'))).map((c) => c.step), [5, 9]);
  const resumed = await run(join(dir.dir, 'b'), 999, { resume: true });  // another init: all must come from the checkpoint
  assert.equal(resumed.r.globalStep, 14);
  const differing = [...full.weights].filter(([k, v]) => v.some((x, i) => !Object.is(x, resumed.weights.get(k)![i]))).map(([k]) => k);
  assert.deepEqual(differing, [], 'every parameter equal to the last bit');
  assert.deepEqual(resumed.r.evaluation!.metrics, full.r.evaluation!.metrics);
});

test("the 'mlm' task needs a masked-LM and batch sources", async () => {
  const { train, held, caches } = await data();
  try {
    const model = BertForMaskedLM.fromConfig(config, { seed: 1 });
    assert.throws(() => new Trainer({ model, tokenizer: f.tokenizer, task: 'mlm', train: [{ tokens: ['a'] }] }), /trains from a batch source \(MlmBatches/);
    assert.throws(() => new Trainer({ model, tokenizer: f.tokenizer, task: 'mlm', train, eval: [1, 2] }), /evaluates a batch source/);
    model.dispose();
    const { BertForTokenClassification } = await import('../lib/models/bert.js');
    const tagger = BertForTokenClassification.fromConfig(config, { labels: ['O', 'B-X'] });
    assert.throws(() => new Trainer({ model: tagger, tokenizer: f.tokenizer, task: 'mlm', train, eval: held }), /needs a BertForMaskedLM model, not a token head/);
    tagger.dispose();
  } finally {
    for (const c of caches) await c.close();
  }
});

test('the MLM loss of packed, masked batches (15% labelled) equals the PyTorch reference, in eval and over training steps', { skip: requireTorchPython() }, async () => {
  const { train, caches } = await data(24, 4);
  const cfg = { ...config, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, initializer_range: 0.2 };
  const model = BertForMaskedLM.fromConfig(cfg, { seed: 4 });
  const t = tmp('roots-mlm-parity-');
  try {
    const batches = [await train.batch(0, 0), await train.batch(0, 1)];
    const labelled = batches[0].labels.filter((l) => l !== -100).length;
    assert.ok(labelled > 0 && labelled < 0.3 * batches[0].labels.length, `a real MLM batch: ${labelled} of ${batches[0].labels.length} positions labelled`);
    await model.save(t.dir);
    renameSync(join(t.dir, 'model.safetensors'), join(t.dir, 'weights.safetensors'));
    const tensors: Record<string, { data: Int32Array; shape: number[] }> = {};
    batches.forEach((b, i) => {
      const shape = [b.batchSize, b.seqLen];
      tensors[`b${i}.input_ids`] = { data: b.inputIds, shape };
      tensors[`b${i}.attention_mask`] = { data: b.attentionMask, shape };
      tensors[`b${i}.token_type_ids`] = { data: b.tokenTypeIds, shape };
      tensors[`b${i}.labels`] = { data: b.labels, shape };
    });
    writeSafetensors(join(t.dir, 'batches.safetensors'), tensors);
    writeFileSync(join(t.dir, 'case.json'), JSON.stringify({ config: { ...model.config, head: 'mlm' }, steps: [[0], [1], [0, 1]], lr: 1e-3, weight_decay: 0.01, max_grad_norm: 1 }));
    runPython('parity_reference.py', [t.dir]);
    const ref = readSafetensorsF32(join(t.dir, 'reference.safetensors'));
    const near = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-5 * Math.abs(b), `${what}: ${a} vs PyTorch ${b}`);

    const fwd = await model.forward(batches[0]);
    near(fwd.loss!, ref.get('forward.loss')!.data[0], 'eval loss');
    const V = cfg.vocab_size;
    const full = ref.get('forward.logits')!.data;
    const rows = [...batches[0].labels.keys()].filter((i) => batches[0].labels[i] !== -100);
    const picked = new Float32Array(rows.length * V);
    rows.forEach((i, r) => { picked.set(full.subarray(i * V, (i + 1) * V), r * V); });
    assert.ok(maxRelError(fwd.logits, picked) <= 1e-5, 'logits at the masked positions');
    for (const [s, micro] of [[0], [1], [0, 1]].entries()) {
      const r = await model.trainStep(micro.map((i) => batches[i]), { learningRate: 1e-3, weightDecay: 0.01, maxGradNorm: 1 });
      near(r.loss, ref.get(`step${s}.loss`)!.data[0], `step ${s} loss`);
      assert.ok(Math.abs(r.gradNorm - ref.get(`step${s}.grad_norm`)!.data[0]) <= 1e-4 * ref.get(`step${s}.grad_norm`)!.data[0], `step ${s} gradient norm`);
    }
    const emb = 'bert.embeddings.word_embeddings.weight';
    assert.ok(maxRelError(model.getParameter(emb), ref.get(`final.${emb}`)!.data) <= 1e-4, 'tied embeddings/decoder after 3 AdamW steps');
  } finally {
    model.dispose();
    t.cleanup();
    for (const c of caches) await c.close();
  }
});

test('a masked-LM with an untied decoder (tie_word_embeddings: false) is a clear error', () => {
  assert.throws(() => BertForMaskedLM.fromConfig({ ...config, tie_word_embeddings: false } as typeof config), /tie_word_embeddings: false .*supports only tied models/);
});
