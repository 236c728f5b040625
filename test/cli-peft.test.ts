// The CLI's adapter surface: `roots train --peft lora` writes an adapter folder (PEFT's two files, the
// tokenizer, config.json with the labels) and leaves the base untouched; `roots eval` and `roots predict`
// take it with --adapter (or as --model, its base named inside); `roots merge` writes a plain model that
// gives the same scores without the adapter; prefix adapters refuse to merge; flags of another
// adapter type name theirs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadWithAdapter, resolveAdapterSource } from '../lib/cli/adapter.js';
import { runEval } from '../lib/cli/eval.js';
import { runMerge } from '../lib/cli/merge.js';
import { runPredict } from '../lib/cli/predict.js';
import { runTrain } from '../lib/cli/train.js';
import { generateCorpus, toConll } from '../lib/demo/corpus.js';
import { buildVocab } from '../lib/demo/vocab.js';
import { BertForTokenClassification } from '../lib/models/bert.js';
import { nerPipeline } from '../lib/pipelines/ner.js';
import { textClassificationPipeline } from '../lib/pipelines/text-classification.js';
import { Tokenizer } from '../lib/tokenizer/index.js';
import { oneLineError, roots, tmp } from './helpers.js';

const d = tmp('roots-cli-peft-');
const corpus = generateCorpus({ train: 40, dev: 10, test: 0, seed: 5 });
const files = { train: join(d.dir, 'train.conll'), dev: join(d.dir, 'dev.conll'), vocab: join(d.dir, 'vocab.txt') };
writeFileSync(files.train, toConll(corpus.train));
writeFileSync(files.dev, toConll(corpus.dev));
writeFileSync(files.vocab, buildVocab(corpus.train.map((s) => s.tokens), { size: 300 }).join('\n') + '\n');
const base = join(d.dir, 'base');
const quiet = { out: () => {}, err: () => {} };

test.before(async () => {
  const init = join(d.dir, 'init');
  const r = roots('init', '--vocab', files.vocab, '--hidden', '32', '--layers', '1', '--heads', '2', '--intermediate', '64', '--max-position', '64', '--cased', '--out', init);
  assert.equal(r.code, 0, r.stderr);
  // A base with weights and no head of its own for these labels (as a pretrained encoder is).
  const model = await BertForTokenClassification.fromPretrained(init, { labels: ['O', 'X'], log: null });
  await model.save(base, { tokenizer: await Tokenizer.fromPretrained(init) });
  model.dispose();
});
test.after(() => d.cleanup());

test('train --peft lora, eval and predict --adapter, merge: the same scores, the base untouched', async () => {
  const out = join(d.dir, 'lora');
  const baseBytes = readFileSync(join(base, 'model.safetensors'));
  const summary = await runTrain({
    model: base, train: files.train, dev: files.dev, out, peft: 'lora', loraR: 4, loraAlpha: 8, loraTargets: 'query,value,intermediate.dense',
    epochs: 2, batchSize: 8, lr: 5e-3, progress: 'none', device: 'cpu', precision: 'fp32',
  }, quiet);
  assert.equal(summary.adapter?.type, 'lora');
  assert.ok(summary.adapter!.numParameters < summary.parameters / 5, `trainable ${summary.adapter!.numParameters} of ${summary.parameters}`);
  const saved = readdirSync(out);
  for (const f of ['adapter_config.json', 'adapter_model.safetensors', 'config.json']) assert.ok(saved.includes(f), `${f} in ${saved}`);
  assert.ok(!saved.includes('model.safetensors'), 'the adapter folder holds no copy of the base');
  assert.deepEqual(readFileSync(join(base, 'model.safetensors')), baseBytes);
  const cfg = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'));
  assert.equal(cfg.peft_type, 'LORA');
  assert.equal(cfg.task_type, 'TOKEN_CLS');
  assert.deepEqual(cfg.modules_to_save, ['classifier']);

  const viaAdapter = await runEval({ model: base, adapter: out, data: files.dev, device: 'cpu', precision: 'fp32' }, quiet);
  const viaModel = await runEval({ model: out, data: files.dev, device: 'cpu', precision: 'fp32' }, quiet);  // base from adapter_config.json
  assert.deepEqual(viaModel.metrics, viaAdapter.metrics);
  // The dev score the Trainer reported for the best weights is what eval computes.
  assert.ok(Math.abs((viaAdapter.metrics as Record<string, number>).f1 - summary.dev!.f1) < 1e-9, `${JSON.stringify(viaAdapter.metrics)} vs ${JSON.stringify(summary.dev)}`);

  const merged = join(d.dir, 'merged');
  await runMerge({ adapter: out, out: merged }, quiet);
  assert.ok(existsSync(join(merged, 'model.safetensors')));
  const mergedEval = await runEval({ model: merged, data: files.dev, device: 'cpu', precision: 'fp32' }, quiet);
  for (const [k, v] of Object.entries(viaAdapter.metrics as Record<string, number>)) {
    assert.ok(Math.abs((mergedEval.metrics as Record<string, number>)[k] - v) <= 1e-5 * Math.max(1, Math.abs(v)), `${k}: merged ${(mergedEval.metrics as Record<string, number>)[k]} vs ${v}`);
  }
  const text = corpus.dev[0].tokens.join(' ');
  const a = await runPredict({ model: base, adapter: out, text: [text], device: 'cpu', precision: 'fp32' }, quiet);
  const b = await runPredict({ model: merged, text: [text], device: 'cpu', precision: 'fp32' }, quiet);
  const rounded = (x: unknown) => JSON.parse(JSON.stringify(x, (k, v) => (k === 'score' ? Math.round(v * 1e4) : v)));
  assert.deepEqual(rounded(a), rounded(b));
  // A pipeline over a model in memory runs the adapter it is given (several pipelines can share one base).
  const model = await loadWithAdapter(BertForTokenClassification, await resolveAdapterSource(base, out, quiet), { device: 'cpu', precision: 'fp32' });
  try {
    model.setAdapter(null);
    const ner = await nerPipeline({ model, tokenizer: await Tokenizer.fromPretrained(out), adapter: 'default' }, { aggregation: 'first' });
    assert.deepEqual(rounded([{ text, entities: await ner(text) }]), rounded(a));
    await assert.rejects(nerPipeline({ model, tokenizer: await Tokenizer.fromPretrained(out), adapter: 'nope' }), { code: 'ERR_INVALID_ARG', message: /no adapter named "nope" \(loaded: default\)/ });
  } finally {
    model.dispose();
  }
  // A pipeline given the adapter folder loads the base its adapter_config.json names, sets the adapter and owns both.
  const fromFolder = await nerPipeline(out, { aggregation: 'first', device: 'cpu', precision: 'fp32' });
  try {
    assert.deepEqual(rounded([{ text, entities: await fromFolder(text) }]), rounded(a));
  } finally {
    fromFolder.dispose();
  }
  await assert.rejects(textClassificationPipeline(out), { code: 'ERR_INVALID_ARG', message: /is an adapter for a BertForTokenClassification; the pipeline needs .*pipeline\('ner'/ });
});

test('prefix adapters train and refuse to merge; flags of another adapter type are named', async () => {
  const out = join(d.dir, 'prefix');
  await runTrain({ model: base, train: files.train, out, peft: 'prefix', prefixTokens: 4, maxSteps: 3, batchSize: 8, lr: 1e-2, progress: 'none', device: 'cpu', precision: 'fp32' }, quiet);
  assert.equal(JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8')).peft_type, 'PREFIX_TUNING');
  await assert.rejects(runMerge({ model: base, adapter: out, out: join(d.dir, 'm2') }, quiet), { code: 'ERR_UNSUPPORTED', message: /cannot be merged/ });
  assert.ok(!existsSync(join(d.dir, 'm2', 'model.safetensors')), 'nothing written');
  oneLineError(roots('train', '--model', base, '--train', files.train, '--out', join(d.dir, 'x'), '--peft', 'ia3', '--lora-r', '4'),
    /^roots: error: --lora-r is for --peft lora \(this run has --peft ia3\)$/);
  // (after the notices of loading the model: the module names come from it)
  const r = roots('train', '--model', base, '--train', files.train, '--out', join(d.dir, 'x'), '--peft', 'lora', '--lora-targets', 'q_proj', '--progress', 'none');
  assert.equal(r.code, 1);
  assert.match(r.stderr.trim().split('\n').at(-1)!, /^roots: error: LoRA: target module "q_proj" matches no module of this model\. Its linear modules: bert\.encoder\.layer\.0\.attention\.self\.query/);
});

test('bad input through the CLI: another base (by name, by shapes; --adapter-any-base), an unsupported peft_type, (IA)3 targets; one line each, nothing written', async () => {
  const out = join(d.dir, 'bad-lora');
  await runTrain({ model: base, train: files.train, out, peft: 'lora', loraR: 2, maxSteps: 2, batchSize: 8, progress: 'none', device: 'cpu', precision: 'fp32' }, quiet);
  // The same weights under another name: refused by name, loaded with --adapter-any-base.
  const renamed = join(d.dir, 'renamed');
  mkdirSync(renamed);
  for (const f of readdirSync(out)) if (statSync(join(out, f)).isFile()) copyFileSync(join(out, f), join(renamed, f));
  const cfg = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'));
  writeFileSync(join(renamed, 'adapter_config.json'), JSON.stringify({ ...cfg, base_model_name_or_path: 'bert-large-cased' }));
  oneLineError(roots('eval', '--model', base, '--adapter', renamed, '--data', files.dev, '--device', 'cpu'),
    /adapter_config\.json: the adapter was made for base model "bert-large-cased", this model is ".*base".*--adapter-any-base/);
  const r = roots('eval', '--model', base, '--adapter', renamed, '--adapter-any-base', '--data', files.dev, '--device', 'cpu', '--json');
  assert.equal(r.code, 0, r.stderr);
  const direct = (await runEval({ model: base, adapter: out, data: files.dev, device: 'cpu', precision: 'fp32' }, quiet)).metrics as Record<string, number>;
  for (const [k, v] of Object.entries(JSON.parse(r.stdout).metrics as Record<string, number>)) {
    assert.ok(Math.abs(v - direct[k]) <= 1e-4 * Math.max(1, Math.abs(v)), `${k}: ${v} with --adapter-any-base vs ${direct[k]}`);  // another process: other thread counts, other sums
  }
  // A base of other shapes: even with --adapter-any-base, the tensor and both shapes are named; merge writes nothing.
  const other = join(d.dir, 'other-base');
  const init = join(d.dir, 'other-init');
  assert.equal(roots('init', '--vocab', files.vocab, '--hidden', '16', '--layers', '1', '--heads', '2', '--intermediate', '32', '--max-position', '64', '--cased', '--out', init).code, 0);
  const m = await BertForTokenClassification.fromPretrained(init, { labels: ['O', 'X'], log: null });
  await m.save(other, { tokenizer: await Tokenizer.fromPretrained(init) });
  m.dispose();
  oneLineError(roots('merge', '--model', other, '--adapter', out, '--adapter-any-base', '--out', join(d.dir, 'm3')),
    /lora_A\.weight" has shape \[2,32\], this model needs \[2,16\] \(an adapter made for another base model\)/);
  assert.ok(!existsSync(join(d.dir, 'm3')), 'nothing written');
  // An unsupported peft_type, in an adapter given as --model (its base named inside).
  writeFileSync(join(renamed, 'adapter_config.json'), JSON.stringify({ ...cfg, peft_type: 'LOHA' }));
  oneLineError(roots('predict', '--model', renamed, '--text', 'Hello there', '--device', 'cpu'), /peft_type "LOHA" is not supported \(roots reads LORA, IA3, PREFIX_TUNING and its own BITFIT\)/);
  // (IA)3 patterns that match nothing name their own flags.
  for (const [flag, field] of [['--ia3-targets', 'target module'], ['--ia3-feedforward', 'feedforward_modules entry']]) {
    const t = roots('train', '--model', base, '--train', files.train, '--out', join(d.dir, 'x'), '--peft', 'ia3', flag, 'nothing', '--progress', 'none');
    assert.equal(t.code, 1);
    assert.match(t.stderr.trim().split('\n').at(-1)!, new RegExp(`^roots: error: \\(IA\\)3: ${field} "nothing" matches no module of this model\\. Its linear modules: bert\\.encoder.*or ${flag}\\)$`));
  }
  assert.ok(!existsSync(join(d.dir, 'x', 'adapter_model.safetensors')));
});
