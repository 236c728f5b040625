/**
 * Learning-rate schedules, computed in TypeScript for each optimizer step and passed to the native
 * step. They follow Hugging Face's `get_scheduler` (transformers/optimization.py): the rate of
 * optimizer step `k` (0-based: the number of steps already taken) is `learningRate * factor(k)`, so
 * with warmup the very first step runs at rate 0, as in Transformers.
 */
import { RootsError, describe } from '../errors.js';

/** Schedule names (HF's `lr_scheduler_type` values). */
export type ScheduleName = 'linear' | 'cosine' | 'constant' | 'constant_with_warmup';

export const SCHEDULES: readonly ScheduleName[] = ['linear', 'cosine', 'constant', 'constant_with_warmup'];

/** A resolved schedule: everything needed to compute the rate of any step. */
export interface Schedule {
  name: ScheduleName;
  /** Peak learning rate. */
  learningRate: number;
  /** Optimizer steps of linear warmup from 0 to the peak (ignored by `constant`). */
  warmupSteps: number;
  /** Optimizer steps of the whole run (the decay reaches 0 here). */
  totalSteps: number;
}

/**
 * Warmup steps as HF computes them: `warmupSteps` when given (> 0), else
 * `ceil(warmupRatio * totalSteps)`.
 */
export function resolveWarmupSteps(totalSteps: number, options: { warmupSteps?: number; warmupRatio?: number }): number {
  if (options.warmupSteps !== undefined && options.warmupSteps > 0) return options.warmupSteps;
  const ratio = options.warmupRatio ?? 0;
  return Math.ceil(totalSteps * ratio);
}

/** The multiplier of the peak rate at optimizer step `step` (0-based). */
export function scheduleFactor(name: ScheduleName, step: number, warmupSteps: number, totalSteps: number): number {
  if (!Number.isInteger(step) || step < 0) throw new RootsError('ERR_INVALID_ARG', `Expected a non-negative integer step but received ${describe(step)}`);
  switch (name) {
    case 'constant':
      return 1;
    case 'constant_with_warmup':
      return step < warmupSteps ? step / Math.max(1, warmupSteps) : 1;
    case 'linear':
      if (step < warmupSteps) return step / Math.max(1, warmupSteps);
      return Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
    case 'cosine': {
      if (step < warmupSteps) return step / Math.max(1, warmupSteps);
      const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
      // HF's num_cycles = 0.5: half a cosine wave from 1 down to 0.
      return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
    }
    default:
      throw new RootsError('ERR_INVALID_ARG', `Unknown learning-rate schedule ${describe(name)}: expected one of ${SCHEDULES.join(', ')}`);
  }
}

/** The learning rate of optimizer step `step` (0-based) under `schedule`. */
export function learningRateAt(schedule: Schedule, step: number): number {
  return schedule.learningRate * scheduleFactor(schedule.name, step, schedule.warmupSteps, schedule.totalSteps);
}
