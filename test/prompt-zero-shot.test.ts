// The zero-shot-classification pipeline over a masked-LM: Transformers' output shape, scores equal
// to a softmax over the candidates' log-probabilities at the mask computed here from the model's
// full vocabulary logits, and clear errors (no MLM head, a word outside the vocabulary, no labels).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tokenizer } from '../lib/tokenizer/index.js';
import { BertForMaskedLM, BertForSequenceClassification } from '../lib/models/bert.js';
import { pipeline } from '../lib/pipelines/index.js';
import { tmp } from './helpers.js';

const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'it', 'was', 'great', 'terrible', 'good', 'bad', 'movie', 'film', '.', 'wonder', '##ful'];
const tokenizer = Tokenizer.fromVocab(VOCAB, { do_lower_case: true });
const config = { vocab_size: VOCAB.length, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 32, initializer_range: 0.5 };

function logSoftmax(row: Float32Array): number[] {
  const max = Math.max(...row);
  const lse = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
  return Array.from(row, (x) => x - lse);
}

test('zero-shot pipeline: { sequence, labels, scores } from the mask log-probabilities of the label words', async () => {
  const model = BertForMaskedLM.fromConfig(config, { seed: 5 });
  try {
    const zs = await pipeline('zero-shot-classification', { model, tokenizer }, { verbalizer: { pos: ['great', 'wonderful'], neg: 'terrible' } });
    const out = await zs('good movie');
    assert.equal(out.sequence, 'good movie');
    assert.deepEqual([...out.labels].sort(), ['neg', 'pos']);
    assert.ok(Math.abs(out.scores[0] + out.scores[1] - 1) < 1e-6 && out.scores[0] >= out.scores[1]);
    // The reference: full vocabulary logits of the rendered text, log-softmax at the mask.
    const ids = ['[CLS]', 'good', 'movie', 'it', 'was', '[MASK]', '.', '[SEP]'].map((t) => VOCAB.indexOf(t));
    const full = await model.forward({ batchSize: 1, seqLen: ids.length, inputIds: Int32Array.from(ids), attentionMask: new Int32Array(ids.length).fill(1), tokenTypeIds: new Int32Array(ids.length) });
    const V = VOCAB.length;
    const lp = logSoftmax(full.logits.subarray(5 * V, 6 * V));
    const w = (t: string) => lp[VOCAB.indexOf(t)];
    const s = { pos: (w('great') + (w('wonder') + w('##ful')) / 2) / 2, neg: w('terrible') };
    const pPos = 1 / (1 + Math.exp(s.neg - s.pos));
    assert.ok(Math.abs(out.scores[out.labels.indexOf('pos')] - pPos) < 1e-5, `pos ${out.scores[out.labels.indexOf('pos')]} vs ${pPos}`);
    // Candidate labels as words, lists of texts, a subset of the verbalizer.
    const plain = await pipeline('zero-shot-classification', { model, tokenizer });
    const two = await plain(['good movie', 'bad film'], ['great', 'terrible']);
    assert.equal(two.length, 2);
    assert.equal(two[1].sequence, 'bad film');
    const sub = await zs('bad film', { candidateLabels: ['neg', 'pos'] });
    assert.equal(sub.labels.length, 2);
    await assert.rejects(plain('good movie', ['great', 'splendid']), /the word "splendid" of label "splendid" is not in the tokenizer's vocabulary/);
    await assert.rejects(plain('good movie'), /Expected candidate labels/);
    await assert.rejects(zs('good movie', ['pos', 'meh']), /has no word for the label "meh"/);
    await assert.rejects(pipeline('zero-shot-classification', { model, tokenizer }, { template: '{text} was great' }), /needs exactly one/);
  } finally {
    model.dispose();
  }
});

test('zero-shot pipeline: a model without a masked-LM head is a clear error', async () => {
  const t = tmp();
  const clf = BertForSequenceClassification.fromConfig(config, { labels: ['a', 'b'], seed: 1 });
  try {
    await clf.save(t.dir, { tokenizer });
    await assert.rejects(pipeline('zero-shot-classification', t.dir), /holds a BertForSequenceClassification, which has no masked-LM head; zero-shot prompting needs a masked-language model/);
    await assert.rejects(pipeline('zero-shot-classification', { model: clf, tokenizer }), /needs a masked-language model \(BertForMaskedLM\), not a sequence head/);
  } finally {
    clf.dispose();
    t.cleanup();
  }
});
