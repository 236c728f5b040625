// The CLI (roots init / train / eval / predict) as a user runs it: exit codes, one-line errors for
// bad input, --config merging, --json outputs, and a tiny NER run end to end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { oneLineError, roots, tmp } from './helpers.js';
import { generateCorpus, toConll } from '../lib/demo/corpus.js';
import { buildVocab } from '../lib/demo/vocab.js';
import { readConll } from '../lib/data/readers.js';
import { BertForTokenClassification } from '../lib/models/bert.js';
import { evaluateNer } from '../lib/tasks/ner.js';
import { Tokenizer } from '../lib/tokenizer/index.js';


const d = tmp('roots-cli-');
const corpus = generateCorpus({ train: 240, dev: 40, test: 40, seed: 9 });
const files = { train: join(d.dir, 'train.conll'), dev: join(d.dir, 'dev.conll'), test: join(d.dir, 'test.conll'), vocab: join(d.dir, 'vocab.txt') };
writeFileSync(files.train, toConll(corpus.train));
writeFileSync(files.dev, toConll(corpus.dev));
writeFileSync(files.test, toConll(corpus.test));
writeFileSync(files.vocab, buildVocab(corpus.train.map((s) => s.tokens), { size: 600 }).join('\n') + '\n');
const init = join(d.dir, 'init');
const out = join(d.dir, 'model');

test.after(() => d.cleanup());

test('roots init writes config.json and tokenizer files, no weights', () => {
  const r = roots('init', '--vocab', files.vocab, '--hidden', '32', '--layers', '2', '--heads', '2', '--intermediate', '64', '--max-position', '64', '--cased', '--out', init, '--json');
  assert.equal(r.code, 0, r.stderr);
  const { config } = JSON.parse(r.stdout);
  assert.equal(config.hidden_size, 32);
  assert.equal(config.num_hidden_layers, 2);
  assert.equal(config.vocab_size, readFileSync(files.vocab, 'utf8').trim().split('\n').length);
  assert.deepEqual(readdirSync(init).sort(), ['config.json', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json', 'vocab.txt']);
  assert.equal(JSON.parse(readFileSync(join(init, 'tokenizer_config.json'), 'utf8')).do_lower_case, false);
  oneLineError(roots('init', '--vocab', files.vocab, '--out', init), /already has a config\.json \(pass --force/);
  oneLineError(roots('init', '--vocab', files.vocab, '--hidden', '30', '--heads', '4', '--out', join(d.dir, 'x'), '--force'), /hidden_size \(30\) must be a multiple of num_attention_heads \(4\)/);
  oneLineError(roots('init', '--vocab', join(d.dir, 'nope.txt'), '--out', join(d.dir, 'x')), /--vocab .*nope\.txt: no such file/);
});

test('bad input: non-zero exit and one line on stderr', () => {
  oneLineError(roots('train', '--train', files.train, '--out', out), /--model is required/);
  oneLineError(roots('train', '--model', join(d.dir, 'missing'), '--train', files.train, '--out', out), /--model .*missing: no such folder/);
  oneLineError(roots('train', '--model', d.dir, '--train', files.train, '--out', out), /no config\.json \(create one with `roots init`\)/);
  oneLineError(roots('train', '--model', init, '--train', join(d.dir, 'none.conll'), '--out', out), /--train .*none\.conll: no such file/);
  oneLineError(roots('train', '--model', init, '--train', files.train, '--out', out, '--lr', 'fast'), /option '--lr <rate>' argument 'fast' is invalid\. expected a number in \[0, ∞\)/);
  oneLineError(roots('train', '--model', init, '--train', files.train, '--out', out, '--batch-size', '0'), /'--batch-size <n>' argument '0' is invalid\. expected a positive integer/);
  oneLineError(roots('train', '--model', init, '--train', files.train, '--out', out, '--precision', 'fp8'), /expected one of fp32, bf16, auto/);
  oneLineError(roots('train', '--model', init, '--train', files.train, '--out', out, '--learning-rate', '1'), /unknown option '--learning-rate'/);
  oneLineError(roots('train', '--model', init, '--train', files.train, '--out', out, '--patience', '2'), /--patience needs --dev/);
  oneLineError(roots('train', '--model', init, '--train', files.vocab, '--out', out), /vocab\.txt:\d+: expected at least 2 columns/);
  const cfg = join(d.dir, 'bad-config.json');
  writeFileSync(cfg, JSON.stringify({ epochs: 1, learning_rate: 0.1 }));
  oneLineError(roots('train', '--config', cfg), /bad-config\.json: unknown option "learning_rate"/);
  writeFileSync(cfg, JSON.stringify({ epochs: 'many' }));
  oneLineError(roots('train', '--config', cfg), /bad-config\.json: option "epochs": expected a number in \(0, ∞\) but got "many"/);
  oneLineError(roots('predict', '--model', init, '--text', 'Hello'), /has no model\.safetensors or pytorch_model\.bin/);
  oneLineError(roots('predict', '--model', init), /Give --text "\.\.\." or --input FILE/);
  oneLineError(roots('eval', '--model', init, '--data', join(d.dir, 'gone.conll')), /--data .*gone\.conll: no such file/);
  oneLineError(roots('frobnicate'), /unknown command 'frobnicate'/);
});

test('roots train from a fresh start (options from --config, flags override), then eval and predict', async () => {
  const cfg = join(d.dir, 'train.json');
  writeFileSync(cfg, JSON.stringify({
    task: 'ner', model: init, train: files.train, dev: files.dev, test: files.test, out, 'max-steps': 1000, batchSize: 16, lr: 0.003,
    warmupRatio: 0.1, evalSteps: 15, saveTotalLimit: 1, seed: 3, precision: 'fp32', progress: 'plain',
  }));
  const r = roots('train', '--config', cfg, '--max-steps', '45', '--json');
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  assert.equal(summary.result.globalStep, 45, 'the flag overrides the file');
  assert.equal(summary.precision, 'fp32');
  assert.equal(summary.scheme, 'IOB2');
  assert.deepEqual(summary.labels, ['O', 'B-LOC', 'I-LOC', 'B-ORG', 'I-ORG', 'B-PER', 'I-PER']);
  // It learned: the model it started from (same config, labels and seed 3) scores lower F1 and higher loss on the same files.
  const start = BertForTokenClassification.fromConfig(JSON.parse(readFileSync(join(init, 'config.json'), 'utf8')), { labels: summary.labels, seed: 3, log: null });
  const startTokenizer = await Tokenizer.fromPretrained(init);
  for (const split of ['dev', 'test'] as const) {
    const before = (await evaluateNer(start, startTokenizer, await readConll(files[split]))).metrics;
    assert.ok(summary[split].f1 > before.f1, `${split} F1 ${summary[split].f1} is above the untrained model's ${before.f1}`);
    assert.ok(summary[split].loss < 0.6 * before.loss, `${split} loss ${summary[split].loss} fell by 40% from the untrained model's ${before.loss}`);
  }
  start.dispose();
  assert.match(r.stderr, /^step 1\/45 \| epoch/m, 'plain progress lines on stderr');
  assert.match(r.stderr, /^eval @ step 15 /m);
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'vocab.txt', 'trainer_log.jsonl', 'report.html', 'results.json']) assert.ok(existsSync(join(out, f)), f);
  const checkpoints = readdirSync(out).filter((n) => n.startsWith('checkpoint-'));
  assert.ok(checkpoints.length >= 1 && checkpoints.length <= 2, `save limit 1 plus the best: ${checkpoints}`);
  const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  assert.equal(config.tag_scheme, 'IOB2');
  assert.deepEqual(config.architectures, ['BertForTokenClassification']);

  // A second run into the same folder needs --resume or --overwrite; --resume continues from the newest checkpoint.
  oneLineError(roots('train', '--config', cfg, '--max-steps', '45'), /already holds checkpoints .*--resume.*--overwrite/);
  const more = roots('train', '--config', cfg, '--max-steps', '50', '--resume', '--json');
  assert.equal(more.code, 0, more.stderr);
  assert.match(more.stderr, /Resuming from .*checkpoint-45 \(step 45 of 50/);
  assert.equal(JSON.parse(more.stdout).result.globalStep, 50);

  const ev = roots('eval', '--model', out, '--data', files.dev, '--precision', 'fp32', '--json');
  assert.equal(ev.code, 0, ev.stderr);
  const scores = JSON.parse(ev.stdout);
  const final = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.ok(Math.abs(scores.metrics.f1 - final.dev.f1) < 1e-9, `roots eval on dev (${scores.metrics.f1}) = the dev F1 of training (${final.dev.f1})`);
  assert.match(scores.report, /micro avg/);
  const text = roots('eval', '--model', out, '--data', files.dev, '--precision', 'fp32');
  assert.match(text.stdout, /precision +recall +f1-score +support/);

  const input = join(d.dir, 'texts.txt');
  writeFileSync(input, `${corpus.test[0].tokens.join(' ')}\n\n${corpus.test[1].tokens.join(' ')}\n`);
  const p = roots('predict', '--model', out, '--input', input, '--json', '--precision', 'fp32');
  assert.equal(p.code, 0, p.stderr);
  const lines = p.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 2, 'empty lines are skipped');
  assert.equal(lines[0].text, corpus.test[0].tokens.join(' '));
  for (const { text: t, entities } of lines) for (const e of entities) assert.equal(t.slice(e.start, e.end), e.word);
  const one = roots('predict', '--model', out, '--text', 'Police in Kelburg arrested Tavi Rond .', '--aggregation', 'none');
  assert.equal(one.code, 0, one.stderr);
  assert.match(one.stdout, /^Police in Kelburg arrested Tavi Rond \.\n/);
});
