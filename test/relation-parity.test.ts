// Relation classification against PyTorch (scripts/relation_reference.py): marker insertion (the ids
// and the [E1]/[E2] positions of each example, with entities in either order, a two-word entity and
// touching spans), the entity-start head (and the [CLS] option), the loss and every parameter
// gradient of one step. The markers come in through the tokenizer and grown word embeddings, whose
// old rows must stay as they were.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { collate } from '../lib/data/collate.js';
import { LabelVocab } from '../lib/data/labels.js';
import type { RelationExample } from '../lib/data/semeval.js';
import { BertForRelationClassification } from '../lib/models/bert.js';
import { RelationTask, withEntityMarkers } from '../lib/tasks/relation.js';
import { Tokenizer } from '../lib/tokenizer/index.js';
import { maxAbsDiff, maxRelError, readSafetensorsF32, requireTorchPython, runPython, tmp } from './helpers.js';

const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'the', 'cat', 'sat', 'on', 'mat', 'a', 'dog', 'chased', 'red', 'ball', 'in', 'garden', 'big', 'and', '.'];
const labels = ['Chase(e1,e2)', 'Chase(e2,e1)', 'Other'];
const span = (text: string, word: string, from = 0): [number, number] => { const s = text.indexOf(word, from); return [s, s + word.length]; };
const texts = ['The cat sat on the mat.', 'A dog chased the red ball in the garden.', 'The big dog and the cat.', 'redball sat.'];
const examples: (RelationExample & { label: number })[] = [
  { text: texts[0], e1: span(texts[0], 'cat'), e2: span(texts[0], 'mat'), label: 2 },
  { text: texts[1], e1: span(texts[1], 'garden'), e2: span(texts[1], 'dog'), label: 1 },  // e2 before e1
  { text: texts[2], e1: span(texts[2], 'big dog'), e2: span(texts[2], 'cat'), label: 0 },  // two words
  { text: texts[3], e1: [0, 3], e2: [3, 7], label: 0 },                                    // touching spans
].map((e) => ({ text: e.text, e1: { start: e.e1[0], end: e.e1[1] }, e2: { start: e.e2[0], end: e.e2[1] }, relation: labels[e.label], label: e.label }));

for (const pooling of ['entity-start', 'cls'] as const) test(`relation ${pooling}: markers, logits, loss and gradients match PyTorch`, { skip: requireTorchPython() }, async () => {
  const t = tmp();
  const base = BertForRelationClassification.fromConfig({
    vocab_size: vocab.length, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64,
    max_position_embeddings: 32, type_vocab_size: 2, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, initializer_range: 0.2,
    relation_pooling: pooling,
  }, { labels, seed: 11 });
  const oldRows = base.getParameter('bert.embeddings.word_embeddings.weight');
  const { model, tokenizer } = withEntityMarkers(base, Tokenizer.fromVocab(vocab, { do_lower_case: true }), { seed: 5 });
  try {
    assert.equal(model.config.vocab_size, vocab.length + 4);
    assert.deepEqual(['[E1]', '[/E1]', '[E2]', '[/E2]'].map((m) => tokenizer.tokenToId(m)), [20, 21, 22, 23]);
    const rows = model.getParameter('bert.embeddings.word_embeddings.weight');
    assert.deepEqual(rows.subarray(0, oldRows.length), oldRows, 'the old embedding rows are kept bit for bit');
    assert.ok(rows.subarray(oldRows.length).some((v) => v !== 0), 'the marker rows are initialised');

    await model.save(t.dir);
    renameSync(join(t.dir, 'model.safetensors'), join(t.dir, 'weights.safetensors'));
    writeFileSync(join(t.dir, 'case.json'), JSON.stringify({
      config: model.config, vocab: [...vocab, '[E1]', '[/E1]', '[E2]', '[/E2]'],
      examples: examples.map((e) => ({ text: e.text, e1: [e.e1.start, e.e1.end], e2: [e.e2.start, e.e2.end], label: e.label })),
    }));
    runPython('relation_reference.py', [t.dir]);
    const ref = readSafetensorsF32(join(t.dir, 'reference.safetensors'));

    const task = new RelationTask();
    const features = task.features(examples, { tokenizer, labels: new LabelVocab(labels), maxLength: 32, training: true });
    const batch = collate(features, { padTokenId: 0 });
    assert.deepEqual(Array.from(batch.inputIds), Array.from(ref.get('ids')!.data), 'marker insertion: the same ids');
    assert.deepEqual(Array.from(batch.entityPositions!), Array.from(ref.get('positions')!.data), 'the same [E1]/[E2] positions');
    assert.deepEqual(Array.from(batch.labels!), examples.map((e) => e.label));

    const fwd = await model.forward({ ...batch, labels: undefined });
    assert.deepEqual(fwd.dims, [examples.length, labels.length]);
    assert.ok(maxRelError(fwd.logits, ref.get('logits')!.data) <= 1e-5, `logits rel err ${maxRelError(fwd.logits, ref.get('logits')!.data)}`);

    const res = await model.trainStep(batch, { learningRate: 1e-6, maxGradNorm: 0 });
    const refLoss = ref.get('loss')!.data[0];
    assert.ok(Math.abs(res.loss - refLoss) <= 1e-5 * Math.abs(refLoss), `loss ${res.loss} vs ${refLoss}`);
    for (const { name } of model.parameters()) {
      const g = ref.get(`grad.${name}`);
      assert.ok(g, `reference has the gradient of ${name}`);
      // Gradients zero in exact arithmetic (the key bias: softmax ignores a shift) hold rounding noise on both sides.
      const a = model.getGradient(name), err = maxRelError(a, g.data), abs = maxAbsDiff(a, g.data);
      assert.ok(err <= 1e-4 || abs <= 1e-7, `${name}: gradient rel err ${err}, abs ${abs}`);
    }
    // The marker rows train: their gradient is non-zero.
    const grad = model.getGradient('bert.embeddings.word_embeddings.weight');
    assert.ok(grad.subarray(oldRows.length).some((v) => v !== 0));
  } finally {
    model.dispose();
    t.cleanup();
  }
});
