/**
 * `roots pretrain --model DIR --train TEXT... [--eval TEXT] --out DIR [options]`: masked-language-model
 * pretraining (BertForMaskedLM) on plain text, from scratch (a `roots init` folder) or continued from
 * any checkpoint folder (its vocabulary and tokenizer kept; the MLM head created fresh when the
 * folder lacks one).
 *
 * The text (files, folders or globs, optionally .gz; one document per line or blank-line separated)
 * is tokenized once into a token cache under `--cache-dir` (default `--out`/cache), packed into
 * blocks of `--max-length` tokens and masked dynamically per batch (lib/data/mlm.ts). The Trainer
 * runs its one loop over those batches (`task: 'mlm'`): checkpoints, exact mid-epoch resume,
 * trainer_log.jsonl, report.html, early stopping on the held-out loss. `--out` ends up a
 * BertForMaskedLM folder (config.json, model.safetensors, tokenizer files) that `roots predict`
 * (fill-mask), `roots eval` and `roots train --model` (fine-tuning) take, plus results.json.
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DEFAULT_MAX_LINE_BYTES, type DocumentMode } from '../data/corpus.js';
import { corpusBatches, type MlmBatches } from '../data/mlm.js';
import type { TokenCache } from '../data/corpus-cache.js';
import { RootsError } from '../errors.js';
import { setNumThreads } from '../info.js';
import { BertForMaskedLM, type Device } from '../models/bert.js';
import { readConfig } from '../models/config.js';
import { MLM_METRICS, evaluateMlm, mlmMetrics } from '../tasks/mlm.js';
import { Tokenizer } from '../tokenizer/index.js';
import { LOCK_NAME, lockOutputDir } from '../trainer/lock.js';
import { formatDuration } from '../trainer/log.js';
import { Trainer, writeJsonAtomic, type TrainResult } from '../trainer/trainer.js';
import { parsers, registerCommand, processIO, resolveModelDir, resolvePrecision, type CliIO } from './common.js';
import type { FlagSpec } from './data.js';
import { trainFlagSpecs, trainSaveAndTest, trainingArgs, type TrainCommandOptions } from './train.js';

/** Options of `roots pretrain` (also the keys of a `--config` file). */
export interface PretrainCommandOptions extends Omit<TrainCommandOptions, 'train' | 'task'> {
  train?: string[];
  eval?: string;
  mlmProbability?: number;
  evalMlmProbability?: number;
  wholeWordMask?: boolean;
  documents?: DocumentMode;
  cacheDir?: string;
  maxLineBytes?: number;
}

const DEFAULT_BLOCK = 128;
/** Evaluation batch size of roots pretrain and roots eval (the masks do not depend on it). */
const EVAL_BATCH = 32;

const SPECS: FlagSpec[] = [
  { key: 'model', flags: '--model <dir|id>', help: 'model folder: a `roots init` folder (from scratch) or any checkpoint folder or Hub id such as bert-base-cased (continued pretraining; its vocabulary is kept)', parse: parsers.string },
  { key: 'train', flags: '--train <paths...>', help: 'training text: files, folders or globs (.gz read as gzip); repeatable', repeatable: true, parse: (v) => (Array.isArray(v) ? v.map(parsers.string) : [parsers.string(v)]) },
  { key: 'eval', flags: '--eval <file>', help: 'held-out text: loss, perplexity and masked-token accuracy during training (same masks every time)', parse: parsers.string },
  { key: 'out', flags: '--out <dir>', help: 'output folder (BertForMaskedLM model, checkpoints, trainer_log.jsonl, report.html, results.json); locked while the run lasts', parse: parsers.string },
  { key: 'maxLength', flags: '--max-length <n>', help: `block size in tokens, [CLS] and [SEP] included (default ${DEFAULT_BLOCK})`, parse: parsers.positiveInt },
  { key: 'mlmProbability', flags: '--mlm-probability <p>', help: 'fraction of tokens chosen for prediction, in (0, 1) (default 0.15; of those 80% become [MASK], 10% a random token, 10% stay)', parse: (v) => mlmProbability(v) },
  { key: 'evalMlmProbability', flags: '--eval-mlm-probability <p>', help: 'masking rate of the --eval text, in (0, 1) (default: --mlm-probability); fix it at 0.15 to compare runs trained at different rates', parse: (v) => mlmProbability(v, '--eval-mlm-probability') },
  { key: 'wholeWordMask', flags: '--whole-word-mask', help: 'choose whole words (a token and its ## pieces) for masking', parse: parsers.boolean },
  { key: 'documents', flags: '--documents <mode>', help: 'line (default: one document per line) or blank-line (blank lines separate documents)', parse: parsers.choice(['line', 'blank-line'] as const) },
  { key: 'cacheDir', flags: '--cache-dir <dir>', help: 'token caches (tokenized once, reused by later runs and epochs; default <out>/cache)', parse: parsers.string },
  { key: 'maxLineBytes', flags: '--max-line-bytes <n>', help: `longest input line accepted, in bytes (default ${DEFAULT_MAX_LINE_BYTES})`, parse: parsers.positiveInt },
  { key: 'batchSize', flags: '--batch-size <n>', help: 'blocks per batch (default 16)', parse: parsers.positiveInt },
  { key: 'evalBatchSize', flags: '--eval-batch-size <n>', help: 'blocks per evaluation batch (default 32)', parse: parsers.positiveInt },
  ...trainFlagSpecs([
    'epochs', 'maxSteps', 'gradAccum', 'lr', 'scheduler', 'warmupRatio', 'warmupSteps', 'weightDecay',
    'maxGradNorm', 'adamBeta1', 'adamBeta2', 'adamEpsilon', 'evalSteps', 'saveSteps', 'saveTotalLimit', 'loggingSteps', 'patience',
  ]),
  { key: 'metric', flags: '--metric <name>', help: `metric for the best checkpoint and early stopping: ${MLM_METRICS.join(', ')} (default loss)`, parse: parsers.choice(MLM_METRICS) },
  { key: 'seed', flags: '--seed <n>', help: 'seed of initialisation, block order, masks and dropout (default 42)', parse: parsers.nonNegativeInt },
  ...trainFlagSpecs(['precision', 'device', 'resume', 'overwrite', 'progress', 'threads', 'json']),
];

function mlmProbability(v: unknown, flag = '--mlm-probability'): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN;
  if (!(n > 0 && n < 1)) throw new RootsError('ERR_INVALID_ARG', `${flag}: expected a number in (0, 1) but got ${JSON.stringify(v)}`);
  return n;
}

/** What `runPretrain` returns (and `--json` prints; results.json holds it too). */
export interface PretrainSummary {
  out: string;
  task: 'mlm';
  model: string;
  result: Omit<TrainResult, 'evaluation'>;
  /** Held-out metrics of the final model: loss, perplexity, accuracy (of the masked tokens). */
  eval: Record<string, number> | null;
  corpus: { files: number; tokens: number; blocks: number; cacheBuilt: boolean; cacheDir: string };
  evalCorpus: { files: number; tokens: number; blocks: number } | null;
  blockSize: number;
  mlmProbability: number;
  /** The held-out text's masking rate (--eval-mlm-probability; null without --eval). */
  evalMlmProbability: number | null;
  wholeWordMask: boolean;
  precision: string;
  device: string;
  parameters: number;
}

/** Runs `roots pretrain` with parsed options. */
export async function runPretrain(options: PretrainCommandOptions, io: CliIO = processIO): Promise<PretrainSummary> {
  const o = options;
  const modelDir = await resolveModelDir('--model', o.model, io);
  if (!o.train || o.train.length === 0) throw new RootsError('ERR_INVALID_ARG', '--train is required (text files, folders or globs)');
  if (!o.out) throw new RootsError('ERR_INVALID_ARG', '--out is required (the output folder)');
  if (o.patience && !o.eval) throw new RootsError('ERR_INVALID_ARG', '--patience needs --eval (early stopping watches the held-out loss)');
  if (o.evalSteps && !o.eval) throw new RootsError('ERR_INVALID_ARG', '--eval-steps needs --eval (a held-out text file)');
  if (o.resume && o.overwrite) throw new RootsError('ERR_INVALID_ARG', '--resume and --overwrite contradict each other');
  const p = o.mlmProbability === undefined ? 0.15 : mlmProbability(o.mlmProbability);
  const folder = await readConfig(modelDir);
  const blockSize = o.maxLength ?? Math.min(DEFAULT_BLOCK, folder.max_position_embeddings);
  if (blockSize > folder.max_position_embeddings) {
    throw new RootsError('ERR_CONFIG', `--max-length ${blockSize} exceeds the ${folder.max_position_embeddings} positions of ${modelDir} (config.json's max_position_embeddings)`);
  }
  if (blockSize < 3) throw new RootsError('ERR_INVALID_ARG', `--max-length ${blockSize}: a block needs [CLS], at least one token and [SEP] (3 or more)`);
  if (o.threads) setNumThreads(o.threads);

  const out = o.out;
  const outExisted = existsSync(out);
  const cacheDir = o.cacheDir ?? join(out, 'cache');
  const cacheExisted = existsSync(cacheDir);
  const lock = await lockOutputDir(out, { label: `--out ${out}`, log: (m) => io.err(m + '\n') });
  let started = false;
  let train: { batches: MlmBatches; cache: TokenCache; built: boolean } | null = null;
  let held: { batches: MlmBatches; cache: TokenCache } | null = null;
  try {
    await Trainer.startingPoint(out, { resumeFromCheckpoint: o.resume || undefined, overwriteOutputDir: o.overwrite });
    const tokenizer = await Tokenizer.fromPretrained(modelDir);
    if (tokenizer.vocabSize > folder.vocab_size) {
      throw new RootsError('ERR_CONFIG', `${modelDir}: the tokenizer has ${tokenizer.vocabSize} tokens but config.json's vocab_size is ${folder.vocab_size}`);
    }
    const seed = o.seed ?? 42;
    const batchSize = o.batchSize ?? 16;
    const read = { documents: o.documents ?? 'line', maxLineBytes: o.maxLineBytes, cacheDir, mlmProbability: p, wholeWordMask: o.wholeWordMask ?? false, seqLen: blockSize, seed } as const;
    // The first run tokenizes the corpus into the cache (a progress line every 2 s); later runs reuse it.
    let shown = performance.now();
    const onProgress = (tokens: number, lines: number): void => {
      if (performance.now() - shown < 2000) return;
      shown = performance.now();
      io.err(`Tokenizing --train into the token cache: ${lines.toLocaleString('en-US')} lines, ${tokens.toLocaleString('en-US')} tokens\n`);
    };
    train = await corpusBatches(o.train, tokenizer, { ...read, batchSize, flag: '--train', onProgress });
    if (o.eval) {
      const e = await corpusBatches(o.eval, tokenizer, { ...read, mlmProbability: o.evalMlmProbability === undefined ? p : mlmProbability(o.evalMlmProbability, '--eval-mlm-probability'), batchSize: o.evalBatchSize ?? EVAL_BATCH, flag: '--eval', shuffle: false, keepLastBlock: true });
      held = { batches: e.batches, cache: e.cache };
    }
    io.err(`--train: ${train.cache.meta.tokens.toLocaleString('en-US')} tokens in ${train.cache.meta.documents.toLocaleString('en-US')} documents, ` +
      `${train.batches.blocks.toLocaleString('en-US')} blocks of ${blockSize} (${train.built ? 'token cache built' : 'token cache reused'}: ${cacheDir})\n`);
    if (held) io.err(`--eval: ${held.cache.meta.tokens.toLocaleString('en-US')} tokens, ${held.batches.blocks} blocks (the same masks at every evaluation)\n`);

    const model = await BertForMaskedLM.fromPretrained(modelDir, {
      device: (o.device ?? 'auto') as Device, precision: resolvePrecision(o.precision), seed, log: (m) => io.err(m + '\n'),
    });
    try {
      const weights = model.loadReport.source !== null;
      const freshHead = model.loadReport.missingKeys.filter((k) => k.startsWith('cls.predictions.'));
      if (weights && freshHead.length) io.err(`${modelDir} has no masked-LM head (cls.predictions.*): it starts fresh; the encoder is kept (continued pretraining)\n`);
      const args = trainingArgs({ ...o, train: undefined, task: undefined, maxLength: blockSize, batchSize } as TrainCommandOptions, { hasDev: held !== null, maxLength: blockSize });
      const trainer = new Trainer({ model, tokenizer, task: 'mlm', train: train.batches, eval: held?.batches, args, lock });
      started = true;
      const { result, devMetrics } = await trainSaveAndTest(trainer, { ...o, train: undefined, task: undefined, dev: o.eval, out } as TrainCommandOptions & { out: string }, null, io);
      const { evaluation: _, ...rest } = result;
      const summary: PretrainSummary = {
        out, task: 'mlm', model: modelDir, result: rest, eval: devMetrics,
        corpus: { files: train.cache.meta.files.length, tokens: train.cache.meta.tokens, blocks: train.batches.blocks, cacheBuilt: train.built, cacheDir },
        evalCorpus: held ? { files: held.cache.meta.files.length, tokens: held.cache.meta.tokens, blocks: held.batches.blocks } : null,
        blockSize, mlmProbability: p, evalMlmProbability: held ? (o.evalMlmProbability ?? p) : null, wholeWordMask: o.wholeWordMask ?? false,
        precision: model.precision, device: model.device, parameters: model.numParameters,
      };
      await writeJsonAtomic(join(out, 'results.json'), summary);
      if (o.json) io.out(JSON.stringify(summary, null, 2) + '\n');
      else {
        const m = devMetrics;
        io.out(`\n${result.globalStep} steps in ${formatDuration(result.wallSeconds)} (${Math.round(result.tokensPerSecond).toLocaleString('en-US')} tokens/s), ${result.stopReason}` +
          `${m ? `; held-out loss ${m.loss.toFixed(4)}, perplexity ${m.perplexity.toFixed(2)}, masked-token accuracy ${m.accuracy.toFixed(4)}` : ''}\n` +
          `Model saved to ${out} (report: ${join(out, 'report.html')})\n`);
      }
      return summary;
    } finally {
      model.dispose();
    }
  } catch (err) {
    // Nothing half-made is left behind by a run that failed before training started.
    if (!started) await cleanUp(out, outExisted, cacheDir, cacheExisted);
    throw err;
  } finally {
    await train?.cache.close();
    await held?.cache.close();
    await lock.release();
    if (!started && !outExisted && existsSync(out) && (await readdir(out)).length === 0) await rmdir(out).catch(() => {});
  }
}

/** Removes what a failed start made: the --out folder when it is new, else a new cache folder. */
async function cleanUp(out: string, outExisted: boolean, cacheDir: string, cacheExisted: boolean): Promise<void> {
  const inside = resolve(cacheDir).startsWith(resolve(out) + '/');
  if (!cacheExisted && (!inside || outExisted)) await rm(cacheDir, { recursive: true, force: true }).catch(() => {});
  if (!outExisted) {
    // Only what this command created: the lock is still held, so remove everything but it.
    for (const name of existsSync(out) ? await readdir(out) : []) {
      if (name !== LOCK_NAME) await rm(join(out, name), { recursive: true, force: true }).catch(() => {});
    }
  }
}

/** The flags `roots eval` takes for masked-LM models only. */
export const MLM_EVAL_FLAGS = ['mlmProbability', 'wholeWordMask', 'seed', 'documents'] as const;

export interface MlmEvalFlags {
  data?: string;
  batchSize?: number;
  maxLength?: number;
  mlmProbability?: number;
  wholeWordMask?: boolean;
  seed?: number;
  documents?: DocumentMode;
  device?: string;
  precision?: 'fp32' | 'bf16' | 'auto';
  json?: boolean;
}

/**
 * `roots eval` of a masked-LM folder: held-out text (files, folders or globs) packed into blocks and
 * masked as `roots pretrain --eval` does (same --seed, --max-length and --mlm-probability: the same
 * masked tokens), scored for loss, perplexity and masked-token accuracy.
 */
export async function evalMlmCorpus(dir: string, o: MlmEvalFlags, io: CliIO): Promise<Record<string, unknown>> {
  if (!o.data) throw new RootsError('ERR_INVALID_ARG', '--data is required (plain text: files, folders or globs, .gz allowed)');
  const folder = await readConfig(dir);
  const blockSize = o.maxLength ?? Math.min(DEFAULT_BLOCK, folder.max_position_embeddings);
  if (blockSize > folder.max_position_embeddings) throw new RootsError('ERR_CONFIG', `--max-length ${blockSize} exceeds the ${folder.max_position_embeddings} positions of ${dir}`);
  const p = o.mlmProbability === undefined ? 0.15 : mlmProbability(o.mlmProbability);
  const tokenizer = await Tokenizer.fromPretrained(dir);
  const cacheDir = await mkdtemp(join(tmpdir(), 'roots-eval-'));
  try {
    const { batches, cache } = await corpusBatches(o.data, tokenizer, {
      cacheDir, batchSize: o.batchSize ?? EVAL_BATCH, seqLen: blockSize, seed: o.seed ?? 42, mlmProbability: p, wholeWordMask: o.wholeWordMask ?? false,
      documents: o.documents ?? 'line', shuffle: false, keepLastBlock: true, flag: '--data',
    });
    try {
      const model = await BertForMaskedLM.fromPretrained(dir, { device: (o.device ?? 'auto') as Device, precision: resolvePrecision(o.precision), log: null });
      try {
        if (!model.loadReport.source) throw new RootsError('ERR_CHECKPOINT', `--model ${dir} has no weights (model.safetensors): pretrain it first`);
        const totals = await evaluateMlm(model, batches);
        const metrics = mlmMetrics(totals);
        const result = { model: dir, data: o.data, task: 'mlm', tokens: cache.meta.tokens, blocks: batches.blocks, blockSize, maskedTokens: totals.masked, metrics };
        io.out(o.json ? JSON.stringify(result, null, 2) + '\n'
          : `loss ${metrics.loss.toFixed(4)}, perplexity ${metrics.perplexity.toFixed(2)}, masked-token accuracy ${metrics.accuracy.toFixed(4)} ` +
            `(${totals.masked.toLocaleString('en-US')} masked tokens in ${batches.blocks} blocks of ${blockSize}, ${o.data})\n`);
        return result;
      } finally {
        model.dispose();
      }
    } finally {
      await cache.close();
    }
  } finally {
    await rm(cacheDir, { recursive: true, force: true });
  }
}

export function registerPretrain(program: Command, io: CliIO = processIO): void {
  registerCommand<PretrainCommandOptions>(program, 'pretrain',
    'masked-language-model pretraining (BertForMaskedLM) on plain text: from scratch (a `roots init` folder) or continued from any checkpoint',
    SPECS, (o) => runPretrain(o, io));
}
