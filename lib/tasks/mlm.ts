/**
 * Masked-language modelling as a Trainer task (`task: 'mlm'`, `roots pretrain`).
 *
 * Unlike the fine-tuning tasks it has no examples to encode: the Trainer trains from a batch source
 * (`MlmBatches`: packed blocks of a token cache, masked per batch) and evaluates on one built with
 * `shuffle: false`, whose masks depend only on the seed and the batch index, so every evaluation
 * scores the same masked tokens. Metrics: `loss` (mean cross-entropy over the masked tokens, as
 * Transformers' run_mlm.py), `perplexity` (exp of that loss) and `accuracy` (the fraction of masked
 * tokens whose argmax is the original token). The default selection metric is the loss.
 */
import { IGNORE_INDEX } from '../batch.js';
import { MlmBatches } from '../data/mlm.js';
import { RootsError } from '../errors.js';
import type { BertPreTrainedModel } from '../models/bert.js';
import type { BatchSource, Evaluation, Task } from './task.js';

export const MLM_METRICS = ['loss', 'perplexity', 'accuracy'] as const;

/** Loss sums and counts of an MLM evaluation, before they become metrics. */
export interface MlmTotals {
  /** Sum over the masked tokens of their cross-entropy. */
  lossSum: number;
  /** Masked tokens (labels other than -100). */
  masked: number;
  /** Masked tokens whose highest logit is the original token. */
  correct: number;
  batches: number;
}

/** loss, perplexity and accuracy (of the masked tokens) from the totals (NaN when nothing was masked). */
export function mlmMetrics(t: MlmTotals): Record<string, number> {
  const loss = t.masked > 0 ? t.lossSum / t.masked : Number.NaN;
  return { loss, perplexity: Math.exp(loss), accuracy: t.masked > 0 ? t.correct / t.masked : Number.NaN };
}

/**
 * Scores a masked-LM on every batch of `batches` (epoch 0, in order): the native forward with labels
 * projects onto the vocabulary only at the masked positions and returns their logits `[N, V]`, N the
 * masked tokens of the batch in row-major order, with the mean loss over them.
 */
export async function evaluateMlm(model: BertPreTrainedModel, batches: MlmBatches, options: { onBatch?: (done: number, total: number) => void } = {}): Promise<MlmTotals> {
  if (model.head !== 'mlm') throw new RootsError('ERR_INVALID_ARG', `Masked-LM evaluation needs a BertForMaskedLM, not a ${model.head} head`);
  const totals: MlmTotals = { lossSum: 0, masked: 0, correct: 0, batches: 0 };
  const n = batches.length;
  for (let i = 0; i < n; i++) {
    const batch = await batches.batch(0, i);
    const targets: number[] = [];
    for (let k = 0; k < batch.labels.length; k++) if (batch.labels[k] !== IGNORE_INDEX) targets.push(batch.labels[k]);
    totals.batches++;
    if (targets.length === 0) continue;   // nothing masked: nothing to score (the loss would be NaN)
    const out = await model.forward(batch);
    const v = out.dims[out.dims.length - 1];
    if (out.dims.length !== 2 || out.dims[0] !== targets.length || out.loss === undefined) {
      throw new RootsError('ERR_NATIVE', `The masked-LM forward returned logits [${out.dims}] for ${targets.length} masked tokens (expected [${targets.length}, V] and a loss)`);
    }
    const logits = out.logits;
    for (let r = 0; r < targets.length; r++) {
      let best = 0;
      let bestValue = -Infinity;
      const base = r * v;
      for (let j = 0; j < v; j++) {
        const x = logits[base + j];
        if (x > bestValue) { bestValue = x; best = j; }
      }
      if (best === targets[r]) totals.correct++;
    }
    totals.lossSum += out.loss * targets.length;
    totals.masked += targets.length;
    options.onBatch?.(i + 1, n);
  }
  return totals;
}

/** The Trainer's side of masked-language modelling: evaluation on a batch source, no features. */
export class MlmTask implements Task<never> {
  readonly name = 'mlm';
  readonly defaultMetric = 'loss';
  /** Trains from a batch source (MlmBatches), not from examples. */
  readonly batchSourceOnly = true;

  greaterIsBetter(metric: string): boolean {
    return metric === 'accuracy';
  }

  labelsOf(): string[] {
    return [];
  }

  features(): never {
    throw new RootsError('ERR_INVALID_ARG', "The 'mlm' task trains from a batch source (MlmBatches, e.g. from corpusBatches()), not from examples: pass it as options.train and options.eval");
  }

  score(): never {
    return this.features();
  }

  async evaluateBatches(model: BertPreTrainedModel, batches: BatchSource): Promise<Evaluation> {
    if (!(batches instanceof MlmBatches)) throw new RootsError('ERR_INVALID_ARG', "The 'mlm' task evaluates MlmBatches (built with shuffle: false, so every evaluation masks the same tokens)");
    const totals = await evaluateMlm(model, batches);
    const metrics = mlmMetrics(totals);
    const report = `masked tokens ${totals.masked}, loss ${metrics.loss.toFixed(4)}, perplexity ${metrics.perplexity.toFixed(2)}, masked-token accuracy ${metrics.accuracy.toFixed(4)}\n`;
    return { metrics, report, details: totals };
  }
}
