/**
 * The local launcher behind `roots train --nproc-per-node N`: starts N workers on this machine with
 * torchrun's environment (MASTER_ADDR=127.0.0.1, a free MASTER_PORT, RANK = LOCAL_RANK = 0..N-1,
 * WORLD_SIZE = LOCAL_WORLD_SIZE = N), the processors shared out between them (ROOTS_NUM_THREADS),
 * and stops them all as soon as one fails, so a dead worker never leaves the others waiting.
 * Across machines, torchrun (or Slurm) starts the workers instead: README, "Data-parallel training".
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { RootsError, expectPositiveInt } from '../errors.js';

/** Set in each worker's environment: a --nproc-per-node that reaches a worker (a --config file) is ignored there. */
export const LAUNCHED_ENV = 'ROOTS_LAUNCHED_WORKER';

export interface LaunchOptions {
  /** Workers to start. */
  nproc: number;
  /** The command of each worker, without the node binary: [script, ...args]. */
  command: string[];
  /** The environment to start from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Where the launcher's own messages go (default stderr). */
  log?: (line: string) => void;
  /** Seconds a worker gets to exit after SIGTERM before SIGKILL (default 10). */
  killGraceSeconds?: number;
}

/** A TCP port that was free a moment ago (the rendezvous binds it again at once). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Checks --nproc-per-node against this machine: at least one processor per worker. */
export function checkNproc(nproc: unknown, env: NodeJS.ProcessEnv = process.env): number {
  const n = expectPositiveInt('--nproc-per-node', nproc);
  const cpus = availableParallelism();
  if (n > cpus) {
    throw new RootsError('ERR_CONFIG', `--nproc-per-node ${n} exceeds the ${cpus} processors of this machine: each worker needs at least one (use ${cpus} or fewer; across machines, start the workers with torchrun)`);
  }
  if (env.WORLD_SIZE !== undefined && env[LAUNCHED_ENV] === undefined) {
    throw new RootsError('ERR_CONFIG', `--nproc-per-node starts its own workers, but WORLD_SIZE=${env.WORLD_SIZE} says this process already is one (torchrun or Slurm started it): drop --nproc-per-node`);
  }
  return n;
}

/**
 * Starts the workers and waits for them. Resolves with 0 when all succeed; when one fails (a non-zero
 * exit or a signal), stops the rest (SIGTERM, then SIGKILL after the grace period) and resolves with
 * its exit code (1 for a signal).
 */
export async function launchWorkers(o: LaunchOptions): Promise<number> {
  const env = o.env ?? process.env;
  const n = checkNproc(o.nproc, env);
  const log = o.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const port = env.MASTER_PORT ? Number(env.MASTER_PORT) : await freePort();
  const threads = env.ROOTS_NUM_THREADS ?? String(Math.max(1, Math.floor(availableParallelism() / n)));
  const children: ChildProcess[] = [];
  const grace = (o.killGraceSeconds ?? 10) * 1000;
  let failure: { rank: number; code: number; why: string } | null = null;

  const stopAll = (except: number): void => {
    for (const [r, c] of children.entries()) {
      if (r === except || c.exitCode !== null || c.signalCode !== null) continue;
      c.kill('SIGTERM');
      setTimeout(() => { if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL'); }, grace).unref();
    }
  };
  const onTerm = (): void => stopAll(-1);
  // Ctrl-C reaches every worker from the terminal (each finishes its step, rank 0 saves a checkpoint):
  // the launcher stays to wait for them instead of exiting first.
  const onInt = (): void => {};
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);

  try {
    const exits = Array.from({ length: n }, (_, rank) => new Promise<void>((resolve) => {
      const child = spawn(process.execPath, [...process.execArgv, ...o.command], {
        stdio: 'inherit',
        env: {
          ...env, MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), RANK: String(rank), LOCAL_RANK: String(rank),
          WORLD_SIZE: String(n), LOCAL_WORLD_SIZE: String(n), ROOTS_NUM_THREADS: threads, [LAUNCHED_ENV]: '1',
        },
      });
      children[rank] = child;
      child.once('error', (e) => {
        failure ??= { rank, code: 1, why: `could not start: ${e.message}` };
        stopAll(rank);
        resolve();
      });
      child.once('exit', (code, signal) => {
        if ((code !== 0 || signal !== null) && failure === null) {
          failure = { rank, code: code ?? 1, why: signal ? `was killed by ${signal}` : `exited with code ${code}` };
          stopAll(rank);
        }
        resolve();
      });
    }));
    await Promise.all(exits);
  } finally {
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
  }
  const f = failure as { rank: number; code: number; why: string } | null;
  if (f) {
    log(`roots: worker rank ${f.rank} of ${n} ${f.why}; stopped the other ${n - 1} (see its messages above)`);
    return f.code || 1;
  }
  return 0;
}

/** `argv` without `--nproc-per-node N` / `--nproc-per-node=N` (what each worker is started with). */
export function withoutNprocFlag(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--nproc-per-node') { i++; continue; }
    if (argv[i].startsWith('--nproc-per-node=')) continue;
    out.push(argv[i]);
  }
  return out;
}
