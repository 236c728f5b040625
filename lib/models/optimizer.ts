/**
 * The optimizer and clipping contract of a training step, stated once: Hugging Face's defaults
 * (TrainingArguments: AdamW betas 0.9 / 0.999, eps 1e-8, weight decay 0, max grad norm 1.0) and
 * the check of every value. `model.trainStep` resolves its options here; the Trainer's arguments
 * (lib/trainer/args.ts) take their defaults and checks from here; the CLI's flags go through the
 * Trainer's arguments. The native step requires every value and defaults none.
 */
import { RootsError, describe } from '../errors.js';

/** Hugging Face's defaults (TrainingArguments; torch.optim.AdamW's betas and eps). */
export const OPTIMIZER_DEFAULTS: Readonly<{ weightDecay: number; maxGradNorm: number; betas: readonly [number, number]; eps: number }> =
  Object.freeze({ weightDecay: 0, maxGradNorm: 1, betas: Object.freeze([0.9, 0.999] as const), eps: 1e-8 });

export interface OptimizerOptions {
  /** Learning rate of this step (the Trainer's schedule sets it per step). */
  learningRate: number;
  /** AdamW decoupled weight decay (default 0; biases and LayerNorm weights never decay). */
  weightDecay?: number;
  /** Clip the gradient norm to this (default 1; 0 turns clipping off). */
  maxGradNorm?: number;
  /** AdamW's betas (default [0.9, 0.999]). */
  betas?: readonly [number, number];
  /** AdamW's epsilon (default 1e-8). */
  eps?: number;
}

export interface ResolvedOptimizerOptions {
  learningRate: number;
  weightDecay: number;
  maxGradNorm: number;
  betas: [number, number];
  eps: number;
}

function fail(name: string, expected: string, value: unknown): never {
  throw new RootsError('ERR_INVALID_ARG', `Expected ${expected} for ${name} but received ${describe(value)}`);
}

function finiteAtLeast(name: string, value: unknown, min: number, what = `a finite number >= ${min}`): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) fail(name, what, value);
  return value;
}

/** A learning rate: a finite number >= 0. `name` is how the caller spelled it (`args.learningRate`). */
export function checkLearningRate(value: unknown, name = 'learningRate'): number {
  return finiteAtLeast(name, value, 0);
}

/** Weight decay: a finite number >= 0. */
export function checkWeightDecay(value: unknown, name = 'weightDecay'): number {
  return finiteAtLeast(name, value, 0);
}

/** The clipping norm: a finite number >= 0 (0: no clipping). */
export function checkMaxGradNorm(value: unknown, name = 'maxGradNorm'): number {
  return finiteAtLeast(name, value, 0, 'a finite number >= 0 (0 turns clipping off)');
}

/** AdamW's betas: a pair of numbers in [0, 1) (torch.optim.AdamW's rule; 1 divides by zero in the bias correction). */
export function checkBetas(value: unknown, name = 'betas'): [number, number] {
  if (!Array.isArray(value) || value.length !== 2) fail(name, 'a pair [beta1, beta2] of numbers in [0, 1)', value);
  value.forEach((b, i) => {
    if (typeof b !== 'number' || !Number.isFinite(b) || b < 0 || b >= 1) fail(`${name}[${i}]`, 'a number in [0, 1)', b);
  });
  return [value[0], value[1]];
}

/** AdamW's epsilon: a number in (0, 1]. */
export function checkEps(value: unknown, name = 'eps'): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > 1) fail(name, 'a number in (0, 1]', value);
  return value;
}

/**
 * Fills the defaults and checks every value. `names` maps each option to how the caller spelled
 * it, for messages (the Trainer passes `args.adamBetas` ...).
 */
export function resolveOptimizerOptions(
  o: Partial<OptimizerOptions>,
  names: { [K in keyof OptimizerOptions]?: string } = {},
): ResolvedOptimizerOptions {
  if (o === null || typeof o !== 'object') fail('options', 'an object { learningRate, weightDecay?, maxGradNorm?, betas?, eps? }', o);
  const d = OPTIMIZER_DEFAULTS;
  return {
    learningRate: checkLearningRate(o.learningRate, names.learningRate),
    weightDecay: o.weightDecay === undefined ? d.weightDecay : checkWeightDecay(o.weightDecay, names.weightDecay),
    maxGradNorm: o.maxGradNorm === undefined ? d.maxGradNorm : checkMaxGradNorm(o.maxGradNorm, names.maxGradNorm),
    betas: o.betas === undefined ? [d.betas[0], d.betas[1]] : checkBetas(o.betas, names.betas),
    eps: o.eps === undefined ? d.eps : checkEps(o.eps, names.eps),
  };
}
