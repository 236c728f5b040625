// The engine's model API: checkpoints in and out, the real camphr checkpoint, fresh starts,
// freezing, bf16, determinism, and clear errors for bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Batch } from '../lib/batch.js';
import { RootsError } from '../lib/errors.js';
import { native } from '../lib/native.js';
import { BertForMaskedLM, BertForSequenceClassification, BertForTokenClassification } from '../lib/models/bert.js';
import { OPTIMIZER_DEFAULTS } from '../lib/models/optimizer.js';
import { resolveArgs } from '../lib/trainer/args.js';
import { maxRelError, python, readSafetensorsF32, rng, runPython, sharedData, tmp, writeSafetensors } from './helpers.js';

const camphr = join(sharedData, 'models', 'camphr_ner_bert');
const small = { vocab_size: 50, hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 32, max_position_embeddings: 24 };
const quiet = { log: null };

function batchOf(r: () => number, B: number, T: number, vocab: number, nLabels: number): Batch {
  const n = B * T;
  return {
    batchSize: B, seqLen: T,
    inputIds: Int32Array.from({ length: n }, () => 1 + Math.floor(r() * (vocab - 1))),
    attentionMask: new Int32Array(n).fill(1), tokenTypeIds: new Int32Array(n),
    labels: Int32Array.from({ length: n }, () => Math.floor(r() * nLabels)),
  };
}

test('the real camphr BertForTokenClassification checkpoint loads, runs, and matches PyTorch', async () => {
  const m = await BertForTokenClassification.fromPretrained(camphr, quiet);
  try {
    assert.deepEqual(m.loadReport.missingKeys, []);
    assert.deepEqual(m.loadReport.unexpectedKeys, []);
    assert.equal(m.labels?.length, 9);
    const batch = batchOf(rng(1), 2, 10, 402, 9);
    batch.attentionMask![15] = 0; batch.attentionMask![16] = 0;
    const out = await m.forward(batch);
    assert.deepEqual(out.dims, [2, 10, 9]);
    if (python) {
      const t = tmp();
      try {
        writeSafetensors(join(t.dir, 'b.safetensors'), {
          input_ids: { data: batch.inputIds, shape: [2, 10] }, attention_mask: { data: batch.attentionMask!, shape: [2, 10] },
          token_type_ids: { data: batch.tokenTypeIds!, shape: [2, 10] },
        });
        runPython('reference_forward.py', [camphr, 'token', join(t.dir, 'b.safetensors'), join(t.dir, 'out.safetensors')]);
        const ref = readSafetensorsF32(join(t.dir, 'out.safetensors')).get('logits')!;
        assert.ok(maxRelError(out.logits, ref.data) <= 1e-5, `camphr logits vs torch.load reference: ${maxRelError(out.logits, ref.data)}`);
      } finally { t.cleanup(); }
    }
  } finally { m.dispose(); }
});

test('a model saved by roots loads back with identical logits (and its safetensors reads in PyTorch)', async () => {
  const t = tmp();
  try {
    const m = BertForSequenceClassification.fromConfig(small, { labels: ['a', 'b', 'c'], seed: 3 });
    const b = batchOf(rng(2), 3, 8, 50, 3);
    b.labels = new Int32Array([0, 2, 1]);
    await m.trainStep(b, { learningRate: 1e-2 });
    const before = await m.forward(b);
    await m.save(t.dir);
    const cfg = JSON.parse(readFileSync(join(t.dir, 'config.json'), 'utf8'));
    assert.deepEqual(cfg.architectures, ['BertForSequenceClassification']);
    assert.deepEqual(cfg.id2label, { 0: 'a', 1: 'b', 2: 'c' });
    assert.deepEqual(cfg.label2id, { a: 0, b: 1, c: 2 });
    const m2 = await BertForSequenceClassification.fromPretrained(t.dir, quiet);
    const after = await m2.forward(b);
    assert.deepEqual(Array.from(after.logits), Array.from(before.logits));
    if (python) {
      writeSafetensors(join(t.dir, 'b.safetensors'), {
        input_ids: { data: b.inputIds, shape: [3, 8] }, attention_mask: { data: b.attentionMask!, shape: [3, 8] },
        token_type_ids: { data: b.tokenTypeIds!, shape: [3, 8] },
      });
      runPython('reference_forward.py', [t.dir, 'sequence', join(t.dir, 'b.safetensors'), join(t.dir, 'out.safetensors')]);
      const ref = readSafetensorsF32(join(t.dir, 'out.safetensors')).get('logits')!;
      assert.ok(maxRelError(after.logits, ref.data) <= 1e-5);
    }
    m.dispose(); m2.dispose();
  } finally { t.cleanup(); }
});

test('a base checkpoint without the head: head initialised fresh and reported', async () => {
  const t = tmp();
  try {
    const mlm = BertForMaskedLM.fromConfig(small, { seed: 1 });
    await mlm.save(t.dir);
    mlm.dispose();
    const notices: string[] = [];
    const tok = await BertForTokenClassification.fromPretrained(t.dir, { labels: ['O', 'B-X', 'I-X'], log: (s) => notices.push(s) });
    assert.deepEqual(tok.loadReport.missingKeys.sort(), ['classifier.bias', 'classifier.weight']);
    assert.ok(tok.loadReport.unexpectedKeys.some((k) => k.startsWith('cls.predictions')));
    assert.ok(notices.some((n) => /newly initialised/.test(n)));
    tok.dispose();
  } finally { t.cleanup(); }
});

test('a folder with config.json and no weights starts fresh; same seed, same weights', async () => {
  const t = tmp();
  try {
    writeFileSync(join(t.dir, 'config.json'), JSON.stringify({ ...small, id2label: { 0: 'O', 1: 'B-X' } }));
    const a = await BertForTokenClassification.fromPretrained(t.dir, { ...quiet, seed: 5 });
    const b = await BertForTokenClassification.fromPretrained(t.dir, { ...quiet, seed: 5 });
    const w = 'bert.encoder.layer.1.intermediate.dense.weight';
    assert.deepEqual(Array.from(a.getParameter(w)), Array.from(b.getParameter(w)));
    // HF's _init_weights: normal(0, 0.02), LayerNorm ones, zero biases, zero padding row.
    const x = a.getParameter(w);
    const mean = x.reduce((s, v) => s + v, 0) / x.length;
    const std = Math.sqrt(x.reduce((s, v) => s + (v - mean) ** 2, 0) / x.length);
    assert.ok(Math.abs(std - 0.02) < 0.003, `std ${std}`);
    assert.ok(a.getParameter('bert.embeddings.LayerNorm.weight').every((v) => v === 1));
    assert.ok(a.getParameter('bert.encoder.layer.0.output.dense.bias').every((v) => v === 0));
    assert.ok(a.getParameter('bert.embeddings.word_embeddings.weight').slice(0, 16).every((v) => v === 0));
    a.dispose(); b.dispose();
  } finally { t.cleanup(); }
});

test('training is deterministic on CPU: same seed and batches, same weights (with dropout)', async () => {
  const run = async () => {
    const m = BertForTokenClassification.fromConfig(small, { labels: ['a', 'b'], seed: 9 });
    const r = rng(4);
    for (let s = 0; s < 3; s++) await m.trainStep(batchOf(r, 2, 6, 50, 2), { learningRate: 1e-3, rngSeed: 100 + s });
    const w = m.getParameter('classifier.weight');
    m.dispose();
    return Array.from(w);
  };
  assert.deepEqual(await run(), await run());
});

test('freezing: frozen parameters do not move, the rest does', async () => {
  const m = BertForTokenClassification.fromConfig(small, { labels: ['a', 'b'], seed: 1 });
  const frozen = m.freeze({ bottomLayers: 1 });
  assert.ok(frozen.includes('bert.embeddings.word_embeddings.weight'));
  assert.ok(frozen.includes('bert.encoder.layer.0.attention.self.query.weight'));
  assert.ok(!frozen.some((n) => n.includes('layer.1.')));
  const e0 = m.getParameter('bert.encoder.layer.0.output.dense.weight');
  const e1 = m.getParameter('bert.encoder.layer.1.output.dense.weight');
  await m.trainStep(batchOf(rng(3), 2, 6, 50, 2), { learningRate: 1e-2, weightDecay: 0.1 });
  assert.deepEqual(Array.from(m.getParameter('bert.encoder.layer.0.output.dense.weight')), Array.from(e0));
  assert.notDeepEqual(Array.from(m.getParameter('bert.encoder.layer.1.output.dense.weight')), Array.from(e1));
  assert.equal(m.freeze('bitfit').filter((n) => n.endsWith('.bias')).length, 0);
  assert.ok(m.parameters().find((p) => p.name === 'classifier.weight')!.trainable);
  m.dispose();
});

test('bf16 autocast tracks fp32 losses', async (t) => {
  const b = batchOf(rng(6), 4, 16, 50, 2);
  const losses: number[][] = [];
  for (const p of ['fp32', 'bf16'] as const) {
    const m = BertForTokenClassification.fromConfig({ ...small, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 }, { labels: ['a', 'b'], seed: 2, precision: p });
    const ls: number[] = [];
    for (let s = 0; s < 5; s++) ls.push((await m.trainStep(b, { learningRate: 1e-3 })).loss);
    losses.push(ls);
    m.dispose();
  }
  for (let s = 0; s < 5; s++) assert.ok(Math.abs(losses[0][s] - losses[1][s]) < 2e-2, `step ${s}: fp32 ${losses[0][s]} bf16 ${losses[1][s]}`);
  t.diagnostic(`fp32 ${losses[0].map((x) => x.toFixed(4))} bf16 ${losses[1].map((x) => x.toFixed(4))}`);
});

test('non-finite losses skip the update', async () => {
  const m = BertForSequenceClassification.fromConfig(small, { labels: ['a', 'b'], seed: 1 });
  const w = m.getParameter('classifier.weight');
  const bad = new Float32Array(w.length).fill(NaN);
  m.setParameter('classifier.weight', bad);
  const b = batchOf(rng(1), 2, 5, 50, 2);
  b.labels = new Int32Array([0, 1]);
  const r = await m.trainStep(b, { learningRate: 1e-3 });
  assert.equal(r.skipped, true);
  assert.equal(m.optimizerStep, 0);
  m.dispose();
});

test('bad input is a clear error, never a crash', async (t) => {
  const m = BertForTokenClassification.fromConfig(small, { labels: ['a', 'b', 'c'], seed: 1 });
  const good = batchOf(rng(1), 2, 5, 50, 3);
  const code = (c: string, re?: RegExp) => (e: unknown) => e instanceof RootsError && e.code === c && (!re || re.test(e.message));
  await t.test('wrong lengths', () => assert.rejects(m.forward({ ...good, inputIds: new Int32Array(9) }), code('ERR_INVALID_ARG', /inputIds of length 10 but received length 9/)));
  await t.test('wrong type', () => assert.rejects(m.forward({ ...good, inputIds: new Float32Array(10) as unknown as Int32Array }), code('ERR_INVALID_ARG', /Int32Array/)));
  await t.test('zero batch', () => assert.rejects(m.forward({ ...good, batchSize: 0 }), code('ERR_INVALID_ARG', /batchSize/)));
  await t.test('ids out of vocabulary', () => assert.rejects(m.forward({ ...good, inputIds: good.inputIds.map((v, i) => (i === 3 ? 50 : v)) }), code('ERR_INVALID_ARG', /inputIds\[3\] = 50 is out of range \[0, 50\)/)));
  await t.test('labels out of range', () => assert.rejects(m.trainStep({ ...good, labels: good.labels!.map((v, i) => (i === 2 ? 3 : v)) }, { learningRate: 1e-3 }), code('ERR_INVALID_ARG', /labels\[2\] = 3 is out of range/)));
  await t.test('sequence too long', () => assert.rejects(m.forward(batchOf(rng(1), 1, 30, 50, 3)), code('ERR_INVALID_ARG', /max_position_embeddings/)));
  await t.test('missing labels for training', () => assert.rejects(m.trainStep({ ...good, labels: undefined }, { learningRate: 1e-3 }), code('ERR_INVALID_ARG', /labels/)));
  await t.test('bad learning rate', () => assert.rejects(m.trainStep(good, { learningRate: -1 }), code('ERR_INVALID_ARG', /learningRate/)));
  await t.test('an infinite learning rate', () => assert.rejects(m.trainStep(good, { learningRate: Infinity }),
    code('ERR_INVALID_ARG', /^Expected a finite number >= 0 for learningRate but received Infinity$/)));
  await t.test('betas out of range', () => assert.rejects(m.trainStep(good, { learningRate: 1e-3, betas: [0.9, 1] }), code('ERR_INVALID_ARG', /^Expected a number in \[0, 1\) for betas\[1\] but received 1$/)));
  await t.test('forward(null)', () => assert.rejects(m.forward(null as unknown as Batch),
    code('ERR_INVALID_ARG', /^Expected a Batch for batch but received null: a Batch is an object \{ batchSize, seqLen, inputIds, attentionMask, tokenTypeIds \} whose three arrays are Int32Arrays of batchSize \* seqLen values/)));
  await t.test('trainStep with a null batch', () => assert.rejects(m.trainStep([good, null as unknown as Batch], { learningRate: 1e-3 }), code('ERR_INVALID_ARG', /Expected a Batch for batches\[1\] but received null/)));
  await t.test('a batch without its attention mask', () => assert.rejects(m.forward({ ...good, attentionMask: undefined as unknown as Int32Array }),
    code('ERR_INVALID_ARG', /Expected Int32Array for attentionMask \(length 10\) but received undefined/)));
  await t.test('a second step while one runs', async () => {
    const p = m.trainStep(good, { learningRate: 1e-3 });
    await assert.rejects(m.trainStep(good, { learningRate: 1e-3 }), code('ERR_BUSY'));
    await p;
  });
  m.dispose();
  await t.test('a disposed model', () => assert.rejects(m.forward(good), code('ERR_DISPOSED')));
  assert.equal(native().liveObjects().jobs, 0);
});

test('bad checkpoints are clear errors and leave the model untouched', async (t) => {
  const dir = tmp();
  try {
    const m = BertForTokenClassification.fromConfig(small, { labels: ['a', 'b'], seed: 1 });
    await m.save(dir.dir);
    const file = join(dir.dir, 'model.safetensors');
    const bytes = readFileSync(file);
    const code = (c: string, re: RegExp) => (e: unknown) => e instanceof RootsError && e.code === c && re.test(e.message);
    await t.test('truncated file', async () => {
      writeFileSync(file, bytes.subarray(0, bytes.length - 100));
      await assert.rejects(BertForTokenClassification.fromPretrained(dir.dir, quiet), code('ERR_CHECKPOINT', /truncated/));
    });
    await t.test('a header that claims more than the file has', async () => {
      const b = Buffer.from(bytes); b.writeBigUInt64LE(10_000_000n, 0);
      writeFileSync(file, b);
      await assert.rejects(BertForTokenClassification.fromPretrained(dir.dir, quiet), code('ERR_CHECKPOINT', /header claims/));
    });
    await t.test('a header that lies about a tensor size', async () => {
      const n = Number(bytes.readBigUInt64LE(0));
      const h = JSON.parse(bytes.toString('utf8', 8, 8 + n));
      const k = 'classifier.bias';
      h[k].data_offsets[1] += 4;
      let hs = JSON.stringify(h); while (hs.length % 8) hs += ' ';
      const len = Buffer.alloc(8); len.writeBigUInt64LE(BigInt(hs.length));
      writeFileSync(file, Buffer.concat([len, Buffer.from(hs), bytes.subarray(8 + n)]));
      await assert.rejects(BertForTokenClassification.fromPretrained(dir.dir, quiet), code('ERR_CHECKPOINT', /classifier.bias/));
    });
    await t.test('shapes that disagree with the config', async () => {
      writeFileSync(file, bytes);
      const cfg = JSON.parse(readFileSync(join(dir.dir, 'config.json'), 'utf8'));
      writeFileSync(join(dir.dir, 'config.json'), JSON.stringify({ ...cfg, intermediate_size: 48 }));
      await assert.rejects(BertForTokenClassification.fromPretrained(dir.dir, quiet), code('ERR_CHECKPOINT', /intermediate.dense.weight: checkpoint \[32,16\] vs model \[48,16\]/));
      writeFileSync(join(dir.dir, 'config.json'), JSON.stringify(cfg));
    });
    await t.test('not JSON config', async () => {
      const c2 = tmp();
      writeFileSync(join(c2.dir, 'config.json'), '{ nope');
      await assert.rejects(BertForTokenClassification.fromPretrained(c2.dir, quiet), code('ERR_CONFIG', /config.json: not valid JSON/));
      c2.cleanup();
    });
    await t.test('a torch.save file that is not a zip', async () => {
      const c3 = tmp();
      copyFileSync(join(dir.dir, 'config.json'), join(c3.dir, 'config.json'));
      writeFileSync(join(c3.dir, 'pytorch_model.bin'), Buffer.from('not a zip at all, just bytes'));
      await assert.rejects(BertForTokenClassification.fromPretrained(c3.dir, quiet), code('ERR_CHECKPOINT', /not a zip file/));
      c3.cleanup();
    });
    // The failed loads left no stray temporary files and the model object is still usable.
    assert.ok(existsSync(file));
    const out = await m.forward(batchOf(rng(1), 1, 4, 50, 2));
    assert.equal(out.dims[2], 2);
    m.dispose();
  } finally { dir.cleanup(); }
});

test('dropout: keeps 1-p of the values, scales them by 1/(1-p), same seed same mask', () => {
  const st = new (native().SelfTest)(4);
  try {
    const n = 200_000, p = 0.1;
    const x = new Float32Array(n).fill(2);
    const a = st.dropout(x, p, 7), b = st.dropout(x, p, 7), c = st.dropout(x, p, 8);
    let kept = 0;
    for (const v of a) {
      if (v !== 0) { kept++; assert.ok(Math.abs(v - 2 / (1 - p)) < 1e-6); }
    }
    const sd = Math.sqrt(n * p * (1 - p));
    assert.ok(Math.abs(kept - n * (1 - p)) < 5 * sd, `kept ${kept} of ${n}`);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    // Neighbouring elements are independent: P(both dropped) ~ p^2.
    let both = 0;
    for (let i = 0; i + 1 < n; i += 2) if (a[i] === 0 && a[i + 1] === 0) both++;
    assert.ok(Math.abs(both - (n / 2) * p * p) < 5 * Math.sqrt((n / 2) * p * p), `pairs dropped together: ${both}`);
  } finally { st.dispose(); }
});

test('class weights: the loss is the weighted mean cross-entropy (as torch.nn.CrossEntropyLoss(weight))', async () => {
  const weights = [1, 4, 0.5];
  const m = BertForSequenceClassification.fromConfig({ ...small, class_weights: weights }, { labels: ['a', 'b', 'c'], seed: 2 });
  const b = batchOf(rng(9), 4, 6, 50, 3);
  b.labels = new Int32Array([0, 1, 2, 1]);
  const out = await m.forward(b);
  let num = 0, den = 0;
  for (let r = 0; r < 4; r++) {
    const row = Array.from(out.logits.slice(r * 3, r * 3 + 3));
    const lse = Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
    const y = b.labels[r];
    num += weights[y] * (lse - row[y]);
    den += weights[y];
  }
  assert.ok(Math.abs(out.loss! - num / den) < 1e-5, `${out.loss} vs ${num / den}`);
  m.dispose();
  assert.throws(() => BertForSequenceClassification.fromConfig({ ...small, class_weights: [1, 2] }, { labels: ['a', 'b', 'c'] }), /class_weights has 2 entries but there are 3 labels/);
});

test('trainStep defaults are Hugging Face\'s (AdamW 0.9/0.999/1e-8, no weight decay, clipping at 1), stated once', async () => {
  const task = { defaultMetric: 'loss', greaterIsBetter: () => false };
  const a = resolveArgs({}, false, task);
  assert.deepEqual([a.adamBetas, a.adamEpsilon, a.weightDecay, a.maxGradNorm], [[0.9, 0.999], 1e-8, 0, 1]);
  assert.deepEqual([[...OPTIMIZER_DEFAULTS.betas], OPTIMIZER_DEFAULTS.eps, OPTIMIZER_DEFAULTS.weightDecay, OPTIMIZER_DEFAULTS.maxGradNorm], [[0.9, 0.999], 1e-8, 0, 1]);
  // Large initial weights: a gradient norm well above 1, so clipping shows.
  const cfg = { ...small, initializer_range: 0.5, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 };
  const make = () => BertForTokenClassification.fromConfig(cfg, { labels: ['a', 'b', 'c'], seed: 4 });
  const b = batchOf(rng(7), 2, 6, 50, 3);
  const [dflt, explicit, unclipped] = [make(), make(), make()];
  const r = await dflt.trainStep(b, { learningRate: 1e-2 });
  await explicit.trainStep(b, { learningRate: 1e-2, weightDecay: 0, maxGradNorm: 1, betas: [0.9, 0.999], eps: 1e-8 });
  await unclipped.trainStep(b, { learningRate: 1e-2, maxGradNorm: 0 });
  assert.ok(r.gradNorm > 2, `gradient norm ${r.gradNorm}`);
  for (const p of dflt.parameters()) assert.deepEqual(dflt.getParameter(p.name), explicit.getParameter(p.name), p.name);
  // The gradients the update used were scaled by 1 / (norm + 1e-6) (clip_grad_norm_).
  const g = dflt.getGradient('classifier.weight'), raw = unclipped.getGradient('classifier.weight');
  assert.ok(maxRelError(g, raw.map((v) => v / (r.gradNorm + 1e-6))) <= 1e-5);
  for (const m of [dflt, explicit, unclipped]) m.dispose();
});
