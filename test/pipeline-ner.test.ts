// The ner pipeline: Hugging Face's aggregation strategies on hand-built scores, the WordPiece
// detokenizer, and the pipeline on a small trained model (offsets, batching, long texts in windows).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aggregateEntities, groupEntities, softmaxRows, wordPieceTokensToString, type EntityGroup, type NerEntity, type PreEntity } from '../lib/pipelines/aggregation.js';
import { pipeline } from '../lib/pipelines/index.js';
import { Trainer } from '../lib/trainer/trainer.js';
import { evaluateNer } from '../lib/tasks/ner.js';
import { getEntities } from '../lib/metrics/seqeval.js';
import { RootsError } from '../lib/errors.js';
import { BertForSequenceClassification } from '../lib/models/bert.js';
import { TINY, corpusFixture, tinyModel } from './ner-fixtures.js';
import { tmp } from './helpers.js';

const LABELS = ['O', 'B-PER', 'I-PER', 'B-ORG', 'I-ORG'];
// "Enzo works at United Nations": Enzo = En ##zo, United = Uni ##ted. The subwords disagree with
// their first pieces, so first / average / max give three different answers.
const PRE: PreEntity[] = [
  { word: 'En', start: 0, end: 2, index: 1, isSubword: false, scores: [0.02, 0.90, 0.04, 0.02, 0.02] },
  { word: '##zo', start: 2, end: 4, index: 2, isSubword: true, scores: [0.05, 0.02, 0.40, 0.03, 0.50] },
  { word: 'works', start: 5, end: 10, index: 3, isSubword: false, scores: [0.99, 0.0025, 0.0025, 0.0025, 0.0025] },
  { word: 'at', start: 11, end: 13, index: 4, isSubword: false, scores: [0.98, 0.005, 0.005, 0.005, 0.005] },
  { word: 'Uni', start: 14, end: 17, index: 5, isSubword: false, scores: [0.10, 0.05, 0.05, 0.70, 0.10] },
  { word: '##ted', start: 17, end: 20, index: 6, isSubword: true, scores: [0.75, 0.01, 0.02, 0.02, 0.20] },
  { word: 'Nations', start: 21, end: 28, index: 7, isSubword: false, scores: [0.05, 0.05, 0.05, 0.05, 0.80] },
];

function approx(actual: unknown, expected: unknown): void {
  const round = (v: unknown): unknown => (typeof v === 'number' ? Math.round(v * 1e9) / 1e9 : Array.isArray(v) ? v.map(round) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, round(x)])) : v);
  assert.deepEqual(round(actual), round(expected));
}

test("aggregation 'none': every token with its argmax label, O dropped", () => {
  approx(aggregateEntities(PRE, 'none', LABELS), [
    { entity: 'B-PER', score: 0.9, index: 1, word: 'En', start: 0, end: 2 },
    { entity: 'I-ORG', score: 0.5, index: 2, word: '##zo', start: 2, end: 4 },
    { entity: 'B-ORG', score: 0.7, index: 5, word: 'Uni', start: 14, end: 17 },
    { entity: 'I-ORG', score: 0.8, index: 7, word: 'Nations', start: 21, end: 28 },
  ]);
});

test("aggregation 'simple': adjacent tokens of one type grouped, subwords may split words", () => {
  approx(aggregateEntities(PRE, 'simple', LABELS), [
    { entity_group: 'PER', score: 0.9, word: 'En', start: 0, end: 2 },
    { entity_group: 'ORG', score: 0.5, word: '##zo', start: 2, end: 4 },
    { entity_group: 'ORG', score: 0.7, word: 'Uni', start: 14, end: 17 },
    { entity_group: 'ORG', score: 0.8, word: 'Nations', start: 21, end: 28 },
  ]);
});

test("aggregation 'first': each word takes its first subword's label", () => {
  approx(aggregateEntities(PRE, 'first', LABELS), [
    { entity_group: 'PER', score: 0.9, word: 'Enzo', start: 0, end: 4 },
    { entity_group: 'ORG', score: 0.75, word: 'United Nations', start: 14, end: 28 },
  ]);
});

test("aggregation 'average': each word takes the argmax of its subwords' mean scores", () => {
  // Enzo: mean [0.035, 0.46, 0.22, 0.025, 0.26] -> B-PER 0.46; United: mean [0.425, 0.03, 0.035, 0.36, 0.15] -> O.
  approx(aggregateEntities(PRE, 'average', LABELS), [
    { entity_group: 'PER', score: 0.46, word: 'Enzo', start: 0, end: 4 },
    { entity_group: 'ORG', score: 0.8, word: 'Nations', start: 21, end: 28 },
  ]);
});

test("aggregation 'max': each word takes the label of its most confident subword", () => {
  // United: ##ted (O, 0.75) beats Uni (B-ORG, 0.70).
  approx(aggregateEntities(PRE, 'max', LABELS), [
    { entity_group: 'PER', score: 0.9, word: 'Enzo', start: 0, end: 4 },
    { entity_group: 'ORG', score: 0.8, word: 'Nations', start: 21, end: 28 },
  ]);
});

test('grouping: B- starts a new entity, I- continues one of the same type; ignoreLabels; unknown strategy', () => {
  const e = (entity: string, word: string, start: number) => ({ entity, score: 0.5, word, start, end: start + word.length });
  const groups: EntityGroup[] = groupEntities([e('B-PER', 'Ann', 0), e('B-PER', 'Bob', 4), e('I-PER', 'Smith', 8), e('I-LOC', 'Rome', 14), e('O', 'and', 19), e('B-creative-work', 'Up', 23)]);
  assert.deepEqual(groups.map((g) => [g.entity_group, g.word, g.start, g.end]), [
    ['PER', 'Ann', 0, 3], ['PER', 'Bob Smith', 4, 13], ['LOC', 'Rome', 14, 18], ['O', 'and', 19, 22], ['creative-work', 'Up', 23, 25],
  ]);
  assert.deepEqual(aggregateEntities(PRE, 'first', LABELS, { ignoreLabels: ['O', 'PER'] }).map((g) => (g as EntityGroup).entity_group), ['ORG']);
  assert.throws(() => aggregateEntities(PRE, 'longest' as never, LABELS), (err: unknown) => err instanceof RootsError && /Expected aggregation strategy 'none', 'simple', 'first', 'average', 'max' but received "longest"/.test(err.message));
});

test('WordPiece detokenization and softmax as Hugging Face does them', () => {
  assert.equal(wordPieceTokensToString(['play', '##ing', 'ball', '!']), 'playing ball!');
  assert.equal(wordPieceTokensToString(['U', '.', 'S', '.']), 'U. S.');
  assert.equal(wordPieceTokensToString(['##zo']), '##zo');
  assert.equal(wordPieceTokensToString(['don', "'", 't']), "don ' t");
  const p = softmaxRows([1, 2, 3, 1000, 1000, 0], 3);
  const expected = [0.09003057317038046, 0.24472847105479767, 0.6652409557748219, 0.5, 0.5, 0];
  for (const [i, v] of p.entries()) assert.ok(Math.abs(v - expected[i]) < 1e-7, `softmax[${i}] = ${v}, expected ${expected[i]}`);
});

test('the pipeline on a trained model: entities with exact character offsets, batches, long texts, errors', async (t) => {
  const f = corpusFixture({ train: 600, dev: 40, test: 40 }, 5);
  const model = tinyModel(f, 1, { hidden_size: 64, intermediate_size: 128, num_attention_heads: 4, max_position_embeddings: 128 });
  const trainer = new Trainer({ model, tokenizer: f.tokenizer, train: f.train, args: { epochs: 6, batchSize: 16, learningRate: 5e-3, warmupRatio: 0.1, progress: 'none' } });
  await trainer.train();
  const ner = await pipeline('ner', { model, tokenizer: f.tokenizer }, { aggregation: 'first' });
  // Sentences whose words are single pre-tokens (no "J." initials), so words and pipeline words align.
  const sentences = f.test.filter((s) => s.tokens.every((w) => /^[\p{L}\d]+$|^[.,-]$/u.test(w))).slice(0, 12);
  const texts = sentences.map((s) => s.tokens.join(' '));

  await t.test("'first' entities are the entities of the word-level predictions (what evaluation scores), with exact offsets", async () => {
    const ev = await evaluateNer(model, f.tokenizer, sentences);
    const out = await ner(texts);
    let exact = 0;
    let total = 0;
    out.forEach((ents, k) => {
      const s = sentences[k];
      const wordStart: number[] = [];
      s.tokens.reduce((pos, w) => { wordStart.push(pos); return pos + w.length + 1; }, 0);
      const expected = getEntities(ev.details.predictions[k]).map((e) => ({
        entity_group: e.type, word: s.tokens.slice(e.start, e.end).join(' '), start: wordStart[e.start], end: wordStart[e.end - 1] + s.tokens[e.end - 1].length,
      }));
      for (const e of ents) {
        assert.equal(texts[k].slice(e.start, e.end), e.word, `offsets of ${e.word}`);
        assert.ok(e.score > 0 && e.score <= 1);
      }
      assert.deepEqual(ents.map(({ score: _, ...rest }) => rest), expected, texts[k]);
      total += ents.length;
      if (JSON.stringify(ev.details.predictions[k]) === JSON.stringify(s.tags)) exact++;
    });
    t.diagnostic(`${exact}/${texts.length} sentences tagged exactly right, ${total} entities`);
    assert.ok(total >= texts.length, `a trained model finds entities (${total})`);
  });

  await t.test('a batch gives what single calls give', async () => {
    // Padding changes the matrix shapes, so scores may differ in the last float32 bits; nothing else may.
    const same = (a: NerEntity[], b: NerEntity[]) => {
      assert.deepEqual(a.map(({ score: _, ...r }) => r), b.map(({ score: _, ...r }) => r));
      for (const [i, e] of a.entries()) assert.ok(Math.abs(e.score - b[i].score) < 1e-5, `${e.score} vs ${b[i].score}`);
    };
    const batched = await ner(texts.slice(0, 4));
    for (let k = 0; k < 4; k++) same(await ner(texts[k]), batched[k]);
    const [a, b] = await Promise.all([ner(texts[0]), ner(texts[1])]);   // calls queue, never ERR_BUSY
    same(a, await ner(texts[0]));
    same(b, await ner(texts[1]));
  });

  await t.test("per-token scores equal the model's own forward pass; 'none' lists tokens", async () => {
    const text = texts[0];
    const { tokens, logits, numLabels } = await ner.tokenScores(text);
    const enc = f.tokenizer.encode(text);
    const out = await model.forward({ batchSize: 1, seqLen: enc.ids.length, inputIds: Int32Array.from(enc.ids), attentionMask: new Int32Array(enc.ids.length).fill(1), tokenTypeIds: new Int32Array(enc.ids.length) });
    assert.deepEqual(tokens, enc.tokens.slice(1, -1));
    assert.deepEqual(Array.from(logits), Array.from(out.logits.subarray(numLabels, numLabels * (enc.ids.length - 1))));
    const none = await ner(text, { aggregation: 'none' });
    for (const e of none) {
      assert.ok('entity' in e && 'index' in e);
      assert.equal(e.word, enc.tokens[e.index]);
    }
  });

  await t.test('a text longer than the window is cut into overlapping windows and merged back', async () => {
    const long = texts.join(' ');
    const small = await pipeline('ner', { model, tokenizer: f.tokenizer }, { aggregation: 'first', maxLength: 24, stride: 6 });
    const { tokens, logits, numLabels } = await small.tokenScores(long);
    assert.ok(tokens.length > 100, `${tokens.length} tokens`);
    for (let i = 0; i < tokens.length; i++) assert.ok(logits.subarray(i * numLabels, (i + 1) * numLabels).some((v) => v !== 0), `token ${i} has scores`);
    const ents = await small(long);
    assert.ok(ents.length >= 10, `${ents.length} entities over the whole text`);
    assert.ok(ents.some((e) => e.start > long.length / 2), 'entities in the later windows too');
    for (const e of ents) assert.equal(long.slice(e.start, e.end), e.word);
    // Most entities agree with the one-window reading of each sentence.
    const alone = (await ner(texts)).flat().map((e) => e.word);
    const found = ents.map((e) => e.word);
    const agree = alone.filter((w) => found.includes(w)).length;
    t.diagnostic(`${agree}/${alone.length} entities of the one-window reading also found through 24-token windows`);
    assert.ok(agree >= alone.length * 0.5);
  });

  await t.test('empty text, bad input, dispose', async () => {
    assert.deepEqual(await ner(''), []);
    assert.deepEqual(await ner(['', texts[0]]).then((r) => r[0]), []);
    await assert.rejects(ner(42 as never), (e: unknown) => e instanceof RootsError && e.code === 'ERR_INVALID_ARG');
    await assert.rejects(pipeline('sentiment' as never, { model, tokenizer: f.tokenizer }), /Unknown pipeline task "sentiment"/);
    ner.dispose();
    await assert.rejects(ner(texts[0]), (e: unknown) => e instanceof RootsError && e.code === 'ERR_DISPOSED');
    assert.equal(model.disposed, false, 'a model the pipeline did not load stays alive');
  });
  model.dispose();
});

test('a sequence-classification model is refused, naming its architecture and the pipeline that runs it', async () => {
  const f = corpusFixture({ train: 20, dev: 0, test: 0 }, 5);
  const model = BertForSequenceClassification.fromConfig({ ...TINY, vocab_size: f.tokenizer.vocabSize }, { labels: ['neg', 'pos'], seed: 1, log: null });
  const d = tmp('roots-pipeline-');
  try {
    // Same head shape as a token classifier with 2 labels: without the check it loads and tags tokens.
    await model.save(d.dir, { tokenizer: f.tokenizer });
    await assert.rejects(pipeline('ner', d.dir), (e: unknown) => e instanceof RootsError && e.code === 'ERR_INVALID_ARG' &&
      e.message === `${d.dir} holds a BertForSequenceClassification; the pipeline needs a trained token-classification model ` +
        `(config.json's architectures says BertForSequenceClassification): load it with pipeline('text-classification', ${JSON.stringify(d.dir)})`);
    await assert.rejects(pipeline('token-classification', { model, tokenizer: f.tokenizer }), (e: unknown) => e instanceof RootsError &&
      e.message === "The ner pipeline needs a token-classification model, not a sequence head: load it with pipeline('text-classification', { model, tokenizer })");
    assert.equal(model.disposed, false, 'a model the caller passed stays the caller\'s');
  } finally {
    model.dispose();
    d.cleanup();
  }
});
