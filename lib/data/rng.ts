/** A seeded PRNG whose state can be saved: the shuffles of the loader and the demo corpus. */
import { RootsError, describe } from '../errors.js';


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
