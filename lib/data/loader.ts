/**
 * The data loader: pre-encoded features → padded {@link Batch}es for the native step.
 *
 * - Seeded, deterministic shuffling: the order of epoch `e` is a function of `(seed, e)` only, so
 *   training resumes mid-epoch from `{ seed, epoch, position }` ({@link DataLoader.state}).
 * - Dynamic padding to the longest row of each batch (optionally rounded up to a multiple of 8),
 *   optional length bucketing (sort within chunks of batches, then shuffle the batch order).
 * - `for await (const batch of loader)` builds batch k+1 in a `setImmediate` while the consumer
 *   awaits its step on batch k. Tokenization is synchronous, so it happens once, up front: features
 *   are encoded before they reach the loader ({@link textClassificationFeatures},
 *   `tokenClassificationFeatures` in align.ts).
 */
import { RootsError, describe, expectPositiveInt } from '../errors.js';
import type { Batch } from '../batch.js';
import type { Tokenizer } from '../tokenizer/index.js';
import type { Feature } from './features.js';
import { collate, type CollateOptions } from './collate.js';
import { Rng } from './rng.js';

/** A batch plus the dataset indices of its rows (to map predictions back). */
export interface LoaderBatch extends Batch {
  /** `indices[r]` is the feature index of row r */
  indices: Int32Array;
}


/** Options for {@link DataLoader}. */
export interface DataLoaderOptions extends Omit<CollateOptions, 'padTokenId'> {
  /** Rows per batch. */
  batchSize: number;
  /** Id for padding; default: the tokenizer's pad id (pass `tokenizer`) or 0. */
  padTokenId?: number;
  /** Tokenizer to take the pad id from. */
  tokenizer?: Pick<Tokenizer, 'padTokenId'>;
  /** Shuffle each epoch (default true). */
  shuffle?: boolean;
  /** Seed of the shuffles (default 42). */
  seed?: number;
  /** Drop the last, smaller batch (default false). */
  dropLast?: boolean;
  /**
   * Length bucketing: `true` or `{ chunkBatches }` (default 50). Examples are sorted by length within
   * chunks of `chunkBatches * batchSize`, cut into batches, and the batch order is shuffled, so
   * batches hold similar lengths and pad little.
   */
  bucketing?: boolean | { chunkBatches?: number };
  /** Build the next batch while the current one is consumed (default true). */
  prefetch?: boolean;
}

/** Where a loader is: enough to resume mid-epoch. JSON-safe. */
export interface LoaderState {
  seed: number;
  epoch: number;
  /** batches of `epoch` already handed out */
  position: number;
}

/**
 * Batches features for training or evaluation.
 *
 * ```ts
 * const loader = new DataLoader(features, { batchSize: 32, tokenizer, padToMultipleOf: 8 });
 * for (let epoch = 0; epoch < 3; epoch++) {
 *   for await (const batch of loader) await model.trainStep(batch);   // next batch builds meanwhile
 * }
 * checkpoint.loader = loader.state();   // later: loader.restore(checkpoint.loader)
 * ```
 */
export class DataLoader implements AsyncIterable<LoaderBatch>, Iterable<LoaderBatch> {
  readonly features: readonly Feature[];
  readonly batchSize: number;
  readonly #options: DataLoaderOptions;
  readonly #collate: CollateOptions;
  readonly #seed: number;
  #epoch = 0;
  #position = 0;
  #planEpoch = -1;
  #plan: Int32Array[] = [];

  constructor(features: readonly Feature[], options: DataLoaderOptions) {
    if (!Array.isArray(features)) throw new RootsError('ERR_INVALID_ARG', `Expected an array of features but received ${describe(features)}`);
    this.features = features;
    this.batchSize = expectPositiveInt('batchSize', options?.batchSize);
    this.#options = options;
    this.#seed = options.seed ?? 42;
    if (!Number.isInteger(this.#seed)) throw new RootsError('ERR_INVALID_ARG', `Expected an integer seed but received ${describe(options.seed)}`);
    if (options.bucketing && typeof options.bucketing === 'object' && options.bucketing.chunkBatches !== undefined) {
      expectPositiveInt('bucketing.chunkBatches', options.bucketing.chunkBatches);
    }
    const padTokenId = options.padTokenId ?? options.tokenizer?.padTokenId ?? 0;
    this.#collate = { ...options, padTokenId };
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.features.length;
    return this.#options.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The epoch the next batch comes from. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Where the loader is (seed, epoch, batches handed out). */
  state(): LoaderState {
    return { seed: this.#seed, epoch: this.#epoch, position: this.#position };
  }

  /** Resumes from a {@link LoaderState}; the seed must match the loader's. */
  restore(state: LoaderState): void {
    checkEpochState(state, this.#seed, this.length, 'this loader has');
    this.#epoch = state.epoch;
    this.#position = state.position;
  }

  /** Starts epoch `epoch` from its first batch. */
  setEpoch(epoch: number): void {
    this.#epoch = checkEpoch(epoch);
    this.#position = 0;
  }

  /** The feature indices of every batch of `epoch`, in order (a pure function of seed and epoch). */
  batchIndices(epoch: number): Int32Array[] {
    if (this.#planEpoch === epoch) return this.#plan;
    const n = this.features.length;
    const bs = this.batchSize;
    const shuffle = this.#options.shuffle ?? true;
    const rng = Rng.forEpoch(this.#seed, epoch);
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    if (shuffle) rng.shuffle(order);
    let batches: Int32Array[] = [];
    const bucketing = this.#options.bucketing;
    if (bucketing) {
      const chunk = bs * (typeof bucketing === 'object' ? bucketing.chunkBatches ?? 50 : 50);
      const len = (i: number): number => this.features[i].inputIds.length;
      for (let c = 0; c < n; c += chunk) {
        const part = Array.from(order.subarray(c, Math.min(n, c + chunk))).sort((a, b) => len(b) - len(a));
        for (let k = 0; k < part.length; k += bs) batches.push(Int32Array.from(part.slice(k, k + bs)));
      }
    } else {
      for (let k = 0; k < n; k += bs) batches.push(order.slice(k, k + bs));
    }
    if (this.#options.dropLast) batches = batches.filter((b) => b.length === bs);
    if (bucketing && shuffle) rng.shuffle(batches);
    this.#planEpoch = epoch;
    this.#plan = batches;
    return batches;
  }

  /** Builds the batch of the given feature indices. */
  batch(indices: Int32Array): LoaderBatch {
    const rows = new Array<Feature>(indices.length);
    for (let i = 0; i < indices.length; i++) rows[i] = this.features[indices[i]];
    const batch = collate(rows, this.#collate) as LoaderBatch;
    batch.indices = indices;
    return batch;
  }

  /** Moves to the next epoch when the current one is used up; returns the plan to read. */
  #begin(): Int32Array[] {
    if (this.#position >= this.batchIndices(this.#epoch).length && this.#position > 0) {
      this.#epoch++;
      this.#position = 0;
    }
    return this.batchIndices(this.#epoch);
  }

  /**
   * Batches of the rest of the current epoch, synchronously (evaluation, simple loops). Advances the
   * state like the async iterator.
   */
  *[Symbol.iterator](): Iterator<LoaderBatch> {
    const plan = this.#begin();
    const epoch = this.#epoch;
    while (this.#epoch === epoch && this.#position < plan.length) {
      const batch = this.batch(plan[this.#position]);
      this.#position++;
      yield batch;
    }
  }

  /**
   * Batches of the rest of the current epoch, building batch k+1 in a `setImmediate` while the
   * consumer works on batch k. A batch counts as handed out (in {@link state}) once yielded.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<LoaderBatch> {
    const plan = this.#begin();
    const epoch = this.#epoch;
    const prefetch = this.#options.prefetch ?? true;
    let next: LoaderBatch | null = this.#position < plan.length ? this.batch(plan[this.#position]) : null;
    while (next !== null) {
      const k = this.#position + 1;
      let pending: Promise<LoaderBatch> | null = null;
      if (prefetch && k < plan.length) {
        pending = new Promise<LoaderBatch>((resolve, reject) => {
          setImmediate(() => {
            try { resolve(this.batch(plan[k])); } catch (err) { reject(err); }
          });
        });
        pending.catch(() => {}); // an early `break` must not leave an unhandled rejection
      }
      this.#position = k;
      yield next;
      // restore() or setEpoch() during the iteration ends it; the next loop starts from there.
      if (this.#epoch !== epoch || this.#position !== k || k >= plan.length) return;
      next = pending ? await pending : this.batch(plan[k]);
    }
  }
}

/**
 * Checks a saved `{ seed, epoch, position }` against a batch source with `seed` and `length` batches
 * per epoch (the DataLoader and the MLM batches share the shape and the rules); `owner` names the
 * source in the message, with its verb ('this loader has').
 */
export function checkEpochState(state: LoaderState, seed: number, length: number, owner: string): void {
  if (!state || !Number.isInteger(state.epoch) || state.epoch < 0 || !Number.isInteger(state.position) || state.position < 0) {
    throw new RootsError('ERR_INVALID_ARG', `Expected a loader state { seed, epoch, position } with non-negative integers but received ${JSON.stringify(state)}`);
  }
  if (state.seed !== seed) throw new RootsError('ERR_INVALID_ARG', `The state was saved with seed ${state.seed} but ${owner} seed ${seed}`);
  if (state.position > length) throw new RootsError('ERR_INVALID_ARG', `The state's position ${state.position} is past the ${length} batches of an epoch`);
}

/** `epoch` if it is a non-negative integer, else an error. */
export function checkEpoch(epoch: number): number {
  if (!Number.isInteger(epoch) || epoch < 0) throw new RootsError('ERR_INVALID_ARG', `Expected a non-negative integer epoch but received ${describe(epoch)}`);
  return epoch;
}
