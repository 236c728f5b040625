// Parity of the native engine with an independent PyTorch reference (scripts/parity_reference.py,
// built from torch.nn modules, run by Debian's python3-torch): the same weights and batches give
// the same logits, loss, every gradient, and the weights after 3 AdamW steps with weight decay,
// clipping and gradient accumulation. For every head, and for both CPU AdamW kernels (the one-pass
// kernel, and the per-tensor one that ROOTS_ADAMW=foreach selects). The reference takes the config
// as config.json states it, and torch.optim.AdamW's own betas and eps: our defaults are held to them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Batch } from '../lib/batch.js';
import {
  BertForIntentAndSlots, BertForMaskedLM, BertForQuestionAnswering, BertForSequenceClassification,
  BertForTokenClassification, type BertPreTrainedModel,
} from '../lib/models/bert.js';
import { maxAbsDiff, maxRelError, readSafetensorsF32, requireTorchPython, rng, runPython, tmp, withEnv, writeSafetensors } from './helpers.js';

const base = {
  vocab_size: 64, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64,
  max_position_embeddings: 32, type_vocab_size: 2, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0,
  initializer_range: 0.2, // large weights: logits far from zero, a real test of the tolerances
};
const steps = [[0], [0, 1], [1]];   // the middle step accumulates two micro-batches
const lr = 1e-3, weightDecay = 0.01, maxGradNorm = 1.0;

function makeBatch(r: () => number, B: number, T: number, head: string, vocab: number, nLabels: number, nSlots: number): Batch {
  const ids = new Int32Array(B * T), mask = new Int32Array(B * T), tt = new Int32Array(B * T);
  const tok = new Int32Array(B * T), seq = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const len = b === 0 ? T : Math.max(2, Math.floor(T * (0.4 + 0.5 * r())));
    for (let t = 0; t < T; t++) {
      const i = b * T + t;
      const real = t < len;
      ids[i] = real ? 1 + Math.floor(r() * (vocab - 1)) : 0;
      mask[i] = real ? 1 : 0;
      tt[i] = real && t >= len / 2 ? 1 : 0;
      tok[i] = !real || r() < 0.25 ? -100 : Math.floor(r() * (head === 'mlm' ? vocab : head === 'intent-slots' ? nSlots : nLabels));
    }
    seq[b] = Math.floor(r() * nLabels);
  }
  const batch: Batch = { batchSize: B, seqLen: T, inputIds: ids, attentionMask: mask, tokenTypeIds: tt };
  if (head === 'token' || head === 'mlm') batch.labels = tok;
  if (head === 'sequence') batch.labels = seq;
  if (head === 'intent-slots') { batch.labels = seq; batch.slotLabels = tok; }
  if (head === 'qa') {
    batch.startPositions = Int32Array.from({ length: B }, () => Math.floor(r() * T));
    batch.endPositions = Int32Array.from({ length: B }, (_, b) => (b === B - 1 ? T + 5 : Math.floor(r() * T))); // one out of range: ignored
  }
  return batch;
}

const cases: { name: string; cls: typeof BertPreTrainedModel; opts: Record<string, unknown>; nLabels: number; nSlots: number }[] = [
  { name: 'token', cls: BertForTokenClassification, opts: { labels: ['O', 'B-A', 'I-A', 'B-B', 'I-B'] }, nLabels: 5, nSlots: 0 },
  { name: 'sequence', cls: BertForSequenceClassification, opts: { labels: ['neg', 'neu', 'pos'] }, nLabels: 3, nSlots: 0 },
  { name: 'mlm', cls: BertForMaskedLM, opts: {}, nLabels: 0, nSlots: 0 },
  { name: 'qa', cls: BertForQuestionAnswering, opts: {}, nLabels: 0, nSlots: 0 },
  { name: 'intent-slots', cls: BertForIntentAndSlots, opts: { labels: ['a', 'b', 'c'], slotLabels: ['O', 'B-x', 'I-x', 'B-y'] }, nLabels: 3, nSlots: 4 },
];

for (const c of cases) {
  test(`parity with PyTorch: ${c.name} head`, { skip: requireTorchPython() }, async () => {
    const t = tmp();
    try {
      const make = () => (c.cls as unknown as { fromConfig(cfg: object, o: object): BertPreTrainedModel }).fromConfig(base, { ...c.opts, seed: 7 });
      const model = make();
      const perTensor = withEnv({ ROOTS_ADAMW: 'foreach' }, make);
      assert.equal(model.adamwKernel, 'one-pass');
      assert.equal(perTensor.adamwKernel, 'per-tensor');
      // PyTorch's own fused AdamW (at::_fused_adamw_, ROOTS_ADAMW=torch) where this LibTorch has a CPU
      // kernel for it (>= 2.4); on older ones the choice is refused with ERR_UNSUPPORTED.
      let torchFused: BertPreTrainedModel | undefined;
      try {
        torchFused = withEnv({ ROOTS_ADAMW: 'torch' }, make);
        assert.equal(torchFused.adamwKernel, 'fused-cpu');
      } catch (e) {
        if ((e as { code?: string }).code !== 'ERR_UNSUPPORTED') throw e;
        assert.match((e as Error).message, /CPU needs >= 2\.4/);
      }
      await model.save(t.dir);
      const r = rng(123);
      const batches = [makeBatch(r, 3, 12, c.name, base.vocab_size, c.nLabels, c.nSlots), makeBatch(r, 2, 7, c.name, base.vocab_size, c.nLabels, c.nSlots)];
      const tensors: Record<string, { data: Int32Array; shape: number[] }> = {};
      batches.forEach((b, i) => {
        const s = [b.batchSize, b.seqLen];
        tensors[`b${i}.input_ids`] = { data: b.inputIds, shape: s };
        tensors[`b${i}.attention_mask`] = { data: b.attentionMask, shape: s };
        tensors[`b${i}.token_type_ids`] = { data: b.tokenTypeIds, shape: s };
        if (b.labels) tensors[`b${i}.labels`] = { data: b.labels, shape: b.labels.length === b.batchSize ? [b.batchSize] : s };
        if (b.slotLabels) tensors[`b${i}.slot_labels`] = { data: b.slotLabels, shape: s };
        if (b.startPositions) tensors[`b${i}.start_positions`] = { data: b.startPositions, shape: [b.batchSize] };
        if (b.endPositions) tensors[`b${i}.end_positions`] = { data: b.endPositions, shape: [b.batchSize] };
      });
      writeSafetensors(join(t.dir, 'batches.safetensors'), tensors);
      const cfg = { ...model.config, head: c.name };
      writeFileSync(join(t.dir, 'case.json'), JSON.stringify({ config: cfg, steps, lr, weight_decay: weightDecay, max_grad_norm: maxGradNorm }));
      // Rename our file to what the reference reads.
      const { renameSync } = await import('node:fs');
      renameSync(join(t.dir, 'model.safetensors'), join(t.dir, 'weights.safetensors'));
      runPython('parity_reference.py', [t.dir]);
      const ref = readSafetensorsF32(join(t.dir, 'reference.safetensors'));

      const fwd = await model.forward(batches[0]);
      let refLogits = ref.get('forward.logits')!.data;
      if (c.name === 'mlm') {
        // With labels, the masked-LM head projects onto the vocabulary only at the labelled
        // positions: logits [N, V], N the labels other than -100 in row-major order.
        const labels = batches[0].labels!;
        const rows = [...labels.keys()].filter((i) => labels[i] !== -100);
        assert.deepEqual(fwd.dims, [rows.length, base.vocab_size]);
        const V = base.vocab_size;
        const picked = new Float32Array(rows.length * V);
        rows.forEach((i, r) => { picked.set(refLogits.subarray(i * V, (i + 1) * V), r * V); });
        refLogits = picked;
      }
      assert.ok(maxRelError(fwd.logits, refLogits) <= 1e-5, `logits rel err ${maxRelError(fwd.logits, refLogits)}`);
      assert.ok(Math.abs(fwd.loss! - ref.get('forward.loss')!.data[0]) <= 1e-5 * Math.abs(ref.get('forward.loss')!.data[0]), `loss ${fwd.loss} vs ${ref.get('forward.loss')!.data[0]}`);

      const params = model.parameters().map((p) => p.name);
      for (const m of torchFused ? [model, perTensor, torchFused] : [model, perTensor]) {
        const kernel = m.adamwKernel;
        for (let s = 0; s < steps.length; s++) {
          const res = await m.trainStep(steps[s].map((i) => batches[i]), { learningRate: lr, weightDecay, maxGradNorm });
          const refLoss = ref.get(`step${s}.loss`)!.data[0];
          assert.ok(Math.abs(res.loss - refLoss) <= 1e-5 * Math.abs(refLoss), `${kernel}: step ${s} loss ${res.loss} vs ${refLoss}`);
          const refNorm = ref.get(`step${s}.grad_norm`)!.data[0];
          assert.ok(Math.abs(res.gradNorm - refNorm) <= 1e-4 * refNorm, `${kernel}: step ${s} grad norm ${res.gradNorm} vs ${refNorm}`);
          if (s === 0) {
            for (const name of params) {
              const g = ref.get(`grad.${name}`);
              assert.ok(g, `reference has a gradient for ${name}`);
              // Some gradients are zero in exact arithmetic (the key bias: softmax ignores a constant
              // shift), so both sides hold rounding noise; an absolute floor of 1e-7 covers those.
              const a = m.getGradient(name);
              const err = maxRelError(a, g.data), abs = maxAbsDiff(a, g.data);
              assert.ok(err <= 1e-4 || abs <= 1e-7, `${kernel}: gradient of ${name}: rel err ${err}, abs ${abs}`);
            }
          }
        }
        for (const name of params) {
          const w = ref.get(`final.${name}`)!;
          const a = m.getParameter(name);
          // Adam turns a rounding-noise gradient (see above) into a full step of +-lr whose sign is
          // noise too; such parameters are only held to Adam's bound on the update size.
          const noiseGrad = maxAbsDiff(ref.get(`grad.${name}`)!.data, new Float32Array(a.length)) <= 1e-6;
          if (noiseGrad) {
            assert.ok(maxAbsDiff(a, w.data) <= 2 * steps.length * lr, `${kernel}: ${name} moved more than Adam allows`);
            continue;
          }
          // The same per element: Adam's first steps have the size lr whatever the gradient's, so an
          // element whose gradient is tiny next to its tensor's largest (1e-4 of it) carries that
          // gradient's relative rounding noise into the weights; it is held to Adam's bound, the rest
          // to 1e-4 (the fused kernels round in another order than the reference's ATen kernels).
          const g0 = ref.get(`grad.${name}`)!.data;
          const gmax = maxAbsDiff(g0, new Float32Array(g0.length));
          const firm = [...a.keys()].filter((i) => Math.abs(g0[i]) > 1e-4 * gmax);
          for (const i of a.keys()) if (!firm.includes(i)) assert.ok(Math.abs(a[i] - w.data[i]) <= 2 * steps.length * lr, `${kernel}: ${name}[${i}] moved more than Adam allows`);
          const err = maxRelError(firm.map((i) => a[i]), firm.map((i) => w.data[i]));
          assert.ok(err <= 1e-4, `${kernel}: weights after ${steps.length} AdamW steps, ${name}: rel err ${err}`);
        }
      }
      torchFused?.dispose();
      perTensor.dispose();
      model.dispose();
    } finally {
      if (process.env.ROOTS_KEEP_TMP) console.log(`kept ${t.dir}`); else t.cleanup();
    }
  });
}
