// The token-classification training step both train-step.bench.ts and libtorch2.bench.ts time: one
// fixed random batch (a Lehmer generator, seed 1) and the seconds of each measured step.
import type { Batch } from '../lib/batch.js';

interface StepModel {
  trainStep(b: Batch, o: { learningRate: number; weightDecay: number; maxGradNorm: number; rngSeed: number }): Promise<unknown>;
}

/** A [B, T] batch of random ids in [1, vocab) and random labels in [0, numLabels), no padding. */
export function tokenBatch(B: number, T: number, vocab: number, numLabels: number): Batch {
  let s = 1;
  const rand = () => { s = (s * 48271) % 2147483647; return s / 2147483647; };
  return {
    batchSize: B, seqLen: T,
    inputIds: Int32Array.from({ length: B * T }, () => 1 + Math.floor(rand() * (vocab - 1))),
    attentionMask: new Int32Array(B * T).fill(1), tokenTypeIds: new Int32Array(B * T),
    labels: Int32Array.from({ length: B * T }, () => Math.floor(rand() * numLabels)),
  };
}

/** Seconds per step for `steps` steps after `warmup` unmeasured ones. */
export async function timeSteps(model: StepModel, batch: Batch, warmup: number, steps: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const t = performance.now();
    await model.trainStep(batch, { learningRate: 5e-5, weightDecay: 0.01, maxGradNorm: 1, rngSeed: i });
    if (i >= warmup) times.push((performance.now() - t) / 1000);
  }
  return times;
}
