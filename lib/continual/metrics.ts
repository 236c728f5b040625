/**
 * The accuracy matrix of a task sequence and its summaries (Lopez-Paz & Ranzato 2017, GEM;
 * Chaudhry et al. 2018, RWalk): R[i][j] is the score on task j after training on task i.
 */
import { RootsError } from '../errors.js';

export interface ContinualMetrics {
  /** Tasks in the sequence (T). */
  tasks: number;
  /** Mean of the last row: the score averaged over every task after the whole sequence. */
  averageAccuracy: number;
  /** (1 / (T-1)) Σ_{j<T-1} R[T-1][j] − R[j][j]: negative when later tasks hurt earlier ones. null for one task. */
  backwardTransfer: number | null;
  /** (1 / (T-1)) Σ_{j<T-1} max_{l<T-1} R[l][j] − R[T-1][j]: how far each old task fell from its best. null for one task. */
  forgetting: number | null;
  /** The diagonal's last entry: the newest task's score right after training on it. */
  newestTask: number;
  /** The mean score over the tasks seen so far, after each task: (1/(i+1)) Σ_{j≤i} R[i][j]. */
  averageAfterEach: number[];
}

/** Checks R (square, finite on and below the diagonal; entries above it, the unseen tasks, may be null). */
function check(R: readonly (readonly (number | null)[])[]): number {
  if (!Array.isArray(R) || R.length === 0) throw new RootsError('ERR_INVALID_ARG', 'Expected a non-empty square accuracy matrix R[i][j] (after task i, score on task j)');
  const T = R.length;
  R.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== T) throw new RootsError('ERR_INVALID_ARG', `accuracy matrix row ${i} has ${Array.isArray(row) ? row.length : 'no'} entries, expected ${T} (one per task)`);
    for (let j = 0; j <= i; j++) {
      const v = row[j];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new RootsError('ERR_INVALID_ARG', `accuracy matrix R[${i}][${j}] must be a finite number (the score on task ${j} after task ${i}) but is ${String(v)}`);
    }
  });
  return T;
}

/** Average accuracy, backward transfer and forgetting of an accuracy matrix. */
export function continualMetrics(R: readonly (readonly (number | null)[])[]): ContinualMetrics {
  const T = check(R);
  const r = (i: number, j: number) => R[i][j] as number;
  const last = T - 1;
  let avg = 0;
  for (let j = 0; j < T; j++) avg += r(last, j);
  let bwt: number | null = null;
  let fgt: number | null = null;
  if (T > 1) {
    let b = 0, f = 0;
    for (let j = 0; j < last; j++) {
      b += r(last, j) - r(j, j);
      let best = -Infinity;
      for (let l = j; l < last; l++) best = Math.max(best, r(l, j));
      f += best - r(last, j);
    }
    bwt = b / last;
    fgt = f / last;
  }
  const averageAfterEach = R.map((_, i) => { let s = 0; for (let j = 0; j <= i; j++) s += r(i, j); return s / (i + 1); });
  return { tasks: T, averageAccuracy: avg / T, backwardTransfer: bwt, forgetting: fgt, newestTask: r(last, last), averageAfterEach };
}
