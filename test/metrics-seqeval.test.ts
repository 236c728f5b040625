// Entity extraction (default and strict modes), entity scores and seqeval's classification report.
// Expected entities are derived by hand from seqeval's rules (get_entities for the default mode,
// the scheme classes' start/inside/end patterns for strict mode); ends are exclusive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  TAGGING_SCHEMES, checkTag, classificationReport, entityF1Score, entityScores, extractEntities, getEntities,
  parseScheme, tokenAccuracy, type EntityOptions, type EntityScores, type TaggingScheme,
} from '../lib/metrics/seqeval.js';
import { RootsError } from '../lib/errors.js';

type Span = [type: string, start: number, end: number];
const spans = (tags: string[], options?: EntityOptions): Span[] =>
  getEntities(tags, options).map((e) => [e.type, e.start, e.end]);

const invalidArg = (pattern: RegExp) => (err: unknown) => {
  assert.ok(err instanceof RootsError, `expected a RootsError, got ${String(err)}`);
  assert.equal(err.code, 'ERR_INVALID_ARG');
  assert.match(err.message, pattern);
  return true;
};

// ---------------------------------------------------------------------------------------------
// Default (lenient, conlleval) chunking
// ---------------------------------------------------------------------------------------------

test('default mode: plain IOB2 runs', () => {
  assert.deepEqual(spans(['B-PER', 'I-PER', 'O', 'B-LOC']), [['PER', 0, 2], ['LOC', 3, 4]]);
  assert.deepEqual(spans(['O', 'O']), []);
  assert.deepEqual(spans([]), []);
});

test('default mode: an I- after O starts a chunk (IOB1 style)', () => {
  assert.deepEqual(spans(['O', 'I-PER', 'I-PER', 'O']), [['PER', 1, 3]]);
  assert.deepEqual(spans(['I-PER']), [['PER', 0, 1]]);
});

test('default mode: a type change mid-run ends one chunk and starts another', () => {
  assert.deepEqual(spans(['B-PER', 'I-LOC', 'I-LOC']), [['PER', 0, 1], ['LOC', 1, 3]]);
  // Nested-looking run: ORG PER ORG back to back.
  assert.deepEqual(spans(['B-ORG', 'I-ORG', 'B-PER', 'I-PER', 'I-ORG']), [['ORG', 0, 2], ['PER', 2, 4], ['ORG', 4, 5]]);
});

test('default mode: B- after B- of the same type starts a new chunk', () => {
  assert.deepEqual(spans(['B-A', 'B-A', 'I-A']), [['A', 0, 1], ['A', 1, 3]]);
});

test('default mode: a sequence ending inside an entity closes it', () => {
  assert.deepEqual(spans(['O', 'B-ORG', 'I-ORG']), [['ORG', 1, 3]]);
  assert.deepEqual(spans(['O', 'I-ORG']), [['ORG', 1, 2]]);
});

test('default mode: single-token entities', () => {
  assert.deepEqual(spans(['B-X']), [['X', 0, 1]]);
  assert.deepEqual(spans(['S-X', 'S-X']), [['X', 0, 1], ['X', 1, 2]]);
  assert.deepEqual(spans(['O', 'B-X', 'O', 'I-Y', 'O']), [['X', 1, 2], ['Y', 3, 4]]);
});

test('default mode: IOBES and IOE tags', () => {
  assert.deepEqual(spans(['B-PER', 'I-PER', 'E-PER', 'S-LOC', 'O']), [['PER', 0, 3], ['LOC', 3, 4]]);
  // E- closes a chunk; an I- after E- opens the next (IOE1/IOE2).
  assert.deepEqual(spans(['I-A', 'E-A', 'I-A', 'E-A']), [['A', 0, 2], ['A', 2, 4]]);
  // B- then S-: the B chunk ends, the S chunk is one token.
  assert.deepEqual(spans(['B-A', 'S-A']), [['A', 0, 1], ['A', 1, 2]]);
});

test('default mode: types with hyphens, bare prefixes and unprefixed labels, as seqeval splits them', () => {
  assert.deepEqual(spans(['B-ORG-COMPANY', 'I-ORG-COMPANY']), [['ORG-COMPANY', 0, 2]]);
  // A bare prefix has type "_".
  assert.deepEqual(spans(['B', 'I', 'O', 'I']), [['_', 0, 2], ['_', 3, 4]]);
  // seqeval reads the first character as the prefix: "PER" is prefix P, type "ER"; a run of the
  // same label is one chunk, a different label starts another.
  assert.deepEqual(spans(['PER', 'PER', 'O', 'LOC', 'PER']), [['ER', 0, 2], ['OC', 3, 4], ['ER', 4, 5]]);
});

test('default mode: suffix-style tags', () => {
  assert.deepEqual(spans(['PER-B', 'PER-I', 'O', 'LOC-S'], { suffix: true }), [['PER', 0, 2], ['LOC', 3, 4]]);
  assert.deepEqual(spans(['ORG-COMPANY-B', 'ORG-COMPANY-I'], { suffix: true }), [['ORG-COMPANY', 0, 2]]);
});

test('default mode: non-string or empty tags are rejected with their position', () => {
  assert.throws(() => getEntities(['B-PER', '']), invalidArg(/tags\[0\]\[1\]/));
  assert.throws(() => entityScores([['O']], [[3 as unknown as string]]), invalidArg(/yPred\[0\]\[0\].*3/));
});

// ---------------------------------------------------------------------------------------------
// Strict mode, one scheme at a time
// ---------------------------------------------------------------------------------------------

test('strict IOB2: entities must start with B-', () => {
  const s = (tags: string[]) => spans(tags, { scheme: 'IOB2' });
  assert.deepEqual(s(['B-PER', 'I-PER', 'O', 'B-LOC']), [['PER', 0, 2], ['LOC', 3, 4]]);
  assert.deepEqual(s(['O', 'I-PER', 'I-PER']), []); // I- after O: not an entity
  assert.deepEqual(s(['B-PER', 'I-LOC', 'I-LOC']), [['PER', 0, 1]]); // the type change ends PER; I-LOC is orphaned
  assert.deepEqual(s(['O', 'B-ORG', 'I-ORG']), [['ORG', 1, 3]]); // ends inside the entity
  assert.deepEqual(s(['B-X']), [['X', 0, 1]]);
  assert.deepEqual(s(['B-X', 'B-X']), [['X', 0, 1], ['X', 1, 2]]);
  assert.deepEqual(s(['B-ORG', 'I-ORG', 'B-PER', 'I-PER', 'I-ORG']), [['ORG', 0, 2], ['PER', 2, 4]]);
});

test('strict IOB1: B- only separates adjacent chunks of one type', () => {
  const s = (tags: string[]) => spans(tags, { scheme: 'IOB1' });
  assert.deepEqual(s(['I-PER', 'I-PER', 'B-PER', 'I-PER', 'O']), [['PER', 0, 2], ['PER', 2, 4]]);
  assert.deepEqual(s(['I-PER', 'I-LOC']), [['PER', 0, 1], ['LOC', 1, 2]]);
  assert.deepEqual(s(['O', 'I-PER']), [['PER', 1, 2]]); // ends inside the entity
  // B- after O is not a valid IOB1 start; as in seqeval, the I- after it starts the chunk.
  assert.deepEqual(s(['O', 'B-PER', 'I-PER']), [['PER', 2, 3]]);
  assert.deepEqual(s(['B-PER', 'O']), []);
});

test('strict IOE1: E- only separates adjacent chunks of one type', () => {
  const s = (tags: string[]) => spans(tags, { scheme: 'IOE1' });
  assert.deepEqual(s(['I-PER', 'I-PER', 'E-PER', 'I-PER', 'O']), [['PER', 0, 3], ['PER', 3, 4]]);
  assert.deepEqual(s(['I-PER', 'I-ORG']), [['PER', 0, 1], ['ORG', 1, 2]]);
  // E- followed by O is not valid IOE1: no entity (seqeval).
  assert.deepEqual(s(['I-PER', 'E-PER']), []);
  assert.deepEqual(s(['E-PER', 'I-ORG']), [['ORG', 1, 2]]);
});

test('strict IOE2: entities must end with E-', () => {
  const s = (tags: string[]) => spans(tags, { scheme: 'IOE2' });
  assert.deepEqual(s(['I-PER', 'E-PER', 'E-LOC', 'O']), [['PER', 0, 2], ['LOC', 2, 3]]);
  assert.deepEqual(s(['O', 'I-PER', 'I-PER']), []); // ends inside without E-
  assert.deepEqual(s(['E-X']), [['X', 0, 1]]);
  assert.deepEqual(s(['I-PER', 'E-ORG']), [['ORG', 1, 2]]); // the type change orphans I-PER
});

test('strict IOBES: B-…E- or S-', () => {
  const s = (tags: string[]) => spans(tags, { scheme: 'IOBES' });
  assert.deepEqual(s(['B-PER', 'I-PER', 'E-PER', 'S-LOC', 'O']), [['PER', 0, 3], ['LOC', 3, 4]]);
  assert.deepEqual(s(['B-PER', 'I-PER', 'O']), []); // never closed
  assert.deepEqual(s(['B-PER', 'I-PER']), []); // ends inside
  assert.deepEqual(s(['S-PER', 'S-PER']), [['PER', 0, 1], ['PER', 1, 2]]);
  assert.deepEqual(s(['B-PER', 'E-LOC']), []); // type change
  assert.deepEqual(s(['I-PER', 'E-PER']), []); // no B-
  assert.deepEqual(s(['B-PER', 'S-PER']), [['PER', 1, 2]]);
});

test('strict BILOU: B-…L- or U-', () => {
  const s = (tags: string[]) => spans(tags, { scheme: 'BILOU' });
  assert.deepEqual(s(['B-PER', 'I-PER', 'L-PER', 'U-LOC']), [['PER', 0, 3], ['LOC', 3, 4]]);
  assert.deepEqual(s(['O', 'I-PER', 'L-PER']), []);
  assert.deepEqual(s(['U-ORG']), [['ORG', 0, 1]]);
  assert.deepEqual(s(['B-ORG', 'I-ORG']), []); // ends inside
  assert.deepEqual(s(['B', 'L', 'U']), [['_', 0, 2], ['_', 2, 3]]);
});

test('strict mode: suffix-style tags', () => {
  assert.deepEqual(spans(['PER-B', 'PER-I', 'O', 'LOC-B'], { scheme: 'IOB2', suffix: true }), [['PER', 0, 2], ['LOC', 3, 4]]);
});

test('strict mode: tags outside the scheme are errors naming the tag, position and scheme', () => {
  assert.throws(() => getEntities(['B-PER', 'E-PER'], { scheme: 'IOB2' }), invalidArg(/"E-PER".*tags\[0\]\[1\].*IOB2.*I, O, B/));
  assert.throws(() => getEntities(['PER'], { scheme: 'IOBES' }), invalidArg(/"PER"/));
  assert.throws(() => entityScores([['O']], [['S-X']], { scheme: 'BILOU' }), invalidArg(/yPred\[0\]\[0\]/));
  assert.equal(checkTag('E-PER', { scheme: 'IOB2' }), 'scheme IOB2 allows the prefixes I, O, B');
  assert.equal(checkTag('E-PER', { scheme: 'IOE2' }), null);
  assert.equal(checkTag('anything'), null);
});

test('parseScheme accepts any case and lists the schemes on error', () => {
  assert.equal(parseScheme('iobes'), 'IOBES');
  assert.equal(parseScheme('BILOU'), 'BILOU');
  assert.throws(() => parseScheme('IOB3'), invalidArg(/"IOB3".*IOB1, IOB2, IOE1, IOE2, IOBES, BILOU/));
  assert.throws(() => getEntities(['O'], { scheme: 'bio' as TaggingScheme }), invalidArg(/Unknown tagging scheme "bio"/));
});

test('extractEntities numbers sentences', () => {
  assert.deepEqual(extractEntities([['B-A'], ['O', 'B-B', 'I-B']]), [
    { sentence: 0, type: 'A', start: 0, end: 1 },
    { sentence: 1, type: 'B', start: 1, end: 3 },
  ]);
});

// ---------------------------------------------------------------------------------------------
// Scores and reports
// ---------------------------------------------------------------------------------------------

// seqeval's documentation example.
const DOC_TRUE = [['O', 'O', 'O', 'B-MISC', 'I-MISC', 'I-MISC', 'O'], ['B-PER', 'I-PER', 'O']];
const DOC_PRED = [['O', 'O', 'B-MISC', 'I-MISC', 'I-MISC', 'I-MISC', 'O'], ['B-PER', 'I-PER', 'O']];

test('entityScores: seqeval documentation example', () => {
  const s = entityScores(DOC_TRUE, DOC_PRED);
  assert.deepEqual([s.gold, s.predicted, s.correct], [2, 2, 1]);
  assert.deepEqual(s.micro, { precision: 0.5, recall: 0.5, f1: 0.5, support: 2 });
  assert.deepEqual(s.macro, { precision: 0.5, recall: 0.5, f1: 0.5, support: 2 });
  assert.deepEqual(s.weighted, { precision: 0.5, recall: 0.5, f1: 0.5, support: 2 });
  assert.equal(s.accuracy, 0.8);
  assert.equal(tokenAccuracy(DOC_TRUE, DOC_PRED), 0.8);
  assert.deepEqual(s.types.map((t) => [t.type, t.precision, t.recall, t.f1, t.support, t.predicted, t.correct]), [
    ['MISC', 0, 0, 0, 1, 1, 0],
    ['PER', 1, 1, 1, 1, 1, 1],
  ]);
  assert.equal(entityF1Score(DOC_TRUE, DOC_PRED), 0.5);
  assert.equal(classificationReport(DOC_TRUE, DOC_PRED).text, [
    '              precision    recall  f1-score   support',
    '',
    '        MISC       0.00      0.00      0.00         1',
    '         PER       1.00      1.00      1.00         1',
    '',
    '   micro avg       0.50      0.50      0.50         2',
    '   macro avg       0.50      0.50      0.50         2',
    'weighted avg       0.50      0.50      0.50         2',
    '',
  ].join('\n'));
});

test('entityScores: strict mode drops ill-formed predictions that the default mode accepts', () => {
  const yTrue = [['B-PER', 'I-PER', 'O']];
  const yPred = [['I-PER', 'I-PER', 'O']];
  assert.equal(entityScores(yTrue, yPred).micro.f1, 1);
  const strict = entityScores(yTrue, yPred, { scheme: 'IOB2' });
  assert.deepEqual([strict.mode, strict.scheme, strict.gold, strict.predicted, strict.correct], ['strict', 'IOB2', 1, 0, 0]);
  assert.deepEqual(strict.micro, { precision: 0, recall: 0, f1: 0, support: 1 });
  assert.equal(strict.accuracy, 2 / 3);
});

test('entityScores: no entities anywhere gives zeros, not NaN', () => {
  const s = entityScores([['O', 'O']], [['O', 'O']]);
  assert.deepEqual(s.micro, { precision: 0, recall: 0, f1: 0, support: 0 });
  assert.deepEqual(s.macro, { precision: 0, recall: 0, f1: 0, support: 0 });
  assert.deepEqual(s.weighted, { precision: 0, recall: 0, f1: 0, support: 0 });
  assert.equal(s.accuracy, 1);
  // Predictions only: precision 0 (zero_division=0), weighted average 0 (no gold support).
  const p = entityScores([['O']], [['B-X']]);
  assert.deepEqual(p.types.map((t) => [t.type, t.precision, t.recall, t.f1, t.support, t.predicted]), [['X', 0, 0, 0, 0, 1]]);
});

test('entityScores: mismatched shapes are errors', () => {
  assert.throws(() => entityScores([['O']], [['O'], ['O']]), invalidArg(/same number of sentences.*yTrue has 1 and yPred has 2/));
  assert.throws(() => entityScores([['O', 'O'], ['O']], [['O', 'O'], ['O', 'B-X']]),
    invalidArg(/sentence 1 .*yTrue\[1\] has 1 and yPred\[1\] has 2/));
  assert.throws(() => entityScores('B-X' as unknown as string[][], [['B-X']]), invalidArg(/yTrue/));
});

// A report computed by hand:
//   gold  PER: s0[0,2) s1[2,3)        LOC: s0[3,4) s2[0,2)          ORG: s1[0,1) s1[3,4) s2[3,5)
//   pred  PER: s0[0,2)                LOC: s0[3,4) s1[2,3) s2[0,1)  ORG: s1[0,1) s2[3,5)
//   correct PER 1, LOC 1, ORG 2.
//   LOC p=1/3 r=1/2 f=0.4 | ORG p=1 r=2/3 f=0.8 | PER p=1 r=1/2 f=2/3
//   micro: 4 correct / 6 found / 7 gold -> p=0.667 r=0.571 f=16/26=0.615
//   macro: p=7/9=0.778 r=5/9=0.556 f=(0.4+0.8+0.667)/3=0.622
//   weighted (2,3,2): p=17/21=0.810 r=4/7=0.571 f=(0.8+2.4+1.333)/7=0.648
//   token accuracy: 5 + 2 + 4 of 14.
const HAND_TRUE = [
  ['B-PER', 'I-PER', 'O', 'B-LOC', 'O'],
  ['B-ORG', 'O', 'B-PER', 'B-ORG'],
  ['B-LOC', 'I-LOC', 'O', 'B-ORG', 'I-ORG'],
];
const HAND_PRED = [
  ['B-PER', 'I-PER', 'O', 'B-LOC', 'O'],
  ['B-ORG', 'O', 'B-LOC', 'O'],
  ['B-LOC', 'O', 'O', 'B-ORG', 'I-ORG'],
];

test('classificationReport: hand-computed table and data', () => {
  const r = classificationReport(HAND_TRUE, HAND_PRED);
  assert.equal(r.text, [
    '              precision    recall  f1-score   support',
    '',
    '         LOC       0.33      0.50      0.40         2',
    '         ORG       1.00      0.67      0.80         3',
    '         PER       1.00      0.50      0.67         2',
    '',
    '   micro avg       0.67      0.57      0.62         7',
    '   macro avg       0.78      0.56      0.62         7',
    'weighted avg       0.81      0.57      0.65         7',
    '',
  ].join('\n'));
  const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);
  assert.deepEqual(r.labels.map((l) => [l.label, l.support]), [['LOC', 2], ['ORG', 3], ['PER', 2]]);
  close(r.labels[0]!.precision, 1 / 3); close(r.labels[0]!.f1, 0.4);
  close(r.labels[1]!.recall, 2 / 3); close(r.labels[1]!.f1, 0.8);
  close(r.labels[2]!.f1, 2 / 3);
  close(r.micro.precision, 4 / 6); close(r.micro.recall, 4 / 7); close(r.micro.f1, 16 / 26);
  close(r.macro.precision, 7 / 9); close(r.macro.recall, 5 / 9); close(r.macro.f1, (0.4 + 0.8 + 2 / 3) / 3);
  close(r.weighted.precision, 17 / 21); close(r.weighted.recall, 4 / 7); close(r.weighted.f1, (0.8 + 2.4 + 4 / 3) / 7);
  close(r.accuracy, 11 / 14);
});

test('classificationReport: digits and long type names widen the table as seqeval does', () => {
  const r = classificationReport([['B-A_VERY_LONG_TYPE', 'O']], [['B-A_VERY_LONG_TYPE', 'O']], { digits: 4 });
  assert.equal(r.text, [
    '                  precision    recall  f1-score   support',
    '',
    'A_VERY_LONG_TYPE     1.0000    1.0000    1.0000         1',
    '',
    '       micro avg     1.0000    1.0000    1.0000         1',
    '       macro avg     1.0000    1.0000    1.0000         1',
    '    weighted avg     1.0000    1.0000    1.0000         1',
    '',
  ].join('\n'));
  assert.throws(() => classificationReport(DOC_TRUE, DOC_PRED, { digits: -1 }), invalidArg(/digits/));
});

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

const TYPES = ['PER', 'LOC', 'ORG'];
const PREFIXES: Record<TaggingScheme | 'default', string[]> = {
  default: ['B', 'I', 'E', 'S', 'O'],
  IOB1: ['I', 'O', 'B'], IOB2: ['I', 'O', 'B'], IOE1: ['I', 'O', 'E'], IOE2: ['I', 'O', 'E'],
  IOBES: ['I', 'O', 'B', 'E', 'S'], BILOU: ['B', 'I', 'L', 'O', 'U'],
};
const tagArb = (prefixes: string[]) =>
  fc.tuple(fc.constantFrom(...prefixes), fc.constantFrom(...TYPES)).map(([p, t]) => (p === 'O' ? 'O' : `${p}-${t}`));
/** Gold and predicted corpora of the same shape. */
const corpusArb = (prefixes: string[]) =>
  fc.array(fc.array(fc.tuple(tagArb(prefixes), tagArb(prefixes)), { maxLength: 12 }), { maxLength: 8 })
    .map((sents) => ({ yTrue: sents.map((s) => s.map((p) => p[0])), yPred: sents.map((s) => s.map((p) => p[1])) }));

const MODES: { name: string; options: EntityOptions; prefixes: string[] }[] = [
  { name: 'default', options: {}, prefixes: PREFIXES.default },
  ...TAGGING_SCHEMES.map((s) => ({ name: s, options: { scheme: s }, prefixes: PREFIXES[s] })),
];

function allScores(s: EntityScores): number[] {
  const out = [s.accuracy];
  for (const x of [s.micro, s.macro, s.weighted, ...s.types]) out.push(x.precision, x.recall, x.f1);
  return out;
}

for (const mode of MODES) {
  test(`property (${mode.name}): every score is in [0, 1] and counts are consistent`, () => {
    fc.assert(fc.property(corpusArb(mode.prefixes), ({ yTrue, yPred }) => {
      const s = entityScores(yTrue, yPred, mode.options);
      for (const x of allScores(s)) assert.ok(x >= 0 && x <= 1 && !Number.isNaN(x), `score ${x}`);
      assert.ok(s.correct <= Math.min(s.gold, s.predicted));
      assert.equal(s.gold, extractEntities(yTrue, mode.options).length);
      assert.equal(s.predicted, extractEntities(yPred, mode.options).length);
    }), { numRuns: 200 });
  });

  test(`property (${mode.name}): perfect predictions score 1`, () => {
    fc.assert(fc.property(corpusArb(mode.prefixes), ({ yTrue }) => {
      const s = entityScores(yTrue, yTrue, mode.options);
      if (yTrue.some((t) => t.length > 0)) assert.equal(s.accuracy, 1);
      if (s.gold > 0) {
        for (const avg of [s.micro, s.macro, s.weighted]) assert.deepEqual([avg.precision, avg.recall, avg.f1], [1, 1, 1]);
        for (const t of s.types) assert.deepEqual([t.precision, t.recall, t.f1], [1, 1, 1]);
      }
    }), { numRuns: 200 });
  });

  test(`property (${mode.name}): permuting sentences changes nothing`, () => {
    fc.assert(fc.property(corpusArb(mode.prefixes), fc.infiniteStream(fc.double({ min: 0, max: 1, noNaN: true })), ({ yTrue, yPred }, keys) => {
      const order = yTrue.map((_, i) => i);
      const k = order.map(() => keys.next().value as number);
      order.sort((a, b) => k[a]! - k[b]!);
      const a = entityScores(yTrue, yPred, mode.options);
      const b = entityScores(order.map((i) => yTrue[i]!), order.map((i) => yPred[i]!), mode.options);
      assert.deepEqual(b, a);
    }), { numRuns: 200 });
  });
}

test('property: swapping gold and predictions swaps micro precision and recall', () => {
  fc.assert(fc.property(corpusArb(PREFIXES.default), ({ yTrue, yPred }) => {
    const a = entityScores(yTrue, yPred);
    const b = entityScores(yPred, yTrue);
    assert.equal(b.micro.precision, a.micro.recall);
    assert.equal(b.micro.recall, a.micro.precision);
  }), { numRuns: 200 });
});

test('property: default mode agrees with strict IOB2 on well-formed IOB2 sequences', () => {
  // Build well-formed IOB2: an I- only continues a B-/I- of the same type.
  const iob2 = fc.array(fc.tuple(fc.constantFrom('O', 'B', 'I'), fc.constantFrom(...TYPES)), { maxLength: 15 }).map((raw) => {
    const out: string[] = [];
    for (const [p, t] of raw) {
      const prev = out[out.length - 1];
      if (p === 'I' && prev !== undefined && prev !== 'O') out.push(`I-${prev.slice(2)}`);
      else out.push(p === 'O' ? 'O' : `B-${t}`);
    }
    return out;
  });
  fc.assert(fc.property(iob2, (tags) => {
    assert.deepEqual(getEntities(tags), getEntities(tags, { scheme: 'IOB2' }));
  }), { numRuns: 300 });
});
