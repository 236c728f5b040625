// Adapters on one base: several loaded, one chosen per call, one trained while the others and the base
// stay as they are, unloading; and the bad input the issue lists, each a clear error that leaves the
// model untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BertForSequenceClassification } from '../lib/models/bert.js';
import type { AdapterOptions } from '../lib/peft/config.js';
import { maxAbsDiff, repoRoot, rng, tmp } from './helpers.js';
import { base, makeBatch, perturb } from './peft-helpers.js';

const fixture = join(repoRoot, 'test', 'fixtures', 'peft');
const make = (cfg: Partial<typeof base> = {}) => BertForSequenceClassification.fromConfig({ ...base, ...cfg }, { labels: ['a', 'b', 'c'], seed: 1 });

test('several adapters on one base: each call picks one; training one leaves the others and the base as they were', async () => {
  const model = make();
  try {
    const r = rng(2);
    const batch = makeBatch(r, 2, 6, 'sequence', 3);
    const plain = await model.forward(batch);
    model.addAdapter('a', { type: 'lora', r: 2 });
    model.addAdapter('b', { type: 'ia3' });
    perturb(model, 'b', r);
    // A fresh LoRA adapter (B = 0) and its head copy leave the output as it was.
    assert.deepEqual((await model.forward(batch, { adapter: 'a' })).logits, plain.logits);
    const bBefore = await model.forward(batch, { adapter: 'b' });
    const baseParams = new Map(model.parameters().map((p) => [p.name, model.getParameter(p.name)]));
    for (let s = 0; s < 3; s++) await model.trainStep(batch, { learningRate: 1e-2, adapter: 'a' });
    assert.notDeepEqual((await model.forward(batch, { adapter: 'a' })).logits, plain.logits, 'adapter a learned');
    assert.deepEqual((await model.forward(batch, { adapter: 'b' })).logits, bBefore.logits, 'adapter b untouched');
    assert.deepEqual((await model.forward(batch, { adapter: null })).logits, plain.logits, 'the base untouched');
    for (const [n, v] of baseParams) assert.deepEqual(model.getParameter(n), v, n);
    assert.deepEqual(model.adapters().map((a) => [a.name, a.step]), [['a', 3], ['b', 0]]);
    // Only the adapter's parameters are trainable: LoRA on query/value of 2 layers (r=2) plus the classifier copy.
    const H = base.hidden_size;
    assert.equal(model.adapters()[0].numParameters, 2 * 2 * (2 * H + H * 2) + 3 * H + 3);
    // The model's default adapter serves calls that name none; unloading falls back to the base.
    model.setAdapter('b');
    assert.deepEqual((await model.forward(batch)).logits, bBefore.logits);
    model.deleteAdapter('b');
    assert.equal(model.activeAdapter, null);
    assert.deepEqual((await model.forward(batch)).logits, plain.logits);
    assert.throws(() => model.setAdapter('b'), { code: 'ERR_INVALID_ARG', message: /no adapter named "b" \(loaded: a\)/ });
  } finally {
    model.dispose();
  }
});

test('bad input: clear errors, the base untouched', async () => {
  const model = make();
  const t = tmp();
  try {
    const before = model.parameters().map((p) => model.getParameter(p.name));
    // A target pattern that matches nothing lists the module names.
    assert.throws(() => model.addAdapter('x', { type: 'lora', targetModules: ['q_proj'] }),
      { code: 'ERR_INVALID_ARG', message: /"q_proj" matches no module.*bert\.encoder\.layer\.0\.attention\.self\.query/ });
    assert.throws(() => model.addAdapter('x', { type: 'lora', targetModules: ['pooler.dense'] }), { code: 'ERR_UNSUPPORTED', message: /bert\.pooler\.dense cannot be adapted/ });
    assert.throws(() => model.addAdapter('x', { type: 'lora', r: 0 }), { code: 'ERR_INVALID_ARG', message: /r \(--lora-r\)/ });
    // Two adapters with the same name.
    model.addAdapter('x', { type: 'lora' });
    assert.throws(() => model.addAdapter('x', { type: 'ia3' }), { code: 'ERR_INVALID_ARG', message: /already loaded/ });
    await assert.rejects(model.loadAdapter(join(fixture, 'lora'), { name: 'x' }), { code: 'ERR_INVALID_ARG', message: /already loaded/ });
    // Merging a prefix adapter.
    model.addAdapter('p', { type: 'prefix', numVirtualTokens: 2 });
    assert.throws(() => model.mergeAdapter('p'), { code: 'ERR_UNSUPPORTED', message: /prefix-tuning adapter.*cannot be merged/ });
    // An adapter made for another base: shapes (the fixture's hidden size is 16, this one 8).
    const other = make({ hidden_size: 8, intermediate_size: 16 });
    try {
      await assert.rejects(other.loadAdapter(join(fixture, 'lora')), { code: 'ERR_CHECKPOINT', message: /lora_A\.weight" has shape \[2,16\], this model needs \[2,8\]/ });
      await assert.rejects(other.loadAdapter(join(fixture, 'prefix')), { code: 'ERR_CHECKPOINT', message: /token_dim is 16, this model has 8/ });
      assert.deepEqual(other.adapters(), [], 'a failed load leaves no adapter behind');
    } finally {
      other.dispose();
    }
    // ... or its base_model_name_or_path names another model.
    const dir = join(t.dir, 'named');
    mkdirSync(dir);
    const cfg = JSON.parse(readFileSync(join(fixture, 'lora', 'adapter_config.json'), 'utf8'));
    writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({ ...cfg, base_model_name_or_path: 'bert-large-cased' }));
    writeFileSync(join(dir, 'adapter_model.safetensors'), readFileSync(join(fixture, 'lora', 'adapter_model.safetensors')));
    const fromDir = await BertForSequenceClassification.fromPretrained(join(fixture, 'base'), { log: null });
    try {
      await assert.rejects(fromDir.loadAdapter(dir), { code: 'ERR_CHECKPOINT', message: /made for base model "bert-large-cased", this model is ".*base"/ });
      assert.equal(await fromDir.loadAdapter(dir, { ignoreBaseModel: true }), 'default');
    } finally {
      fromDir.dispose();
    }
    // An unsupported peft_type, and PEFT features roots does not compute.
    writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({ ...cfg, peft_type: 'LOHA' }));
    await assert.rejects(model.loadAdapter(dir, { name: 'y', ignoreBaseModel: true }), { code: 'ERR_UNSUPPORTED', message: /peft_type "LOHA" is not supported/ });
    writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({ ...cfg, use_dora: true }));
    await assert.rejects(model.loadAdapter(dir, { name: 'y', ignoreBaseModel: true }), { code: 'ERR_UNSUPPORTED', message: /use_dora/ });
    await assert.rejects(model.loadAdapter(join(t.dir, 'missing')), { code: 'ERR_IO', message: /no adapter_config\.json/ });
    assert.deepEqual(model.adapters().map((a) => a.name), ['p', 'x']);
    assert.deepEqual(model.parameters().map((p) => model.getParameter(p.name)), before, 'the base weights never changed');
  } finally {
    model.dispose();
    t.cleanup();
  }
});

test('an adapter run checkpoints the adapter alone, and its AdamW state resumes', async () => {
  const model = make();
  const t = tmp();
  try {
    const r = rng(4);
    const batch = makeBatch(r, 2, 6, 'sequence', 3);
    model.addAdapter('a', { type: 'lora', r: 2 });
    model.setAdapter('a');
    for (let s = 0; s < 2; s++) await model.trainStep(batch, { learningRate: 1e-2 });
    await model.save(t.dir);
    await model.saveOptimizer(join(t.dir, 'optimizer.safetensors'));
    assert.equal(model.optimizerStep, 2);
    await model.trainStep(batch, { learningRate: 1e-2 });
    const third = await model.forward(batch);
    // Back to the checkpoint (what the Trainer does to resume), then the same third step.
    await model.loadWeights(join(t.dir, 'model.safetensors'));
    await model.loadOptimizer(join(t.dir, 'optimizer.safetensors'));
    assert.equal(model.optimizerStep, 2);
    await model.trainStep(batch, { learningRate: 1e-2 });
    assert.deepEqual((await model.forward(batch)).logits, third.logits);
  } finally {
    model.dispose();
    t.cleanup();
  }
});

test('bf16 autocast: LoRA, (IA)3 and prefix adapters track fp32 and train with fp32 master weights', async () => {
  const model = make();
  try {
    const r = rng(9);
    const batch = makeBatch(r, 3, 8, 'sequence', 3);
    const cases: [string, AdapterOptions][] = [['l', { type: 'lora', r: 4, targetModules: ['query', 'value', 'output.dense'] }], ['i', { type: 'ia3' }], ['p', { type: 'prefix', numVirtualTokens: 3 }]];
    for (const [name, o] of cases) {
      model.addAdapter(name, o);
      perturb(model, name, r);
      model.setPrecision('fp32');
      const fp32 = await model.forward(batch, { adapter: name });
      model.setPrecision('bf16');
      const bf16 = await model.forward(batch, { adapter: name });
      const scale = Math.max(...fp32.logits.map(Math.abs));
      assert.ok(maxAbsDiff(fp32.logits, bf16.logits) <= 0.05 * scale, `${name}: bf16 logits ${maxAbsDiff(fp32.logits, bf16.logits)} from fp32 (scale ${scale})`);
      const param = model.adapterParameters(name)[0].name;
      const before = model.getAdapterParameter(name, param);
      const res = await model.trainStep(batch, { learningRate: 1e-2, adapter: name });
      assert.ok(Number.isFinite(res.loss) && !res.skipped);
      assert.notDeepEqual(model.getAdapterParameter(name, param), before, `${name}: ${param} trained under bf16`);
    }
  } finally {
    model.dispose();
  }
});
