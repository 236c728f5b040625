// The fused element-wise kernels (native/kernels.cc: dropout + residual + LayerNorm, and the
// attention's scale + mask + softmax + dropout) against the unfused composition they replace
// (ROOTS_FUSED=0), in fp32 and bf16 autocast: the same model, batch and dropout seed give the same
// eval logits, training loss and every gradient. Dropout is on (0.1 and 0.2), so a fused kernel
// that drew another mask than the unfused FastDropout would fail by far more than rounding; the
// batch has padding, so the attention mask is exercised. The math attention path is used on
// every LibTorch (SDPA on 2.x would bypass the fused softmax). Parity of the fused path with
// PyTorch itself is engine-parity.test.ts (the fused kernels are the default); the bias + GELU
// kernel's own erf is checked against PyTorch's GELU below over the whole range that matters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { Batch } from '../lib/batch.js';
import { BertForTokenClassification } from '../lib/models/bert.js';
import { native } from '../lib/native.js';
import { maxAbsDiff, maxRelError, python, requireTorchPython, rng, withEnv } from './helpers.js';

const config = {
  vocab_size: 50, hidden_size: 48, num_hidden_layers: 2, num_attention_heads: 3, intermediate_size: 96,
  max_position_embeddings: 32, type_vocab_size: 2, hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.2,
  initializer_range: 0.2,
};
const labels = ['O', 'B-X', 'I-X', 'B-Y'];

function batch(): Batch {
  const r = rng(5);
  const B = 4, T = 19;  // T not a multiple of 16: the kernels' remainder loops run too
  const b: Batch = { batchSize: B, seqLen: T, inputIds: new Int32Array(B * T), attentionMask: new Int32Array(B * T), tokenTypeIds: new Int32Array(B * T), labels: new Int32Array(B * T) };
  for (let i = 0; i < B; i++) {
    const len = i === 0 ? T : 4 + Math.floor(r() * (T - 5));
    for (let t = 0; t < T; t++) {
      const k = i * T + t;
      b.inputIds[k] = t < len ? 1 + Math.floor(r() * 49) : 0;
      b.attentionMask[k] = t < len ? 1 : 0;
      b.labels![k] = t < len ? Math.floor(r() * labels.length) : -100;
    }
  }
  return b;
}

for (const precision of ['fp32', 'bf16'] as const) {
  test(`fused kernels match the unfused composition: ${precision}`, async () => {
    const make = (fused: string) => withEnv({ ROOTS_FUSED: fused, ROOTS_ATTENTION: 'math' },
      () => BertForTokenClassification.fromConfig(config, { labels, precision, seed: 3 }));
    const fused = make('1'), plain = make('0');
    try {
      const b = batch();
      // bf16: both sides round the same intermediates to bf16; what differs is the order of
      // float sums, which can move a bf16 rounding of a later matrix product by one step.
      const tol = precision === 'fp32' ? { out: 2e-5, grad: 2e-5, abs: 1e-6 } : { out: 2e-2, grad: 2e-2, abs: 5e-4 };
      const [f, p] = [await fused.forward(b), await plain.forward(b)];
      assert.ok(maxRelError(f.logits, p.logits) <= tol.out, `eval logits: rel err ${maxRelError(f.logits, p.logits)}`);
      const opts = { learningRate: 0, weightDecay: 0, maxGradNorm: 0, rngSeed: 11 };
      const [rf, rp] = [await fused.trainStep(b, opts), await plain.trainStep(b, opts)];
      assert.ok(Math.abs(rf.loss - rp.loss) <= tol.out * Math.abs(rp.loss), `training loss (dropout on) ${rf.loss} vs ${rp.loss}`);
      for (const { name } of plain.parameters()) {
        const a = fused.getGradient(name), e = plain.getGradient(name);
        const err = maxRelError(a, e), abs = maxAbsDiff(a, e);
        if (process.env.ROOTS_TEST_VERBOSE) console.log(precision, name, err, abs);
        // The key bias's gradient is zero in exact arithmetic (softmax ignores a constant shift):
        // both sides hold rounding noise there.
        assert.ok(err <= tol.grad || abs <= tol.abs, `gradient of ${name}: rel err ${err}, abs ${abs}`);
      }
      // Another dropout seed draws other masks on both sides alike: the losses move together.
      const [sf, sp] = [await fused.trainStep(b, { ...opts, rngSeed: 12 }), await plain.trainStep(b, { ...opts, rngSeed: 12 })];
      assert.notEqual(sf.loss, rf.loss);
      assert.ok(Math.abs(sf.loss - sp.loss) <= tol.out * Math.abs(sp.loss), `training loss, seed 12: ${sf.loss} vs ${sp.loss}`);
    } finally {
      fused.dispose();
      plain.dispose();
    }
  });
}

test('ROOTS_FUSED accepts only 1 or 0', () => {
  assert.throws(() => withEnv({ ROOTS_FUSED: 'yes' }, () => BertForTokenClassification.fromConfig(config, { labels })),
    (e: Error & { code?: string }) => e.code === 'ERR_CONFIG' && /ROOTS_FUSED=yes \(expected 1 or 0\)/.test(e.message));
});

// GELU(x + bias) and its gradients (input and bias) against PyTorch's GELU: fp32 against float64
// (exact erf) on the fp32 pre-activation; bf16 against PyTorch's own bf16 GELU on the pre-activation
// rounded to bf16, as the unfused autocast path computes it. x sweeps [-12, 12] and the borders of
// the kernel's erf pieces (|x| / sqrt 2 = 0.921875 and 3.9375), where a wrong coefficient shows.
test('bias + GELU kernel matches PyTorch (values and gradients, fp32 and bf16)', { skip: requireTorchPython() }, () => {
  const N = 16, r = rng(9);
  const special = [0, 1e-6, -1e-6, 1.3037, 1.3038, -1.3037, -1.3038, 5.5684, 5.5685, -5.5684, -5.5685, 30, -30];
  const xs = [...special, ...Array.from({ length: 2400 }, (_, i) => -12 + i * 0.01), ...Array.from({ length: 291 }, () => 8 * (r() - 0.5))];
  const bias = Float32Array.from({ length: N }, () => 0.5 * (r() - 0.5));
  const x = Float32Array.from(xs, (v, i) => v - bias[i % N]);   // so that x + bias hits the values above
  const dy = Float32Array.from(xs, () => 2 * (r() - 0.5));
  const ref = spawnSync(python!, ['-c', `
import json, sys, torch
d = json.load(sys.stdin)
N = len(d['b'])
x, b, dy = torch.tensor(d['x']).view(-1, N), torch.tensor(d['b']), torch.tensor(d['dy']).view(-1, N)
out = {}
z = (x + b).double().requires_grad_(True)
y = torch.nn.functional.gelu(z); y.backward(dy.double())
out['fp32'] = [y.view(-1).tolist(), z.grad.view(-1).tolist(), z.grad.sum(0).tolist(), z.view(-1).tolist()]
z = (x.bfloat16().float() + b).bfloat16().requires_grad_(True)
y = torch.nn.functional.gelu(z); y.backward(dy.bfloat16())
g = z.grad.float()
out['bf16'] = [y.float().view(-1).tolist(), g.view(-1).tolist(), g.sum(0).tolist(), z.float().view(-1).tolist()]
print(json.dumps(out))`], { input: JSON.stringify({ x: [...x], b: [...bias], dy: [...dy] }), encoding: 'utf8' });
  assert.equal(ref.status, 0, ref.stderr);
  const expected = JSON.parse(ref.stdout) as Record<'fp32' | 'bf16', number[][]>;
  const st = new (native().SelfTest)(2);
  try {
    for (const precision of ['fp32', 'bf16'] as const) {
      const got = st.biasGelu(x, bias, dy, precision === 'bf16');
      const [ey, edx, edb, z] = expected[precision];
      // fp32: within 1e-6 of the exact value per unit of |z| (the kernel's Phi is within 1e-7);
      // bf16: within one bf16 step (2^-7 relative) of PyTorch's bf16 result, and most exactly equal;
      // plus 1e-6 absolute: PyTorch's 1 + erf(z) cancels to 0 in the far negative tail, where the
      // kernel's Phi keeps the true value (-7.4e-8 at z = -5.5625).
      const close = (a: number, e: number, zi: number) =>
        precision === 'fp32' ? Math.abs(a - e) <= 1e-6 * Math.max(1, Math.abs(zi)) : Math.abs(a - e) <= 2 ** -7 * Math.abs(e) + 1e-6;
      let exact = 0, body = 0;
      for (let i = 0; i < xs.length; i++) {
        assert.ok(close(got.y[i], ey[i], z[i]), `${precision} y at z=${z[i]}: ${got.y[i]} vs ${ey[i]}`);
        assert.ok(close(got.dx[i], edx[i], z[i]), `${precision} dx at z=${z[i]}: ${got.dx[i]} vs ${edx[i]}`);
        if (Math.abs(z[i]) < 4.5) { body++; if (got.y[i] === ey[i] && got.dx[i] === edx[i]) exact++; }
      }
      // Outside the tails (where PyTorch's values have lost their bits), bf16 results are PyTorch's own.
      if (precision === 'bf16') assert.ok(exact >= 0.98 * body, `bf16: ${exact} of ${body} bit-identical to PyTorch`);
      assert.ok(maxRelError(got.dbias, edb) <= 1e-5, `${precision} dbias: rel err ${maxRelError(got.dbias, edb)}`);
    }
  } finally {
    st.dispose();
  }
});
