/**
 * Data-parallel training across processes and machines on LibTorch's c10d (Gloo on CPU, NCCL on
 * CUDA): the environment torchrun sets (env.ts), the process group (group.ts), the distributed
 * sampler (sampler.ts) and the local launcher of `roots train --nproc-per-node N` (launch.ts). The
 * gradient all-reduce itself runs inside the native training step (native/distributed.cc); the
 * Trainer takes a group as `options.distributed`.
 */
export { distributedEnv, DEFAULT_TIMEOUT_SECONDS, type DistributedEnv } from './env.js';
export { ProcessGroup, DEFAULT_BUCKET_BYTES, type ProcessGroupOptions } from './group.js';
export { ShardedLoader, type ShardedLoaderOptions } from './sampler.js';
export { launchWorkers, checkNproc, freePort, withoutNprocFlag, LAUNCHED_ENV, type LaunchOptions } from './launch.js';
export { trainingDigest } from './digest.js';
