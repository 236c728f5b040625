// GPU tests: the engine on CUDA against itself on the CPU, and against Hugging Face Transformers
// (scripts/gpu/hf_parity.py) on the same weights and batch: BertForTokenClassification and
// BertForSequenceClassification in fp32 with TF32 off (logits <= 1e-5 relative, gradients <= 1e-4)
// and in bf16 autocast (no further from fp32 than Transformers' own bf16 is); a checkpoint roots
// saved loads in Transformers with the same logits, and one Transformers saved (save_pretrained)
// loads in roots with the same logits.
//
// Skipped, with the reason, where `info().cuda.available` is false. One test runs everywhere: the
// device step path (one host copy per step) on the CPU, against the host step path.
// scripts/gpu/run-gpu-checks.sh runs this file on the GPU machine; ROOTS_GPU_OUT=dir makes it
// write the measured errors to dir/parity.json.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Batch } from '../lib/batch.js';
import { cudaMemory, info, resetCudaPeakMemory, synchronize } from '../lib/info.js';
import { BertForSequenceClassification, BertForTokenClassification, type BertPreTrainedModel } from '../lib/models/bert.js';
import { findHfPython } from '../scripts/gpu/hf-python.mjs';
import { maxAbsDiff, maxRelError, readSafetensorsF32, repoRoot, rng, tmp, withEnv, writeSafetensors } from './helpers.js';

const sys = info();
const SKIP_CUDA: string | false = sys.cuda.available ? false
  : `no CUDA device: info().cuda.available is false (LibTorch ${sys.torch.version}${sys.torch.cuda ? ' with CUDA, but no usable GPU' : ', CPU only'}). ` +
    'These tests run on a GPU machine: scripts/gpu/run-gpu-checks.sh (bench/results/README-gpu.md)';
// ROOTS_GPU_TEST_DEVICE=cpu runs the Transformers comparisons on the CPU (the run script's dry run).
const DEV: 'cpu' | 'cuda' = process.env.ROOTS_GPU_TEST_DEVICE === 'cpu' ? 'cpu' : 'cuda';
const SKIP_DEV: string | false = DEV === 'cpu' ? false : SKIP_CUDA;
const hf = SKIP_DEV ? null : findHfPython();
const SKIP_HF: string | false = SKIP_DEV || (hf ? false : 'no Python that imports torch and transformers (set ROOTS_PYTHON to one)');

const report: Record<string, unknown> = { device: DEV === 'cuda' ? sys.cuda.devices[0]?.name ?? 'cuda' : 'cpu', torch: sys.torch.version, python: hf };
after(() => {
  const dir = process.env.ROOTS_GPU_OUT;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'parity.json'), JSON.stringify(report, null, 2) + '\n');
});

const small = {
  vocab_size: 512, hidden_size: 128, num_hidden_layers: 3, num_attention_heads: 4, intermediate_size: 256,
  max_position_embeddings: 64, type_vocab_size: 2, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0,
  initializer_range: 0.05,
};
const tokenLabels = ['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC'];
const seqLabels = ['neg', 'neu', 'pos'];

/** A padded batch: row 0 full, the others shorter; a quarter of the real tokens ignored (-100). */
function makeBatch(seed: number, B: number, T: number, head: 'token' | 'sequence', nLabels: number): Batch {
  const r = rng(seed);
  const ids = new Int32Array(B * T), mask = new Int32Array(B * T), tt = new Int32Array(B * T), tok = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    const len = b === 0 ? T : Math.max(3, Math.floor(T * (0.4 + 0.5 * r())));
    for (let t = 0; t < T; t++) {
      const i = b * T + t, real = t < len;
      ids[i] = real ? 1 + Math.floor(r() * (small.vocab_size - 1)) : 0;
      mask[i] = real ? 1 : 0;
      tt[i] = real && t >= len / 2 ? 1 : 0;
      tok[i] = !real || r() < 0.25 ? -100 : Math.floor(r() * nLabels);
    }
  }
  const batch: Batch = { batchSize: B, seqLen: T, inputIds: ids, attentionMask: mask, tokenTypeIds: tt };
  batch.labels = head === 'token' ? tok : Int32Array.from({ length: B }, () => Math.floor(r() * nLabels));
  return batch;
}

/** Global relative L2 error over many tensors: ||a - b|| / ||b||. */
function relL2(pairs: [ArrayLike<number>, ArrayLike<number>][]): number {
  let num = 0, den = 0;
  for (const [a, b] of pairs) for (let i = 0; i < b.length; i++) { num += (a[i] - b[i]) ** 2; den += b[i] ** 2; }
  return Math.sqrt(num / (den || 1));
}

const stepOpts = { learningRate: 1e-3, weightDecay: 0.01, maxGradNorm: 0.5 };

/**
 * Weights of two models after `steps` AdamW steps agree to `tol`. The key bias has a gradient that
 * is zero in exact arithmetic (softmax ignores a constant shift), so both sides hold rounding noise
 * that Adam turns into steps of +-lr with a random sign: it is held to Adam's bound on the update.
 */
function weightErrors(a: BertPreTrainedModel, b: BertPreTrainedModel, steps: number, tol: number, what: string): number {
  let worst = 0;
  for (const p of b.parameters()) {
    const x = a.getParameter(p.name), y = b.getParameter(p.name);
    if (p.name.endsWith('attention.self.key.bias')) {
      assert.ok(maxAbsDiff(x, y) <= 2 * steps * stepOpts.learningRate + 1e-6, `${p.name} moved more than Adam allows`);
      continue;
    }
    const err = maxRelError(x, y);
    assert.ok(err <= tol, `${p.name} after ${steps} steps (${what}): rel err ${err}`);
    worst = Math.max(worst, err);
  }
  return worst;
}

// There is one step path (forward, backward, the norm and the update queued without a host round
// trip; one copy of loss and norm at the end). On the CPU it runs both AdamW kernels; the parity
// test holds each to PyTorch, this one holds them to each other and checks the non-finite skip.
test('the per-tensor AdamW kernel (ROOTS_ADAMW=foreach) matches the one-pass kernel on the CPU; a non-finite step is skipped', async () => {
  const make = () => BertForTokenClassification.fromConfig(small, { labels: tokenLabels, seed: 5 });
  const onePass = make();
  const dev = withEnv({ ROOTS_ADAMW: 'foreach' }, make);
  assert.deepEqual([onePass.adamwKernel, dev.adamwKernel], ['one-pass', 'per-tensor']);
  const b0 = makeBatch(1, 3, 10, 'token', 5), b1 = makeBatch(2, 2, 7, 'token', 5);
  for (const batches of [[b0], [b0, b1], [b1]]) {
    const a = await onePass.trainStep(batches, stepOpts), d = await dev.trainStep(batches, stepOpts);
    // The two AdamW implementations round differently (float vs double scalars): 1e-5 after a step.
    assert.ok(Math.abs(a.loss - d.loss) <= 1e-5 * Math.abs(a.loss), `loss ${d.loss} vs ${a.loss}`);
    assert.ok(Math.abs(a.gradNorm - d.gradNorm) <= 1e-4 * a.gradNorm, `grad norm ${d.gradNorm} vs ${a.gradNorm}`);
    assert.equal(d.tokens, a.tokens);
    assert.equal(d.step, a.step);
  }
  weightErrors(dev, onePass, 3, 1e-4, 'per-tensor vs one-pass AdamW');
  // A non-finite loss skips the update with either kernel.
  for (const m of [dev, onePass]) {
    const w = m.getParameter('classifier.weight');
    m.setParameter('classifier.bias', new Float32Array(5).fill(Number.NaN));
    const s = await m.trainStep(b0, stepOpts);
    assert.equal(s.skipped, true);
    assert.equal(m.optimizerStep, 3);
    assert.deepEqual(m.getParameter('classifier.weight'), w);
  }
  onePass.dispose();
  dev.dispose();
});

test('cuda: a model on the GPU computes what it computes on the CPU (fp32), and reports its memory', { skip: SKIP_CUDA }, async (t) => {
  const make = (device: 'cpu' | 'cuda') => BertForTokenClassification.fromConfig(small, { labels: tokenLabels, seed: 11, device });
  const cpu = make('cpu');
  resetCudaPeakMemory();
  const gpu = make('cuda');
  assert.match(gpu.device, /^cuda(:0)?$/);
  const b = makeBatch(3, 4, 24, 'token', 5), full = makeBatch(4, 4, 16, 'token', 5);
  full.attentionMask.fill(1);  // no padding: the mask-free attention kernel
  for (const batch of [b, full]) {
    const a = await cpu.forward(batch), g = await gpu.forward(batch);
    const err = maxRelError(g.logits, a.logits);
    assert.ok(err <= 1e-5, `logits rel err ${err}`);
  }
  for (const batches of [[b], [b, full], [full]]) {
    const a = await cpu.trainStep(batches, stepOpts), g = await gpu.trainStep(batches, stepOpts);
    assert.ok(Math.abs(a.loss - g.loss) <= 1e-5 * Math.abs(a.loss), `loss ${g.loss} vs ${a.loss}`);
    assert.ok(Math.abs(a.gradNorm - g.gradNorm) <= 1e-4 * a.gradNorm, `grad norm ${g.gradNorm} vs ${a.gradNorm}`);
    assert.equal(g.tokens, a.tokens);
  }
  const worst = weightErrors(gpu, cpu, 3, 1e-4, 'fused AdamW on the GPU vs the CPU loop');
  synchronize(gpu.device);
  const mem = cudaMemory(gpu.device);
  if (sys.cuda.memoryStats) {
    assert.ok(mem && mem.peakAllocatedBytes > 0 && mem.peakAllocatedBytes >= mem.allocatedBytes, `memory counters ${JSON.stringify(mem)}`);
  } else {
    t.diagnostic('built without the CUDA headers: cudaMemory() is null');
  }
  report.cpuVsCuda = { worstWeightRelErr: worst, memory: mem };
  cpu.dispose();
  gpu.dispose();
});

test(`${DEV}: kernel choices agree (sdpa vs math attention, fused vs foreach AdamW), and a non-finite step is skipped`, { skip: SKIP_DEV }, async () => {
  const make = (env: Record<string, string>) => withEnv(env, () => BertForTokenClassification.fromConfig(small, { labels: tokenLabels, seed: 12, device: DEV }));
  const ref = make({ ROOTS_ATTENTION: 'math', ROOTS_ADAMW: 'foreach' });
  const fast = make({ ROOTS_ATTENTION: 'sdpa', ROOTS_ADAMW: 'fused' });
  const b = makeBatch(5, 4, 24, 'token', 5);
  const err = maxRelError((await fast.forward(b)).logits, (await ref.forward(b)).logits);
  assert.ok(err <= 1e-5, `sdpa vs math logits: rel err ${err}`);
  for (let s = 0; s < 3; s++) {
    const a = await ref.trainStep(b, stepOpts), f = await fast.trainStep(b, stepOpts);
    assert.ok(Math.abs(a.loss - f.loss) <= 1e-5 * Math.abs(a.loss), `loss ${f.loss} vs ${a.loss}`);
  }
  weightErrors(fast, ref, 3, 1e-4, 'sdpa + fused AdamW vs math + foreach AdamW');
  const before = fast.getParameter('bert.encoder.layer.0.attention.self.query.weight');
  fast.setParameter('classifier.bias', new Float32Array(5).fill(Number.NaN));
  const s = await fast.trainStep(b, stepOpts);
  assert.equal(s.skipped, true);
  assert.equal(fast.optimizerStep, 3);
  assert.deepEqual(fast.getParameter('bert.encoder.layer.0.attention.self.query.weight'), before);
  ref.dispose();
  fast.dispose();
});

// ---- Hugging Face Transformers ------------------------------------------------------------------

interface HfCase { name: 'token' | 'sequence'; cls: typeof BertPreTrainedModel; arch: string; labels: string[]; batch: Batch }

const hfCases: HfCase[] = [
  { name: 'token', cls: BertForTokenClassification, arch: 'BertForTokenClassification', labels: tokenLabels, batch: makeBatch(21, 4, 24, 'token', 5) },
  { name: 'sequence', cls: BertForSequenceClassification, arch: 'BertForSequenceClassification', labels: seqLabels, batch: makeBatch(22, 4, 24, 'sequence', 3) },
];

let hfRun: Promise<{ dir: string; ref: Map<string, { data: Float32Array; shape: number[] }>; meta: Record<string, unknown> }> | undefined;

/** Saves each case's model from roots, writes the batches, runs hf_parity.py once for all tests. */
function runHf() {
  hfRun ??= (async () => {
    const t = tmp('roots-gpu-');
    const cases = [];
    for (const c of hfCases) {
      const model = (c.cls as unknown as { fromConfig(cfg: object, o: object): BertPreTrainedModel }).fromConfig(small, { labels: c.labels, seed: 31 });
      const dir = join(t.dir, `${c.name}-roots`);
      await model.save(dir);
      model.dispose();
      const b = c.batch, s = [b.batchSize, b.seqLen];
      const path = join(t.dir, `batch-${c.name}.safetensors`);
      writeSafetensors(path, {
        input_ids: { data: b.inputIds, shape: s }, attention_mask: { data: b.attentionMask, shape: s },
        token_type_ids: { data: b.tokenTypeIds, shape: s },
        labels: { data: b.labels!, shape: c.name === 'token' ? s : [b.batchSize] },
      });
      cases.push({ name: c.name, arch: c.arch, model_dir: dir, batch: path });
    }
    const hfSaved = {
      arch: 'BertForTokenClassification', labels: tokenLabels, seed: 3, out_dir: join(t.dir, 'token-hf'), batch: cases[0].batch,
      config: { ...small, pad_token_id: 0, layer_norm_eps: 1e-12, hidden_act: 'gelu' },
    };
    writeFileSync(join(t.dir, 'case.json'), JSON.stringify({ device: DEV, cases, hf_saved: hfSaved }));
    const r = spawnSync(hf!.exe, [join(repoRoot, 'scripts', 'gpu', 'hf_parity.py'), t.dir], { encoding: 'utf8', timeout: 300_000 });
    if (r.status !== 0) throw new Error(`hf_parity.py failed (status ${r.status}):\n${r.stderr}\n${r.stdout}`);
    const meta = JSON.parse(r.stdout.trim().split('\n').pop()!);
    report.transformers = meta;
    return { dir: t.dir, ref: readSafetensorsF32(join(t.dir, 'hf.safetensors')), meta };
  })();
  return hfRun;
}

/** Roots' eval logits/loss, train loss and every gradient (lr 0, no clipping) on the GPU. */
async function rootsSide(c: HfCase, dir: string, precision: 'fp32' | 'bf16') {
  const model = await (c.cls as unknown as { fromPretrained(d: string, o: object): Promise<BertPreTrainedModel> })
    .fromPretrained(join(dir, `${c.name}-roots`), { device: DEV, precision, log: null });
  const fwd = await model.forward(c.batch);
  const step = await model.trainStep(c.batch, { learningRate: 0, maxGradNorm: 0 });
  const grads = new Map(model.parameters().map((p) => [p.name, model.getGradient(p.name)]));
  model.dispose();
  return { logits: fwd.logits, loss: fwd.loss!, trainLoss: step.loss, grads };
}

for (const c of hfCases) {
  test(`${DEV} parity with Transformers' ${c.name === 'token' ? 'BertForTokenClassification' : 'BertForSequenceClassification'}, fp32 (TF32 off); the roots checkpoint loads in Transformers`, { skip: SKIP_HF }, async (t) => {
    const { dir, ref, meta } = await runHf();
    const loading = ((meta.cases as Record<string, Record<string, { loading: Record<string, string[]> }>>)[c.name].fp32.loading);
    for (const k of ['missing_keys', 'unexpected_keys', 'mismatched_keys'])
      assert.deepEqual(loading[k] ?? [], [], `Transformers loading roots' checkpoint: ${k}`);
    const r = await rootsSide(c, dir, 'fp32');
    const get = (k: string) => ref.get(`${c.name}.fp32.${k}`)!.data;
    const logitsErr = maxRelError(r.logits, get('logits'));
    const lossErr = Math.abs(r.loss - get('loss')[0]) / Math.abs(get('loss')[0]);
    const trainLossErr = Math.abs(r.trainLoss - get('train_loss')[0]) / Math.abs(get('train_loss')[0]);
    let worst = { name: '', err: 0 };
    for (const [name, g] of r.grads) {
      const h = ref.get(`${c.name}.fp32.grad.${name}`);
      assert.ok(h, `Transformers has a gradient for ${name}`);
      const err = maxRelError(g, h.data), abs = maxAbsDiff(g, h.data);
      // Gradients that are zero in exact arithmetic (the key bias) hold rounding noise on both sides.
      assert.ok(err <= 1e-4 || abs <= 1e-6, `gradient of ${name}: rel err ${err}, abs ${abs}`);
      if (!name.endsWith('attention.self.key.bias') && err > worst.err) worst = { name, err };
    }
    t.diagnostic(`logits ${logitsErr.toExponential(2)}, loss ${lossErr.toExponential(2)}, worst gradient ${worst.name} ${worst.err.toExponential(2)}`);
    report[`${c.name}.fp32`] = { logitsRelErr: logitsErr, lossRelErr: lossErr, trainLossRelErr: trainLossErr, worstGradRelErr: worst.err, worstGrad: worst.name };
    assert.ok(logitsErr <= 1e-5, `logits rel err ${logitsErr}`);
    assert.ok(lossErr <= 1e-5 && trainLossErr <= 1e-5, `loss rel err ${lossErr}, train loss ${trainLossErr}`);
  });

  test(`${DEV} parity with Transformers, ${c.name} head, bf16 autocast (as close to fp32 as Transformers' bf16)`, { skip: SKIP_HF }, async (t) => {
    const { dir, ref } = await runHf();
    const r = await rootsSide(c, dir, 'bf16');
    const f32 = (k: string) => ref.get(`${c.name}.fp32.${k}`)!.data;
    const b16 = (k: string) => ref.get(`${c.name}.bf16.${k}`)!.data;
    const names = [...r.grads.keys()];
    const logits = { roots: maxRelError(r.logits, f32('logits')), hf: maxRelError(b16('logits'), f32('logits')), rootsVsHf: maxRelError(r.logits, b16('logits')) };
    const loss = { roots: Math.abs(r.trainLoss - f32('train_loss')[0]) / f32('train_loss')[0], hf: Math.abs(b16('train_loss')[0] - f32('train_loss')[0]) / f32('train_loss')[0] };
    const grads = {
      roots: relL2(names.map((n) => [r.grads.get(n)!, f32(`grad.${n}`)])),
      hf: relL2(names.map((n) => [b16(`grad.${n}`), f32(`grad.${n}`)])),
      rootsVsHf: relL2(names.map((n) => [r.grads.get(n)!, b16(`grad.${n}`)])),
    };
    t.diagnostic(`error against fp32: logits roots ${logits.roots.toExponential(2)} / Transformers ${logits.hf.toExponential(2)}; ` +
      `gradients (relative L2) roots ${grads.roots.toExponential(2)} / Transformers ${grads.hf.toExponential(2)}; loss roots ${loss.roots.toExponential(2)} / Transformers ${loss.hf.toExponential(2)}`);
    report[`${c.name}.bf16`] = { logits, loss, grads };
    assert.ok(logits.roots <= Math.min(2 * logits.hf + 5e-3, 5e-2), `bf16 logits: roots ${logits.roots} vs Transformers ${logits.hf} from fp32`);
    assert.ok(grads.roots <= Math.min(2 * grads.hf + 1e-2, 1e-1), `bf16 gradients: roots ${grads.roots} vs Transformers ${grads.hf} from fp32`);
    assert.ok(loss.roots <= 2 * loss.hf + 5e-3, `bf16 loss: roots ${loss.roots} vs Transformers ${loss.hf} from fp32`);
  });
}

test(`${DEV}: a checkpoint Transformers saved (save_pretrained) loads in roots and gives the same logits`, { skip: SKIP_HF }, async () => {
  const { dir, ref } = await runHf();
  const model = await BertForTokenClassification.fromPretrained(join(dir, 'token-hf'), { device: DEV, log: null });
  assert.deepEqual(model.loadReport.missingKeys, [], 'missing keys');
  assert.deepEqual(model.loadReport.unexpectedKeys, [], 'unexpected keys');
  assert.deepEqual(model.labels, tokenLabels);
  const out = await model.forward(hfCases[0].batch);
  const err = maxRelError(out.logits, ref.get('hfsaved.logits')!.data);
  report.hfSavedLoadsInRoots = { logitsRelErr: err, source: model.loadReport.source };
  assert.ok(err <= 1e-5, `logits rel err ${err}`);
  model.dispose();
});
