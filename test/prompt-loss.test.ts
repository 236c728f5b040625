// The restricted-logit loss of prompt classification (native/prompt.h) against PyTorch
// (scripts/prompt_reference.py: the masked-LM of parity_reference.py, every position projected,
// label scores from Python loops over the verbalizer's words): label scores, loss and every
// parameter gradient, with one- and multi-token words and a label with two words; and with soft
// prompt tokens (P-tuning) in the input, whose embeddings alone train when the rest is frozen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Batch } from '../lib/batch.js';
import { BertForMaskedLM } from '../lib/models/bert.js';
import { SOFT_PROMPT_ONLY } from '../lib/tasks/prompt-classification.js';
import { maxAbsDiff, maxRelError, readSafetensorsF32, requireTorchPython, rng, runPython, tmp, writeSafetensors } from './helpers.js';

const config = {
  vocab_size: 64, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64,
  max_position_embeddings: 32, type_vocab_size: 2, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, initializer_range: 0.2,
};
// [label][word][piece]: one-token words, a two-piece word, and a label with two words (one of three pieces).
const verbalizer = [[[5]], [[9, 10]], [[17], [20, 21, 22]]];

/** The verbalizer as the batch carries it: ids and weights 1/(words * pieces), padded with 0. */
function flatten(v: number[][][]): { ids: Int32Array; weights: Float32Array } {
  const width = Math.max(...v.map((ws) => ws.flat().length));
  const ids = new Int32Array(v.length * width), weights = new Float32Array(v.length * width);
  v.forEach((ws, c) => {
    let k = c * width;
    for (const w of ws) for (const id of w) { ids[k] = id; weights[k] = 1 / (ws.length * w.length); k++; }
  });
  return { ids, weights };
}

for (const soft of [false, true]) test(`prompt loss and gradients match PyTorch${soft ? ', with a soft prompt' : ''}`, { skip: requireTorchPython() }, async () => {
  const t = tmp();
  const model = BertForMaskedLM.fromConfig({ ...config, ...(soft ? { soft_prompt_tokens: 3 } : {}) }, { seed: 11 });
  try {
    await model.save(t.dir);
    renameSync(join(t.dir, 'model.safetensors'), join(t.dir, 'weights.safetensors'));
    const r = rng(5);
    const B = 4, T = 10;
    const lengths = [10, 7, 5, 8];
    const ids = new Int32Array(B * T), mask = new Int32Array(B * T), tt = new Int32Array(B * T);
    const maskPositions = new Int32Array(B);
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < lengths[b]; i++) { ids[b * T + i] = 1 + Math.floor(r() * 63); mask[b * T + i] = 1; }
      maskPositions[b] = 1 + Math.floor(r() * (lengths[b] - 2));
      ids[b * T + maskPositions[b]] = 3;  // the mask token of this toy vocabulary
    }
    const labels = Int32Array.from([0, 2, 1, -100]);  // the last row is ignored
    // Soft prompt: tokens 0 and 1 of every row after [CLS], token 2 on the last real token of the first row.
    const slots = new Int32Array(B * T).fill(-1);
    for (let b = 0; b < B; b++) { slots[b * T + 1] = maskPositions[b] === 1 ? -1 : 0; slots[b * T + lengths[b] - 1] = 1; }
    slots[3] = maskPositions[0] === 3 ? -1 : 2;
    const { ids: vIds, weights } = flatten(verbalizer);
    const batch: Batch = {
      batchSize: B, seqLen: T, inputIds: ids, attentionMask: mask, tokenTypeIds: tt, labels,
      maskPositions, verbalizerIds: vIds, verbalizerWeights: weights, verbalizerLabels: verbalizer.length,
      ...(soft ? { softPromptSlots: slots } : {}),
    };
    writeSafetensors(join(t.dir, 'batch.safetensors'), {
      input_ids: { data: ids, shape: [B, T] }, attention_mask: { data: mask, shape: [B, T] }, token_type_ids: { data: tt, shape: [B, T] },
      mask_positions: { data: maskPositions, shape: [B] }, labels: { data: labels, shape: [B] },
      ...(soft ? { soft_prompt_slots: { data: slots, shape: [B, T] } } : {}),
    });
    writeFileSync(join(t.dir, 'case.json'), JSON.stringify({ config: { ...model.config, head: 'mlm' }, verbalizer }));
    runPython('prompt_reference.py', [t.dir]);
    const ref = readSafetensorsF32(join(t.dir, 'reference.safetensors'));

    const fwd = await model.forward({ ...batch, labels: undefined });
    assert.deepEqual(fwd.dims, [B, verbalizer.length]);
    assert.equal(fwd.loss, undefined);
    const refScores = ref.get('forward.scores')!.data;
    assert.ok(maxRelError(fwd.logits, refScores) <= 1e-5, `scores rel err ${maxRelError(fwd.logits, refScores)}`);

    const res = await model.trainStep(batch, { learningRate: 1e-6, maxGradNorm: 0 });
    const refLoss = ref.get('loss')!.data[0];
    assert.ok(Math.abs(res.loss - refLoss) <= 1e-5 * Math.abs(refLoss), `loss ${res.loss} vs ${refLoss}`);
    let nonzero = 0;
    for (const { name } of model.parameters()) {
      const g = ref.get(`grad.${name}`)!;
      assert.ok(g, `reference gradient for ${name}`);
      const a = model.getGradient(name);
      const err = maxRelError(a, g.data), abs = maxAbsDiff(a, g.data);
      assert.ok(err <= 1e-4 || abs <= 1e-7, `gradient of ${name}: rel err ${err}, abs ${abs}`);
      if (maxAbsDiff(g.data, new Float32Array(g.data.length)) > 1e-6) nonzero++;
    }
    assert.ok(nonzero > 10, `most parameters get a gradient (${nonzero})`);
    if (soft) {
      // Only the soft prompt trains under SOFT_PROMPT_ONLY.
      const before = new Map(model.parameters().map((p) => [p.name, model.getParameter(p.name)]));
      assert.deepEqual(model.freeze(SOFT_PROMPT_ONLY).length, model.parameters().length - 1);
      await model.trainStep(batch, { learningRate: 1e-2 });
      for (const [name, w] of before) {
        const changed = maxAbsDiff(model.getParameter(name), w) > 0;
        assert.equal(changed, name === 'soft_prompt.embeddings', `${name} ${changed ? 'changed' : 'did not change'}`);
      }
    }
  } finally {
    model.dispose();
    t.cleanup();
  }
});

test('prompt batches: malformed fields are clear errors', async () => {
  const model = BertForMaskedLM.fromConfig(config, { seed: 1 });
  try {
    const B = 2, T = 4;
    const base: Batch = {
      batchSize: B, seqLen: T, inputIds: new Int32Array(B * T).fill(7), attentionMask: Int32Array.from([1, 1, 1, 1, 1, 1, 0, 0]),
      tokenTypeIds: new Int32Array(B * T), maskPositions: Int32Array.from([1, 1]), verbalizerIds: Int32Array.from([5, 9]),
      verbalizerWeights: Float32Array.from([1, 1]), verbalizerLabels: 2, labels: Int32Array.from([0, 1]),
    };
    const ok = await model.trainStep(base, { learningRate: 1e-6 });
    assert.ok(Number.isFinite(ok.loss));
    await assert.rejects(model.forward({ ...base, maskPositions: Int32Array.from([1, 3]) }), /maskPositions\[1\] = 3 points at padding/);
    await assert.rejects(model.forward({ ...base, maskPositions: Int32Array.from([1, 9]) }), /maskPositions\[1\] = 9 is outside the row/);
    await assert.rejects(model.forward({ ...base, verbalizerIds: Int32Array.from([5, 99]) }), /verbalizerIds\[1\] = 99 is out of range \[0, 64\)/);
    await assert.rejects(model.forward({ ...base, verbalizerLabels: 3 }), /not a positive multiple of verbalizerLabels/);
    await assert.rejects(model.forward({ ...base, verbalizerWeights: Float32Array.from([1, 0]) }), /label 1 has no verbalizer token with a positive weight/);
    await assert.rejects(model.trainStep({ ...base, labels: Int32Array.from([0, 2]) }, { learningRate: 1e-6 }), /labels\[1\] = 2 is out of range \[0, 2\)/);
  } finally {
    model.dispose();
  }
});
