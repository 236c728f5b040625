// Interop with Hugging Face PEFT. Committed fixture (scripts/gen-peft-fixture.py, made by PEFT on a
// generated tiny model): roots loads PEFT's LoRA, (IA)³ and prefix-tuning folders and gives PEFT's
// logits; roots' own saved folders use PEFT's names, shapes and config fields. Live (ROOTS_HF_PYTHON
// with peft): PEFT loads adapters roots trained and saved and gives roots' logits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Batch } from '../lib/batch.js';
import { BertForSequenceClassification } from '../lib/models/bert.js';
import type { AdapterOptions } from '../lib/peft/config.js';
import { maxRelError, readSafetensorsF32, repoRoot, rng, tmp, liveHfPython } from './helpers.js';
import { makeBatch } from './peft-helpers.js';

const fixture = join(repoRoot, 'test', 'fixtures', 'peft');
const expected = JSON.parse(readFileSync(join(fixture, 'expected.json'), 'utf8')) as {
  batch: { input_ids: number[][]; attention_mask: number[][]; token_type_ids: number[][] };
} & Record<string, number[][]>;

function fixtureBatch(): Batch {
  const b = expected.batch;
  const flat = (x: number[][]) => Int32Array.from(x.flat());
  return { batchSize: b.input_ids.length, seqLen: b.input_ids[0].length, inputIds: flat(b.input_ids), attentionMask: flat(b.attention_mask), tokenTypeIds: flat(b.token_type_ids) };
}

const loadBase = () => BertForSequenceClassification.fromPretrained(join(fixture, 'base'), { log: null });

test('PEFT-saved LoRA, (IA)3 and prefix adapters load and give PEFT\'s logits; several on one base', async () => {
  const model = await loadBase();
  try {
    const batch = fixtureBatch();
    const base = await model.forward(batch);
    assert.ok(maxRelError(base.logits, expected.base.flat()) <= 1e-5, 'the base matches Transformers');
    for (const name of ['lora', 'ia3', 'prefix', 'prefix-mlp']) await model.loadAdapter(join(fixture, name), { name });
    assert.deepEqual(model.adapters().map((a) => a.name).sort(), ['ia3', 'lora', 'prefix', 'prefix-mlp']);
    for (const name of ['lora', 'ia3', 'prefix', 'prefix-mlp']) {
      const out = await model.forward(batch, { adapter: name });
      const err = maxRelError(out.logits, expected[name].flat());
      assert.ok(err <= 1e-5, `${name}: rel err ${err}`);
    }
    // The base is untouched by loading adapters.
    assert.deepEqual((await model.forward(batch, { adapter: null })).logits, base.logits);
  } finally {
    model.dispose();
  }
});

test('roots saves adapters under PEFT\'s tensor names and config fields', async () => {
  const model = await loadBase();
  const t = tmp();
  try {
    const cases: [string, AdapterOptions][] = [
      ['lora', { type: 'lora', r: 2, alpha: 4, targetModules: ['query', 'value', 'intermediate.dense'] }],
      ['ia3', { type: 'ia3' }],
      ['prefix', { type: 'prefix', numVirtualTokens: 3 }],
    ];
    for (const [name, options] of cases) {
      model.addAdapter(name, options);
      await model.saveAdapter(join(t.dir, name), name);
      const ours = readSafetensorsF32(join(t.dir, name, 'adapter_model.safetensors'));
      const theirs = readSafetensorsF32(join(fixture, name, 'adapter_model.safetensors'));
      assert.deepEqual([...ours.keys()].sort(), [...theirs.keys()].sort(), `${name}: tensor names`);
      for (const [k, v] of theirs) assert.deepEqual(ours.get(k)!.shape, v.shape, `${name}: shape of ${k}`);
      const oc = JSON.parse(readFileSync(join(t.dir, name, 'adapter_config.json'), 'utf8'));
      const tc = JSON.parse(readFileSync(join(fixture, name, 'adapter_config.json'), 'utf8'));
      for (const k of ['peft_type', 'task_type', 'r', 'lora_alpha', 'target_modules', 'feedforward_modules', 'num_virtual_tokens', 'token_dim', 'num_layers', 'num_attention_heads']) {
        const norm = (v: unknown) => (Array.isArray(v) ? [...v].sort() : v);  // PEFT stores target_modules as a set
        assert.deepEqual(norm(oc[k]), norm(tc[k]), `${name}: adapter_config.json field ${k}`);
      }
      assert.ok(oc.base_model_name_or_path.endsWith('base'));
    }
  } finally {
    model.dispose();
    t.cleanup();
  }
});

const { exe: peftPython, skip: noPeft } = liveHfPython('torch, transformers, peft');

test('live: PEFT loads adapters roots trained and saved, and gives roots\' logits', { skip: noPeft }, async () => {
  const model = await loadBase();
  const t = tmp();
  try {
    const r = rng(3);
    const train = [makeBatch(r, 4, 8, 'sequence', 3), makeBatch(r, 4, 7, 'sequence', 3)];
    const batch = fixtureBatch();
    writeFileSync(join(t.dir, 'batch.json'), JSON.stringify(expected.batch));
    const cases: [string, AdapterOptions][] = [
      ['lora', { type: 'lora', r: 4, alpha: 8, targetModules: ['query', 'key', 'value', 'attention.output.dense', 'intermediate.dense', 'output.dense'] }],
      ['ia3', { type: 'ia3' }],
      ['prefix', { type: 'prefix', numVirtualTokens: 4 }],
      ['prefix-mlp', { type: 'prefix', numVirtualTokens: 2, prefixProjection: true, encoderHiddenSize: 8 }],
    ];
    const ours = new Map<string, Float32Array>();
    for (const [name, options] of cases) {
      model.addAdapter(name, options);
      for (let s = 0; s < 4; s++) await model.trainStep(train[s % 2], { learningRate: 5e-2, adapter: name });
      await model.saveAdapter(join(t.dir, name), name);
      ours.set(name, (await model.forward(batch, { adapter: name })).logits);
      // And back: roots reads its own folder into a second adapter with the same outputs.
      await model.loadAdapter(join(t.dir, name), { name: `${name}-again` });
      assert.deepEqual((await model.forward(batch, { adapter: `${name}-again` })).logits, ours.get(name));
    }
    const dirs = cases.map(([name]) => join(t.dir, name));
    const p = spawnSync(peftPython!, [join(repoRoot, 'scripts', 'gen-peft-fixture.py'), '--check', join(fixture, 'base'), join(t.dir, 'batch.json'), ...dirs], { encoding: 'utf8' });
    assert.equal(p.status, 0, p.stderr);
    const theirs = JSON.parse(p.stdout.trim().split('\n').pop()!) as Record<string, number[][]>;
    for (const [name] of cases) {
      const err = maxRelError(ours.get(name)!, theirs[join(t.dir, name)].flat());
      assert.ok(err <= 1e-5, `${name}: PEFT's logits vs roots' rel err ${err}`);
    }
  } finally {
    model.dispose();
    t.cleanup();
  }
});
