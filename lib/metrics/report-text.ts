/**
 * Text for metric reports, shared by the seqeval, scikit-learn and conlleval reports: the report
 * table, number formatting as C's printf and Python's format do it (ties to even), and the code
 * point order Python and Perl sort labels in.
 */
import { RootsError, describe } from '../errors.js';
import type { MetricScores, ReportRow } from './classification.js';

/**
 * Compares two strings by Unicode code point (the order of Python's `sorted` and Perl's `sort` on
 * UTF-8 bytes), unlike `<` which compares UTF-16 code units.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      // Surrogates (astral code points) sort after every BMP code unit in code point order.
      const xs = x >= 0xd800 && x <= 0xdfff;
      const ys = y >= 0xd800 && y <= 0xdfff;
      if (xs !== ys) return xs ? 1 : -1;
      return x < y ? -1 : 1;
    }
  }
  return a.length - b.length;
}

/**
 * Formats `x` with `digits` digits after the decimal point the way C's `printf("%.*f")` and
 * Python's `format(x, '.Nf')` do: from the exact binary value, ties to even. (`toFixed` rounds
 * exact ties away from zero: `(0.125).toFixed(2)` is `'0.13'`, Python gives `'0.12'`.)
 */
export function formatFixed(x: number, digits: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  if (!Number.isInteger(digits) || digits < 0 || digits > 100) {
    throw new RootsError('ERR_INVALID_ARG', `Expected an integer in [0, 100] for digits but received ${describe(digits)}`);
  }
  const negative = x < 0 || Object.is(x, -0);
  const abs = Math.abs(x);
  if (abs >= 1e21) return x.toFixed(digits); // exponent form anyway; never reached by scores
  // Exact decimal expansion (every double below 1e21 with |e| small enough fits in 100 digits;
  // for tinier numbers the value rounds to zero at any digits that could be asked for here).
  const exact = abs.toFixed(100);
  const dot = exact.indexOf('.');
  const intPart = exact.slice(0, dot);
  const frac = exact.slice(dot + 1);
  const kept = intPart + frac.slice(0, digits);
  const rest = frac.slice(digits);
  let roundUp = false;
  const first = rest.charCodeAt(0) - 48;
  if (first > 5) roundUp = true;
  else if (first === 5) {
    const tail = rest.slice(1);
    if (/[1-9]/.test(tail)) roundUp = true;
    else roundUp = (kept.charCodeAt(kept.length - 1) - 48) % 2 === 1; // exact tie: to even
  }
  let d = kept;
  if (roundUp) {
    const chars = d.split('');
    let i = chars.length - 1;
    while (i >= 0) {
      if (chars[i] === '9') { chars[i] = '0'; i--; } else { chars[i] = String.fromCharCode(chars[i]!.charCodeAt(0) + 1); break; }
    }
    d = (i < 0 ? '1' : '') + chars.join('');
  }
  const ip = d.slice(0, d.length - digits).replace(/^0+(?=\d)/, '') || '0';
  const fp = d.slice(d.length - digits);
  const body = digits > 0 ? `${ip}.${fp}` : ip;
  return negative ? `-${body}` : body; // like C and Python, -0.001 prints as "-0.00"
}

/** Right-aligns `s` in a field of `width` characters (never truncates), like `{:>width}`. */
export function padStart(s: string, width: number): string {
  return s.length >= width ? s : ' '.repeat(width - s.length) + s;
}

/**
 * Renders a report table the way scikit-learn and seqeval do: a header, a blank line, one row
 * per label, a blank line, then the average rows; every line ends with a newline.
 * `averages` rows with `accuracyOnly` print only the F1 column (scikit-learn's accuracy row).
 */
export function renderReport(
  rows: readonly ReportRow[],
  averages: readonly { label: string; scores: MetricScores; accuracyOnly?: boolean }[],
  digits: number,
): string {
  const headers = ['precision', 'recall', 'f1-score', 'support'];
  let width = Math.max('weighted avg'.length, digits);
  for (const r of rows) width = Math.max(width, r.label.length);
  const num = (x: number) => ' ' + padStart(formatFixed(x, digits), 9);
  const line = (label: string, s: MetricScores) =>
    padStart(label, width) + ' ' + num(s.precision) + num(s.recall) + num(s.f1) + ' ' + padStart(String(s.support), 9) + '\n';
  let text = padStart('', width) + ' ' + headers.map((h) => ' ' + padStart(h, 9)).join('') + '\n\n';
  for (const r of rows) text += line(r.label, r);
  text += '\n';
  for (const a of averages) {
    if (a.accuracyOnly) {
      text += padStart(a.label, width) + ' ' + ' '.repeat(20) + num(a.scores.f1) + ' ' + padStart(String(a.scores.support), 9) + '\n';
    } else {
      text += line(a.label, a.scores);
    }
  }
  return text;
}

/** Validates a `digits` option: an integer in [0, 20]. */
export function checkDigits(digits: unknown): number {
  if (typeof digits !== 'number' || !Number.isInteger(digits) || digits < 0 || digits > 20) {
    throw new RootsError('ERR_INVALID_ARG', `Expected an integer in [0, 20] for digits but received ${describe(digits)}`);
  }
  return digits;
}
