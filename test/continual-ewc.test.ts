// EWC, L2-SP and LwF in the engine against an independent PyTorch reference
// (scripts/continual_reference.py, Debian's python3-torch): the diagonal Fisher from squared batch
// gradients, and one step's loss and every gradient with all three terms on (the penalties' gradients
// added to the flat buffers natively, the reference through autograd). Also online EWC's
// accumulation and continual.safetensors (round trip, and a file of another model refused).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Batch } from '../lib/batch.js';
import { BertForSequenceClassification, BertForTokenClassification, type BertPreTrainedModel } from '../lib/models/bert.js';
import { accumulateFisher, consolidate, loadContinualState, saveContinualState } from '../lib/continual/index.js';
import { maxAbsDiff, maxRelError, readSafetensorsF32, requireTorchPython, rng, runPython, tmp, writeSafetensors } from './helpers.js';

const base = {
  vocab_size: 50, hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 32,
  max_position_embeddings: 16, type_vocab_size: 2, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, initializer_range: 0.2,
};
const labels = ['O', 'B-PER', 'I-PER', 'B-ORG', 'I-ORG'];
const OLD = 3;

function makeBatch(r: () => number, B: number, T: number, token: boolean): Batch {
  const ids = new Int32Array(B * T), mask = new Int32Array(B * T), tt = new Int32Array(B * T), tok = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    const len = b === 0 ? T : Math.max(3, Math.floor(T * (0.4 + 0.5 * r())));
    for (let t = 0; t < T; t++) {
      const i = b * T + t;
      ids[i] = t < len ? 1 + Math.floor(r() * (base.vocab_size - 1)) : 0;
      mask[i] = t < len ? 1 : 0;
      tok[i] = t >= len || t === 0 || r() < 0.2 ? -100 : Math.floor(r() * labels.length);
    }
  }
  const labelsArr = token ? tok : Int32Array.from({ length: B }, () => Math.floor(r() * labels.length));
  return { batchSize: B, seqLen: T, inputIds: ids, attentionMask: mask, tokenTypeIds: tt, labels: labelsArr };
}

function perturb(m: BertPreTrainedModel, r: () => number, scale: number): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const p of m.parameters()) {
    const v = m.getParameter(p.name).map((x) => x + scale * (r() - 0.5));
    m.setParameter(p.name, v);
    out[p.name] = v;
  }
  return out;
}

function saveWeights(m: BertPreTrainedModel, path: string): void {
  const t: Record<string, { data: Float32Array; shape: number[] }> = {};
  for (const p of m.parameters()) t[p.name] = { data: m.getParameter(p.name), shape: p.shape };
  writeSafetensors(path, t);
}

for (const head of ['token', 'sequence'] as const) {
  test(`EWC Fisher, and EWC + L2-SP + LwF gradients, against PyTorch: ${head} head`, { skip: requireTorchPython() }, async () => {
    const t = tmp();
    const Cls = head === 'token' ? BertForTokenClassification : BertForSequenceClassification;
    const model = Cls.fromConfig(base, { labels, seed: 3 });
    try {
      const r = rng(11);
      const token = head === 'token';
      const batches = [makeBatch(r, 2, 10, token), makeBatch(r, 1, 7, token), makeBatch(r, 3, 9, token), makeBatch(r, 3, 10, token)];
      saveWeights(model, join(t.dir, 'w0.safetensors'));
      // The Fisher at w0 over three batches (one of a single example), then the anchor there.
      assert.equal(await accumulateFisher(model, batches.slice(0, 3), { chunk: 2 }), 3);
      consolidate(model, 1);
      perturb(model, r, 0.2);
      saveWeights(model, join(t.dir, 'w1.safetensors'));
      model.continual('snapshot', 'start');  // L2-SP's start: w1
      perturb(model, r, 0.2);
      saveWeights(model, join(t.dir, 'w2.safetensors'));

      const step = batches[3];
      const rows = token ? step.batchSize * step.seqLen : step.batchSize;
      const teacher = Float32Array.from({ length: rows * OLD }, () => 4 * (r() - 0.5));
      const tensors: Record<string, { data: Int32Array | Float32Array; shape: number[] }> = {
        teacher_logits: { data: teacher, shape: token ? [step.batchSize, step.seqLen, OLD] : [step.batchSize, OLD] },
      };
      batches.forEach((b, i) => {
        const s = [b.batchSize, b.seqLen];
        tensors[`b${i}.input_ids`] = { data: b.inputIds, shape: s };
        tensors[`b${i}.attention_mask`] = { data: b.attentionMask, shape: s };
        tensors[`b${i}.token_type_ids`] = { data: b.tokenTypeIds, shape: s };
        tensors[`b${i}.labels`] = { data: b.labels!, shape: token ? s : [b.batchSize] };
      });
      writeSafetensors(join(t.dir, 'batches.safetensors'), tensors);
      const spec = { config: { ...model.config, head }, fisher_batches: [0, 1, 2], step_batch: 3, ewc_lambda: 0.7, l2sp_alpha: 0.3, temperature: 2, distill_weight: 0.5, old_labels: OLD };
      writeFileSync(join(t.dir, 'case.json'), JSON.stringify(spec));
      runPython('continual_reference.py', [t.dir]);
      const ref = readSafetensorsF32(join(t.dir, 'reference.safetensors'));

      for (const p of model.parameters()) {
        const f = model.continual('get', 'fisher', p.name), g = ref.get(`fisher.${p.name}`)!.data;
        assert.ok(maxRelError(f, g) <= 1e-4 || maxAbsDiff(f, g) <= 1e-10, `Fisher of ${p.name}: rel err ${maxRelError(f, g)}`);
      }

      model.continual('configure', { ewcLambda: spec.ewc_lambda, l2spAlpha: spec.l2sp_alpha });
      const res = await model.trainStep(step, { learningRate: 0, maxGradNorm: 0, distill: { logits: [teacher], labels: OLD, temperature: 2, weight: 0.5 } });
      const refLoss = ref.get('step.loss')!.data[0];
      assert.ok(res.loss > ref.get('step.task')!.data[0] + 1e-3, 'the loss includes the penalties and the distillation');
      assert.ok(Math.abs(res.loss - refLoss) <= 1e-5 * Math.abs(refLoss), `loss ${res.loss} vs ${refLoss}`);
      for (const p of model.parameters()) {
        const a = model.getGradient(p.name), g = ref.get(`grad.${p.name}`)!.data;
        const err = maxRelError(a, g), abs = maxAbsDiff(a, g);
        assert.ok(err <= 1e-4 || abs <= 1e-6, `gradient of ${p.name}: rel err ${err}, abs ${abs}`);
      }
      // Penalties off: the gradient is the task's plus the distillation's alone, and differs.
      model.continual('configure', { ewcLambda: 0, l2spAlpha: 0 });
      const plain = await model.trainStep(step, { learningRate: 0, maxGradNorm: 0 });
      assert.ok(Math.abs(plain.loss - ref.get('step.task')!.data[0]) <= 1e-5 * plain.loss, 'without options the step is the task loss alone');
    } finally {
      model.dispose();
      t.cleanup();
    }
  });
}

test('online EWC accumulates γF + F_new; continual.safetensors round-trips and refuses another model', async () => {
  const t = tmp();
  const model = BertForTokenClassification.fromConfig(base, { labels, seed: 3 });
  const other = BertForTokenClassification.fromConfig({ ...base, hidden_size: 8, num_attention_heads: 2 }, { labels, seed: 3 });
  try {
    const r = rng(5);
    const batches = [makeBatch(r, 2, 8, true), makeBatch(r, 2, 8, true)];
    await accumulateFisher(model, batches);
    consolidate(model, 1);
    const name = 'bert.encoder.layer.0.attention.self.query.weight';
    const f1 = model.continual('get', 'fisher', name);
    assert.ok(f1.some((v) => v > 0), 'the Fisher is not all zeros');
    await accumulateFisher(model, batches);  // same weights, same batches: the same F_new
    consolidate(model, 0.5);
    const f2 = model.continual('get', 'fisher', name);
    assert.ok(maxRelError(f2, f1.map((v) => 1.5 * v)) <= 1e-6, 'F = 0.5 F + F_new');
    await saveContinualState(model, t.dir, { tasks: 2, gamma: 0.5, fisherBatches: 2 });

    const copy = BertForTokenClassification.fromConfig(base, { labels, seed: 9 });
    try {
      const info = await loadContinualState(copy, join(t.dir, 'continual.safetensors'));
      assert.deepEqual(info, { tasks: 2, gamma: 0.5, fisherBatches: 2 });
      for (const p of model.parameters()) {
        assert.deepEqual(copy.continual('get', 'fisher', p.name), model.continual('get', 'fisher', p.name));
        assert.deepEqual(copy.continual('get', 'anchor', p.name), model.getParameter(p.name));
      }
    } finally { copy.dispose(); }
    await assert.rejects(loadContinualState(other, join(t.dir, 'continual.safetensors')), (e: Error & { code?: string }) =>
      e.code === 'ERR_CHECKPOINT' && /does not match the model's parameters: fisher\.bert\.embeddings\.word_embeddings\.weight has shape \[50,16\], the model \[50,8\]/.test(e.message));
    assert.equal(other.continual('state').fisher, false, 'a refused file leaves nothing behind');
  } finally {
    model.dispose();
    other.dispose();
    t.cleanup();
  }
});
