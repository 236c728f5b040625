// What the continual-learning benches share (bench/continual.bench.ts: the NER sequences;
// bench/continual-task.bench.ts: the task-incremental one): the settings read from the environment,
// the method specs, the accuracy-matrix table and the JSON written after every method.
//
//   ROOTS_CL_BASE    start model (default /work/pretrain/run3: the pretraining issue's MLM)
//   ROOTS_CL_STEPS   optimizer steps per task (default 300), batch 16, ROOTS_CL_LR (default 5e-4)
//                    linear decay with 10% warmup, fp32, dropout on
//   ROOTS_CL_TRAIN   training examples per task (default 3000), ROOTS_CL_DEV dev examples per set (default all)
//   ROOTS_CL_METHODS comma list; a method may combine several with '+' (replay+ewc); ewc@λ sets EWC's λ
//                    (else ROOTS_CL_EWC_LAMBDA, default 1e5)
//   ROOTS_CL_REPLAY  replay buffer size (default 300)
//   ROOTS_CL_THREADS LibTorch threads (default 1)
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ContinualMetrics, continualMetrics } from '../lib/continual/index.js';
import { setNumThreads } from '../lib/info.js';

export const DATA = process.env.ROOTS_SHARED_DATA ?? join(import.meta.dirname, '..', '..', 'shared', 'data');
export const BASE = process.env.ROOTS_CL_BASE ?? '/work/pretrain/run3';
export const STEPS = Number(process.env.ROOTS_CL_STEPS ?? 300);
export const LR = Number(process.env.ROOTS_CL_LR ?? 5e-4);
export const NTRAIN = Number(process.env.ROOTS_CL_TRAIN ?? 3000);
export const NDEV = Number(process.env.ROOTS_CL_DEV ?? 1e9);
export const EWC_LAMBDA = Number(process.env.ROOTS_CL_EWC_LAMBDA ?? 1e5);
export const REPLAY = Number(process.env.ROOTS_CL_REPLAY ?? 300);
export const jsonOut = process.argv.includes('--json') ? process.argv[process.argv.indexOf('--json') + 1] : null;
setNumThreads(Number(process.env.ROOTS_CL_THREADS ?? 1));

/** The Trainer arguments of every task's training. */
export const trainArgs = { maxSteps: STEPS, batchSize: 16, learningRate: LR, warmupRatio: 0.1, evalStrategy: 'no' as const, saveStrategy: 'no' as const, progress: 'none' as const, maxLength: 128, seed: 1, precision: 'fp32' as const };

export function methodList(fallback: string): string[] {
  return (process.env.ROOTS_CL_METHODS ?? fallback).split(',');
}

/** `replay+ewc@3e4` -> its parts ({replay, ewc}) and EWC's λ. */
export function parseMethod(method: string): { parts: Set<string>; ewcLambda: number } {
  return {
    parts: new Set(method.split('+').map((m) => m.replace(/@.*/, ''))),
    ewcLambda: Number(method.match(/ewc@([^+]+)/)?.[1] ?? EWC_LAMBDA),
  };
}

/** R[i][j] (null above the diagonal where the task is not seen yet), with its summaries and the wall time. */
export interface MethodResult { R: (number | null)[][]; seconds: number; metrics: ContinualMetrics }

export function finish(R: (number | null)[][], seconds: number): MethodResult {
  return { R, seconds, metrics: continualMetrics(R) };
}

const pct = (v: number | null) => (v === null ? '-' : (100 * v).toFixed(1));

export function printTable(title: string, taskNames: string[], results: Record<string, MethodResult>): void {
  console.log(`\n${title}`);
  console.log(`| method | R after the last task (${taskNames.join(' / ')}) | average | BWT | forgetting | newest task | time |`);
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const [m, r] of Object.entries(results)) {
    const last = r.R[r.R.length - 1];
    console.log(`| ${m} | ${last.map(pct).join(' / ')} | ${pct(r.metrics.averageAccuracy)} | ${pct(r.metrics.backwardTransfer)} | ${pct(r.metrics.forgetting)} | ${pct(r.metrics.newestTask)} | ${r.seconds.toFixed(0)} s |`);
  }
}

/** Written after every method, so a run cut short keeps what it finished. */
export function writeResults(info: Record<string, unknown>, results: Record<string, MethodResult>): void {
  if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify({ ...info, steps: STEPS, lr: LR, base: BASE, ewcLambda: EWC_LAMBDA, replay: REPLAY, results }, null, 2)}\n`);
}
