/**
 * A data-parallel process group: c10d's (native/distributed.cc) behind a small TypeScript face.
 *
 * ```ts
 * const env = distributedEnv();                      // null when this process runs alone
 * const group = await ProcessGroup.connect(env!, { device: model.device });
 * const trainer = new Trainer({ model, tokenizer, train, args, distributed: group });
 * await trainer.train();                             // rank 0 alone writes checkpoints, logs, the report
 * group.dispose();
 * ```
 *
 * The Trainer uses it to check that every rank has the same config and data (a hash), broadcast rank
 * 0's initial weights, attach the gradient all-reduce to the model, and agree on stopping.
 */
import { RootsError, expectPositiveInt } from '../errors.js';
import type { BertPreTrainedModel } from '../models/bert.js';
import { call, callSync, native, type NativeProcessGroup } from '../native.js';
import type { DistributedEnv } from './env.js';

/** PyTorch DDP's default bucket: 25 MiB. */
export const DEFAULT_BUCKET_BYTES = 25 * 1024 * 1024;

export interface ProcessGroupOptions {
  /** The device of the model ('cpu': Gloo; 'cuda:N': NCCL where the addon has it). Default 'cpu'. */
  device?: string;
  /** Bytes per gradient bucket (default 25 MiB, DDP's). */
  bucketBytes?: number;
  /** Start each bucket's all-reduce during the backward pass, as its gradients become final (default true). */
  overlap?: boolean;
}

export class ProcessGroup {
  readonly env: DistributedEnv;
  readonly backend: 'gloo' | 'nccl';
  readonly device: string;
  readonly bucketBytes: number;
  readonly overlap: boolean;
  readonly #ng: NativeProcessGroup;
  #checks = 0;

  private constructor(env: DistributedEnv, ng: NativeProcessGroup, backend: 'gloo' | 'nccl', device: string, o: ProcessGroupOptions) {
    this.env = env;
    this.#ng = ng;
    this.backend = backend;
    this.device = device;
    this.bucketBytes = o.bucketBytes === undefined ? DEFAULT_BUCKET_BYTES : expectPositiveInt('bucketBytes', o.bucketBytes);
    this.overlap = o.overlap ?? true;
  }

  /** Joins the group: the rendezvous at MASTER_ADDR:MASTER_PORT, waiting for every rank (at most env.timeoutSeconds). */
  static async connect(env: DistributedEnv, options: ProcessGroupOptions = {}): Promise<ProcessGroup> {
    const device = options.device ?? 'cpu';
    const info = native().distributedInfo();
    const backend = device.startsWith('cuda') ? 'nccl' : 'gloo';
    if (!info.c10d) {
      throw new RootsError('ERR_UNSUPPORTED', 'This build of the addon cannot train across processes: it was built without Gloo\'s headers. Install them (Debian: apt-get install libgloo-dev) and rebuild (npm run build:native)');
    }
    if (backend === 'nccl' && !info.nccl) {
      throw new RootsError('ERR_UNSUPPORTED', `--device ${device} trains across processes with NCCL, which this addon was not built with (a LibTorch with CUDA and NCCL's headers); train on --device cpu (Gloo)`);
    }
    const ng = callSync(() => new (native().ProcessGroup)({
      masterAddr: env.masterAddr, masterPort: env.masterPort, rank: env.rank, worldSize: env.worldSize,
      timeoutMs: Math.round(env.timeoutSeconds * 1000), backend, device,
    }));
    try {
      await call(() => ng.connect());
    } catch (e) {
      ng.dispose();
      throw e;
    }
    return new ProcessGroup(env, ng, backend, device, options);
  }

  get rank(): number { return this.env.rank; }
  get worldSize(): number { return this.env.worldSize; }
  /** Rank 0: the one that writes checkpoints, logs and the report, and evaluates. */
  get isMain(): boolean { return this.env.rank === 0; }

  /** The element-wise sum of `values` over the ranks (every rank must call it, in the same order). */
  async allreduce(values: ArrayLike<number>): Promise<number[]> {
    return Array.from(await call(() => this.#ng.allreduce(Float64Array.from(values))));
  }

  /**
   * Checks that every rank computed the same `digest` of `what` (the config and the data): a rank
   * that differs from rank 0 fails with ERR_CONFIG on that rank and on rank 0, naming the ranks.
   */
  async checkSame(what: string, digest: string): Promise<void> {
    const key = `roots/check/${this.#checks++}/`;
    await call(() => this.#ng.storeSet(key + this.rank, digest));
    const ranks = this.isMain ? Array.from({ length: this.worldSize }, (_, r) => r) : [0];
    const differ: number[] = [];
    for (const r of ranks) {
      const theirs = r === this.rank ? digest : await call(() => this.#ng.storeGet(key + r));
      if (theirs !== digest) differ.push(r);
    }
    if (differ.length) {
      const who = this.isMain ? `rank${differ.length > 1 ? 's' : ''} ${differ.join(', ')} differ${differ.length > 1 ? '' : 's'} from rank 0` : `rank ${this.rank} differs from rank 0`;
      throw new RootsError('ERR_CONFIG', `Data-parallel ranks must train the same ${what}, but ${who} (hash ${digest.slice(0, 12)} here). Start every rank with the same flags and the same data files`);
    }
  }

  /** Attaches the gradient all-reduce to `model`'s training steps. */
  attach(model: BertPreTrainedModel): void {
    model.distributed('attach', this.#ng, { bucketBytes: this.bucketBytes, overlap: this.overlap });
  }

  /** Detaches it: the model trains alone again. */
  detach(model: BertPreTrainedModel): void {
    if (!model.disposed) model.distributed('detach');
  }

  /** Rank 0's weights (the parameters that train) to every rank, so all start from the same point. */
  async broadcastWeights(model: BertPreTrainedModel): Promise<void> {
    await model.distributed('broadcast', this.#ng);
  }

  /** Leaves the group (idempotent). */
  dispose(): void {
    this.#ng.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
