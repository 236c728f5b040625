// int8 inference (native/quantize.h, lib/models/quantize.ts): held to PyTorch's quantize_dynamic
// (per_channel_dynamic_qconfig) on the same weights, the int8 folder format, precision 'auto', and
// the errors of a quantized model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Batch } from '../lib/batch.js';
import type { RootsError } from '../lib/errors.js';
import { info } from '../lib/info.js';
import { BertForSequenceClassification, BertForTokenClassification } from '../lib/models/bert.js';
import { quantizedEngines, resolveAutoPrecision } from '../lib/models/quantize.js';
import { readSafetensorsIndex } from '../lib/weights/index.js';
import { pipeline } from '../lib/pipelines/index.js';
import { runQuantize } from '../lib/cli/quantize.js';
import type { CliIO } from '../lib/cli/common.js';
import { maxAbsDiff, oneLineError, readSafetensorsF32, requireTorchPython, rng, roots, runPython, tmp, writeSafetensors } from './helpers.js';
import { corpusFixture, tinyModel } from './ner-fixtures.js';

const config = { vocab_size: 120, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 128, max_position_embeddings: 32, initializer_range: 0.2 };
const quiet = { log: null };
const B = 3, T = 12;

function batch(seed: number): Batch {
  const r = rng(seed);
  const mask = new Int32Array(B * T).fill(1);
  for (let t = 8; t < T; t++) mask[T + t] = 0;  // row 1 padded after 8 tokens
  return { batchSize: B, seqLen: T, inputIds: Int32Array.from({ length: B * T }, () => 1 + Math.floor(r() * 119)), attentionMask: mask, tokenTypeIds: new Int32Array(B * T) };
}

// The engine both sides pack with: PyTorch 1.13 (ROOTS_PYTHON) has onednn and qnnpack, as Debian's LibTorch does.
const engine = ['onednn', 'qnnpack'].find((e) => quantizedEngines().includes(e)) ?? quantizedEngines()[0];

for (const [head, Class] of [['token', BertForTokenClassification], ['sequence', BertForSequenceClassification]] as const) {
  test(`${head} head: int8 weights, scales and logits match PyTorch's quantize_dynamic on the same weights`, { skip: requireTorchPython() }, async () => {
    const t = tmp();
    try {
      const fp32 = Class.fromConfig(config, { labels: ['a', 'b', 'c', 'd', 'e'], seed: 7 });
      await fp32.save(t.dir);
      const b = batch(3);
      const ref32 = await fp32.forward(b);
      const q = await Class.fromPretrained(t.dir, { ...quiet, precision: 'int8' });
      assert.equal(q.precision, 'int8');
      await q.quantize({ engine });
      const out = await q.forward(b);
      writeSafetensors(join(t.dir, 'b.safetensors'), {
        input_ids: { data: b.inputIds, shape: [B, T] }, attention_mask: { data: b.attentionMask!, shape: [B, T] }, token_type_ids: { data: b.tokenTypeIds!, shape: [B, T] },
      });
      runPython('quantize_reference.py', [t.dir, head, join(t.dir, 'b.safetensors'), join(t.dir, 'ref.safetensors'), engine]);
      const ref = readSafetensorsF32(join(t.dir, 'ref.safetensors'));
      // The int8 weights and scales roots saves are PyTorch's, exactly.
      await q.save(join(t.dir, 'int8'));
      const saved = readSafetensorsF32Int8(join(t.dir, 'int8', 'model.safetensors'));
      let modules = 0;
      for (const [name, v] of ref) {
        if (!name.endsWith('.weight') && !name.endsWith('.weight_scale')) continue;
        modules++;
        assert.deepEqual(Array.from(saved.get(name)!), Array.from(v.data), name);
      }
      assert.equal(modules, 2 * 2 * 6);
      // Logits (of size ~1 with these weights): the same int8 products; what is left is fp32 rounding
      // in the rest of the network, and far below what int8 changes.
      const vsRef = maxAbsDiff(out.logits, ref.get('logits')!.data);
      const vsFp32 = maxAbsDiff(out.logits, ref32.logits);
      if (process.env.ROOTS_QUANT_DEBUG) console.log({ vsRef, vsFp32 });
      assert.ok(vsRef <= 1e-5, `int8 logits vs PyTorch's int8: max |diff| ${vsRef}`);
      assert.ok(vsFp32 > 100 * vsRef, `int8 changes the logits (vs fp32 ${vsFp32}) by more than it differs from PyTorch (${vsRef})`);
      fp32.dispose(); q.dispose();
    } finally { t.cleanup(); }
  });
}

/** A safetensors file's tensors as numbers (I8 and F32). */
function readSafetensorsF32Int8(path: string): Map<string, number[]> {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  const out = new Map<string, number[]>();
  for (const [k, e] of Object.entries(header)) {
    if (k === '__metadata__') continue;
    const [a, z] = e.data_offsets.map((o) => o + 8 + n);
    const bytes = buf.subarray(a, z);
    out.set(k, e.dtype === 'I8' ? Array.from(new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length))
      : Array.from(new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length))));
  }
  return out;
}

test('an int8 folder: quantization_config, I8 weights with F32 scales, loads back as int8 with identical logits; setPrecision goes back to fp32', async () => {
  const t = tmp();
  try {
    const m = BertForSequenceClassification.fromConfig(config, { labels: ['x', 'y'], seed: 2 });
    const b = batch(5);
    const before = await m.forward(b);
    const qi = await m.quantize();
    assert.deepEqual(qi, { engine: quantizedEngines()[0], modules: 8 });
    const int8 = await m.forward(b);
    await m.save(t.dir);
    const cfg = JSON.parse(readFileSync(join(t.dir, 'config.json'), 'utf8'));
    assert.equal(cfg.quantization_config.quant_method, 'roots_dynamic_int8');
    const { index } = await readSafetensorsIndex(join(t.dir, 'model.safetensors'));
    assert.equal(index.get('bert.encoder.layer.1.attention.self.key.weight')!.dtype, 'I8');
    assert.deepEqual(index.get('bert.encoder.layer.1.attention.self.key.weight_scale')!.shape, [64]);
    assert.equal(index.get('bert.encoder.layer.1.attention.self.key.bias')!.dtype, 'F32');
    assert.equal(index.get('classifier.weight')!.dtype, 'F32');
    const back = await BertForSequenceClassification.fromPretrained(t.dir, quiet);
    assert.equal(back.precision, 'int8');
    assert.deepEqual(back.loadReport.missingKeys, []);
    assert.deepEqual(back.loadReport.unexpectedKeys, []);
    assert.deepEqual(Array.from((await back.forward(b)).logits), Array.from(int8.logits));
    // 'auto' (the CLI's default) keeps an int8 folder int8; 'fp32' asks for the fp32 products.
    const auto = await BertForSequenceClassification.fromPretrained(t.dir, { ...quiet, precision: 'auto' });
    const asked = await BertForSequenceClassification.fromPretrained(t.dir, { ...quiet, precision: 'fp32' });
    assert.equal(auto.precision, 'int8');
    assert.equal(asked.precision, 'fp32');
    auto.dispose(); asked.dispose();
    // The fp32 weights stayed; setPrecision('fp32') runs them again, bit for bit.
    m.setPrecision('fp32');
    assert.equal(m.quantization, null);
    assert.deepEqual(Array.from((await m.forward(b)).logits), Array.from(before.logits));
    // A loaded int8 folder's fp32 weights are the dequantised ones: close to the original, not equal.
    back.setPrecision('fp32');
    const deq = (await back.forward(b)).logits;
    assert.ok(maxAbsDiff(deq, before.logits) > 0 && maxAbsDiff(deq, before.logits) < 0.05, `dequantised vs original: ${maxAbsDiff(deq, before.logits)}`);
    m.dispose(); back.dispose();
  } finally { t.cleanup(); }
});

test('a quantized model refuses training, new weights and an adapter, each with a specific error', async () => {
  const m = BertForSequenceClassification.fromConfig(config, { labels: ['x', 'y'], seed: 2 });
  await m.quantize();
  const b = { ...batch(1), labels: new Int32Array([0, 1, 0]) };
  await assert.rejects(m.trainStep(b, { learningRate: 1e-3 }), (e: RootsError) => e.code === 'ERR_UNSUPPORTED' && /quantized \(int8\).*cannot train/.test(e.message));
  assert.throws(() => m.setParameter('classifier.bias', new Float32Array(2)), (e: RootsError) => e.code === 'ERR_UNSUPPORTED' && /setPrecision\('fp32'\)/.test(e.message));
  assert.throws(() => m.setPrecision('int8'), /await model.quantize\(\)/);
  await assert.rejects(m.quantize({ engine: 'nope' }), (e: RootsError) => e.code === 'ERR_UNSUPPORTED' && /quantized engine 'nope' is not in this LibTorch \(it has: /.test(e.message));
  m.setPrecision('fp32');
  m.addAdapter('lora', { type: 'lora', r: 2, targetModules: ['query', 'value'] });
  m.setAdapter('lora');
  await assert.rejects(m.quantize(), (e: RootsError) => e.code === 'ERR_UNSUPPORTED' && /mergeAdapter/.test(e.message));
  m.dispose();
});

test('bad int8 folders: another quant_method, an int8 weight without its scale', async () => {
  const t = tmp();
  try {
    const m = BertForSequenceClassification.fromConfig(config, { labels: ['x', 'y'], seed: 2 });
    await m.quantize();
    await m.save(t.dir);
    m.dispose();
    const cfgPath = join(t.dir, 'config.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
    writeFileSync(cfgPath, JSON.stringify({ ...cfg, quantization_config: { quant_method: 'bitsandbytes' } }));
    await assert.rejects(BertForSequenceClassification.fromPretrained(t.dir, quiet), (e: RootsError) => e.code === 'ERR_CONFIG' && /quant_method is "bitsandbytes"; roots loads only its own int8 format/.test(e.message));
    writeFileSync(cfgPath, JSON.stringify(cfg));
    // Rename one scale in the header (same length, so the offsets stay right).
    const path = join(t.dir, 'model.safetensors');
    const buf = readFileSync(path);
    const at = buf.indexOf('layer.0.output.dense.weight_scale');
    buf.write('layer.0.output.dense.weight_scalX', at);
    writeFileSync(path, buf);
    await assert.rejects(BertForSequenceClassification.fromPretrained(t.dir, quiet), (e: RootsError) => e.code === 'ERR_CHECKPOINT' && /"bert.encoder.layer.0.output.dense.weight" has no F32 ".*weight_scale" beside it/.test(e.message));
  } finally { t.cleanup(); }
});

test("precision 'auto' picks bf16 only where the CPU has native bf16 (AVX512-BF16 / AMX with oneDNN)", () => {
  const i = info();
  assert.equal(resolveAutoPrecision('cpu'), i.cpu.bf16 && i.torch.mkldnn ? 'bf16' : 'fp32');
  const m = BertForSequenceClassification.fromConfig(config, { labels: ['x', 'y'], precision: 'auto' });
  assert.equal(m.precision, resolveAutoPrecision('cpu'));
  m.dispose();
});

test('roots quantize writes a folder the NER pipeline runs in int8, as a pipeline that quantizes the fp32 folder on load', async () => {
  const t = tmp();
  try {
    const f = corpusFixture({ train: 20, dev: 4, test: 4 });
    const m = tinyModel(f, 4);
    await m.save(join(t.dir, 'fp32'), { tokenizer: f.tokenizer });
    m.dispose();
    const r = roots('quantize', '--model', join(t.dir, 'fp32'), '--out', join(t.dir, 'int8'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Quantized 8 linear layers of .* to int8 \(engine \w+\); saved to .*int8 \(model.safetensors [\d.]+ -> [\d.]+ MiB\)/);
    const fromFolder = await pipeline('ner', join(t.dir, 'int8'), { aggregation: 'none' });
    const onLoad = await pipeline('ner', join(t.dir, 'fp32'), { aggregation: 'none', precision: 'int8' });
    const fp32 = await pipeline('ner', join(t.dir, 'fp32'), { aggregation: 'none' });
    assert.equal(fromFolder.model.precision, 'int8');
    assert.equal(onLoad.model.precision, 'int8');
    const texts = f.test.map((s) => s.tokens.join(' '));
    const a = await fromFolder(texts), b = await onLoad(texts), c = await fp32(texts);
    assert.ok(a.flat().length > 0);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.flat().map((e) => e.score), c.flat().map((e) => e.score));
    fromFolder.dispose(); onLoad.dispose(); fp32.dispose();
    oneLineError(roots('quantize', '--model', join(t.dir, 'int8'), '--out', join(t.dir, 'again')), /already quantized/);
    const io: CliIO = { out: () => {}, err: () => {} };
    await assert.rejects(runQuantize({ model: join(t.dir, 'fp32') }, io), /--out is required/);
    await assert.rejects(runQuantize({ model: join(t.dir, 'fp32'), out: join(t.dir, 'fp32') }, io), /is the --model folder/);
    await assert.rejects(runQuantize({ model: join(t.dir, 'fp32'), out: join(t.dir, 'x'), engine: 'tpu' }, io), /--engine tpu: this LibTorch's quantized engines are /);
  } finally { t.cleanup(); }
});
