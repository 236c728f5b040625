/**
 * The distributed sampler: every rank plans the same epoch (the DataLoader's shuffle is a function of
 * seed and epoch only), cut into global batches of `batchSize x worldSize` rows, and takes its own
 * contiguous share of each: rank r gets rows [r * k, (r + 1) * k) of a global batch of k * worldSize.
 * A last global batch that does not split evenly is filled up with its own first rows (PyTorch's
 * DistributedSampler pads the same way), so every rank steps the same number of times with equal
 * shares, and the averaged gradient of a step equals that of one process over the whole global batch
 * (for losses that average over rows). With gradient accumulation the global batch of an optimizer
 * step is batchSize x worldSize x gradientAccumulationSteps.
 */
import { RootsError, expectPositiveInt } from '../errors.js';
import type { Feature } from '../data/features.js';
import { DataLoader, type DataLoaderOptions } from '../data/loader.js';

export interface ShardedLoaderOptions extends DataLoaderOptions {
  /** This rank (0-based). */
  rank: number;
  /** Ranks in the group. */
  worldSize: number;
}

/** A DataLoader that yields this rank's share of each global batch (batchSize rows per rank). */
export class ShardedLoader extends DataLoader {
  readonly rank: number;
  readonly worldSize: number;
  #planEpoch = -1;
  #plan: Int32Array[] = [];

  constructor(features: readonly Feature[], options: ShardedLoaderOptions) {
    const worldSize = expectPositiveInt('worldSize', options?.worldSize);
    const perRank = expectPositiveInt('batchSize', options.batchSize);
    if (!Number.isInteger(options.rank) || options.rank < 0 || options.rank >= worldSize) {
      throw new RootsError('ERR_INVALID_ARG', `Expected a rank in 0-${worldSize - 1} but received ${options.rank}`);
    }
    // The plan of the global batches comes from the DataLoader itself.
    super(features, { ...options, batchSize: perRank * worldSize });
    this.rank = options.rank;
    this.worldSize = worldSize;
  }

  /** Rows per rank and batch. */
  get perRankBatchSize(): number {
    return this.batchSize / this.worldSize;
  }

  /** This rank's share of every global batch of `epoch`. */
  override batchIndices(epoch: number): Int32Array[] {
    if (this.#planEpoch === epoch) return this.#plan;
    const w = this.worldSize;
    this.#plan = super.batchIndices(epoch).map((global) => {
      const k = Math.ceil(global.length / w);
      const padded = new Int32Array(k * w);
      for (let i = 0; i < padded.length; i++) padded[i] = global[i % global.length];
      return padded.slice(this.rank * k, (this.rank + 1) * k);
    });
    this.#planEpoch = epoch;
    return this.#plan;
  }
}
