// Label alignment (first subword / all subwords), windows over long sentences and their merge,
// label vocabularies; on the real bert-base-cased vocabulary and CoNLL-2003 in ../shared/data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { Tokenizer } from '../lib/tokenizer/index.js';
import {
  LabelVocab, alignLabelsToTokens, alignExample, tokenClassificationFeatures, planWindows, mergeWindowLogits, argmaxRows,
  groupWindows, readConll, tagsToSpans,
} from '../lib/data/index.js';
import { IGNORE_INDEX } from '../lib/batch.js';
import type { RootsError } from '../lib/errors.js';
import { requireSharedData } from './helpers.js';

const DATA = process.env.ROOTS_SHARED_DATA ? pathToFileURL(process.env.ROOTS_SHARED_DATA.replace(/\/?$/, '/')) : new URL('../../shared/data/', import.meta.url);
const data = (p: string): string => fileURLToPath(new URL(p, DATA));
const skip = requireSharedData('vocab/bert-base-cased/vocab.txt', 'ner/conll2003/eng.train', 'models/camphr_ner_bert/config.json');
const cased = skip ? undefined! : await Tokenizer.fromPretrained(data('vocab/bert-base-cased'), { doLowerCase: false });
const X = IGNORE_INDEX;

test('LabelVocab: O first, then by type and prefix; HF config form; from config.json', { skip }, () => {
  const vocab = LabelVocab.fromTags([['B-PER', 'I-PER', 'O'], ['B-LOC', 'O', 'I-MISC', 'B-MISC']]);
  assert.deepEqual(vocab.labels, ['O', 'B-LOC', 'B-MISC', 'I-MISC', 'B-PER', 'I-PER']);
  assert.deepEqual(vocab.toConfig(), {
    id2label: { 0: 'O', 1: 'B-LOC', 2: 'B-MISC', 3: 'I-MISC', 4: 'B-PER', 5: 'I-PER' },
    label2id: { O: 0, 'B-LOC': 1, 'B-MISC': 2, 'I-MISC': 3, 'B-PER': 4, 'I-PER': 5 },
  });
  assert.deepEqual(JSON.parse(JSON.stringify(vocab.toConfig())).id2label['0'], 'O');
  assert.deepEqual(LabelVocab.fromConfig(vocab.toConfig()).labels, vocab.labels);
  // a real HF config.json (camphr fixture): O, B/I-MISC, PER, ORG, LOC in its own order
  const config = JSON.parse(readFileSync(data('models/camphr_ner_bert/config.json'), 'utf8'));
  const fromHf = LabelVocab.fromConfig(config);
  assert.deepEqual(fromHf.labels, ['O', 'B-MISC', 'I-MISC', 'B-PER', 'I-PER', 'B-ORG', 'I-ORG', 'B-LOC', 'I-LOC']);
  assert.deepEqual(LabelVocab.fromConfig({ label2id: config.label2id }).labels, fromHf.labels);
  assert.deepEqual(LabelVocab.fromLabels(['10', '2', '1', ['2', '3']]).labels, ['1', '2', '3', '10']);
  assert.deepEqual(LabelVocab.fromLabels(['pos', 'neg']).labels, ['neg', 'pos']);
  assert.equal(vocab.id('I-PER'), 5);
  assert.equal(vocab.label(5), 'I-PER');
  assert.throws(() => vocab.id('B-ORG'), (e: RootsError) => e.code === 'ERR_INVALID_ARG' && /Unknown label "B-ORG" \(the 6 labels are: O, B-LOC/.test(e.message));
  assert.throws(() => new LabelVocab(['a', 'b', 'a']), /Label "a" appears twice \(ids 0 and 2\)/);
  assert.throws(() => LabelVocab.fromConfig({ id2label: { 0: 'O', 2: 'B' } }), /id2label must map the ids 0..1 once each/);
  assert.equal(JSON.stringify(new LabelVocab(['__proto__'])['toConfig']().label2id), '{"__proto__":0}');
});

test('alignLabelsToTokens: first subword, or all subwords with B- → I-', () => {
  const wordIds = [null, 0, 1, 1, 1, 2, null, null];
  assert.deepEqual(Array.from(alignLabelsToTokens(wordIds, [3, 1, 0])), [X, 3, 1, X, X, 0, X, X]);
  assert.deepEqual(Array.from(alignLabelsToTokens(wordIds, [3, 1, 0], { labelAllTokens: true, continuation: (id) => (id === 1 ? 2 : id) })), [X, 3, 1, 2, 2, 0, X, X]);
  assert.throws(() => alignLabelsToTokens([null, 0, 5], [1]), /Token 2 belongs to word 5 but only 1 word labels were given/);
});

test('hand-checked CoNLL sentence with the cased vocabulary (lamb → la, ##mb)', { skip }, () => {
  const words = ['EU', 'rejects', 'German', 'call', 'to', 'boycott', 'British', 'lamb', '.'];
  const tags = ['B-ORG', 'O', 'B-MISC', 'O', 'O', 'O', 'B-MISC', 'O', 'O'];
  const vocab = new LabelVocab(['O', 'B-MISC', 'I-MISC', 'B-ORG', 'I-ORG']);
  const [f] = alignExample(cased, words, tags, vocab);
  assert.deepEqual(cased.convertIdsToTokens(f.inputIds), ['[CLS]', 'EU', 'rejects', 'German', 'call', 'to', 'boycott', 'British', 'la', '##mb', '.', '[SEP]']);
  assert.deepEqual(Array.from(f.labels!), [X, 3, 0, 1, 0, 0, 0, 1, 0, X, 0, X]);
  assert.deepEqual(Array.from(f.wordIds), [-1, 0, 1, 2, 3, 4, 5, 6, 7, 7, 8, -1]);
  assert.deepEqual([f.wordStart, f.wordEnd, f.window, f.example], [0, 9, 0, 0]);
  // label every subword: a B- word's continuation pieces get I-
  const [all] = alignExample(cased, ['Lambeth', 'lamb'], ['B-ORG', 'O'], vocab, { labelAllTokens: true });
  assert.deepEqual(cased.convertIdsToTokens(all.inputIds), ['[CLS]', 'Lamb', '##eth', 'la', '##mb', '[SEP]']);
  assert.deepEqual(Array.from(all.labels!), [X, 3, 4, 0, 0, X]);
  // without an I- counterpart the continuation keeps the B- label
  const [noI] = alignExample(cased, ['lamb'], ['B-X'], new LabelVocab(['O', 'B-X']), { labelAllTokens: true });
  assert.deepEqual(Array.from(noI.labels!), [X, 1, 1, X]);
});

test('words that would vanish (control characters, empty) become [UNK] and keep their label', { skip }, () => {
  const vocab = new LabelVocab(['O', 'B-X']);
  const [f] = alignExample(cased, ['a', '\u0007', '', '\u200b', 'b'], ['O', 'B-X', 'B-X', 'B-X', 'O'], vocab);
  assert.deepEqual(cased.convertIdsToTokens(f.inputIds), ['[CLS]', 'a', '[UNK]', '[UNK]', '[UNK]', 'b', '[SEP]']);
  assert.deepEqual(Array.from(f.labels!), [X, 0, 1, 1, 1, 0, X]);
  assert.throws(() => alignExample(cased, ['a'], ['B-Y'], vocab), /Sentence 0, word 0 \("a"\): tag "B-Y" is not in the label vocabulary \(O, B-X\)/);
  assert.throws(() => alignExample(cased, ['a', 'b'], ['O'], vocab), /Sentence 0: 2 words but 1 tags/);
});

test('long sentences become overlapping windows; every word labelled; merge back per word', { skip }, () => {
  const words = Array.from({ length: 40 }, (_, i) => (i % 5 === 0 ? 'Lambeth' : `w${i}`)); // w12 → w ##12: 2 tokens
  const tags = words.map((_, i) => (i % 5 === 0 ? 'B-LOC' : 'O'));
  const vocab = new LabelVocab(['O', 'B-LOC', 'I-LOC']);
  const windows = alignExample(cased, words, tags, vocab, { maxLength: 16, stride: 4 });
  assert.ok(windows.length > 3);
  for (const w of windows) {
    assert.ok(w.inputIds.length <= 16);
    assert.equal(w.inputIds[0], cased.clsTokenId);
    assert.equal(w.inputIds.at(-1), cased.sepTokenId);
    assert.deepEqual([...new Set(Array.from(w.wordIds).filter((x) => x >= 0))], Array.from({ length: w.wordEnd - w.wordStart }, (_, i) => w.wordStart + i));
  }
  for (let k = 1; k < windows.length; k++) {
    assert.ok(windows[k].wordStart < windows[k - 1].wordEnd, 'windows overlap');
    assert.ok(windows[k].wordStart > windows[k - 1].wordStart, 'windows advance');
  }
  assert.equal(windows.at(-1)!.wordEnd, 40);
  // merge: window k "predicts" class k for every token; each word must take the window where it is most central
  const numLabels = windows.length;
  const logits = windows.map((w, k) => {
    const out = new Float32Array((w.inputIds.length + 3) * numLabels); // extra padding rows are ignored
    for (let p = 0; p < w.inputIds.length; p++) out[p * numLabels + k] = 1;
    return out;
  });
  const chosen = argmaxRows(mergeWindowLogits(windows, logits, numLabels), numLabels);
  assert.equal(chosen.length, 40);
  for (let word = 0; word < 40; word++) {
    let best = -1;
    let bestScore = -1;
    windows.forEach((w, k) => {
      const ids = Array.from(w.wordIds);
      const p = ids.indexOf(word);
      if (p < 0) return;
      const first = ids.findIndex((x) => x >= 0);
      const last = ids.length - 1 - [...ids].reverse().findIndex((x) => x >= 0);
      const score = Math.min(p - first, last - p);
      if (score > bestScore) { bestScore = score; best = k; }
    });
    assert.equal(chosen[word], best, `word ${word}`);
  }
  // average: a word in two windows gets the mean
  const avg = mergeWindowLogits(windows, logits, numLabels, { strategy: 'average' });
  const inBoth = windows[1].wordStart;
  assert.equal(avg[inBoth * numLabels + 0], 0.5);
  assert.equal(avg[inBoth * numLabels + 1], 0.5);
  // word-unit stride: consecutive windows share exactly `stride` words (when no word is cut)
  const byWords = alignExample(cased, words, tags, vocab, { maxLength: 16, stride: 2, strideUnit: 'words' });
  for (let k = 1; k < byWords.length; k++) assert.equal(byWords[k - 1].wordEnd - byWords[k].wordStart, 2);
});

test('planWindows: covers every word in order, within budget, always advancing', () => {
  fc.assert(fc.property(
    fc.array(fc.integer({ min: 1, max: 6 }), { maxLength: 60 }), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 0, max: 19 }), fc.constantFrom<'tokens' | 'words'>('tokens', 'words'),
    (counts, budget, stride0, unit) => {
      const stride = unit === 'tokens' ? Math.min(stride0, budget - 1) : stride0;
      const windows = planWindows(counts, budget, stride, unit);
      if (counts.length === 0) { assert.deepEqual(windows, [[0, 0]]); return; }
      assert.equal(windows[0][0], 0);
      assert.equal(windows.at(-1)![1], counts.length);
      for (let k = 0; k < windows.length; k++) {
        const [s, e] = windows[k];
        assert.ok(e > s);
        const tokens = counts.slice(s, e).reduce((a, b) => a + b, 0);
        assert.ok(tokens <= budget || e - s === 1, 'within budget unless one oversized word');
        if (k > 0) {
          assert.ok(s > windows[k - 1][0] && s <= windows[k - 1][1], 'advances without gaps');
        }
      }
    },
  ), { numRuns: 3000 });
});

test('all of CoNLL-2003 train: no word loses its label, entities preserved, windows where needed', { skip }, async () => {
  const train = await readConll(data('ner/conll2003/eng.train'));
  const vocab = LabelVocab.fromTags(train.map((s) => s.tags));
  assert.deepEqual(vocab.labels, ['O', 'B-LOC', 'I-LOC', 'B-MISC', 'I-MISC', 'B-ORG', 'I-ORG', 'I-PER']);
  const features = tokenClassificationFeatures(cased, train, vocab, { maxLength: 64, stride: 16 });
  const groups = groupWindows(features);
  assert.equal(groups.size, train.length);
  let labelled = 0;
  let windowed = 0;
  for (const [i, windows] of groups) {
    if (windows.length > 1) windowed++;
    // the first window labels its words; later windows re-label only the words they add
    const seen = new Int32Array(train[i].tokens.length).fill(-1);
    for (const w of windows) {
      for (let p = 0; p < w.inputIds.length; p++) {
        if (w.labels![p] === X) continue;
        const word = w.wordIds[p];
        if (seen[word] < 0) labelled++;
        else assert.equal(seen[word], w.labels![p]);
        seen[word] = w.labels![p];
      }
    }
    const tags = Array.from(seen, (id) => vocab.label(id));
    assert.deepEqual(tagsToSpans(tags), tagsToSpans(train[i].tags));
  }
  assert.equal(labelled, 203621); // every token of the paper's count
  assert.ok(windowed > 0 && windowed < 1000, `${windowed} sentences needed windows at maxLength 64`);
});
