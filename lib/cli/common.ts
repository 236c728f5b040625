/**
 * Shared pieces of the CLI commands: strict value parsers (a bad value is a one-line error naming
 * the flag and what was expected), `--config FILE` merging (flags override the file), output
 * streams, and loading a token-classification model folder for training or inference.
 */
import { readFile } from 'node:fs/promises';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { RootsError } from '../errors.js';
import { info } from '../info.js';
import type { Device, Precision } from '../models/bert.js';
import type { Trainer, TrainResult } from '../trainer/trainer.js';
import type { TrainingArgs } from '../trainer/args.js';
import type { BertPreTrainedModel } from '../models/bert.js';
import type { TrainCommandOptions } from './train.js';

/** Where commands write (tests pass their own). */
export interface CliIO {
  /** Results (reports, JSON). */
  out(text: string): void;
  /** Progress and notices. */
  err(text: string): void;
}

export const processIO: CliIO = {
  out: (t) => { process.stdout.write(t); },
  err: (t) => { process.stderr.write(t); },
};

/** A value parser for one option: from the command line (string) or a config file (JSON value). */
export type Parser<T> = (value: unknown) => T;

function fail(expected: string, value: unknown): never {
  throw new InvalidArgumentError(`expected ${expected} but got ${JSON.stringify(value)}`);
}

export const parsers = {
  string: ((v: unknown) => (typeof v === 'string' && v !== '' ? v : fail('a non-empty string', v))) as Parser<string>,
  positiveInt: ((v: unknown) => {
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
    return Number.isInteger(n) && n > 0 ? n : fail('a positive integer', v);
  }) as Parser<number>,
  nonNegativeInt: ((v: unknown) => {
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
    return Number.isInteger(n) && n >= 0 ? n : fail('a non-negative integer', v);
  }) as Parser<number>,
  integer: ((v: unknown) => {
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : NaN;
    return Number.isInteger(n) ? n : fail('an integer', v);
  }) as Parser<number>,
  number: (min: number, max = Infinity, openMin = false): Parser<number> => (v: unknown) => {
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
    const range = `${openMin ? '(' : '['}${min}, ${max === Infinity ? '∞)' : `${max}]`}`;
    return Number.isFinite(n) && n >= min && !(openMin && n === min) && n <= max ? n : fail(`a number in ${range}`, v);
  },
  choice: <T extends string>(options: readonly T[]): Parser<T> => (v: unknown) =>
    typeof v === 'string' && options.includes(v as T) ? (v as T) : fail(`one of ${options.join(', ')}`, v),
  boolean: ((v: unknown) => (typeof v === 'boolean' ? v : v === 'true' ? true : v === 'false' ? false : fail('true or false', v))) as Parser<boolean>,
};

/** Wraps a parser for commander (which passes the previous value second). */
export function cli<T>(parser: Parser<T>): (value: string) => T {
  return (value: string) => parser(value);
}

/** The spec of an option that a `--config` file may also set. */
export interface OptionSpec {
  /** camelCase key (commander's attribute name and the config file's key). */
  key: string;
  parse: Parser<unknown>;
}

/**
 * Merges `--config FILE` (a JSON object whose keys are option names, camelCase or kebab-case)
 * under the flags given on the command line (`flags` holds only those). Unknown keys and bad values
 * are errors naming the file and the key.
 */
export async function mergeConfig(flags: Record<string, unknown>, specs: readonly OptionSpec[], configPath: string | undefined): Promise<Record<string, unknown>> {
  if (!configPath) return flags;
  let text: string;
  try {
    text = await readFile(configPath, 'utf8');
  } catch (e) {
    throw new RootsError('ERR_IO', `Cannot read --config ${configPath}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new RootsError('ERR_CONFIG', `${configPath}: not valid JSON (${(e as Error).message})`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new RootsError('ERR_CONFIG', `${configPath}: expected a JSON object of options`);
  const byKey = new Map(specs.map((s) => [s.key, s]));
  const merged: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    const key = k.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const spec = byKey.get(key);
    if (!spec) throw new RootsError('ERR_CONFIG', `${configPath}: unknown option "${k}" (known: ${specs.map((s) => s.key).join(', ')})`);
    try {
      merged[key] = spec.parse(v);
    } catch (e) {
      throw new RootsError('ERR_CONFIG', `${configPath}: option "${k}": ${(e as Error).message}`);
    }
  }
  for (const [k, v] of Object.entries(flags)) if (v !== undefined) merged[k] = v;
  return merged;
}

/** Throws a one-line error unless `path` is an existing file. */
export function requireFile(flag: string, path: unknown): string {
  if (typeof path !== 'string' || path === '') throw new RootsError('ERR_INVALID_ARG', `${flag} is required`);
  if (!existsSync(path)) throw new RootsError('ERR_IO', `${flag} ${path}: no such file`);
  if (!statSync(path).isFile()) throw new RootsError('ERR_IO', `${flag} ${path}: not a file`);
  return path;
}

/** Throws a one-line error unless `dir` is a model folder (a config.json inside). */
export function requireModelDir(flag: string, dir: unknown): string {
  if (typeof dir !== 'string' || dir === '') throw new RootsError('ERR_INVALID_ARG', `${flag} is required`);
  if (!existsSync(dir)) throw new RootsError('ERR_IO', `${flag} ${dir}: no such folder`);
  if (!statSync(dir).isDirectory()) throw new RootsError('ERR_IO', `${flag} ${dir}: not a folder (expected a model folder with config.json)`);
  if (!existsSync(join(dir, 'config.json'))) throw new RootsError('ERR_IO', `${flag} ${dir}: no config.json (create one with \`roots init\`)`);
  if (!existsSync(join(dir, 'tokenizer.json')) && !existsSync(join(dir, 'vocab.txt'))) {
    throw new RootsError('ERR_IO', `${flag} ${dir}: no tokenizer.json or vocab.txt`);
  }
  return dir;
}

/** `auto` → bf16 where this machine runs it well (info().bf16), else fp32. */
export function resolvePrecision(p: string | undefined): Precision {
  if (p === undefined || p === 'auto') return info().bf16 ? 'bf16' : 'fp32';
  return p as Precision;
}

export const DEVICE_PARSER: Parser<Device> = (v: unknown) => {
  if (typeof v === 'string' && /^(cpu|cuda|auto|cuda:\d+)$/.test(v)) return v as Device;
  return fail("cpu, cuda, cuda:N or auto", v);
};

export const FREEZE_PARSER: Parser<string> = (v: unknown) => {
  if (typeof v === 'string' && /^(none|embeddings|encoder|all-but-head|bitfit|bottom:\d+)$/.test(v)) return v;
  return fail('none, embeddings, encoder, all-but-head, bitfit or bottom:K', v);
};

/** `--freeze` text → a model.freeze strategy. */
export function freezeStrategy(v: string | undefined): import('../models/bert.js').FreezeStrategy | undefined {
  if (v === undefined) return undefined;
  const m = /^bottom:(\d+)$/.exec(v);
  if (m) return { bottomLayers: Number(m[1]) };
  return v as 'none' | 'embeddings' | 'encoder' | 'all-but-head' | 'bitfit';
}

/** Pads cells into aligned columns. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => { widths[i] = Math.max(widths[i] ?? 0, c.length); });
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n') + '\n';
}

/**
 * The part of `roots train` every task shares: run the Trainer (Ctrl-C finishes the step and writes
 * a checkpoint; a second Ctrl-C aborts), save the model, print the dev report, score the test set
 * and write the HTML report. On failure it disposes the trainer's model; on success the caller
 * still owns it.
 */
export async function trainSaveAndTest<E>(
  trainer: Trainer<E>,
  o: { out?: string; dev?: string; test?: string; json?: boolean; resume?: string | boolean },
  test: readonly E[] | null | undefined,
  io: CliIO,
): Promise<{ result: TrainResult; devMetrics: Record<string, number> | null; testMetrics: Record<string, number> | null }> {
  let interrupted = 0;
  const onSigint = (): void => {
    if (++interrupted === 1) { io.err('\nStopping after this step and saving a checkpoint (Ctrl-C again to abort)...\n'); trainer.stop(); } else process.exit(130);
  };
  process.on('SIGINT', onSigint);
  try {
    let result: TrainResult;
    try {
      result = await trainer.train({ resumeFromCheckpoint: o.resume || undefined });
    } finally {
      process.off('SIGINT', onSigint);
    }
    if (result.stopReason === 'stopped') {
      io.err(`Stopped at step ${result.globalStep}; resume with the same command and --resume\n`);
      process.exitCode = 130;
    }
    await trainer.saveModel(o.out);
    const devMetrics = result.evaluation?.metrics ?? null;
    if (result.evaluation?.report && !o.json) io.out(`\nDev (${o.dev}):\n${result.evaluation.report}`);
    let testMetrics: Record<string, number> | null = null;
    if (test && result.stopReason !== 'stopped') {
      const ev = await trainer.evaluate(test, { name: 'test' });
      testMetrics = ev.metrics;
      if (!o.json) io.out(`\nTest (${o.test}):\n${ev.report ?? ''}`);
      await trainer.writeReport();
    }
    return { result, devMetrics, testMetrics };
  } catch (e) {
    trainer.model.dispose();
    throw e;
  }
}

/** The Trainer's arguments from `roots train` flags (undefined ones left to the Trainer's defaults). */
export function trainingArgsFromOptions(o: TrainCommandOptions, d: { hasDev: boolean; maxLength: number }): TrainingArgs {
  const args: TrainingArgs = {
    outputDir: o.out, overwriteOutputDir: o.overwrite, epochs: o.epochs, maxSteps: o.maxSteps, batchSize: o.batchSize,
    evalBatchSize: o.evalBatchSize, gradientAccumulationSteps: o.gradAccum, learningRate: o.lr, lrScheduler: o.scheduler,
    warmupRatio: o.warmupRatio, warmupSteps: o.warmupSteps, weightDecay: o.weightDecay, maxGradNorm: o.maxGradNorm,
    evalSteps: d.hasDev ? o.evalSteps : undefined, saveSteps: o.saveSteps, saveTotalLimit: o.saveTotalLimit ?? 3, loggingSteps: o.loggingSteps,
    metricForBestModel: o.metric, earlyStopping: o.patience ? { patience: o.patience } : undefined,
    freeze: freezeStrategy(o.freeze), seed: o.seed, maxLength: o.maxLength ?? d.maxLength,
    progress: o.progress, saveStrategy: !d.hasDev && o.saveSteps === undefined ? 'epoch' : undefined,
  };
  for (const k of Object.keys(args) as (keyof TrainingArgs)[]) if (args[k] === undefined) delete args[k];
  return args;
}

/** A tokenizer with more ids than the model's embedding table is a config error (disposes the model). */
export function checkVocabFits(tokenizer: { vocabSize: number }, model: BertPreTrainedModel, modelDir: string): void {
  if (tokenizer.vocabSize > model.config.vocab_size) {
    model.dispose();
    throw new RootsError('ERR_CONFIG', `${modelDir}: the tokenizer has ${tokenizer.vocabSize} tokens but config.json's vocab_size is ${model.config.vocab_size}`);
  }
}
