// roots train --task prompt-classification as a user runs it (child processes): K-shot sampling
// with a seed, the template and verbalizer kept in config.json for the zero-shot pipeline, and
// one-line errors for a template without [MASK], a verbalizer without a label or with a word
// outside the vocabulary, K above a class's examples, and a model without a masked-LM head.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '../lib/tokenizer/index.js';
import { BertForMaskedLM, BertForSequenceClassification } from '../lib/models/bert.js';
import { pipeline } from '../lib/pipelines/index.js';
import { oneLineError, roots, tmp } from './helpers.js';

const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'it', 'was', 'great', 'terrible', 'good', 'bad', 'movie', 'film', 'plot', 'acting', '.'];
const d = tmp('roots-prompt-cli-');
test.after(() => d.cleanup());
const config = { vocab_size: VOCAB.length, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 64 };
const mlm = join(d.dir, 'mlm'), clf = join(d.dir, 'clf');
const train = join(d.dir, 'train.tsv'), verbalizer = join(d.dir, 'labels.json');
const rows = ['label\tsentence', ...Array.from({ length: 12 }, (_, i) => (i % 2 ? `pos\tgood ${['movie', 'film', 'plot'][i % 3]}` : `neg\tbad ${['movie', 'film', 'acting'][i % 3]}`))];

test('setup: a tiny masked-LM folder, a classifier folder, data', async () => {
  const tokenizer = Tokenizer.fromVocab(VOCAB, { do_lower_case: true });
  const m = BertForMaskedLM.fromConfig(config, { seed: 1 });
  const c = BertForSequenceClassification.fromConfig(config, { labels: ['neg', 'pos'], seed: 1 });
  try {
    await m.save(mlm, { tokenizer });
    await c.save(clf, { tokenizer });
  } finally {
    m.dispose();
    c.dispose();
  }
  writeFileSync(train, rows.join('\n') + '\n');
  writeFileSync(verbalizer, JSON.stringify({ neg: 'terrible', pos: 'great' }));
});

test('roots train --task prompt-classification --shots K --seed S: trains, saves the prompt with the model', async () => {
  const out = join(d.dir, 'out');
  const r = roots('train', '--task', 'prompt-classification', '--model', mlm, '--train', train, '--template', '{text} It was [MASK] .',
    '--verbalizer', verbalizer, '--shots', '3', '--seed', '5', '--max-steps', '4', '--batch-size', '2', '--eval-steps', '2', '--out', out, '--json', '--progress', 'none');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /Few-shot: 3 examples per class \(2 classes, seed 5\) from --train, and a dev set of as many more/);
  const summary = JSON.parse(r.stdout);
  assert.equal(summary.task, 'prompt-classification');
  assert.deepEqual(summary.labels, ['neg', 'pos']);
  assert.equal(summary.shots, 3);
  assert.equal(summary.template, '{text} It was [MASK] .');
  assert.ok(summary.dev.accuracy >= 0 && summary.dev.accuracy <= 1);
  const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  assert.deepEqual(cfg.architectures, ['BertForMaskedLM']);
  assert.equal(cfg.prompt_template, '{text} It was [MASK] .');
  assert.deepEqual(cfg.prompt_verbalizer, { neg: ['terrible'], pos: ['great'] });
  const zs = await pipeline('zero-shot-classification', out);
  try {
    const res = await zs('good movie');
    assert.deepEqual([...res.labels].sort(), ['neg', 'pos']);
  } finally {
    zs.dispose();
  }
});

test('roots train --task prompt-classification with [P] soft prompts: only the prompt trains; the folder reloads with it', async () => {
  const out = join(d.dir, 'soft');
  const r = roots('train', '--task', 'prompt-classification', '--model', mlm, '--train', train, '--template', '[P] [P] {text} [MASK] .',
    '--verbalizer', verbalizer, '--max-steps', '2', '--batch-size', '4', '--out', out, '--json', '--progress', 'none');
  assert.equal(r.code, 0, r.stderr);
  const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  assert.equal(cfg.soft_prompt_tokens, 2);
  const before = await BertForMaskedLM.fromPretrained(mlm, { log: null });
  const after = await BertForMaskedLM.fromPretrained(out, { log: null });
  try {
    assert.deepEqual(after.loadReport.missingKeys, []);
    assert.deepEqual(after.getParameter('bert.encoder.layer.0.output.dense.weight'), before.getParameter('bert.encoder.layer.0.output.dense.weight'));
    assert.deepEqual(after.getParameter('cls.predictions.bias'), before.getParameter('cls.predictions.bias'));
    const zs = await pipeline('zero-shot-classification', { model: after, tokenizer: Tokenizer.fromVocab(VOCAB, { do_lower_case: true }) }, { template: cfg.prompt_template, verbalizer: cfg.prompt_verbalizer });
    assert.equal((await zs('good film')).labels.length, 2);
  } finally {
    before.dispose();
    after.dispose();
  }
});

test('roots train --task prompt-classification: bad input is one line on stderr', () => {
  const base = ['train', '--task', 'prompt-classification', '--model', mlm, '--train', train, '--out', join(d.dir, 'x')];
  const v = ['--verbalizer', verbalizer];
  oneLineError(roots(...base, ...v), /needs --template, e\.g\. --template "\{text\} It was \[MASK\] \."/);
  oneLineError(roots(...base, '--template', '{text} It was great .', ...v), /has 0 \[MASK\]; a cloze template needs exactly one/);
  oneLineError(roots(...base, '--template', '{text} [MASK]'), /needs --verbalizer/);
  writeFileSync(join(d.dir, 'one.json'), JSON.stringify({ neg: 'terrible', other: 'great' }));
  oneLineError(roots(...base, '--template', '{text} [MASK]', '--verbalizer', join(d.dir, 'one.json')), /--verbalizer .*one\.json has no word for the label "pos"/);
  writeFileSync(join(d.dir, 'oov.json'), JSON.stringify({ neg: 'terrible', pos: 'splendid' }));
  oneLineError(roots(...base, '--template', '{text} [MASK]', '--verbalizer', join(d.dir, 'oov.json'), '--max-steps', '1'), /the word "splendid" of label "pos" is not in the tokenizer's vocabulary/);
  oneLineError(roots(...base, '--template', '{text} [MASK]', ...v, '--shots', '4'), /--shots 4: K per class for training and K for the dev set need 8 examples of each class, but in --train .* "neg" has 6, "pos" has 6; lower --shots/);
  oneLineError(roots('train', '--task', 'prompt-classification', '--model', clf, '--train', train, '--out', join(d.dir, 'x'), '--template', '{text} [MASK]', ...v), /holds a BertForSequenceClassification, which has no masked-LM head/);
  oneLineError(roots('train', '--task', 'text-classification', '--model', clf, '--train', train, '--out', join(d.dir, 'x'), '--template', '{text} [MASK]'), /--template is for --task prompt-classification, not for --task text-classification/);
});
