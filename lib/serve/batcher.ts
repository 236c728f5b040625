/**
 * `BatchedPipeline`: dynamic batching over a pipeline, for services that call it concurrently.
 *
 * ```ts
 * const ner = await pipeline('ner', 'out/model', { batchSize: 32 });
 * const batched = new BatchedPipeline(ner, { maxBatchSize: 32, maxWaitMs: 5 });
 * await Promise.all(texts.map((t) => batched.run(t)));   // one native call per 32 texts
 * await batched.close();                                  // drains, then ner.dispose() is yours
 * ```
 *
 * Requests with the same adapter and parameters are gathered until they hold `maxBatchSize` inputs or
 * the oldest has waited `maxWaitMs`; their inputs are sorted by length (less padding) and go through
 * the pipeline in one call (with the pipeline's batchSize >= maxBatchSize, one native forward pass),
 * and the outputs are split back in each request's order. One batch runs at a time: the pipelines of
 * one base model share its native model, which runs one call at a time. While a batch runs, the next
 * gathers, so under load batches fill without waiting.
 *
 * Backpressure: at most `maxQueue` inputs wait; past that `run` rejects at once with ERR_OVERLOADED
 * (never unbounded memory). A request past its `timeoutMs` rejects with ERR_TIMEOUT, one whose
 * `signal` aborts with ERR_ABORTED; either way a queued request leaves the queue (its work is never
 * done) and a running one's answer is dropped. When a batch fails, each of its requests is retried
 * alone, so one bad input (a fill-mask text without [MASK]) fails only its own request.
 */
import { RootsError, describe, expectPositiveInt } from '../errors.js';

/** A pipeline as the batcher calls it: a list of inputs and the call's options, one output per input. */
export type PipelineFn = (inputs: never[], options?: never) => Promise<unknown>;

export interface BatchedPipelineOptions {
  /** Inputs per pipeline call (default 32). Give the pipeline a batchSize at least this large. */
  maxBatchSize?: number;
  /** How long the oldest request of a batch may wait for others, in ms (default 5; 0: never wait). */
  maxWaitMs?: number;
  /** Inputs that may wait; more is ERR_OVERLOADED (default 1024). */
  maxQueue?: number;
  /** Per-request deadline in ms from `run`, waiting and running (default 30000; 0: none). */
  timeoutMs?: number;
  /** Pipelines of the same base model running its adapters, by adapter name (lib/peft). */
  adapters?: Record<string, PipelineFn>;
  /** The length an input is sorted by (default: the characters of its text). */
  lengthOf?: (input: unknown) => number;
  /** Called after each pipeline call (metrics). */
  onBatch?: (info: BatchInfo) => void;
}

export interface BatchInfo {
  inputs: number;
  requests: number;
  adapter: string | null;
  ms: number;
  /** The sum of lengthOf over the inputs. */
  length: number;
}

export interface RunOptions {
  /** The pipeline's call options (`{ aggregation: 'simple' }`, `{ topK: 3 }`); batches never mix them. */
  parameters?: Record<string, unknown>;
  /** The adapter to run (a key of options.adapters); default: the base pipeline. */
  adapter?: string | null;
  /** Aborting drops the request (queued: never run; running: its answer is discarded). */
  signal?: AbortSignal;
  /** Overrides options.timeoutMs for this request. */
  timeoutMs?: number;
}

interface Pending {
  inputs: unknown[];
  single: boolean;
  key: string;
  parameters: Record<string, unknown> | undefined;
  adapter: string | null;
  enqueued: number;
  state: 'queued' | 'running' | 'done';
  resolve(value: unknown): void;
  reject(error: unknown): void;
  cleanup(): void;
}

function defaultLength(input: unknown): number {
  if (typeof input === 'string') return input.length;
  if (input && typeof input === 'object') {
    const o = input as { text?: unknown; textPair?: unknown; text_pair?: unknown; question?: unknown; context?: unknown };
    return [o.text, o.textPair, o.text_pair, o.question, o.context].reduce<number>((n, s) => n + (typeof s === 'string' ? s.length : 0), 0);
  }
  return 0;
}

export class BatchedPipeline {
  readonly maxBatchSize: number;
  readonly maxWaitMs: number;
  readonly maxQueue: number;
  readonly timeoutMs: number;
  readonly #pipes = new Map<string | null, PipelineFn>();
  readonly #lengthOf: (input: unknown) => number;
  readonly #onBatch?: (info: BatchInfo) => void;
  #queue: Pending[] = [];
  #queuedInputs = 0;
  #running: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  #idle: (() => void)[] = [];

  constructor(pipeline: PipelineFn, options: BatchedPipelineOptions = {}) {
    if (typeof pipeline !== 'function') throw new RootsError('ERR_INVALID_ARG', `Expected a pipeline (a function) but received ${describe(pipeline)}`);
    this.maxBatchSize = expectPositiveInt('maxBatchSize', options.maxBatchSize ?? 32);
    this.maxWaitMs = nonNegative('maxWaitMs', options.maxWaitMs ?? 5);
    this.maxQueue = expectPositiveInt('maxQueue', options.maxQueue ?? 1024);
    this.timeoutMs = nonNegative('timeoutMs', options.timeoutMs ?? 30_000);
    this.#pipes.set(null, pipeline);
    for (const [name, p] of Object.entries(options.adapters ?? {})) this.#pipes.set(name, p);
    this.#lengthOf = options.lengthOf ?? defaultLength;
    this.#onBatch = options.onBatch;
  }

  /** Inputs waiting (not yet running). */
  get queueDepth(): number { return this.#queuedInputs; }
  /** Whether nothing is queued or running. */
  get idle(): boolean { return this.#queue.length === 0 && this.#running === null; }
  /** The adapters this batcher routes to. */
  get adapters(): string[] { return [...this.#pipes.keys()].filter((k): k is string => k !== null); }

  /**
   * The pipeline's answer for `input` (one input) or `inputs` (an array: one output each), exactly
   * what calling the pipeline directly gives, computed in a batch with other callers' inputs.
   */
  run(input: unknown, options: RunOptions = {}): Promise<unknown> {
    const single = !Array.isArray(input);
    const inputs = single ? [input] : (input as unknown[]);
    const adapter = options.adapter ?? null;
    if (this.#closed) return Promise.reject(new RootsError('ERR_DISPOSED', 'This BatchedPipeline is closed (shutting down)'));
    if (!this.#pipes.has(adapter)) {
      return Promise.reject(new RootsError('ERR_INVALID_ARG', `No adapter named ${JSON.stringify(adapter)} (loaded: ${this.adapters.join(', ') || 'none'})`));
    }
    if (inputs.length === 0) return Promise.resolve([]);
    if (inputs.length > this.maxBatchSize) {
      return Promise.reject(new RootsError('ERR_INVALID_ARG', `${inputs.length} inputs in one request, more than maxBatchSize ${this.maxBatchSize}`));
    }
    if (this.#queuedInputs + inputs.length > this.maxQueue) {
      return Promise.reject(new RootsError('ERR_OVERLOADED', `The queue is full (${this.#queuedInputs} inputs waiting, maxQueue ${this.maxQueue}); retry later`));
    }
    if (options.signal?.aborted) return Promise.reject(new RootsError('ERR_ABORTED', 'The request was aborted before it was queued'));
    const timeoutMs = nonNegative('timeoutMs', options.timeoutMs ?? this.timeoutMs);
    return new Promise((resolve, reject) => {
      const p: Pending = {
        inputs, single, adapter, parameters: options.parameters, enqueued: performance.now(), state: 'queued',
        key: `${adapter ?? ''}\u0000${JSON.stringify(options.parameters ?? {})}`,
        resolve, reject, cleanup: () => {},
      };
      const fail = (e: RootsError) => {
        if (p.state === 'done') return;
        if (p.state === 'queued') this.#remove(p);
        p.state = 'done';
        p.cleanup();
        reject(e);
        this.#checkIdle();
      };
      const timer = timeoutMs > 0 ? setTimeout(() => fail(new RootsError('ERR_TIMEOUT', `No answer within ${timeoutMs} ms`)), timeoutMs) : null;
      const onAbort = () => fail(new RootsError('ERR_ABORTED', 'The request was aborted (the client went away)'));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      p.cleanup = () => {
        if (timer) clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
      };
      this.#queue.push(p);
      this.#queuedInputs += inputs.length;
      this.#schedule();
    });
  }

  /** Stops taking requests, finishes every queued and running one, then resolves. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#schedule();
    await this.drained();
  }

  /** Resolves when nothing is queued or running. */
  drained(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #remove(p: Pending): void {
    const i = this.#queue.indexOf(p);
    if (i >= 0) {
      this.#queue.splice(i, 1);
      this.#queuedInputs -= p.inputs.length;
    }
  }

  #checkIdle(): void {
    if (!this.idle) return;
    for (const f of this.#idle.splice(0)) f();
  }

  /** Starts the next batch when one is due, or sets a timer for when the oldest request's wait ends. */
  #schedule(): void {
    if (this.#running || this.#queue.length === 0) return;
    const head = this.#queue[0];
    let size = 0;
    for (const p of this.#queue) if (p.key === head.key) size += p.inputs.length;
    const waited = performance.now() - head.enqueued;
    if (size < this.maxBatchSize && waited < this.maxWaitMs && !this.#closed) {
      if (!this.#timer) this.#timer = setTimeout(() => { this.#timer = null; this.#schedule(); }, Math.ceil(this.maxWaitMs - waited));
      return;
    }
    if (this.#timer) { clearTimeout(this.#timer); this.#timer = null; }
    const batch: Pending[] = [];
    let n = 0;
    for (const p of this.#queue) {
      if (p.key !== head.key) continue;
      if (batch.length > 0 && n + p.inputs.length > this.maxBatchSize) break;
      batch.push(p);
      n += p.inputs.length;
    }
    for (const p of batch) { this.#remove(p); p.state = 'running'; }
    this.#running = this.#runBatch(batch).finally(() => {
      this.#running = null;
      this.#schedule();
      this.#checkIdle();
    });
  }

  async #runBatch(batch: Pending[]): Promise<void> {
    try {
      const outputs = await this.#call(batch);
      batch.forEach((p, i) => { settle(p, outputs[i]); });
    } catch (e) {
      if (batch.length === 1) { settle(batch[0], undefined, e); return; }
      // One request's bad input fails the batch: run each alone so only its own request fails.
      for (const p of batch) {
        if (p.state !== 'running') continue;
        try {
          settle(p, (await this.#call([p]))[0]);
        } catch (err) {
          settle(p, undefined, err);
        }
      }
    }
  }

  /** One pipeline call over the requests' inputs, sorted by length; one output list per request. */
  async #call(batch: Pending[]): Promise<unknown[][]> {
    const items = batch.flatMap((p, r) => p.inputs.map((input, k) => ({ input, r, k, length: this.#lengthOf(input) })));
    items.sort((a, b) => a.length - b.length);
    const adapter = batch[0].adapter;
    const t0 = performance.now();
    const out = await this.#pipes.get(adapter)!(items.map((it) => it.input) as never[], batch[0].parameters as never);
    if (!Array.isArray(out) || out.length !== items.length) {
      throw new RootsError('ERR_INVALID_ARG', `The pipeline returned ${describe(out)} for ${items.length} inputs (expected one output per input)`);
    }
    this.#onBatch?.({ inputs: items.length, requests: batch.length, adapter, ms: performance.now() - t0, length: items.reduce((s, it) => s + it.length, 0) });
    const results = batch.map((p) => new Array<unknown>(p.inputs.length));
    for (let i = 0; i < items.length; i++) results[items[i].r][items[i].k] = out[i];
    return results;
  }
}

function settle(p: Pending, outputs: unknown[] | undefined, error?: unknown): void {
  if (p.state !== 'running') return;  // timed out or aborted meanwhile: the answer is dropped
  p.state = 'done';
  p.cleanup();
  if (error !== undefined || outputs === undefined) p.reject(error);
  else p.resolve(p.single ? outputs[0] : outputs);
}

function nonNegative(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new RootsError('ERR_INVALID_ARG', `Expected a non-negative number for ${name} but received ${describe(value)}`);
  return value;
}
