/**
 * Experience replay: a fixed-size buffer of old examples filled by reservoir sampling (Vitter's
 * Algorithm R: after n offers every example is in the buffer with probability capacity / n), mixed
 * into a new task's training data.
 */
import { RootsError, describe } from '../errors.js';
import { Rng } from '../data/rng.js';

export class ReplayBuffer<E> {
  readonly capacity: number;
  #items: E[] = [];
  #seen = 0;
  #rng: Rng;

  constructor(capacity: number, options: { seed?: number } = {}) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RootsError('ERR_INVALID_ARG', `Expected a positive integer for the replay buffer's capacity (--replay-size) but received ${describe(capacity)}`);
    this.capacity = capacity;
    this.#rng = new Rng(options.seed ?? 42);
  }

  /** Offers one example: kept while the buffer has room, then in place of a random one with probability capacity / seen. */
  add(example: E): void {
    this.#seen++;
    if (this.#items.length < this.capacity) { this.#items.push(example); return; }
    const k = this.#rng.nextInt(this.#seen);
    if (k < this.capacity) this.#items[k] = example;
  }

  addAll(examples: Iterable<E>): this {
    for (const e of examples) this.add(e);
    return this;
  }

  /** Examples offered so far. */
  get seen(): number { return this.#seen; }
  get size(): number { return this.#items.length; }
  /** The buffer's examples (a copy). */
  items(): E[] { return this.#items.slice(); }
}

/**
 * A new task's training data with replayed examples added: `size` of them, or `ratio` × the new
 * data's length (capped at the buffer's size). The Trainer's seeded shuffle mixes them into the
 * batches, so each batch holds old and new examples in about that proportion.
 */
export function mixReplay<E>(train: readonly E[], buffer: ReplayBuffer<E> | readonly E[], options: { size?: number; ratio?: number; seed?: number } = {}): E[] {
  const pool = buffer instanceof ReplayBuffer ? buffer.items() : buffer.slice();
  if (options.size !== undefined && options.ratio !== undefined) throw new RootsError('ERR_INVALID_ARG', 'mixReplay: give a replay size or a ratio, not both');
  let n = pool.length;
  if (options.size !== undefined) {
    if (!Number.isSafeInteger(options.size) || options.size < 0) throw new RootsError('ERR_INVALID_ARG', `Expected a non-negative integer for the replay size but received ${describe(options.size)}`);
    n = Math.min(options.size, pool.length);
  } else if (options.ratio !== undefined) {
    if (!(options.ratio >= 0) || !Number.isFinite(options.ratio)) throw new RootsError('ERR_INVALID_ARG', `Expected a non-negative ratio of replayed to new examples but received ${describe(options.ratio)}`);
    n = Math.min(Math.round(options.ratio * train.length), pool.length);
  }
  if (n < pool.length) new Rng(options.seed ?? 42).shuffle(pool);
  return [...train, ...pool.slice(0, n)];
}
