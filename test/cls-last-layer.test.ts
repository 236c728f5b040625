// Heads that read only the [CLS] row (sequence classification, relation classification with
// `cls` pooling) run the last encoder layer for that row alone (native/bert.cc, clsOnly): its
// queries, attention output and feed-forward skip the other rows, whose last-layer states no head
// reads. The result must be the [CLS] state of the whole layer: ROOTS_LAST_LAYER=cls (the default)
// against ROOTS_LAST_LAYER=all on the same model and batch, eval logits, training loss and every
// gradient, fp32 and bf16, with padding, on the math attention and the default one, and under a
// prefix adapter (extra keys) and LoRA. Dropout is off there: the shorter last layer draws fewer
// dropout values, so with dropout on the two paths draw different masks by design.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Batch } from '../lib/batch.js';
import { BertForSequenceClassification } from '../lib/models/bert.js';
import { maxAbsDiff, maxRelError, rng, withEnv } from './helpers.js';

const config = {
  vocab_size: 60, hidden_size: 48, num_hidden_layers: 3, num_attention_heads: 3, intermediate_size: 96,
  max_position_embeddings: 32, type_vocab_size: 2, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0,
  initializer_range: 0.2,
};
const labels = ['a', 'b', 'c'];

function batch(): Batch {
  const r = rng(8);
  const B = 5, T = 13;
  const b: Batch = { batchSize: B, seqLen: T, inputIds: new Int32Array(B * T), attentionMask: new Int32Array(B * T), tokenTypeIds: new Int32Array(B * T), labels: new Int32Array(B) };
  for (let i = 0; i < B; i++) {
    const len = i === 0 ? T : 3 + Math.floor(r() * (T - 4));
    for (let t = 0; t < T; t++) {
      const k = i * T + t;
      b.inputIds[k] = t < len ? 1 + Math.floor(r() * 59) : 0;
      b.attentionMask[k] = t < len ? 1 : 0;
      b.tokenTypeIds[k] = t > len / 2 && t < len ? 1 : 0;
    }
    b.labels![i] = i % labels.length;
  }
  return b;
}

const cases = [
  { attention: 'math', precision: 'fp32', adapter: null },
  { attention: 'sdpa', precision: 'fp32', adapter: null },
  { attention: 'math', precision: 'bf16', adapter: null },
  { attention: 'math', precision: 'fp32', adapter: 'prefix' },
  { attention: 'sdpa', precision: 'fp32', adapter: 'lora' },
] as const;

for (const c of cases) {
  test(`the last layer for [CLS] alone gives the whole layer's [CLS]: ${c.precision}, ${c.attention} attention${c.adapter ? `, ${c.adapter} adapter` : ''}`, async () => {
    const make = (last: string) => withEnv({ ROOTS_LAST_LAYER: last, ROOTS_ATTENTION: c.attention },
      () => BertForSequenceClassification.fromConfig(config, { labels, precision: c.precision, seed: 4 }));
    const cls = make('cls'), all = make('all');
    // bf16: both paths carry bf16 rounding (a few % of a gradient's largest value); each is held
    // against the fp32 model of the whole layer, and the [CLS]-only path may not stray further
    // than 4x what the whole-layer bf16 path strays (nor, for values that are noise around zero,
    // more than 5e-4 absolute).
    const ref = c.precision === 'bf16' ? withEnv({ ROOTS_LAST_LAYER: 'all', ROOTS_ATTENTION: c.attention },
      () => BertForSequenceClassification.fromConfig(config, { labels, precision: 'fp32', seed: 4 })) : null;
    const models = ref ? [cls, all, ref] : [cls, all];
    try {
      if (c.adapter) {
        for (const m of models) {
          m.addAdapter('x', c.adapter === 'prefix' ? { type: 'prefix', numVirtualTokens: 3 } : { type: 'lora', r: 4, targetModules: ['query', 'value', 'intermediate.dense', 'output.dense'] });
          m.setAdapter('x');
        }
        // Non-zero adapter weights, the same on both (a fresh LoRA's B is zero: it would test nothing).
        const r = rng(2);
        for (const { name, shape } of cls.adapterParameters('x')) {
          const v = Float32Array.from({ length: shape.reduce((a, d) => a * d, 1) }, () => 0.3 * (r() - 0.5));
          for (const m of models) m.setAdapterParameter('x', name, v);
        }
      }
      const b = batch();
      const close = (got: ArrayLike<number>, whole: ArrayLike<number>, fp32: ArrayLike<number> | null, relTol: number, absTol: number): string | null => {
        if (!fp32) {
          const err = maxRelError(got, whole), abs = maxAbsDiff(got, whole);
          return err <= relTol || abs <= absTol ? null : `rel err ${err}, abs ${abs}`;
        }
        const errC = maxRelError(got, fp32), errA = maxRelError(whole, fp32), abs = maxAbsDiff(got, fp32);
        return errC <= Math.max(4 * errA, relTol) || abs <= absTol ? null : `rel err against fp32 ${errC} (whole-layer bf16: ${errA}), abs ${abs}`;
      };
      const tol = c.precision === 'fp32' ? { out: 1e-5, grad: 1e-4, abs: 1e-6 } : { out: 2e-2, grad: 2e-2, abs: 5e-4 };
      const fwd = await Promise.all(models.map((m) => m.forward(b)));
      assert.equal(fwd[0].logits.length, b.batchSize * labels.length);
      const lo = close(fwd[0].logits, fwd[1].logits, ref ? fwd[2].logits : null, tol.out, 0);
      assert.equal(lo, null, `eval logits: ${lo}`);
      const opts = { learningRate: 0, weightDecay: 0, maxGradNorm: 0, rngSeed: 3 };
      const steps = [];
      for (const m of models) steps.push(await m.trainStep(b, opts));
      const [rc, ra] = steps;
      assert.ok(Math.abs(rc.loss - ra.loss) <= tol.out * Math.abs(ra.loss), `training loss ${rc.loss} vs ${ra.loss}`);
      const names = c.adapter ? cls.adapterParameters('x').map((p) => p.name) : all.parameters().map((p) => p.name);
      assert.ok(names.length > 0);
      for (const name of names) {
        const [g, e, f] = models.map((m) => (c.adapter ? m.getAdapterGradient('x', name) : m.getGradient(name)));
        const bad = close(g, e, f ?? null, tol.grad, tol.abs);
        assert.equal(bad, null, `gradient of ${name}: ${bad}`);
      }
    } finally {
      for (const m of models) m.dispose();
    }
  });
}

// The tests above would pass if both settings ran the whole layer. Dropout tells them apart: the
// [CLS]-only layer draws its dropout masks over [B, 1, H] (and [B, heads, 1, T]) where the whole layer
// draws them over every row, so with dropout on, the same step seed gives another training loss,
// while the eval logits (no dropout) stay the same.
test('with dropout on, ROOTS_LAST_LAYER=cls draws its own last-layer masks: the shortened path is the one that runs', async () => {
  const withDropout = { ...config, hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1 };
  const make = (last: string) => withEnv({ ROOTS_LAST_LAYER: last, ROOTS_ATTENTION: 'math' },
    () => BertForSequenceClassification.fromConfig(withDropout, { labels, seed: 4 }));
  const cls = make('cls'), all = make('all');
  try {
    const b = batch();
    const [fc, fa] = [await cls.forward(b), await all.forward(b)];
    assert.ok(maxRelError(fc.logits, fa.logits) <= 1e-5, `eval logits: rel err ${maxRelError(fc.logits, fa.logits)}`);
    const opts = { learningRate: 0, weightDecay: 0, maxGradNorm: 0, rngSeed: 3 };
    const [rc, ra] = [await cls.trainStep(b, opts), await all.trainStep(b, opts)];
    assert.ok(Math.abs(rc.loss - ra.loss) > 1e-6, `training losses with dropout: ${rc.loss} and ${ra.loss} (the same masks: the [CLS]-only path did not run)`);
    // and the same setting twice draws the same masks (the difference above is the path, not noise)
    const again = make('cls');
    try {
      assert.equal((await again.trainStep(b, opts)).loss, rc.loss);
    } finally {
      again.dispose();
    }
  } finally {
    cls.dispose();
    all.dispose();
  }
});

test('ROOTS_LAST_LAYER accepts only cls or all', () => {
  assert.throws(() => withEnv({ ROOTS_LAST_LAYER: 'first' }, () => BertForSequenceClassification.fromConfig(config, { labels })),
    (e: Error & { code?: string }) => e.code === 'ERR_CONFIG' && /ROOTS_LAST_LAYER=first \(expected cls, all\)/.test(e.message));
});
