/**
 * The SemEval-2010 Task 8 scorer (semeval2010_task8_scorer-v1.2.pl), figure for figure and line
 * for line: the three evaluations it prints ((2*9+1)-way; (9+1)-way ignoring direction; (9+1)-way
 * taking direction into account, the official one), each with its confusion matrix, coverage,
 * accuracies, per-relation P/R/F1, micro- and macro-averages excluding Other, and the closing
 * official-score line.
 *
 * The scorer's rules, kept here:
 * - relation names lose their direction `(e1,e2)` / `(e2,e1)` for the 10-way evaluations; `Other`
 *   is written `_Other` (so it sorts last) and is left out of the micro and macro averages;
 * - in the official evaluation, a prediction of the right relation in the wrong direction is a
 *   `WRONG_DIR` column: wrong for both precision (it counts in the relation's proposed total) and
 *   recall;
 * - the macro average divides by the number of relations in the ANSWER KEY (Other excluded); a
 *   relation that is only proposed adds to nobody's score (a precision loss only where it is
 *   proposed instead of a key's relation);
 * - P is 0 when a relation was never proposed, R when it never occurs, F1 when P + R = 0.
 *
 * Labels outside SemEval's 19 are scored by the same rules (the Perl script refuses them), so any
 * relation dataset gets the same figures; `otherLabel` names its negative class.
 */
import { RootsError } from '../errors.js';

/** One relation's figures in one evaluation (percentages as the scorer prints them, unrounded). */
export interface SemEvalRelationScore {
  label: string;
  correct: number;
  /** Predictions of this relation (the official evaluation: right direction or another relation's examples). */
  proposed: number;
  /** Official evaluation: this relation's examples predicted with the wrong direction. */
  wrongDirection: number;
  /** Examples of this relation in the key. */
  answer: number;
  precision: number;
  recall: number;
  f1: number;
}

/** One of the scorer's three evaluations. */
export interface SemEvalEvaluation {
  title: string;
  accuracy: number;
  /** Per relation of the answer key (sorted as the scorer sorts them; `_Other` last). */
  relations: SemEvalRelationScore[];
  micro: { precision: number; recall: number; f1: number };
  macro: { precision: number; recall: number; f1: number };
}

/** What {@link semevalScore} returns. */
export interface SemEvalResult {
  /** The official score: macro-averaged F1 (in %) of the (9+1)-way evaluation with direction. */
  official: number;
  /** [(2*9+1)-way, (9+1)-way ignoring direction, (9+1)-way with direction (official)]. */
  evaluations: [SemEvalEvaluation, SemEvalEvaluation, SemEvalEvaluation];
  /** The scorer's whole output, character for character. */
  report: string;
}

const DIRECTION = /\(e[12],e[12]\)[\n\r]*$/;
const WRONG_DIR = 'WRONG_DIR';

type Counts = Map<string, number>;
type Matrix = Map<string, Counts>;  // proposed -> answer -> count

function inc(m: Counts, k: string, by = 1): void { m.set(k, (m.get(k) ?? 0) + by); }
function cell(m: Matrix, p: string, a: string): number { return m.get(p)?.get(a) ?? 0; }
function bump(m: Matrix, p: string, a: string): void {
  let row = m.get(p);
  if (!row) {
    row = new Map();
    m.set(p, row);
  }
  inc(row, a);
}
/** Perl's `sort keys`: code-unit order. */
function sorted(keys: Iterable<string>): string[] { return [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)); }

/** C's `%.Nf` (what Perl's printf calls): the binary value rounded, exact ties to even. */
export function cFixed(x: number, digits: number): string {
  const s = x.toFixed(digits);
  // toFixed rounds exact ties up; C rounds them to even. A tie at N digits is a value m / 2^k whose
  // decimal expansion ends in 5 at digit N + 1 (x * 10^(N+1) an odd multiple of 5, x * 2^(N+1) whole).
  const scaled = x * 10 ** (digits + 1);
  if (Number.isInteger(x * 2 ** (digits + 1)) && Number.isInteger(scaled) && Math.abs(scaled) % 10 === 5) {
    const down = (Math.trunc(x * 10 ** digits) / 10 ** digits).toFixed(digits);
    const lastDigit = Number(down[down.length - 1]);
    return lastDigit % 2 === 0 ? down : s;
  }
  return s;
}
function pad(s: string | number, width: number): string { return String(s).padStart(width); }
function f62(x: number): string { return pad(cFixed(x, 2), 6); }

/** The scorer's short column name: `_O_` for Other, `C-E` (`*CE` when not in the key), plus the direction digit. */
function shortName(label: string, answer: Counts): string {
  if (label === '_Other') return '_O_';
  const m = /^(.)[^-]+-(.)/.exec(label);
  const [a, b] = m ? [m[1], m[2]] : [label[0] ?? '?', label[1] ?? '?'];
  let out = answer.has(label) ? `${a}-${b}` : `*${a}${b}`;
  const dir = /\(e([12])/.exec(label);
  if (dir) out += dir[1];
  return out;
}

function evaluate(title: string, conf: Matrix, proposedCounts: Counts, answerCounts: Counts, totalProposed: number, totalAnswer: number,
  useWrongDir: boolean, out: string[]): SemEvalEvaluation {
  const all = [...sorted(answerCounts.keys()).filter((k) => k !== WRONG_DIR), ...sorted(proposedCounts.keys()).filter((k) => k !== WRONG_DIR && !answerCounts.has(k))];
  const answers = sorted(answerCounts.keys());
  const p = (s: string) => out.push(s);
  p(`<<< ${title}>>>:\n\n`);
  p('Confusion matrix:\n       ');
  for (const l of all) p(` ${pad(shortName(l, answerCounts), 4)}`);
  p(' <-- classified as\n      +' + '-----'.repeat(all.length) + (useWrongDir ? '+ -SUM- xDIRx skip  ACTUAL\n' : '+ -SUM- skip ACTUAL\n'));
  let freqCorrect = 0;
  let otherSkipped = 0;
  for (const a of answers) {
    p(` ${pad(shortName(a, answerCounts), 4)} |`);
    let sum = 0;
    for (const l of all) { const c = cell(conf, l, a); p(`${pad(c, 4)} `); sum += c; }
    const ans = answerCounts.get(a) ?? 0;
    if (useWrongDir) {
      const wd = cell(conf, WRONG_DIR, a);
      p(`| ${pad(sum, 4)}  ${pad(wd, 4)}  ${pad(ans - sum - wd, 4)} ${pad(ans, 6)}\n`);
      if (a === '_Other') otherSkipped = ans - sum - wd;
    } else {
      p(`| ${pad(sum, 4)} ${pad(ans - sum, 4)} ${pad(ans, 4)}\n`);
      if (a === '_Other') otherSkipped = ans - sum;
    }
    freqCorrect += cell(conf, a, a);
  }
  p('      +' + '-----'.repeat(all.length) + '+\n -SUM- ');
  for (const l of all) p(`${pad(proposedCounts.get(l) ?? 0, 4)} `);
  const wrongTotal = proposedCounts.get(WRONG_DIR) ?? 0;
  if (useWrongDir) p(`  ${pad(totalProposed - wrongTotal, 4)}  ${pad(wrongTotal, 4)}  ${pad(totalAnswer - totalProposed, 4)} ${pad(totalAnswer, 6)}\n\n`);
  else p(`  ${pad(totalProposed, 4)} ${pad(totalAnswer - totalProposed, 4)} ${pad(totalAnswer, 4)}\n\n`);
  p(`Coverage = ${totalProposed}/${totalAnswer} = ${pad(cFixed(100 * totalProposed / totalAnswer, 2), 5)}%\n`);
  p(`Accuracy (calculated for the above confusion matrix) = ${freqCorrect}/${totalProposed} = ${pad(cFixed(100 * freqCorrect / totalProposed, 2), 5)}%\n`);
  p(`Accuracy (considering all skipped examples as Wrong) = ${freqCorrect}/${totalAnswer} = ${pad(cFixed(100 * freqCorrect / totalAnswer, 2), 5)}%\n`);
  p(`Accuracy (considering all skipped examples as Other) = ${freqCorrect + otherSkipped}/${totalAnswer} = ${pad(cFixed(100 * (freqCorrect + otherSkipped) / totalAnswer, 2), 5)}%\n`);
  p('\nResults for the individual relations:\n');
  const relations: SemEvalRelationScore[] = [];
  let macroP = 0, macroR = 0, macroF1 = 0, microCorrect = 0, microProposed = 0, microAnswer = 0;
  for (const a of answers) {
    const wd = useWrongDir ? cell(conf, WRONG_DIR, a) : 0;
    const proposed = proposedCounts.get(a) ?? 0;
    const correct = cell(conf, a, a);
    const answer = answerCounts.get(a) ?? 0;
    const P = proposed === 0 ? 0 : 100 * correct / (proposed + wd);
    const R = answer === 0 ? 0 : 100 * correct / answer;
    const F1 = P + R === 0 ? 0 : 2 * P * R / (P + R);
    if (useWrongDir) p(`${pad(a, 25)} :    P = ${pad(correct, 4)}/(${pad(proposed, 4)} +${pad(wd, 4)}) = ${f62(P)}`);
    else p(`${pad(a, 25)} :    P = ${pad(correct, 4)}/${pad(proposed + wd, 4)} = ${f62(P)}`);
    p(`%     R = ${pad(correct, 4)}/${pad(answer, 4)} = ${f62(R)}%     F1 = ${f62(F1)}%\n`);
    relations.push({ label: a, correct, proposed, wrongDirection: wd, answer, precision: P, recall: R, f1: F1 });
    if (a !== '_Other') {
      macroP += P; macroR += R; macroF1 += F1;
      microCorrect += correct; microProposed += proposed + wd; microAnswer += answer;
    }
  }
  const microP = microProposed === 0 ? 0 : 100 * microCorrect / microProposed;
  const microR = microAnswer === 0 ? 0 : 100 * microCorrect / microAnswer;
  const microF1 = microP + microR === 0 ? 0 : 2 * microP * microR / (microP + microR);
  p('\nMicro-averaged result (excluding Other):\n');
  p(`P = ${pad(microCorrect, 4)}/${pad(microProposed, 4)} = ${f62(microP)}%     R = ${pad(microCorrect, 4)}/${pad(microAnswer, 4)} = ${f62(microR)}%     F1 = ${f62(microF1)}%\n`);
  const n = answers.length - (answerCounts.has('_Other') ? 1 : 0);
  // Perl divides by zero here when the key holds Other alone; report 0 instead.
  macroP = n > 0 ? macroP / n : 0; macroR = n > 0 ? macroR / n : 0; macroF1 = n > 0 ? macroF1 / n : 0;
  p('\nMACRO-averaged result (excluding Other):\n');
  p(`P = ${f62(macroP)}%\tR = ${f62(macroR)}%\tF1 = ${f62(macroF1)}%\n\n\n\n`);
  return {
    title, accuracy: totalAnswer === 0 ? 0 : freqCorrect / totalAnswer, relations,
    micro: { precision: microP, recall: microR, f1: microF1 }, macro: { precision: macroP, recall: macroR, f1: macroF1 },
  };
}

/**
 * Scores `proposed` (id -> relation) against `answer` (id -> relation) exactly as the official
 * scorer does. `proposed` may cover a subset of the key's ids (the rest count as skipped); an id
 * the key lacks is an error, as in the scorer. `otherLabel` (default `Other`) is the class left out
 * of the averages.
 */
export function semevalScore(proposed: ReadonlyMap<string, string>, answer: ReadonlyMap<string, string>, options: { otherLabel?: string } = {}): SemEvalResult {
  const other = options.otherLabel ?? 'Other';
  const name = (l: string) => (l === other ? '_Other' : l);
  if (answer.size === 0) throw new RootsError('ERR_INVALID_ARG', 'semevalScore: the answer key is empty');
  const c19: Matrix = new Map(), c10: Matrix = new Map(), c10d: Matrix = new Map();
  const p19: Counts = new Map(), p10: Counts = new Map(), p10d: Counts = new Map(), a19: Counts = new Map(), a10: Counts = new Map();
  for (const [id, rawP] of proposed) {
    const rawA = answer.get(id);
    if (rawA === undefined) throw new RootsError('ERR_INVALID_ARG', `semevalScore: the predictions contain an id the answer key lacks: ${JSON.stringify(id)}`);
    const lp = name(rawP), la = name(rawA);
    bump(c19, lp, la); inc(p19, lp);
    const lpn = lp.replace(DIRECTION, ''), lan = la.replace(DIRECTION, '');
    bump(c10, lpn, lan); inc(p10, lpn);
    if (lp === la || lpn !== lan) { bump(c10d, lpn, lan); inc(p10d, lpn); }
    else { bump(c10d, WRONG_DIR, lan); inc(p10d, WRONG_DIR); }
  }
  for (const raw of answer.values()) { const l = name(raw); inc(a19, l); inc(a10, l.replace(DIRECTION, '')); }
  const out: string[] = [];
  for (const l of sorted(p19.keys())) {
    if (!a19.has(l)) out.push(`!!!WARNING!!! The proposed file contains ${p19.get(l)} label(s) of type '${l}', which is NOT present in the key file.\n\n`);
  }
  const e19 = evaluate('(2*9+1)-WAY EVALUATION (USING DIRECTIONALITY)', c19, p19, a19, proposed.size, answer.size, false, out);
  const e10 = evaluate('(9+1)-WAY EVALUATION IGNORING DIRECTIONALITY ', c10, p10, a10, proposed.size, answer.size, false, out);
  const official = evaluate('(9+1)-WAY EVALUATION TAKING DIRECTIONALITY INTO ACCOUNT -- OFFICIAL ', c10d, p10d, a10, proposed.size, answer.size, true, out);
  out.push(`<<< The official score is (9+1)-way evaluation with directionality taken into account: macro-averaged F1 = ${cFixed(official.macro.f1, 2)}% >>>\n`);
  return { official: official.macro.f1, evaluations: [e19, e10, official], report: out.join('') };
}

/** `id<TAB>relation` lines, the file format the official scorer reads (keys and answers alike). */
export function semevalLines(labels: ReadonlyMap<string, string>): string {
  let s = '';
  for (const [id, l] of labels) s += `${id}\t${l}\n`;
  return s;
}
