// The SQuAD v1.1 metric against the official evaluate-v1.1.py: every expected value below is what the
// official script's normalize_answer / exact_match_score / f1_score (max over the gold answers)
// printed for these inputs (Python 3.11), covering its normalisation details: articles as whole
// Unicode words, ASCII-only punctuation, Python's whitespace set, final sigma, empty answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeAnswer, squadExactMatch, squadF1, squadScores } from '../lib/metrics/squad.js';

// [prediction, gold answers, official normalize_answer(prediction), official EM, official F1]
const CASES: [string, string[], string, number, number][] = [
  ['The Denver Broncos', ['Denver Broncos', 'the broncos'], 'denver broncos', 1, 1],
  ['an apple a day', ['apple day'], 'apple day', 1, 1],
  ['théa café', ['thé a café'], 'théa café', 0, 0.5],  // "é" is a word character: "théa" keeps its "a"
  ['under_score the end', ['underscore end'], 'underscore end', 1, 1],  // "_" is punctuation
  ['“Quoted” — dash\'s', ['quoted dash s'], '“quoted” — dashs', 0, 0],  // curly quotes and dashes are not
  ['a\u00a0b\u0085c\ufeffd\u001ce', ['b c d e'], 'b c\ufeffd e', 0, 0.5714285714285715],  // Python's whitespace, not JS \s
  ['Carolina Panthers Carolina', ['Carolina Panthers'], 'carolina panthers carolina', 0, 0.8],
  ['the', ['a'], '', 1, 0],  // both normalise to nothing: equal, but F1 0 in v1.1
  ['1,000 km', ['1000 km', '1,000 kilometres'], '1000 km', 1, 1],
  ['ΣΟΦΟΣ THE', ['σοφος'], 'σοφος', 1, 1],
  ['Saint-Denis, France', ['Saint Denis'], 'saintdenis france', 0, 0],
  ['', ['something'], '', 0, 0],
];

test('normalisation, exact match and F1 agree with the official script', () => {
  for (const [pred, golds, norm, em, f1] of CASES) {
    assert.equal(normalizeAnswer(pred), norm, `normalize_answer(${JSON.stringify(pred)})`);
    assert.equal(Math.max(...golds.map((g) => squadExactMatch(pred, g))), em, `EM ${JSON.stringify(pred)}`);
    assert.equal(Math.max(...golds.map((g) => squadF1(pred, g))), f1, `F1 ${JSON.stringify(pred)}`);
  }
});

test('squadScores: percentages over every question, the best gold answer each, unanswered questions 0', () => {
  const gold = CASES.map(([, answers], i) => ({ id: `q${i}`, answers }));
  const predictions: Record<string, string> = {};
  CASES.forEach(([pred], i) => { if (i !== 1) predictions[`q${i}`] = pred; });  // q1 unanswered
  const s = squadScores(gold, predictions);
  const em = CASES.reduce((n, c, i) => n + (i === 1 ? 0 : c[3]), 0);
  const f1 = CASES.reduce((n, c, i) => n + (i === 1 ? 0 : c[4]), 0);
  assert.equal(s.total, 12);
  assert.deepEqual(s.unanswered, ['q1']);
  assert.equal(s.exact_match, (100 * em) / 12);
  assert.equal(s.f1, (100 * f1) / 12);
  assert.equal(s.exact_match, 500 / 12);  // 5 of 12 (q1, an exact match, is unanswered)
  // A Map works the same; an id inherited from Object.prototype is not a prediction.
  assert.deepEqual(squadScores([{ id: 'toString', answers: ['x'] }], {}).unanswered, ['toString']);
  assert.equal(squadScores(gold, new Map(Object.entries(predictions))).f1, s.f1);
});
