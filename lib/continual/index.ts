/**
 * Continual learning: new tasks, labels and domains without forgetting the old ones. EWC (a
 * diagonal Fisher computed natively, online across tasks), replay (a reservoir-sampled buffer),
 * LwF (distillation from the previous model), L2-SP (a pull toward the starting weights), label
 * expansion, and the accuracy-matrix metrics that measure forgetting.
 */
import type { Batch } from '../batch.js';
import { RootsError, describe } from '../errors.js';
import type { BertPreTrainedModel } from '../models/bert.js';
import type { NativeDistill } from '../native.js';

export { continualMetrics, type ContinualMetrics } from './metrics.js';
export { ReplayBuffer, mixReplay } from './replay.js';
export { expandLabels, expandedLabels } from './expand.js';
export { CONTINUAL_FILE, accumulateFisher, consolidate, loadContinualState, saveContinualState, type ContinualFileInfo } from './ewc.js';

/** The Trainer's `continual` option: the methods combine. */
export interface ContinualOptions {
  /** EWC: λ Σ F (θ − θ*)². The Fisher and anchor must be in the model (loadContinualState, or accumulateFisher + consolidate). */
  ewc?: { lambda: number };
  /** L2-SP: α/2 ‖θ − θ₀‖², θ₀ the weights when training starts. */
  l2sp?: { alpha: number };
  /** LwF: the previous model (its labels a prefix of this one's), distilled on the new data. */
  lwf?: { teacher: BertPreTrainedModel; temperature?: number; weight?: number };
}

export interface ResolvedContinual {
  ewcLambda: number;
  l2spAlpha: number;
  lwf: { teacher: BertPreTrainedModel; temperature: number; weight: number; labels: number } | null;
}

function nonNegative(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RootsError('ERR_INVALID_ARG', `Expected a non-negative number for ${what} but received ${describe(v)}`);
  return v;
}

/** Checks the options against the model (the teacher's head and labels) and takes L2-SP's θ₀; called once, where they enter. */
export function resolveContinual(c: ContinualOptions | undefined, model: BertPreTrainedModel): ResolvedContinual | null {
  if (!c) return null;
  const r: ResolvedContinual = { ewcLambda: 0, l2spAlpha: 0, lwf: null };
  if (c.ewc) {
    r.ewcLambda = nonNegative(c.ewc.lambda, 'continual.ewc.lambda (--ewc-lambda)');
    const s = model.continual('state');
    if (!s.fisher || !s.anchor) throw new RootsError('ERR_CONFIG', 'EWC needs the old task\'s Fisher and anchor in the model: loadContinualState(model, "<old model>/continual.safetensors"), or accumulateFisher + consolidate on the old task');
  }
  if (c.l2sp) {
    r.l2spAlpha = nonNegative(c.l2sp.alpha, 'continual.l2sp.alpha (--l2sp-alpha)');
    // θ₀: the weights the Trainer is given (a resumed run loads a checkpoint later; its pull stays toward these).
    if (!model.continual('state').start) model.continual('snapshot', 'start');
  }
  if (c.lwf) {
    const t = c.lwf.teacher;
    if (!t || typeof t.forward !== 'function') throw new RootsError('ERR_INVALID_ARG', 'Expected a model for continual.lwf.teacher (the previous task\'s model)');
    if (t.head !== model.head || (model.head !== 'token' && model.head !== 'sequence')) throw new RootsError('ERR_CONFIG', `LwF distils a token or sequence head into the same head; the teacher is ${t.head}, the model ${model.head}`);
    const old = t.labels ?? [];
    const now = model.labels ?? [];
    if (old.some((l, i) => now[i] !== l)) throw new RootsError('ERR_CONFIG', `LwF: the teacher's labels [${old.join(', ')}] must be the first labels of the model [${now.join(', ')}] (expand the model's labels, keeping the old ones first)`);
    if (t.config.vocab_size !== model.config.vocab_size) throw new RootsError('ERR_CONFIG', `LwF: the teacher's vocabulary (${t.config.vocab_size}) differs from the model's (${model.config.vocab_size})`);
    const temperature = c.lwf.temperature ?? 2;
    if (!(temperature > 0)) throw new RootsError('ERR_INVALID_ARG', `Expected a positive LwF temperature but received ${describe(temperature)}`);
    r.lwf = { teacher: t, temperature, weight: nonNegative(c.lwf.weight ?? 1, 'continual.lwf.weight'), labels: old.length };
  }
  return r;
}

/** Turns the penalties on in the engine before training. */
export function startContinual(model: BertPreTrainedModel, r: ResolvedContinual): void {
  model.continual('configure', { ewcLambda: r.ewcLambda, l2spAlpha: r.l2spAlpha });
}

/** Turns the penalties off (the Fisher and anchors stay for saving). */
export function stopContinual(model: BertPreTrainedModel): void {
  model.continual('configure', { ewcLambda: 0, l2spAlpha: 0 });
}

/** LwF's teacher logits for a step's batches (the teacher never sees the new labels). */
export async function distillFor(r: ResolvedContinual, batches: readonly Batch[]): Promise<NativeDistill | undefined> {
  if (!r.lwf) return undefined;
  const logits: Float32Array[] = [];
  for (const b of batches) {
    const { labels: _labels, labelsFloat: _f, ...inputs } = b;
    logits.push((await r.lwf.teacher.forward(inputs as Batch)).logits);
  }
  return { logits, labels: r.lwf.labels, temperature: r.lwf.temperature, weight: r.lwf.weight };
}
