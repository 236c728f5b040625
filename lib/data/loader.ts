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
import { IGNORE_INDEX, type Batch } from '../batch.js';
import type { Tokenizer, TruncationStrategy } from '../tokenizer.js';
import type { LabelVocab } from './labels.js';
import type { TextExample } from './readers.js';

/** One encoded example. Exactly one kind of target (or none) across a dataset. */
export interface Feature {
  inputIds: ArrayLike<number>;
  /** segment ids (pairs); zeros when absent */
  tokenTypeIds?: ArrayLike<number>;
  /** token-level targets, same length as inputIds, -100 where ignored */
  labels?: ArrayLike<number>;
  /** sequence-level class id */
  label?: number;
  /** multi-label: ids of the positive classes (becomes a 0/1 row of `numLabels` in `labelsFloat`) */
  labelIds?: readonly number[];
  /** joint intent + slot models: slot targets per token (same length as inputIds, -100 where ignored); `label` holds the intent */
  slotLabels?: ArrayLike<number>;
}

/** A batch plus the dataset indices of its rows (to map predictions back). */
export interface LoaderBatch extends Batch {
  /** `indices[r]` is the feature index of row r */
  indices: Int32Array;
}

// ---------------------------------------------------------------------------------------------
// Seeded PRNG
// ---------------------------------------------------------------------------------------------

/** The 128-bit state of an {@link Rng}, as four unsigned 32-bit integers (JSON-safe). */
export type RngState = [number, number, number, number];

/**
 * xoshiro128** (Blackman & Vigna): a small, fast, seedable PRNG whose state can be saved and
 * restored. Same seed, same sequence, on every platform.
 */
export class Rng {
  #s: Uint32Array;

  /** Seeds the state from a 32-bit integer through splitmix32. */
  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new RootsError('ERR_INVALID_ARG', `Expected an integer seed but received ${describe(seed)}`);
    this.#s = new Uint32Array(4);
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.#s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if ((this.#s[0] | this.#s[1] | this.#s[2] | this.#s[3]) === 0) this.#s[0] = 1;
  }

  /** A generator for epoch `epoch` of seed `seed` (independent streams per epoch). */
  static forEpoch(seed: number, epoch: number): Rng {
    return new Rng((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul((epoch >>> 0) + 1, 0x85ebca77)) | 0);
  }

  /** Next unsigned 32-bit integer. */
  nextUint32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  nextInt(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Shuffles `array` in place (Fisher-Yates) and returns it. */
  shuffle<T extends { length: number; [i: number]: unknown }>(array: T): T {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }

  /** The current state. */
  state(): RngState {
    return [this.#s[0], this.#s[1], this.#s[2], this.#s[3]];
  }

  /** Continues from a state saved with {@link Rng.state}. */
  restore(state: RngState): void {
    if (!Array.isArray(state) || state.length !== 4 || state.some((v) => !Number.isInteger(v) || v < 0 || v > 0xffffffff)) {
      throw new RootsError('ERR_INVALID_ARG', `Expected an Rng state of four unsigned 32-bit integers but received ${describe(state)}`);
    }
    if (state.every((v) => v === 0)) throw new RootsError('ERR_INVALID_ARG', 'An all-zero Rng state is invalid');
    this.#s.set(state);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Features for sequence classification
// ---------------------------------------------------------------------------------------------

/** Options for {@link textClassificationFeatures}. */
export interface TextFeatureOptions {
  /** Longest input in tokens (default: the tokenizer's modelMaxLength, else 512). */
  maxLength?: number;
  /** How to shorten pairs (default `'longest_first'`). */
  truncation?: TruncationStrategy;
  /** Multi-label targets (`labelIds`); default: when any example's label is an array. */
  multiLabel?: boolean;
}

/** A sequence-classification feature. */
export interface TextFeature extends Feature {
  inputIds: Int32Array;
  tokenTypeIds?: Int32Array;
}

/**
 * Encodes text examples once (truncated to `maxLength`) with their class ids. Unlabelled examples
 * are allowed when `labels` is omitted.
 */
export function textClassificationFeatures(
  tokenizer: Tokenizer,
  examples: readonly TextExample[],
  labels: LabelVocab | undefined,
  options: TextFeatureOptions = {},
): TextFeature[] {
  const maxLength = expectPositiveInt('maxLength', options.maxLength ?? tokenizer.modelMaxLength ?? 512);
  const truncation = options.truncation ?? 'longest_first';
  const multi = options.multiLabel ?? examples.some((e) => Array.isArray(e.label));
  return examples.map((ex, i) => {
    const enc = tokenizer.encode(ex.text, ex.textPair ?? null, { truncation, maxLength });
    const f: TextFeature = { inputIds: Int32Array.from(enc.ids) };
    if (ex.textPair !== undefined) f.tokenTypeIds = Int32Array.from(enc.typeIds);
    if (labels) {
      if (ex.label === undefined) throw new RootsError('ERR_INVALID_ARG', `Example ${i}${ex.line ? ` (line ${ex.line})` : ''} has no label`);
      const names = typeof ex.label === 'string' ? [ex.label] : ex.label;
      const ids = names.map((name) => {
        const id = labels.get(name);
        if (id === undefined) throw new RootsError('ERR_INVALID_ARG', `Example ${i}${ex.line ? ` (line ${ex.line})` : ''}: label ${describe(name)} is not in the label vocabulary (${labels.labels.join(', ')})`);
        return id;
      });
      if (multi) f.labelIds = ids;
      else if (ids.length !== 1) throw new RootsError('ERR_INVALID_ARG', `Example ${i}${ex.line ? ` (line ${ex.line})` : ''} has ${ids.length} labels; pass multiLabel: true`);
      else f.label = ids[0];
    }
    return f;
  });
}

// ---------------------------------------------------------------------------------------------
// Collation
// ---------------------------------------------------------------------------------------------

/** Options for {@link collate}. */
export interface CollateOptions {
  /** Id written into padding positions. */
  padTokenId: number;
  /** `'longest'` (default): pad to the batch's longest row; `'max_length'`: to `maxLength`. */
  padding?: 'longest' | 'max_length';
  /** Required for `padding: 'max_length'`; rows longer than it are an error in both modes. */
  maxLength?: number;
  /** Round the padded length up to a multiple of this (8 suits tensor cores). */
  padToMultipleOf?: number;
  /** Classes for multi-label features (`labelIds`). */
  numLabels?: number;
}

/** Pads features into one {@link Batch} (row-major Int32Arrays, labels -100 on padding). */
export function collate(features: readonly Feature[], options: CollateOptions): Batch {
  const b = features.length;
  if (b === 0) throw new RootsError('ERR_INVALID_ARG', 'Cannot collate an empty list of features');
  let longest = 0;
  for (const f of features) if (f.inputIds.length > longest) longest = f.inputIds.length;
  if (options.maxLength !== undefined && longest > options.maxLength) {
    throw new RootsError('ERR_INVALID_ARG', `A feature has ${longest} tokens, more than maxLength ${options.maxLength}; truncate or window it first`);
  }
  let t = options.padding === 'max_length' ? expectPositiveInt('maxLength', options.maxLength) : longest;
  if (options.padToMultipleOf !== undefined && options.padToMultipleOf > 1) t = Math.ceil(t / options.padToMultipleOf) * options.padToMultipleOf;
  const inputIds = new Int32Array(b * t).fill(options.padTokenId);
  const attentionMask = new Int32Array(b * t);
  const tokenTypeIds = new Int32Array(b * t);
  const first = features[0];
  const kind = first.labels !== undefined ? 'token' : first.label !== undefined ? 'sequence' : first.labelIds !== undefined ? 'multi' : 'none';
  const batch: Batch = { batchSize: b, seqLen: t, inputIds, attentionMask, tokenTypeIds };
  const slotLabels = first.slotLabels !== undefined ? (batch.slotLabels = new Int32Array(b * t).fill(IGNORE_INDEX)) : undefined;
  let labels: Int32Array | undefined;
  let labelsFloat: Float32Array | undefined;
  if (kind === 'token') labels = batch.labels = new Int32Array(b * t).fill(IGNORE_INDEX);
  else if (kind === 'sequence') labels = batch.labels = new Int32Array(b);
  else if (kind === 'multi') {
    const n = options.numLabels;
    if (n === undefined) throw new RootsError('ERR_INVALID_ARG', 'Multi-label features (labelIds) need numLabels in the loader options');
    labelsFloat = batch.labelsFloat = new Float32Array(b * expectPositiveInt('numLabels', n));
  }
  for (let r = 0; r < b; r++) {
    const f = features[r];
    const n = f.inputIds.length;
    const fKind = f.labels !== undefined ? 'token' : f.label !== undefined ? 'sequence' : f.labelIds !== undefined ? 'multi' : 'none';
    if (fKind !== kind) throw new RootsError('ERR_INVALID_ARG', `Features mix target kinds: row 0 has ${kind} targets, row ${r} has ${fKind}`);
    if ((f.slotLabels !== undefined) !== (slotLabels !== undefined)) throw new RootsError('ERR_INVALID_ARG', `Features mix slot targets: row 0 ${slotLabels ? 'has' : 'lacks'} slotLabels, row ${r} ${slotLabels ? 'lacks' : 'has'} them`);
    const base = r * t;
    if (f.inputIds instanceof Int32Array) inputIds.set(f.inputIds, base); else for (let i = 0; i < n; i++) inputIds[base + i] = f.inputIds[i];
    attentionMask.fill(1, base, base + n);
    if (f.tokenTypeIds) {
      if (f.tokenTypeIds.length !== n) throw new RootsError('ERR_INVALID_ARG', `Row ${r}: tokenTypeIds has ${f.tokenTypeIds.length} entries for ${n} tokens`);
      for (let i = 0; i < n; i++) tokenTypeIds[base + i] = f.tokenTypeIds[i];
    }
    if (kind === 'token') {
      if (f.labels!.length !== n) throw new RootsError('ERR_INVALID_ARG', `Row ${r}: labels has ${f.labels!.length} entries for ${n} tokens`);
      if (f.labels instanceof Int32Array) labels!.set(f.labels, base); else for (let i = 0; i < n; i++) labels![base + i] = f.labels![i];
    } else if (kind === 'sequence') {
      labels![r] = f.label!;
    } else if (kind === 'multi') {
      const width = options.numLabels!;
      for (const id of f.labelIds!) {
        if (!Number.isInteger(id) || id < 0 || id >= width) throw new RootsError('ERR_INVALID_ARG', `Row ${r}: label id ${describe(id)} is outside [0, ${width})`);
        labelsFloat![r * width + id] = 1;
      }
    }
    if (slotLabels) {
      const s = f.slotLabels!;
      if (s.length !== n) throw new RootsError('ERR_INVALID_ARG', `Row ${r}: slotLabels has ${s.length} entries for ${n} tokens`);
      for (let i = 0; i < n; i++) slotLabels[base + i] = s[i];
    }
  }
  return batch;
}

// ---------------------------------------------------------------------------------------------
// DataLoader
// ---------------------------------------------------------------------------------------------

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
    if (!state || !Number.isInteger(state.epoch) || state.epoch < 0 || !Number.isInteger(state.position) || state.position < 0) {
      throw new RootsError('ERR_INVALID_ARG', `Expected a loader state { seed, epoch, position } with non-negative integers but received ${JSON.stringify(state)}`);
    }
    if (state.seed !== this.#seed) throw new RootsError('ERR_INVALID_ARG', `The state was saved with seed ${state.seed} but this loader has seed ${this.#seed}`);
    if (state.position > this.length) throw new RootsError('ERR_INVALID_ARG', `The state's position ${state.position} is past the ${this.length} batches of an epoch`);
    this.#epoch = state.epoch;
    this.#position = state.position;
  }

  /** Starts epoch `epoch` from its first batch. */
  setEpoch(epoch: number): void {
    if (!Number.isInteger(epoch) || epoch < 0) throw new RootsError('ERR_INVALID_ARG', `Expected a non-negative integer epoch but received ${describe(epoch)}`);
    this.#epoch = epoch;
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
