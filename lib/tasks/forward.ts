/**
 * Evaluation-mode forward passes over a list of features, batched and padded by the DataLoader
 * (length bucketing, no shuffling), with the outputs cut back to one array per feature.
 */
import { DataLoader, type LoaderBatch } from '../data/loader.js';
import type { Feature } from '../data/features.js';
import { IGNORE_INDEX } from '../batch.js';
import { expectPositiveInt } from '../errors.js';
import type { BertPreTrainedModel } from '../models/bert.js';
import type { FeatureOutputs } from './task.js';

export interface ForwardOptions {
  batchSize: number;
  padTokenId: number;
  /** Pad each batch to a multiple of this many tokens (fewer distinct shapes for the kernels). */
  padToMultipleOf?: number;
  /** Called after each batch with the number of features done (progress displays). */
  onBatch?: (done: number, total: number) => void;
}

/** Runs `model.forward` over `features`; losses are averaged over labelled targets. */
export async function forwardFeatures(model: BertPreTrainedModel, features: readonly Feature[], options: ForwardOptions): Promise<FeatureOutputs> {
  expectPositiveInt('batchSize', options.batchSize);
  const logits = new Array<Float32Array>(features.length);
  let logits2: Float32Array[] | undefined;
  let numLabels = 0;
  let numLabels2: number | undefined;
  let lossSum = 0;
  let lossWeight = 0;
  let done = 0;
  const classWeights = model.config.class_weights;
  if (features.length === 0) return { logits, numLabels: model.labels?.length ?? 0, loss: null };
  const loader = new DataLoader(features, { batchSize: options.batchSize, padTokenId: options.padTokenId, shuffle: false, bucketing: true, padToMultipleOf: options.padToMultipleOf, numLabels: model.labels?.length });
  for await (const batch of loader) {
    const out = await model.forward(batch);
    const rows = batch.batchSize;
    numLabels = splitRows(out.logits, out.dims, batch, features, logits);
    if (out.logits2 && out.dims2) {
      logits2 ??= new Array<Float32Array>(features.length);
      numLabels2 = splitRows(out.logits2, out.dims2, batch, features, logits2);
    }
    if (out.loss !== undefined && (batch.labels || batch.labelsFloat)) {
      // A batch's loss is a (class-weighted) mean over its targets: weighting it by the targets'
      // total weight makes the average independent of how the features were batched.
      let w = batch.labels ? 0 : rows;  // multi-label (labelsFloat): every row has targets
      if (batch.labels) for (let i = 0; i < batch.labels.length; i++) if (batch.labels[i] !== IGNORE_INDEX) w += classWeights?.[batch.labels[i]] ?? 1;
      if (w > 0) { lossSum += out.loss * w; lossWeight += w; }
    }
    done += rows;
    options.onBatch?.(done, features.length);
  }
  return { logits, numLabels, logits2, numLabels2, loss: lossWeight > 0 ? lossSum / lossWeight : null };
}

/**
 * Cuts a batch's logits (`dims` [B, T, L] per token, or [B, L] per sequence) back into one array per
 * feature, padding removed, into `into[feature index]`; returns L.
 */
function splitRows(values: Float32Array, dims: readonly number[], batch: LoaderBatch, features: readonly Feature[], into: Float32Array[]): number {
  const n = dims[dims.length - 1];
  const perToken = dims.length === 3;
  for (let r = 0; r < batch.batchSize; r++) {
    const f = batch.indices[r];
    const len = features[f].inputIds.length;
    into[f] = perToken ? values.slice(r * batch.seqLen * n, (r * batch.seqLen + len) * n) : values.slice(r * n, (r + 1) * n);
  }
  return n;
}
