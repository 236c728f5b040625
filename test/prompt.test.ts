// Prompt learning's building blocks: template rendering and truncation (the template and the mask
// are never cut), verbalizer token ids and weights and their errors, the K-shot sampler's
// determinism and balance, and the prompt-classification task end to end on a tiny model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '../lib/tokenizer/index.js';
import { PromptTemplate, fitLengths } from '../lib/prompt/template.js';
import { Verbalizer } from '../lib/prompt/verbalizer.js';
import { sampleFewShot } from '../lib/prompt/sampler.js';
import { PromptClassificationTask, SOFT_PROMPT_ONLY, softPromptConfig } from '../lib/tasks/prompt-classification.js';
import { LabelVocab } from '../lib/data/labels.js';
import { collate } from '../lib/data/collate.js';
import { BertForMaskedLM, BertForSequenceClassification } from '../lib/models/bert.js';
import { Trainer } from '../lib/trainer/trainer.js';
import { tmp } from './helpers.js';

const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'it', 'was', 'great', 'terrible', 'a', 'b', 'c', 'd', 'e', '.', '?', 'good', 'bad',
  'movie', 'film', 'plot', 'wonder', '##ful', 'question', ':'];
const tokenizer = Tokenizer.fromVocab(VOCAB, { do_lower_case: true });
const id = (t: string) => VOCAB.indexOf(t);

test('template: parts, and errors for a missing mask or text, or an unknown placeholder', () => {
  const t = PromptTemplate.parse('{text} It was [MASK] .');
  assert.deepEqual(t.parts.map((p) => p.kind), ['text', 'literal', 'mask', 'literal']);
  assert.equal(t.hasPair, false);
  assert.equal(PromptTemplate.parse('{text} ? [MASK] , {text_pair}').hasPair, true);
  assert.throws(() => PromptTemplate.parse('{text} It was great.'), /has 0 \[MASK\]; a cloze template needs exactly one/);
  assert.throws(() => PromptTemplate.parse('[MASK] [MASK] {text}'), /has 2 \[MASK\]/);
  assert.throws(() => PromptTemplate.parse('It was [MASK] .'), /has 0 \{text\} placeholders/);
  assert.throws(() => PromptTemplate.parse('{text} {label} [MASK]'), /unknown placeholder \{label\}/);
  assert.throws(() => PromptTemplate.parse(''), /--template/);
  assert.equal(PromptTemplate.parse('{text} <mask>', '<mask>').parts[1].kind, 'literal');
  assert.equal(PromptTemplate.parse('{text}<mask>', '<mask>').parts[1].kind, 'mask');
});

test('template: renders [CLS] text template [SEP]; truncation cuts texts only, longest first, never the mask', () => {
  const t = PromptTemplate.parse('{text} It was [MASK] .');
  const r = t.render(tokenizer, { text: 'a b c' }, { maxLength: 32 });
  assert.deepEqual(Array.from(r.inputIds), ['[CLS]', 'a', 'b', 'c', 'it', 'was', '[MASK]', '.', '[SEP]'].map(id));
  assert.equal(r.maskPosition, 6);
  assert.equal(r.truncated, 0);
  // 6 fixed tokens ([CLS] it was [MASK] . [SEP]): maxLength 7 leaves one text token.
  const cut = t.render(tokenizer, { text: 'a b c d e' }, { maxLength: 7 });
  assert.deepEqual(Array.from(cut.inputIds), ['[CLS]', 'a', 'it', 'was', '[MASK]', '.', '[SEP]'].map(id));
  assert.equal(cut.inputIds[cut.maskPosition], id('[MASK]'));
  assert.equal(cut.truncated, 4);
  assert.throws(() => t.render(tokenizer, { text: 'a' }, { maxLength: 5 }), /takes 6 tokens without any text, more than maxLength 5 \(--max-length\)/);
  // Pairs: the longer text loses tokens first.
  const p = PromptTemplate.parse('{text} ? [MASK] , {text_pair}');
  const pr = p.render(tokenizer, { text: 'a b c d e', textPair: 'e d' }, { maxLength: 10 });
  // fixed: [CLS] ? [MASK] , [SEP] = 5; budget 5: lengths 5,2 -> 3,2
  assert.deepEqual(Array.from(pr.inputIds), ['[CLS]', 'a', 'b', 'c', '?', '[MASK]', ',', 'e', 'd', '[SEP]'].map((s) => (s === ',' ? tokenizer.unkTokenId : id(s))));
  assert.throws(() => p.render(tokenizer, { text: 'a' }, { maxLength: 10 }), /has no second text/);
  assert.throws(() => t.render(tokenizer, { text: 'a', textPair: 'b' }, { maxLength: 10 }), /has no \{text_pair\}/);
  assert.deepEqual(fitLengths([5, 2], 5), [3, 2]);
  assert.deepEqual(fitLengths([4, 4, 1], 6), [3, 2, 1]);
  assert.deepEqual(fitLengths([3, 1], 10), [3, 1]);
  assert.deepEqual(fitLengths([3, 1], 0), [0, 0]);
});

test('template: demonstrations follow the input with the label word in place of the mask, and give way first', () => {
  const t = PromptTemplate.parse('{text} It was [MASK] .');
  const demos = [{ text: 'c d', wordIds: [id('great')] }, { text: 'e', wordIds: [id('terrible')] }];
  const r = t.render(tokenizer, { text: 'a b' }, { maxLength: 64, demonstrations: demos });
  assert.deepEqual(tokenizer.convertIdsToTokens(r.inputIds), ['[CLS]', 'a', 'b', 'it', 'was', '[MASK]', '.', '[SEP]', 'c', 'd', 'it', 'was', 'great', '.', '[SEP]', 'e', 'it', 'was', 'terrible', '.', '[SEP]']);
  assert.equal(r.maskPosition, 5);
  // Room for the input's texts and one demonstration token: the demonstrations are cut, the input is not.
  const short = t.render(tokenizer, { text: 'a b' }, { maxLength: 6 + 2 + 2 * 5 + 1, demonstrations: demos });
  assert.equal(short.truncated, 0);
  assert.deepEqual(tokenizer.convertIdsToTokens(short.inputIds), ['[CLS]', 'a', 'b', 'it', 'was', '[MASK]', '.', '[SEP]', 'c', 'it', 'was', 'great', '.', '[SEP]', 'it', 'was', 'terrible', '.', '[SEP]']);
});

test('template: [P] soft prompt tokens are numbered in order, placed as [UNK], never truncated', () => {
  const t = PromptTemplate.parse('[P] [P] {text} [P] [MASK] .');
  assert.equal(t.softTokens, 3);
  const r = t.render(tokenizer, { text: 'a b c d' }, { maxLength: 9 });
  // [CLS] P P a b P [MASK] . [SEP]: 7 fixed tokens leave 2 for the text
  assert.deepEqual(tokenizer.convertIdsToTokens(r.inputIds), ['[CLS]', '[UNK]', '[UNK]', 'a', 'b', '[UNK]', '[MASK]', '.', '[SEP]']);
  assert.deepEqual(Array.from(r.softPromptSlots!), [-1, 0, 1, -1, -1, 2, -1, -1, -1]);
  assert.equal(r.maskPosition, 6);
  assert.equal(PromptTemplate.parse('{text} [MASK]').render(tokenizer, { text: 'a' }, { maxLength: 8 }).softPromptSlots, undefined);
});

test('verbalizer: token ids and weights (mean over words and pieces), vocabulary and label checks', () => {
  const v = new Verbalizer({ negative: 'terrible', positive: ['great', 'wonderful'] });
  const r = v.resolve(tokenizer, ['positive', 'negative']);
  assert.equal(r.numLabels, 2);
  // positive: great (1 piece, weight 1/2), wonder ##ful (2 pieces, 1/4 each); negative: terrible (1) + padding.
  assert.deepEqual(Array.from(r.ids), [id('great'), id('wonder'), id('##ful'), id('terrible'), 0, 0]);
  assert.deepEqual(Array.from(r.weights), [0.5, 0.25, 0.25, 1, 0, 0]);
  assert.throws(() => v.resolve(tokenizer, ['positive', 'neutral']), /has no word for the label "neutral" \(it has "negative", "positive"\); add "neutral": "<word>"/);
  assert.throws(() => v.resolve(tokenizer, undefined, { singleToken: true }), /the word "wonderful" of label "positive" is 2 tokens \(wonder ##ful\)/);
  assert.throws(() => new Verbalizer({ negative: 'terrible', positive: 'splendid' }).resolve(tokenizer), /the word "splendid" of label "positive" is not in the tokenizer's vocabulary \(it tokenizes to \[UNK\]\)/);
  assert.throws(() => new Verbalizer({ positive: 'great' }), /at least two labels/);
  assert.throws(() => new Verbalizer({ a: 'great', b: [] }), /label "b" must map to a non-empty word/);
  const t = tmp();
  try {
    writeFileSync(join(t.dir, 'bad.json'), '{"a": "great",');
    assert.throws(() => Verbalizer.readFile(join(t.dir, 'bad.json')), /--verbalizer .*bad.json: not valid JSON/);
    assert.throws(() => Verbalizer.readFile(join(t.dir, 'missing.json')), /--verbalizer .*missing.json: cannot read it/);
    writeFileSync(join(t.dir, 'ok.json'), '{"neg": "bad", "pos": "good"}');
    assert.deepEqual(Verbalizer.readFile(join(t.dir, 'ok.json')).labels, ['neg', 'pos']);
  } finally {
    t.cleanup();
  }
});

test('few-shot sampler: K per class, a disjoint dev set of the same size, the same draw for the same seed', () => {
  const data = Array.from({ length: 60 }, (_, i) => ({ text: `t${i}`, label: ['x', 'y', 'z'][i % 3] }));
  const a = sampleFewShot(data, { shots: 4, seed: 13 });
  const b = sampleFewShot(data, { shots: 4, seed: 13 });
  const c = sampleFewShot(data, { shots: 4, seed: 14 });
  assert.deepEqual(a.train, b.train);
  assert.deepEqual(a.dev, b.dev);
  assert.notDeepEqual(a.train.map((e) => e.text), c.train.map((e) => e.text));
  for (const split of [a.train, a.dev]) {
    assert.equal(split.length, 12);
    for (const l of ['x', 'y', 'z']) assert.equal(split.filter((e) => e.label === l).length, 4);
  }
  const trainTexts = new Set(a.train.map((e) => e.text));
  assert.ok(a.dev.every((e) => !trainTexts.has(e.text)), 'dev is disjoint from train');
  assert.deepEqual(a.classes, ['x', 'y', 'z']);
  assert.throws(() => sampleFewShot(data, { shots: 11, seed: 1 }), /--shots 11: K per class for training and K for the dev set need 22 examples of each class, but in the training set "x" has 20, "y" has 20, "z" has 20; lower --shots/);
  assert.equal(sampleFewShot(data, { shots: 20, seed: 1, dev: false }).train.length, 60);
});

test('prompt-classification: features, collation, and a Trainer run on a tiny masked-LM', async () => {
  const task = new PromptClassificationTask({ template: '{text} It was [MASK] .', verbalizer: { neg: 'terrible', pos: 'great' } });
  const train = Array.from({ length: 16 }, (_, i) => (i % 2 ? { text: 'good movie', label: 'pos' } : { text: 'bad film', label: 'neg' }));
  assert.deepEqual(task.labelsOf(train), ['neg', 'pos']);
  assert.throws(() => task.labelsOf([{ text: 'a', label: 'meh' }]), /has no word for the label "meh"/);
  const labels = new LabelVocab(['neg', 'pos']);
  const features = task.features(train.slice(0, 2), { tokenizer, labels, maxLength: 16, training: true });
  assert.deepEqual(tokenizer.convertIdsToTokens(features[1].inputIds), ['[CLS]', 'good', 'movie', 'it', 'was', '[MASK]', '.', '[SEP]']);
  assert.equal(features[1].maskPosition, 5);
  assert.equal(features[1].label, 1);
  const batch = collate(features, { padTokenId: 0 });
  assert.deepEqual(Array.from(batch.maskPositions!), [5, 5]);
  assert.deepEqual(Array.from(batch.verbalizerIds!), [id('terrible'), id('great')]);
  assert.equal(batch.verbalizerLabels, 2);
  assert.deepEqual(Array.from(batch.labels!), [0, 1]);

  const model = BertForMaskedLM.fromConfig({ vocab_size: VOCAB.length, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 32 }, { labels: ['neg', 'pos'], seed: 3 });
  try {
    const trainer = new Trainer({ model, tokenizer, train, eval: train, task, args: { epochs: 8, batchSize: 4, learningRate: 5e-3, progress: 'none', seed: 1 } });
    const before = await trainer.evaluate(train);
    const result = await trainer.train();
    assert.ok(result.evaluation, 'evaluated');
    assert.equal(result.evaluation.metrics.accuracy, 1, `learns the toy task (accuracy before ${before.metrics.accuracy})`);
    assert.ok(result.evaluation.metrics.loss < before.metrics.loss);
  } finally {
    model.dispose();
  }
  // A model without a masked-LM head: the first batch says so.
  const clf = BertForSequenceClassification.fromConfig({ vocab_size: VOCAB.length, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 32 }, { labels: ['neg', 'pos'], seed: 3 });
  try {
    const trainer = new Trainer({ model: clf, tokenizer, train, task, args: { maxSteps: 1, batchSize: 4, progress: 'none' } });
    await assert.rejects(trainer.train(), /has maskPositions \(a prompt batch\), which only a masked-LM model \(BertForMaskedLM\) takes, not a sequence head/);
  } finally {
    clf.dispose();
  }
  // Soft prompts: only the [P] embeddings train (the encoder and head frozen). A frozen random
  // encoder carries little of the text to the mask, so the check is that the prompt alone moves
  // the prediction to the label of a one-label training set.
  const softTask = new PromptClassificationTask({ template: '[P] [P] {text} [P] [MASK] .', verbalizer: { neg: 'terrible', pos: 'great' } });
  const allPos = train.map((e) => ({ ...e, label: 'pos' }));
  const soft = BertForMaskedLM.fromConfig({
    vocab_size: VOCAB.length, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 32,
    initializer_range: 0.5, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, ...softPromptConfig(softTask.template),
  }, { labels: ['neg', 'pos'], seed: 3 });
  try {
    const encoderBefore = soft.getParameter('bert.encoder.layer.0.output.dense.weight');
    const trainer = new Trainer({ model: soft, tokenizer, train: allPos, eval: allPos, task: softTask, args: { epochs: 5, batchSize: 4, learningRate: 1e-1, progress: 'none', seed: 1, freeze: SOFT_PROMPT_ONLY } });
    const before = await trainer.evaluate(allPos);
    const result = await trainer.train();
    assert.ok(result.evaluation!.metrics.loss < before.metrics.loss / 2, `soft prompt loss ${before.metrics.loss} -> ${result.evaluation!.metrics.loss}`);
    assert.deepEqual(soft.getParameter('bert.encoder.layer.0.output.dense.weight'), encoderBefore);
  } finally {
    soft.dispose();
  }
  // Demonstrations: one example per label, never the example itself.
  const withDemos = new PromptClassificationTask({ template: '{text} It was [MASK] .', verbalizer: { neg: 'terrible', pos: 'great' }, demonstrations: { pool: train, seed: 1 } });
  const f = withDemos.features([train[0]], { tokenizer, labels, maxLength: 32 })[0];
  assert.deepEqual(tokenizer.convertIdsToTokens(f.inputIds).slice(8), ['bad', 'film', 'it', 'was', 'terrible', '.', '[SEP]', 'good', 'movie', 'it', 'was', 'great', '.', '[SEP]']);
  assert.throws(() => new PromptClassificationTask({ template: '{text} [MASK]', verbalizer: { neg: 'terrible', pos: 'great' }, demonstrations: { pool: [train[0]] } }), /none of "pos"/);
});
