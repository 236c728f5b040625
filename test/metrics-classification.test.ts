// Sequence-classification metrics (scikit-learn semantics, zero_division=0), checked against
// hand-computed values and scikit-learn's documented examples.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  accuracyScore, classificationScores, confusionMatrix, f1Score, flatClassificationReport,
  matthewsCorrcoef, multiLabelScores, precisionRecallF1,
} from '../lib/metrics/classification.js';
import { compareCodePoints, formatFixed } from '../lib/metrics/report-text.js';
import { RootsError } from '../lib/errors.js';

const close = (actual: number, expected: number, what = '') =>
  assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual} vs ${expected}`);

const invalidArg = (pattern: RegExp) => (err: unknown) => {
  assert.ok(err instanceof RootsError, `expected a RootsError, got ${String(err)}`);
  assert.equal(err.code, 'ERR_INVALID_ARG');
  assert.match(err.message, pattern);
  return true;
};

// scikit-learn's classification_report example: y_true=[0,1,2,2,2], y_pred=[0,0,2,2,1].
//   class 0: tp 1, predicted 2, gold 1 -> p .5  r 1    f 2/3
//   class 1: tp 0, predicted 1, gold 1 -> 0     0      0
//   class 2: tp 2, predicted 2, gold 3 -> p 1   r 2/3  f .8
const Y_TRUE = [0, 1, 2, 2, 2];
const Y_PRED = [0, 0, 2, 2, 1];

test('accuracyScore', () => {
  assert.equal(accuracyScore(['a', 'b', 'c', 'a'], ['a', 'c', 'c', 'b']), 0.5);
  assert.equal(accuracyScore(Y_TRUE, Y_PRED), 0.6);
});

test('classificationScores: per label and averaged, hand-computed', () => {
  const s = classificationScores(Y_TRUE, Y_PRED);
  assert.deepEqual(s.labels.map((l) => l.label), [0, 1, 2]);
  assert.deepEqual(s.labels.map((l) => [l.correct, l.predicted, l.support]), [[1, 2, 1], [0, 1, 1], [2, 2, 3]]);
  close(s.labels[0]!.precision, 0.5); close(s.labels[0]!.recall, 1); close(s.labels[0]!.f1, 2 / 3);
  assert.deepEqual([s.labels[1]!.precision, s.labels[1]!.recall, s.labels[1]!.f1], [0, 0, 0]);
  close(s.labels[2]!.precision, 1); close(s.labels[2]!.recall, 2 / 3); close(s.labels[2]!.f1, 0.8);
  // Single-label data: micro P = R = F1 = accuracy.
  assert.deepEqual(s.micro, { precision: 0.6, recall: 0.6, f1: 0.6, support: 5 });
  close(s.macro.precision, 0.5); close(s.macro.recall, (1 + 0 + 2 / 3) / 3); close(s.macro.f1, (2 / 3 + 0.8) / 3);
  close(s.weighted.precision, (0.5 + 3) / 5); close(s.weighted.recall, 0.6); close(s.weighted.f1, (2 / 3 + 2.4) / 5);
  assert.equal(s.accuracy, 0.6);
  close(f1Score(Y_TRUE, Y_PRED), (2 / 3 + 0.8) / 3);
  close(f1Score(Y_TRUE, Y_PRED, { average: 'weighted' }), (2 / 3 + 2.4) / 5);
  assert.deepEqual(precisionRecallF1(Y_TRUE, Y_PRED, { average: 'micro' }), s.micro);
  assert.throws(() => precisionRecallF1(Y_TRUE, Y_PRED, { average: 'binary' as 'micro' }), invalidArg(/average/));
});

test('classificationScores: zero division yields 0 (a label never predicted, a label never gold)', () => {
  const s = classificationScores(['a', 'a', 'b'], ['a', 'a', 'c']);
  const byLabel = Object.fromEntries(s.labels.map((l) => [l.label, [l.precision, l.recall, l.f1, l.support]]));
  assert.deepEqual(byLabel, { a: [1, 1, 1, 2], b: [0, 0, 0, 1], c: [0, 0, 0, 0] });
});

test('flatClassificationReport: scikit-learn documentation example, to the character', () => {
  const r = flatClassificationReport(Y_TRUE, Y_PRED, { targetNames: ['class 0', 'class 1', 'class 2'] });
  assert.equal(r.text, [
    '              precision    recall  f1-score   support',
    '',
    '     class 0       0.50      1.00      0.67         1',
    '     class 1       0.00      0.00      0.00         1',
    '     class 2       1.00      0.67      0.80         3',
    '',
    '    accuracy                           0.60         5',
    '   macro avg       0.50      0.56      0.49         5',
    'weighted avg       0.70      0.60      0.61         5',
    '',
  ].join('\n'));
  assert.equal(r.accuracy, 0.6);
  assert.deepEqual(r.labels.map((l) => [l.label, l.support]), [['class 0', 1], ['class 1', 1], ['class 2', 3]]);
});

test('flatClassificationReport: a label subset shows micro avg instead of accuracy', () => {
  // labels [2, 1]: rows in that order; micro over those labels: tp 2, predicted 3, gold 4.
  //   macro: p (1+0)/2  r (2/3+0)/2  f (.8+0)/2 ; weighted by (3, 1): p 3/4  r 2/4  f 2.4/4
  const r = flatClassificationReport(Y_TRUE, Y_PRED, { labels: [2, 1], digits: 3 });
  assert.equal(r.accuracy, null);
  close(r.micro.precision, 2 / 3); close(r.micro.recall, 0.5); close(r.micro.f1, 4 / 7);
  assert.equal(r.text, [
    '              precision    recall  f1-score   support',
    '',
    '           2      1.000     0.667     0.800         3',
    '           1      0.000     0.000     0.000         1',
    '',
    '   micro avg      0.667     0.500     0.571         4',
    '   macro avg      0.500     0.333     0.400         4',
    'weighted avg      0.750     0.500     0.600         4',
    '',
  ].join('\n'));
  assert.throws(() => flatClassificationReport(Y_TRUE, Y_PRED, { targetNames: ['x'] }), invalidArg(/targetNames/));
  assert.throws(() => flatClassificationReport(Y_TRUE, Y_PRED, { labels: [1, 1] }), invalidArg(/listed twice/));
});

test('flatClassificationReport: string labels sort by code point; long names widen the table', () => {
  const r = flatClassificationReport(['positive', 'negative', 'neutral_but_long'], ['positive', 'positive', 'neutral_but_long']);
  assert.deepEqual(r.labels.map((l) => l.label), ['negative', 'neutral_but_long', 'positive']);
  assert.equal(r.text.split('\n')[0], '                  precision    recall  f1-score   support');
  assert.equal(r.text.split('\n')[2], '        negative       0.00      0.00      0.00         1');
});

test('confusionMatrix: scikit-learn documentation examples', () => {
  assert.deepEqual(confusionMatrix([2, 0, 2, 2, 0, 1], [0, 0, 2, 2, 0, 2]), {
    labels: [0, 1, 2], matrix: [[2, 0, 0], [0, 0, 1], [1, 0, 2]],
  });
  const animals = confusionMatrix(['cat', 'ant', 'cat', 'cat', 'ant', 'bird'], ['ant', 'ant', 'cat', 'cat', 'ant', 'cat']);
  assert.deepEqual(animals, { labels: ['ant', 'bird', 'cat'], matrix: [[2, 0, 0], [0, 0, 1], [1, 0, 2]] });
  // Restricted and reordered labels: examples with other labels are left out.
  assert.deepEqual(confusionMatrix([0, 1, 2, 2, 2], [0, 0, 2, 2, 1], { labels: [2, 0] }), { labels: [2, 0], matrix: [[2, 0], [0, 1]] });
  // Numbers sort numerically, not as strings.
  assert.deepEqual(confusionMatrix([10, 9, 2], [10, 9, 2]).labels, [2, 9, 10]);
});

test('matthewsCorrcoef: binary and multiclass', () => {
  // scikit-learn's example: TP 2, FN 1, FP 1, TN 0 -> (0 - 1) / sqrt(3·3·1·1) = -1/3.
  close(matthewsCorrcoef([1, 1, 1, -1], [1, -1, 1, 1]), -1 / 3);
  // Multiclass: C = [[1,0,0],[1,0,0],[0,1,2]], t = (1,1,3), p = (2,1,2), trace 3, n 5:
  //   (3·5 − 9) / sqrt((25 − 9)(25 − 11)) = 6 / sqrt(224).
  close(matthewsCorrcoef(Y_TRUE, Y_PRED), 6 / Math.sqrt(224));
  assert.equal(matthewsCorrcoef(['a', 'b', 'c'], ['a', 'b', 'c']), 1);
  assert.equal(matthewsCorrcoef(['a', 'b', 'a'], ['a', 'a', 'a']), 0); // constant prediction
  close(matthewsCorrcoef(['a', 'b'], ['b', 'a']), -1);
});

test('multiLabelScores: hand-computed', () => {
  // a: tp 1 / pred 1 / gold 1;  b: tp 1 / pred 1 / gold 2;  c: tp 0 / pred 2 / gold 0
  const s = multiLabelScores([['a', 'b'], ['b'], []], [['a'], ['b', 'c'], ['c']]);
  assert.deepEqual(s.labels.map((l) => [l.label, l.correct, l.predicted, l.support]), [['a', 1, 1, 1], ['b', 1, 1, 2], ['c', 0, 2, 0]]);
  close(s.micro.precision, 0.5); close(s.micro.recall, 2 / 3); close(s.micro.f1, 4 / 7);
  close(s.macro.f1, (1 + 2 / 3 + 0) / 3);
  close(s.weighted.f1, (1 + (2 / 3) * 2) / 3);
  // Per sample: (p, r, f) = (1, 1/2, 2/3), (1/2, 1, 2/3), (0, 0, 0).
  close(s.samples.precision, 0.5); close(s.samples.recall, 0.5); close(s.samples.f1, 4 / 9);
  assert.equal(s.subsetAccuracy, 0);
  assert.equal(multiLabelScores([['x', 'y', 'x']], [['y', 'x']]).subsetAccuracy, 1);
});

test('bad input is rejected with a specific message', () => {
  assert.throws(() => accuracyScore([1, 2], [1]), invalidArg(/same length.*2 labels.*1/));
  assert.throws(() => accuracyScore([], []), invalidArg(/at least one example/));
  assert.throws(() => accuracyScore(['a', 1] as (string | number)[], ['a', 1]), invalidArg(/all strings or all numbers/));
  assert.throws(() => accuracyScore([NaN], [1]), invalidArg(/yTrue\[0\]/));
  assert.throws(() => multiLabelScores([['a']], ['a'] as unknown as string[][]), invalidArg(/yPred\[0\]/));
});

test('formatFixed rounds exact ties to even, like printf and Python', () => {
  assert.equal(formatFixed(0.125, 2), '0.12');
  assert.equal(formatFixed(0.375, 2), '0.38');
  assert.equal(formatFixed(2.5, 0), '2');
  assert.equal(formatFixed(0.015, 2), '0.01'); // 0.015 is 0.01499999… in binary
  assert.equal(formatFixed(99.995, 2), '100.00'); // 99.99500000000000454…
  assert.equal(formatFixed(-0.001, 2), '-0.00');
  assert.equal(formatFixed(2 / 3, 4), '0.6667');
  assert.ok(compareCodePoints('\u{1F600}', '\uFFFF') > 0 && compareCodePoints('B', 'a') < 0);
});

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

const pairsArb = fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd'), fc.constantFrom('a', 'b', 'c', 'd')), { minLength: 1, maxLength: 60 });

test('property: scores are in [0, 1], MCC in [-1, 1], and the confusion matrix adds up', () => {
  fc.assert(fc.property(pairsArb, (pairs) => {
    const t = pairs.map((p) => p[0]), p = pairs.map((q) => q[1]);
    const s = classificationScores(t, p);
    for (const x of [s.micro, s.macro, s.weighted, ...s.labels]) {
      for (const v of [x.precision, x.recall, x.f1]) assert.ok(v >= 0 && v <= 1, `score ${v}`);
    }
    const m = matthewsCorrcoef(t, p);
    assert.ok(m >= -1 - 1e-12 && m <= 1 + 1e-12, `mcc ${m}`);
    const cm = confusionMatrix(t, p);
    let total = 0, diag = 0;
    cm.matrix.forEach((row, i) => {
      row.forEach((v, j) => { total += v; if (i === j) diag += v; });
    });
    assert.equal(total, t.length);
    assert.equal(diag / total, s.accuracy);
    close(s.micro.f1, s.accuracy, 'micro f1 = accuracy');
  }), { numRuns: 300 });
});

test('property: perfect predictions score 1', () => {
  fc.assert(fc.property(pairsArb, (pairs) => {
    const t = pairs.map((p) => p[0]);
    const s = classificationScores(t, t);
    assert.equal(s.accuracy, 1);
    for (const x of [s.micro, s.macro, s.weighted]) assert.deepEqual([x.precision, x.recall, x.f1], [1, 1, 1]);
    if (new Set(t).size > 1) assert.equal(matthewsCorrcoef(t, t), 1);
  }), { numRuns: 200 });
});

test('property: permuting examples changes nothing', () => {
  fc.assert(fc.property(pairsArb, fc.infiniteStream(fc.double({ min: 0, max: 1, noNaN: true })), (pairs, keys) => {
    const k = pairs.map(() => keys.next().value as number);
    const shuffled = pairs.map((p, i) => [p, k[i]!] as const).sort((a, b) => a[1] - b[1]).map((x) => x[0]);
    const a = classificationScores(pairs.map((p) => p[0]), pairs.map((p) => p[1]));
    const b = classificationScores(shuffled.map((p) => p[0]), shuffled.map((p) => p[1]));
    for (const avg of ['micro', 'macro', 'weighted'] as const) {
      close(b[avg].precision, a[avg].precision); close(b[avg].recall, a[avg].recall); close(b[avg].f1, a[avg].f1);
    }
    assert.deepEqual(b.labels, a.labels);
    assert.equal(b.accuracy, a.accuracy);
    close(matthewsCorrcoef(shuffled.map((p) => p[0]), shuffled.map((p) => p[1])), matthewsCorrcoef(pairs.map((p) => p[0]), pairs.map((p) => p[1])));
  }), { numRuns: 200 });
});
