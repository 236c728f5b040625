// Adapters against an independent PyTorch reference (scripts/peft_reference.py: BERT over torch.nn.functional
// with separate query/key/value and PEFT's adapter math written out): the same base weights, adapter
// weights and batches give the same logits, the same adapter gradients, and the same adapter weights
// after 3 AdamW steps (one of them accumulating two micro-batches), for LoRA (on the fused query/value
// slices and a feed-forward layer), (IA)³, prefix tuning with and without its MLP, and BitFit. The base
// weights stay bit-identical through training; merged and unmerged outputs agree, and unmerging
// restores the base bit for bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BertForSequenceClassification, BertForTokenClassification } from '../lib/models/bert.js';
import type { AdapterOptions } from '../lib/peft/config.js';
import { maxAbsDiff, maxRelError, readSafetensorsF32, requireTorchPython, rng, runPython, tmp, writeSafetensors } from './helpers.js';
import { base, makeBatch, perturb } from './peft-helpers.js';

const steps = [[0], [0, 1], [1]];
const lr = 1e-2, weightDecay = 0.01, maxGradNorm = 1.0;

const cases: { name: string; head: 'sequence' | 'token'; options: AdapterOptions }[] = [
  { name: 'LoRA on query, value and intermediate.dense', head: 'sequence', options: { type: 'lora', r: 2, alpha: 4, targetModules: ['query', 'value', 'intermediate.dense'] } },
  { name: 'LoRA on key and output.dense (token head)', head: 'token', options: { type: 'lora', r: 3, alpha: 3, targetModules: 'bert\\.encoder\\.layer\\.\\d+\\.(attention\\.self\\.key|output\\.dense)' } },
  { name: '(IA)3, PEFT defaults', head: 'sequence', options: { type: 'ia3' } },
  { name: 'prefix tuning', head: 'sequence', options: { type: 'prefix', numVirtualTokens: 3 } },
  { name: 'prefix tuning with the MLP', head: 'token', options: { type: 'prefix', numVirtualTokens: 2, prefixProjection: true, encoderHiddenSize: 8 } },
  { name: 'BitFit', head: 'token', options: { type: 'bitfit' } },
];

for (const c of cases) {
  test(`adapter parity with PyTorch: ${c.name}`, { skip: requireTorchPython() }, async () => {
    const t = tmp();
    const cls = c.head === 'sequence' ? BertForSequenceClassification : BertForTokenClassification;
    const model = cls.fromConfig(base, { labels: ['a', 'b', 'c'], seed: 7 });
    try {
      const r = rng(11);
      await model.save(t.dir);
      renameSync(join(t.dir, 'model.safetensors'), join(t.dir, 'weights.safetensors'));
      model.addAdapter('a', { ...c.options, seed: 3 });
      perturb(model, 'a', r);
      const names = model.adapterParameters('a');
      const adapterTensors: Record<string, { data: Float32Array; shape: number[] }> = {};
      for (const p of names) adapterTensors[p.name] = { data: model.getAdapterParameter('a', p.name), shape: p.shape };
      writeSafetensors(join(t.dir, 'adapter.safetensors'), adapterTensors);
      const batches = [makeBatch(r, 3, 9, c.head, 3), makeBatch(r, 2, 6, c.head, 3)];
      const tensors: Record<string, { data: Int32Array; shape: number[] }> = {};
      batches.forEach((b, i) => {
        const s = [b.batchSize, b.seqLen];
        tensors[`b${i}.ids`] = { data: b.inputIds, shape: s };
        tensors[`b${i}.mask`] = { data: b.attentionMask, shape: s };
        tensors[`b${i}.tt`] = { data: b.tokenTypeIds, shape: s };
        tensors[`b${i}.labels`] = { data: b.labels!, shape: c.head === 'sequence' ? [b.batchSize] : s };
      });
      writeSafetensors(join(t.dir, 'batches.safetensors'), tensors);
      const o = c.options as unknown as Record<string, unknown>;
      const targets = model.adapters()[0];
      assert.equal(targets.type, c.options.type);
      const resolvedScaling = o.type === 'lora' ? (o.alpha as number) / (o.r as number) : undefined;
      // (IA)³'s feed-forward modules with PEFT's defaults: every output.dense (attention's too).
      const feedforward = o.type === 'ia3' ? Array.from({ length: base.num_hidden_layers }, (_, i) => [`bert.encoder.layer.${i}.attention.output.dense`, `bert.encoder.layer.${i}.output.dense`]).flat() : [];
      writeFileSync(join(t.dir, 'case.json'), JSON.stringify({
        config: { ...model.config }, head: c.head, steps, lr, weightDecay, maxGradNorm,
        adapter: { type: o.type, scaling: resolvedScaling, feedforward, numVirtualTokens: o.numVirtualTokens, prefixProjection: o.prefixProjection },
      }));
      runPython('peft_reference.py', [t.dir]);
      const ref = readSafetensorsF32(join(t.dir, 'reference.safetensors'));

      const baseBefore = new Map(model.parameters().map((p) => [p.name, model.getParameter(p.name)]));
      const withAdapter = await model.forward(batches[0], { adapter: 'a' });
      const plain = await model.forward(batches[0], { adapter: null });
      assert.ok(maxRelError(withAdapter.logits, ref.get('logits')!.data) <= 1e-5, `logits rel err ${maxRelError(withAdapter.logits, ref.get('logits')!.data)}`);
      assert.ok(maxAbsDiff(withAdapter.logits, plain.logits) > 1e-3, 'the adapter changes the logits');

      for (let s = 0; s < steps.length; s++) {
        await model.trainStep(steps[s].map((i) => batches[i]), { learningRate: lr, weightDecay, maxGradNorm, adapter: 'a' });
        if (s > 0) continue;
        for (const p of names) {
          const g = ref.get(`grad.${p.name}`)!.data, a = model.getAdapterGradient('a', p.name);
          // The key bias gets a zero gradient in exact arithmetic (softmax ignores a shift): noise on both sides.
          assert.ok(maxRelError(a, g) <= 1e-4 || maxAbsDiff(a, g) <= 1e-7, `gradient of ${p.name}: rel ${maxRelError(a, g)} abs ${maxAbsDiff(a, g)}`);
        }
      }
      for (const p of names) {
        const w = ref.get(`after.${p.name}`)!.data, a = model.getAdapterParameter('a', p.name);
        const noise = maxAbsDiff(ref.get(`grad.${p.name}`)!.data, new Float32Array(a.length)) <= 1e-6;
        assert.ok(noise ? maxAbsDiff(a, w) <= 3.5 * lr : maxRelError(a, w) <= 1e-4 || maxAbsDiff(a, w) <= 1e-6, `${p.name} after 3 steps: rel ${maxRelError(a, w)}`);
      }
      assert.equal(model.adapters()[0].step, 3);
      assert.equal(model.optimizerStep, 0, 'the base took no optimizer step');
      for (const [n, v] of baseBefore) assert.deepEqual(model.getParameter(n), v, `base parameter ${n} unchanged by adapter training`);
    } finally {
      model.dispose();
      t.cleanup();
    }
  });
}

for (const options of [{ type: 'lora', r: 4, alpha: 8, targetModules: ['query', 'key', 'value', 'attention.output.dense', 'intermediate.dense', 'output.dense'] }, { type: 'ia3' }, { type: 'bitfit' }] as AdapterOptions[]) {
  test(`merged and unmerged outputs agree: ${options.type}`, async () => {
    const model = BertForSequenceClassification.fromConfig(base, { labels: ['a', 'b'], seed: 5 });
    try {
      const r = rng(5);
      model.addAdapter('x', options);
      perturb(model, 'x', r);
      const batch = makeBatch(r, 3, 8, 'sequence', 2);
      const baseBefore = new Map(model.parameters().map((p) => [p.name, model.getParameter(p.name)]));
      const unmerged = await model.forward(batch, { adapter: 'x' });
      model.mergeAdapter('x');
      const merged = await model.forward(batch, { adapter: null });
      const mergedNamed = await model.forward(batch, { adapter: 'x' });
      assert.ok(maxRelError(merged.logits, unmerged.logits) <= 1e-5, `merged vs unmerged rel err ${maxRelError(merged.logits, unmerged.logits)}`);
      assert.deepEqual(mergedNamed.logits, merged.logits, 'a merged adapter adds nothing more');
      model.unmergeAdapter('x');
      for (const [n, v] of baseBefore) assert.deepEqual(model.getParameter(n), v, `${n} restored exactly`);
      assert.deepEqual((await model.forward(batch, { adapter: 'x' })).logits, unmerged.logits);
    } finally {
      model.dispose();
    }
  });
}
