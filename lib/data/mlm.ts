/**
 * Masked-language-model batches: packing a token stream into full blocks, and dynamic masking.
 *
 * Packing (as Transformers' run_mlm.py `group_texts`, with BERT's markers): the token stream of a
 * {@link TokenSource} (documents each followed by [SEP], see corpus-cache.ts) is cut into blocks of
 * `seqLen - 2` tokens, and each block becomes one row `[CLS] block [SEP]` of exactly `seqLen`
 * tokens: no padding, documents separated by [SEP]. The last partial block is dropped (default) or
 * kept padded (`keepLastBlock`). Each epoch visits every block once, in an order shuffled by
 * `(seed, epoch)` (a block shuffle: the cache is read by positional reads, one block per row).
 *
 * Masking (Transformers' DataCollatorForLanguageModeling): each token that is not special is chosen
 * with probability `mlmProbability` (default 0.15); a chosen token becomes [MASK] with probability
 * 0.8, a random non-special token with 0.1, and stays itself with 0.1; labels hold the original id at
 * chosen positions and -100 elsewhere. With `wholeWordMask`, words (a token and the `##` pieces after
 * it) are chosen instead of tokens, and all pieces of a chosen word are masked together. The masks
 * of block `k` in epoch `e` come from an Rng seeded by `(seed, e, k)`, so a resumed run masks
 * exactly as the uninterrupted one, an evaluation masks the same tokens whatever its batch size, and
 * the masks change every epoch (dynamic masking, as RoBERTa).
 */
import { IGNORE_INDEX, type Batch } from '../batch.js';
import { RootsError, describe, expectPositiveInt } from '../errors.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { Rng } from './rng.js';
import { checkEpoch, checkEpochState } from './loader.js';
import { corpusLabel, resolveCorpusFiles, type CorpusReadOptions } from './corpus.js';
import { openTokenCache, type TokenCache } from './corpus-cache.js';

/** Where packed rows read their tokens: a {@link TokenCache}, or an array in tests. */
export interface TokenSource {
  /** tokens in the stream */
  readonly length: number;
  /** Copies ids [start, start + count) into `out` from `out[offset]`. */
  read(start: number, count: number, out: Int32Array, offset?: number, scratch?: Buffer): Promise<void>;
}

/** A token stream held in memory (tests, small corpora). */
export class ArrayTokenSource implements TokenSource {
  constructor(readonly ids: Int32Array) {}
  get length(): number { return this.ids.length; }
  async read(start: number, count: number, out: Int32Array, offset = 0): Promise<void> {
    out.set(this.ids.subarray(start, start + count), offset);
  }
}

/** The token ids masking and packing need. */
export interface MlmVocab {
  clsTokenId: number;
  sepTokenId: number;
  padTokenId: number;
  maskTokenId: number;
  vocabSize: number;
  /** Ids never chosen for masking, nor drawn as random replacements. */
  specialIds: readonly number[];
  /** `continuation[id]` is 1 when the token continues a word (`##` pieces); for whole-word masking. */
  continuation?: Uint8Array;
}

/** The {@link MlmVocab} of a BERT tokenizer. */
export function mlmVocab(tokenizer: Tokenizer): MlmVocab {
  const need = (name: string, id: number | undefined): number => {
    if (id === undefined) throw new RootsError('ERR_CONFIG', `The tokenizer has no ${name} token; masked-language-model pretraining needs [CLS], [SEP], [PAD] and [MASK]`);
    return id;
  };
  const vocab = (tokenizer.toJSON().model as { vocab: Record<string, number> }).vocab;
  const continuation = new Uint8Array(tokenizer.vocabSize);
  for (const [token, id] of Object.entries(vocab)) if (token.startsWith('##')) continuation[id] = 1;
  return {
    clsTokenId: need(tokenizer.specialTokens.cls, tokenizer.clsTokenId),
    sepTokenId: need(tokenizer.specialTokens.sep, tokenizer.sepTokenId),
    padTokenId: need(tokenizer.specialTokens.pad, tokenizer.padTokenId),
    maskTokenId: need(tokenizer.specialTokens.mask, tokenizer.maskTokenId),
    vocabSize: tokenizer.vocabSize,
    specialIds: tokenizer.allSpecialIds,
    continuation,
  };
}

export interface MaskingOptions {
  /** Fraction of tokens chosen for prediction, in (0, 1) (default 0.15; `--mlm-probability`). */
  mlmProbability?: number;
  /** Of the chosen tokens, the fraction replaced by [MASK] (default 0.8). */
  maskReplaceProbability?: number;
  /** Of the chosen tokens, the fraction replaced by a random token (default 0.1); the rest stay. */
  randomReplaceProbability?: number;
  /** Choose whole words (a token and its `##` pieces) rather than tokens (default false). */
  wholeWordMask?: boolean;
}

/** Dynamic masking of rows of token ids, in place. */
export class Masker {
  readonly mlmProbability: number;
  readonly maskReplaceProbability: number;
  readonly randomReplaceProbability: number;
  readonly wholeWordMask: boolean;
  readonly #vocab: MlmVocab;
  readonly #special: Uint8Array;
  readonly #candidates: Int32Array;

  constructor(vocab: MlmVocab, options: MaskingOptions = {}) {
    const p = options.mlmProbability ?? 0.15;
    if (typeof p !== 'number' || !(p > 0 && p < 1)) throw new RootsError('ERR_INVALID_ARG', `Expected mlmProbability in (0, 1) (--mlm-probability) but received ${describe(p)}`);
    this.mlmProbability = p;
    this.maskReplaceProbability = probability('maskReplaceProbability', options.maskReplaceProbability ?? 0.8);
    this.randomReplaceProbability = probability('randomReplaceProbability', options.randomReplaceProbability ?? 0.1);
    if (this.maskReplaceProbability + this.randomReplaceProbability > 1) {
      throw new RootsError('ERR_INVALID_ARG', `maskReplaceProbability + randomReplaceProbability is ${this.maskReplaceProbability + this.randomReplaceProbability}, more than 1`);
    }
    this.wholeWordMask = options.wholeWordMask ?? false;
    expectPositiveInt('vocabSize', vocab.vocabSize);
    if (this.wholeWordMask && !vocab.continuation) throw new RootsError('ERR_INVALID_ARG', 'wholeWordMask needs the vocabulary\'s continuation table (mlmVocab(tokenizer))');
    this.#vocab = vocab;
    this.#special = new Uint8Array(vocab.vocabSize);
    for (const id of [...vocab.specialIds, vocab.clsTokenId, vocab.sepTokenId, vocab.padTokenId, vocab.maskTokenId]) this.#special[id] = 1;
    const candidates: number[] = [];
    for (let id = 0; id < vocab.vocabSize; id++) if (!this.#special[id]) candidates.push(id);
    if (candidates.length === 0) throw new RootsError('ERR_INVALID_ARG', 'The vocabulary has only special tokens');
    this.#candidates = Int32Array.from(candidates);
  }

  /** Whether `id` is never masked. */
  isSpecial(id: number): boolean {
    return this.#special[id] === 1;
  }

  /**
   * Masks `inputIds[from, to)` in place and writes `labels` there (-100 where not chosen). Padding
   * (attention 0) must carry a special id ([PAD]), so it is never chosen.
   */
  mask(inputIds: Int32Array, labels: Int32Array, from: number, to: number, rng: Rng): void {
    const v = this.#vocab;
    const p = this.mlmProbability;
    labels.fill(IGNORE_INDEX, from, to);
    let chosen = false;
    let inWord = false; // the previous token was a word piece (not special), so a ## piece continues it
    for (let i = from; i < to; i++) {
      const id = inputIds[i];
      if (this.#special[id]) { inWord = false; continue; }
      // Whole words: a continuation piece follows its word's decision.
      if (!(this.wholeWordMask && inWord && v.continuation![id])) chosen = rng.next() < p;
      inWord = true;
      if (!chosen) continue;
      labels[i] = id;
      const r = rng.next();
      if (r < this.maskReplaceProbability) inputIds[i] = v.maskTokenId;
      else if (r < this.maskReplaceProbability + this.randomReplaceProbability) inputIds[i] = this.#candidates[rng.nextInt(this.#candidates.length)];
    }
  }
}

function probability(name: string, v: unknown): number {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new RootsError('ERR_INVALID_ARG', `Expected ${name} in [0, 1] but received ${describe(v)}`);
  return v;
}

/** The masking Rng of block `index` in `epoch` (a pure function of the three). */
export function batchRng(seed: number, epoch: number, index: number): Rng {
  let h = Math.imul((seed | 0) ^ 0x2545f491, 0x9e3779b1);
  h = Math.imul(h ^ (epoch | 0) ^ (h >>> 15), 0x85ebca77);
  h = Math.imul(h ^ (index | 0) ^ (h >>> 13), 0xc2b2ae3d);
  return new Rng((h ^ (h >>> 16)) | 0);
}

export interface MlmBatchesOptions extends MaskingOptions {
  batchSize: number;
  /** Tokens per row, [CLS] and [SEP] included (>= 3). */
  seqLen: number;
  /** Seed of the block order and the masks (default 42). */
  seed?: number;
  /** Shuffle the blocks each epoch (default true; evaluation: false). */
  shuffle?: boolean;
  /** Keep the last partial block, padded (default false: dropped). */
  keepLastBlock?: boolean;
  /** Drop the last, smaller batch (default false). */
  dropLast?: boolean;
  /** Build the next batch while the current one is consumed (default true). */
  prefetch?: boolean;
}

/** Where an {@link MlmBatches} is: the loader's state shape, so checkpoints store it the same way. */
export interface MlmBatchesState {
  seed: number;
  epoch: number;
  /** batches of `epoch` already handed out */
  position: number;
}

/** A packed, masked batch, and which blocks its rows hold. */
export interface MlmBatch extends Batch {
  labels: Int32Array;
  /** `blocks[r]` is the block index of row r */
  blocks: Int32Array;
}

/**
 * A resumable source of packed, masked batches over a token stream: the pretraining counterpart of
 * `DataLoader`, with the same `length`, `epoch`, `state()`, `restore()`, `setEpoch()` and iteration.
 *
 * ```ts
 * const { cache } = await openTokenCache(files, tokenizer, { cacheDir: 'out/cache' });
 * const batches = new MlmBatches(cache, mlmVocab(tokenizer), { batchSize: 32, seqLen: 128, seed: 42 });
 * for await (const batch of batches) await model.trainStep([batch]);   // one epoch
 * checkpoint.loader = batches.state();   // later: batches.restore(checkpoint.loader)
 * ```
 */
export class MlmBatches implements AsyncIterable<MlmBatch> {
  readonly source: TokenSource;
  readonly vocab: MlmVocab;
  readonly masker: Masker;
  readonly batchSize: number;
  readonly seqLen: number;
  /** full blocks, plus the partial one when kept */
  readonly blocks: number;
  readonly #options: MlmBatchesOptions;
  readonly #seed: number;
  #epoch = 0;
  #position = 0;
  #orderEpoch = -1;
  #order: Int32Array | null = null;

  constructor(source: TokenSource, vocab: MlmVocab, options: MlmBatchesOptions) {
    this.source = source;
    this.vocab = vocab;
    this.masker = new Masker(vocab, options);
    this.batchSize = expectPositiveInt('batchSize', options?.batchSize);
    const seqLen = expectPositiveInt('seqLen', options.seqLen);
    if (seqLen < 3) throw new RootsError('ERR_INVALID_ARG', `Expected seqLen >= 3 ([CLS], one token, [SEP]) but received ${seqLen}`);
    this.seqLen = seqLen;
    this.#options = options;
    this.#seed = options.seed ?? 42;
    if (!Number.isInteger(this.#seed)) throw new RootsError('ERR_INVALID_ARG', `Expected an integer seed but received ${describe(options.seed)}`);
    const body = seqLen - 2;
    const full = Math.floor(source.length / body);
    this.blocks = full + (options.keepLastBlock && source.length % body > 0 ? 1 : 0);
    if (this.blocks === 0) {
      throw new RootsError('ERR_INVALID_ARG', `The corpus has ${source.length} tokens, fewer than one block of ${body} (seqLen ${seqLen} minus [CLS] and [SEP]); add text, shorten the sequence length (--max-length), or keep the last partial block (keepLastBlock)`);
    }
  }

  /** Rows per epoch (the blocks), checked when a Trainer resumes. */
  get rows(): number {
    return this.blocks;
  }

  /** Batches per epoch. */
  get length(): number {
    return this.#options.dropLast ? Math.floor(this.blocks / this.batchSize) : Math.ceil(this.blocks / this.batchSize);
  }

  /** The epoch the next batch comes from. */
  get epoch(): number {
    return this.#epoch;
  }

  state(): MlmBatchesState {
    return { seed: this.#seed, epoch: this.#epoch, position: this.#position };
  }

  restore(state: MlmBatchesState): void {
    checkEpochState(state, this.#seed, this.length, 'these batches have');
    this.#epoch = state.epoch;
    this.#position = state.position;
  }

  setEpoch(epoch: number): void {
    this.#epoch = checkEpoch(epoch);
    this.#position = 0;
  }

  /** The block order of `epoch` (a pure function of seed and epoch). */
  blockOrder(epoch: number): Int32Array {
    if (this.#orderEpoch === epoch && this.#order) return this.#order;
    const order = new Int32Array(this.blocks);
    for (let i = 0; i < order.length; i++) order[i] = i;
    if (this.#options.shuffle ?? true) Rng.forEpoch(this.#seed, epoch).shuffle(order);
    this.#orderEpoch = epoch;
    this.#order = order;
    return order;
  }

  /** Batch `index` of `epoch`: packed rows, masked (a pure function of seed, epoch, index). */
  async batch(epoch: number, index: number): Promise<MlmBatch> {
    const order = this.blockOrder(epoch);
    const from = index * this.batchSize;
    if (!Number.isInteger(index) || index < 0 || from >= order.length) throw new RootsError('ERR_INVALID_ARG', `Batch ${index} is outside the ${this.length} batches of an epoch`);
    const blocks = order.slice(from, Math.min(order.length, from + this.batchSize));
    const b = blocks.length;
    const t = this.seqLen;
    const body = t - 2;
    const v = this.vocab;
    const inputIds = new Int32Array(b * t);
    const attentionMask = new Int32Array(b * t);
    const labels = new Int32Array(b * t);
    const scratch = Buffer.allocUnsafe(body * 4);
    for (let r = 0; r < b; r++) {
      const start = blocks[r] * body;
      const n = Math.min(body, this.source.length - start);
      const base = r * t;
      inputIds[base] = v.clsTokenId;
      await this.source.read(start, n, inputIds, base + 1, scratch);
      inputIds[base + 1 + n] = v.sepTokenId;
      inputIds.fill(v.padTokenId, base + 2 + n, base + t);
      attentionMask.fill(1, base, base + 2 + n);
    }
    // Each row's masks from its block's own Rng: independent of the batch size and the block order.
    for (let r = 0; r < b; r++) this.masker.mask(inputIds, labels, r * t, (r + 1) * t, batchRng(this.#seed, epoch, blocks[r]));
    return { batchSize: b, seqLen: t, inputIds, attentionMask, tokenTypeIds: new Int32Array(b * t), labels, blocks };
  }

  /** Moves to the next epoch when the current one is used up. */
  #begin(): void {
    if (this.#position >= this.length && this.#position > 0) {
      this.#epoch++;
      this.#position = 0;
    }
  }

  /**
   * Batches of the rest of the current epoch, building batch k+1 while the consumer works on batch
   * k. A batch counts as handed out (in {@link state}) once yielded.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<MlmBatch> {
    this.#begin();
    const epoch = this.#epoch;
    const n = this.length;
    const prefetch = this.#options.prefetch ?? true;
    let k = this.#position;
    if (k >= n) return;
    let next: Promise<MlmBatch> = this.batch(epoch, k);
    while (true) {
      const current = await next;
      const following = k + 1;
      if (prefetch && following < n) {
        next = this.batch(epoch, following);
        next.catch(() => {}); // an early `break` must not leave an unhandled rejection
      }
      this.#position = following;
      yield current;
      // restore() or setEpoch() during the iteration ends it; the next loop starts from there.
      if (this.#epoch !== epoch || this.#position !== following || following >= n) return;
      if (!prefetch) next = this.batch(epoch, following);
      k = following;
    }
  }
}

export interface CorpusBatchesOptions extends MlmBatchesOptions, CorpusReadOptions {
  /** Folder of token caches (one sub-folder per corpus, tokenizer and options). */
  cacheDir: string;
  /** Progress of a cache build: tokens and lines so far. */
  onProgress?: (tokens: number, lines: number) => void;
  /** The flag that named the corpus, for errors (default `--corpus`). */
  flag?: string;
}

/**
 * Files, folders or globs → token cache (built on first use) → packed, masked batches: the whole
 * pretraining data path in one call. Close `cache` when done.
 */
export async function corpusBatches(inputs: string | readonly string[], tokenizer: Tokenizer, options: CorpusBatchesOptions): Promise<{ batches: MlmBatches; cache: TokenCache; built: boolean }> {
  const vocab = mlmVocab(tokenizer);
  const files = await resolveCorpusFiles(inputs, options.flag);
  const { cache, built } = await openTokenCache(files, tokenizer, options);
  try {
    return { batches: new MlmBatches(cache, vocab, options), cache, built };
  } catch (err) {
    await cache.close();
    // Name the corpus (MlmBatches knows only its token count).
    if (err instanceof RootsError) throw new RootsError(err.code, `${options.flag ?? '--corpus'} ${corpusLabel(files)}: ${err.message}`);
    throw err;
  }
}
