/**
 * Checkpoints that survive crashes. A checkpoint is a folder `checkpoint-<step>` holding the model
 * (config.json, model.safetensors), the tokenizer files, the AdamW state (optimizer.safetensors)
 * and trainer_state.json (global step, loader position, best metric, log history). It is written
 * into a hidden temporary folder, every file is flushed to disk, and only then is the folder renamed
 * into place, so `checkpoint-<step>` is either complete or absent: a crash mid-write leaves a
 * `.tmp-checkpoint-*` folder that nothing reads and the next run deletes.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { RootsError } from '../errors.js';
import type { LoaderState } from '../data/loader.js';
import type { LogRecord } from './log.js';
import { fsyncPath } from '../util/atomic-write.js';

export const TRAINER_STATE_FILE = 'trainer_state.json';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const MODEL_FILE = 'model.safetensors';

const CHECKPOINT_RE = /^checkpoint-(\d+)$/;

/** Everything besides the tensors that a resumed run needs (trainer_state.json). */
export interface TrainerState {
  version: 1;
  task: string;
  /** Optimizer steps taken (skipped non-finite steps included). */
  globalStep: number;
  /** Where the training loader is (seed, epoch, batches handed out). */
  loader: LoaderState;
  /** Fractional epoch (for display). */
  epoch: number;
  totalSteps: number;
  /** Settings a resumed run must share with the original one. */
  compat: { seed: number; batchSize: number; gradientAccumulationSteps: number; numFeatures: number; worldSize?: number };
  metricName: string;
  greaterIsBetter: boolean;
  bestMetric: number | null;
  bestStep: number | null;
  bestCheckpoint: string | null;
  /** Metrics and report of the best evaluation. */
  bestEvaluation: { step: number; metrics: Record<string, number>; report?: string } | null;
  /** Evaluations in a row without improvement (early stopping). */
  patienceCounter: number;
  consecutiveNonFinite: number;
  skippedSteps: number;
  /** Running sums of the current logging window. */
  window: { lossSum: number; lossCount: number; gradNormSum: number; tokens: number; ms: number; skipped: number };
  /** Totals over the run: loss of non-skipped steps, tokens, milliseconds spent training. */
  totals: { lossSum: number; lossCount: number; tokens: number; trainMs: number };
  lastEvalStep: number | null;
  lastSaveStep: number | null;
  /** The log so far (train and eval records), for the report. */
  history: LogRecord[];
}

export interface CheckpointInfo {
  step: number;
  path: string;
}

/** Complete checkpoints in `outputDir`, oldest first. */
export async function listCheckpoints(outputDir: string): Promise<CheckpointInfo[]> {
  let names: string[];
  try {
    names = await readdir(outputDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new RootsError('ERR_IO', `Cannot list ${outputDir}: ${(e as Error).message}`, { cause: e });
  }
  const out: CheckpointInfo[] = [];
  for (const name of names) {
    const m = CHECKPOINT_RE.exec(name);
    if (!m) continue;
    const path = join(outputDir, name);
    if (existsSync(join(path, TRAINER_STATE_FILE))) out.push({ step: Number(m[1]), path });
  }
  return out.sort((a, b) => a.step - b.step);
}

/** The newest complete checkpoint in `outputDir`, or null. */
export async function latestCheckpoint(outputDir: string): Promise<CheckpointInfo | null> {
  const all = await listCheckpoints(outputDir);
  return all.length ? all[all.length - 1] : null;
}

/**
 * Removes what interrupted writes left behind: `.tmp-checkpoint-*` folders, and `.old-checkpoint-*`
 * folders (a replaced checkpoint), which are put back when the replacement never arrived.
 */
export async function cleanStaleCheckpoints(outputDir: string): Promise<void> {
  let names: string[];
  try { names = await readdir(outputDir); } catch { return; }
  for (const name of names) {
    const path = join(outputDir, name);
    if (name.startsWith('.tmp-checkpoint-') || name.startsWith('.del-checkpoint-')) {
      await rm(path, { recursive: true, force: true });
    } else if (name.startsWith('.old-checkpoint-')) {
      const m = /^\.old-(checkpoint-\d+)-/.exec(name);
      const target = m ? join(outputDir, m[1]) : null;
      if (target && !existsSync(target) && existsSync(join(path, TRAINER_STATE_FILE))) await rename(path, target);
      else await rm(path, { recursive: true, force: true });
    }
  }
}

async function fsyncTree(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) await fsyncTree(p);
    else if (entry.isFile()) await fsyncPath(p);
  }
  await fsyncPath(dir);
}

let tmpCounter = 0;

/**
 * Writes `checkpoint-<step>` in `outputDir`: `write(tmpDir)` fills a temporary folder, which is
 * flushed and renamed into place (replacing an older checkpoint of the same step only once the new
 * one is complete). On failure the temporary folder is removed and the error rethrown.
 */
export async function writeCheckpoint(outputDir: string, step: number, write: (dir: string) => Promise<void>): Promise<string> {
  await mkdir(outputDir, { recursive: true });
  const name = `checkpoint-${step}`;
  const target = join(outputDir, name);
  const tmp = join(outputDir, `.tmp-${name}-${process.pid}-${++tmpCounter}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp);
  try {
    await write(tmp);
    if (!existsSync(join(tmp, TRAINER_STATE_FILE))) throw new RootsError('ERR_IO', `checkpoint writer did not write ${TRAINER_STATE_FILE}`);
    await fsyncTree(tmp);
    if (existsSync(target)) {
      const old = join(outputDir, `.old-${name}-${process.pid}-${tmpCounter}`);
      await rename(target, old);
      await rename(tmp, target);
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(tmp, target);
    }
    await fsyncPath(outputDir);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    if (e instanceof RootsError) throw e;
    throw new RootsError('ERR_IO', `Cannot write checkpoint ${target}: ${(e as Error).message}`, { cause: e });
  }
  return target;
}

/** Deletes a checkpoint so that no partial `checkpoint-<step>` is ever visible. */
export async function deleteCheckpoint(path: string): Promise<void> {
  const parent = join(path, '..');
  const name = path.slice(parent.length + 1);
  const doomed = join(parent, `.del-${name}-${process.pid}-${++tmpCounter}`);
  await rename(path, doomed);
  await rm(doomed, { recursive: true, force: true });
}

/**
 * Keeps at most `limit` checkpoints in `outputDir`, deleting the oldest first but never one listed
 * in `keep` (the best) and never the newest (the one a resumed run starts from). Returns the
 * deleted paths.
 */
export async function rotateCheckpoints(outputDir: string, limit: number, keep: readonly (string | null)[] = []): Promise<string[]> {
  const all = await listCheckpoints(outputDir);
  const protectedPaths = new Set(keep.filter((k): k is string => !!k));
  if (all.length) protectedPaths.add(all[all.length - 1].path);
  const deleted: string[] = [];
  let count = all.length;
  for (const c of all) {
    if (count <= limit) break;
    if (protectedPaths.has(c.path)) continue;
    await deleteCheckpoint(c.path);
    deleted.push(c.path);
    count--;
  }
  return deleted;
}

/** Reads and checks `dir/trainer_state.json`. */
export async function readTrainerState(dir: string): Promise<TrainerState> {
  const path = join(dir, TRAINER_STATE_FILE);
  let text: string;
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error('not a folder');
    text = await readFile(path, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file (is it a complete checkpoint-<step> folder?)' : (e as Error).message;
    throw new RootsError('ERR_CHECKPOINT', `Cannot resume from ${dir}: ${path}: ${why}`, { cause: e });
  }
  let state: TrainerState;
  try {
    state = JSON.parse(text) as TrainerState;
  } catch (e) {
    throw new RootsError('ERR_CHECKPOINT', `${path}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  if (state?.version !== 1 || !Number.isInteger(state.globalStep) || !state.loader || !state.compat) {
    throw new RootsError('ERR_CHECKPOINT', `${path}: expected a roots trainer state (version 1 with globalStep, loader and compat fields)`);
  }
  for (const f of [MODEL_FILE, OPTIMIZER_FILE]) {
    if (!existsSync(join(dir, f))) throw new RootsError('ERR_CHECKPOINT', `Cannot resume from ${dir}: ${f} is missing`);
  }
  return state;
}
