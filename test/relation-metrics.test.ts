// The SemEval-2010 Task 8 scorer (lib/metrics/semeval.ts) on constructed confusion matrices: the
// official scorer's stored output reproduced to the character (test/fixtures/semeval), and the
// official figures worked by hand (wrong direction, Other predicted as a relation, a skipped
// example, a relation the key lacks); C's rounding of ties.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cFixed, semevalLines, semevalScore } from '../lib/metrics/semeval.js';
import { repoRoot } from './helpers.js';

const fixtures = join(repoRoot, 'test', 'fixtures', 'semeval');
function lines(file: string): Map<string, string> {
  return new Map(readFileSync(join(fixtures, file), 'utf8').split('\n').filter(Boolean).map((l) => l.split('\t') as [string, string]));
}

for (const name of ['case1', 'case2']) {
  test(`${name}: the official scorer's output, character for character`, () => {
    const r = semevalScore(lines(`${name}.proposed.txt`), lines(`${name}.key.txt`));
    assert.equal(r.report, readFileSync(join(fixtures, `${name}.scorer.txt`), 'utf8'));
  });
}

test('case1 by hand: a wrong direction counts against precision and recall; Other predicted as a relation', () => {
  const r = semevalScore(lines('case1.proposed.txt'), lines('case1.key.txt'));
  const [way19, , official] = r.evaluations;
  const byLabel = new Map(official.relations.map((x) => [x.label, x]));
  // Cause-Effect: 1 right, 1 wrong direction -> P = 1 / (1 + 1), R = 1 / 2.
  assert.deepEqual({ ...byLabel.get('Cause-Effect')!, f1: undefined }, { label: 'Cause-Effect', correct: 1, proposed: 1, wrongDirection: 1, answer: 2, precision: 50, recall: 50, f1: undefined });
  // Message-Topic: proposed twice (once for an Other), right once, one in the key.
  assert.equal(byLabel.get('Message-Topic')!.precision, 50);
  assert.equal(byLabel.get('Message-Topic')!.recall, 100);
  assert.ok(Math.abs(r.official - (50 + 200 / 3) / 2) < 1e-12);
  assert.equal(official.accuracy, 0.5);
  assert.ok(Math.abs(official.micro.f1 - 2 * 50 * (200 / 3) / (50 + 200 / 3)) < 1e-12);
  // 19-way: the two directions are two classes; macro over the three directed relations in the key.
  assert.ok(Math.abs(way19.macro.f1 - (2 * (200 / 3)) / 3) < 1e-12);
});

test('case2 by hand: skipped examples, a relation only proposed, the macro average over the key\'s relations', () => {
  const r = semevalScore(lines('case2.proposed.txt'), lines('case2.key.txt'));
  const official = r.evaluations[2];
  // Component-Whole never proposed (P 0), Entity-Destination 1/2 and 1/1, Instrument-Agency 1/1, Member-Collection 1/(1+1) and 1/2.
  const f1 = official.relations.filter((x) => x.label !== '_Other').map((x) => [x.label, Math.round(x.f1 * 100) / 100]);
  assert.deepEqual(f1, [['Component-Whole', 0], ['Entity-Destination', 66.67], ['Instrument-Agency', 100], ['Member-Collection', 50]]);
  assert.ok(Math.abs(r.official - (0 + 200 / 3 + 100 + 50) / 4) < 1e-12);
  assert.ok(!official.relations.some((x) => x.label === 'Product-Producer'), 'a relation the key lacks has no row');
  assert.equal(official.accuracy, 4 / 9);  // correct over the whole key (one example skipped)
  assert.match(r.report, /^!!!WARNING!!! The proposed file contains 1 label\(s\) of type 'Product-Producer\(e1,e2\)'/);
});

test('perfect predictions score 100; an id the key lacks is an error; lines round-trip', () => {
  const key = lines('case2.key.txt');
  assert.equal(semevalScore(key, key).official, 100);
  assert.throws(() => semevalScore(new Map([['99', 'Other']]), key), /an id the answer key lacks: "99"/);
  assert.equal(semevalLines(new Map([['1', 'Other'], ['2', 'Cause-Effect(e2,e1)']])), '1\tOther\n2\tCause-Effect(e2,e1)\n');
});

test('cFixed rounds as C printf does (exact ties to even), toFixed elsewhere', () => {
  assert.equal(cFixed(0.125, 2), '0.12');
  assert.equal(cFixed(0.375, 2), '0.38');
  assert.equal(cFixed(12.5, 2), '12.50');
  assert.equal(cFixed(2 / 3 * 100, 2), '66.67');
  assert.equal(cFixed(1.005, 2), '1.00');  // the double is below 1.005
  assert.equal(cFixed(100, 2), '100.00');
});
