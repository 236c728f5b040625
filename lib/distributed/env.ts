/**
 * The environment a data-parallel worker starts in: the variables torchrun sets (`MASTER_ADDR`,
 * `MASTER_PORT`, `RANK`, `WORLD_SIZE`, `LOCAL_RANK`, `LOCAL_WORLD_SIZE`), so `roots train` runs
 * unchanged under torchrun, `roots train --nproc-per-node N` (launch.ts), a Kubernetes PyTorchJob,
 * or Slurm's `srun` (its `SLURM_PROCID`, `SLURM_NTASKS`, `SLURM_LOCALID` and `SLURM_NTASKS_PER_NODE`
 * stand in for the ranks where `RANK`/`WORLD_SIZE` are not set; `MASTER_ADDR`/`MASTER_PORT` come
 * from the batch script). Checked here, once, with messages that name the variable and the fix.
 */
import { RootsError } from '../errors.js';

export interface DistributedEnv {
  masterAddr: string;
  masterPort: number;
  rank: number;
  worldSize: number;
  localRank: number;
  localWorldSize: number;
  /** Seconds a rendezvous or collective may wait (ROOTS_DIST_TIMEOUT; default 300). */
  timeoutSeconds: number;
  /** Where the values came from (for messages): 'torchrun' or 'slurm'. */
  source: 'torchrun' | 'slurm';
}

/** Default wait of the rendezvous and of every collective: long enough for rank 0's evaluation. */
export const DEFAULT_TIMEOUT_SECONDS = 300;

const HINT = 'Start the workers with `roots train --nproc-per-node N ...`, or torchrun, which set MASTER_ADDR, MASTER_PORT, RANK and WORLD_SIZE for each';

function int(env: NodeJS.ProcessEnv, name: string, min: number): number {
  const raw = env[name];
  const v = raw !== undefined && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(v) || v < min) {
    throw new RootsError('ERR_CONFIG', `${name}=${JSON.stringify(raw ?? '')} is not an integer >= ${min}. ${HINT}`);
  }
  return v;
}

/**
 * The data-parallel environment of this process, or null when it runs alone (neither `WORLD_SIZE`
 * nor `RANK` set, and no multi-task Slurm step). `timeoutSeconds` overrides ROOTS_DIST_TIMEOUT.
 */
export function distributedEnv(env: NodeJS.ProcessEnv = process.env, options: { timeoutSeconds?: number } = {}): DistributedEnv | null {
  const torchrun = env.WORLD_SIZE !== undefined || env.RANK !== undefined;
  const slurm = !torchrun && env.SLURM_NTASKS !== undefined && Number(env.SLURM_NTASKS) > 1 && env.MASTER_ADDR !== undefined;
  if (!torchrun && !slurm) return null;
  const names = torchrun
    ? { rank: 'RANK', world: 'WORLD_SIZE', local: 'LOCAL_RANK', localWorld: 'LOCAL_WORLD_SIZE' }
    : { rank: 'SLURM_PROCID', world: 'SLURM_NTASKS', local: 'SLURM_LOCALID', localWorld: 'SLURM_NTASKS_PER_NODE' };
  for (const n of [names.rank, names.world]) {
    if (env[n] === undefined) {
      const other = n === names.rank ? names.world : names.rank;
      throw new RootsError('ERR_CONFIG', `${other} is set but ${n} is not: every worker needs both (its rank, and the number of workers). ${HINT}`);
    }
  }
  const worldSize = int(env, names.world, 1);
  const rank = int(env, names.rank, 0);
  if (rank >= worldSize) throw new RootsError('ERR_CONFIG', `${names.rank}=${rank} is not below ${names.world}=${worldSize}: ranks run from 0 to ${worldSize - 1}`);
  if (!env.MASTER_ADDR) throw new RootsError('ERR_CONFIG', `MASTER_ADDR is not set: the address of the machine that runs rank 0 (and serves the rendezvous on MASTER_PORT). ${HINT}`);
  if (env.MASTER_PORT === undefined) throw new RootsError('ERR_CONFIG', `MASTER_PORT is not set: the free TCP port on ${env.MASTER_ADDR} where rank 0 serves the rendezvous (torchrun uses 29500). ${HINT}`);
  const masterPort = int(env, 'MASTER_PORT', 1);
  if (masterPort > 65535) throw new RootsError('ERR_CONFIG', `MASTER_PORT=${masterPort} is not a TCP port (1-65535)`);
  // SLURM_NTASKS_PER_NODE may read "2(x3)"; its leading count is the tasks on this node.
  const localWorldRaw = env[names.localWorld]?.match(/^\s*(\d+)/)?.[1];
  const localWorldSize = localWorldRaw !== undefined ? Number(localWorldRaw) : worldSize;
  const localRank = env[names.local] !== undefined ? int(env, names.local, 0) : rank;
  if (localWorldSize < 1 || localRank >= localWorldSize) {
    throw new RootsError('ERR_CONFIG', `${names.local}=${localRank} is not below ${names.localWorld}=${localWorldSize}: local ranks run from 0 to the workers on this machine minus one`);
  }
  let timeoutSeconds = options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  if (options.timeoutSeconds === undefined && env.ROOTS_DIST_TIMEOUT !== undefined) {
    timeoutSeconds = Number(env.ROOTS_DIST_TIMEOUT);
    if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) throw new RootsError('ERR_CONFIG', `ROOTS_DIST_TIMEOUT=${JSON.stringify(env.ROOTS_DIST_TIMEOUT)} is not a positive number of seconds`);
  }
  return { masterAddr: env.MASTER_ADDR, masterPort, rank, worldSize, localRank, localWorldSize, timeoutSeconds, source: torchrun ? 'torchrun' : 'slurm' };
}
