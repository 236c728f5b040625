/**
 * The Trainer: a training loop that reads top to bottom.
 *
 * ```ts
 * const trainer = new Trainer({ model, tokenizer, train, eval: dev, task: 'ner',
 *   args: { epochs: 3, batchSize: 16, learningRate: 5e-5, warmupRatio: 0.1, outputDir: 'out',
 *           earlyStopping: { patience: 2, metric: 'f1' } } });
 * const result = await trainer.train();          // or train({ resumeFromCheckpoint: true })
 * const test = await trainer.evaluate(testSet, { name: 'test' });
 * await trainer.saveModel('out');                 // config.json, model.safetensors, tokenizer files
 * ```
 *
 * Each optimizer step is one native call (`model.trainStep` with the step's micro-batches); the
 * learning rate comes from the schedule (schedule.ts), the dropout masks from `seed` and the step,
 * and the batch order from the loader's `(seed, epoch)`: a run resumed from a checkpoint continues
 * exactly as the uninterrupted run would have. Everything task-specific (features, metrics) is
 * behind the {@link Task} interface (lib/tasks).
 *
 * Masked-LM pretraining (`task: 'mlm'`) trains from a batch source instead of examples: `train` and
 * `eval` are `MlmBatches` (lib/data/mlm.ts; `corpusBatches()` builds them from text files), which
 * keep the DataLoader's contract (`length`, `state()`, `restore()`, iteration), so the one loop
 * below, its checkpoints, exact resume, logs and report serve both.
 *
 * (Near 600 lines on purpose: the loop, resume, evaluation and checkpointing stay in one class so the
 * step reads top to bottom; the option and result types are in types.ts, checkpoint files in
 * checkpoint.ts, logs in log.ts, the report in report.ts.)
 *
 * ```ts
 * const train = await corpusBatches('corpus/', tokenizer, { cacheDir: 'cache', batchSize: 32, seqLen: 128 });
 * const held = await corpusBatches('heldout.txt', tokenizer, { cacheDir: 'cache', batchSize: 32, seqLen: 128, shuffle: false, keepLastBlock: true });
 * await new Trainer({ model: mlm, tokenizer, task: 'mlm', train: train.batches, eval: held.batches, args }).train();
 * ```
 */
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DataLoader } from '../data/loader.js';
import type { Batch } from '../batch.js';
import type { Feature } from '../data/features.js';
import { LabelVocab } from '../data/labels.js';
import { labelsOf } from '../models/config.js';
import { RootsError } from '../errors.js';
import type { BertPreTrainedModel, StepResult } from '../models/bert.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { forwardFeatures } from '../tasks/forward.js';
import { resolveTask, type TaskName } from '../tasks/index.js';
import { isBatchSource, type BatchSource, type Evaluation, type Task, type TaskContext } from '../tasks/task.js';
import { resolveArgs, type ResolvedArgs, type TrainingArgs } from './args.js';
import {
  MODEL_FILE, OPTIMIZER_FILE, TRAINER_STATE_FILE, cleanStaleCheckpoints, deleteCheckpoint, latestCheckpoint, listCheckpoints,
  readTrainerState, rotateCheckpoints, writeCheckpoint, type TrainerState,
} from './checkpoint.js';
import { JsonlLog, formatEvalLine, formatTrainLine, type EvalLogRecord, type TrainLogRecord } from './log.js';
import { TrainingProgress } from './progress.js';
import { writeReport, type ReportSection } from './report.js';
import { learningRateAt, resolveWarmupSteps, type Schedule } from './schedule.js';
import { lockOutputDir, type OutputDirLock } from './lock.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { distillFor, resolveContinual, startContinual, stopContinual, type ResolvedContinual } from '../continual/index.js';
import type { TrainerCallbacks, TrainerOptions, TrainResult } from './types.js';
import type { ProcessGroup } from '../distributed/group.js';
import { ShardedLoader } from '../distributed/sampler.js';
import { trainingDigest } from '../distributed/digest.js';

export const LOG_FILE = 'trainer_log.jsonl';
export const REPORT_FILE = 'report.html';

export type { TrainerCallbacks, TrainerOptions, TrainResult } from './types.js';

export class Trainer<E = unknown> {
  readonly model: BertPreTrainedModel;
  readonly tokenizer: Tokenizer;
  readonly task: Task<E>;
  readonly args: ResolvedArgs;
  readonly labels: LabelVocab;
  readonly trainExamples: readonly E[];
  readonly evalExamples: readonly E[] | null;
  /** The batch source trained from (`task: 'mlm'`); null when training from examples. */
  readonly trainSource: BatchSource | null;
  /** The batch source evaluated on (`task: 'mlm'`). */
  readonly evalSource: BatchSource | null;
  readonly callbacks: TrainerCallbacks;
  /** Final evaluations by name (`'eval'`, `'test'`), for the report. */
  readonly evaluations = new Map<string, ReportSection>();
  readonly #log: JsonlLog;
  readonly #progress: TrainingProgress;
  readonly #ctx: TaskContext;
  #trainFeatures: Feature[] | null = null;
  #evalFeatures: Feature[] | null = null;
  #state: TrainerState | null = null;
  #stopRequested = false;
  #started = 0;
  #result: TrainResult | null = null;
  #lastEvaluation: { step: number; evaluation: Evaluation } | null = null;
  readonly #lock: OutputDirLock | null;
  readonly #continual: ResolvedContinual | null;
  /** Data parallelism: this rank's group; null when training alone. */
  readonly #dist: ProcessGroup | null;
  /** Rank 0, or the only process: the one that writes files and evaluates. */
  readonly #main: boolean;
  /** Smoothed tokens/s for the progress bar. */
  #tps = 0;

  constructor(options: TrainerOptions<E>) {
    if (!options || typeof options !== 'object') throw new RootsError('ERR_INVALID_ARG', 'Expected Trainer options { model, tokenizer, train, eval?, task?, args? }');
    const { model, tokenizer } = options;
    if (!model || typeof model.trainStep !== 'function') throw new RootsError('ERR_INVALID_ARG', 'Expected a model (e.g. a BertForTokenClassification) for options.model');
    if (!tokenizer || typeof tokenizer.encodeWords !== 'function') throw new RootsError('ERR_INVALID_ARG', 'Expected a Tokenizer for options.tokenizer');
    this.model = model;
    this.tokenizer = tokenizer;
    this.task = resolveTask(options.task ?? 'ner', model);
    const fromSource = this.task.batchSourceOnly === true;
    if (fromSource) {
      // A task without examples (masked-LM): batches come from a source, evaluation from another.
      if (!isBatchSource(options.train)) throw new RootsError('ERR_INVALID_ARG', `The ${this.task.name} task trains from a batch source (MlmBatches, e.g. from corpusBatches()) in options.train`);
      if (options.eval !== undefined && !isBatchSource(options.eval)) throw new RootsError('ERR_INVALID_ARG', `The ${this.task.name} task evaluates a batch source (MlmBatches with shuffle: false) in options.eval`);
      this.trainSource = options.train;
      this.evalSource = options.eval ?? null;
      this.trainExamples = [];
      this.evalExamples = null;
    } else {
      if (!Array.isArray(options.train) || options.train.length === 0) throw new RootsError('ERR_INVALID_ARG', 'Expected a non-empty array of training examples for options.train');
      if (options.eval !== undefined && !Array.isArray(options.eval)) throw new RootsError('ERR_INVALID_ARG', 'Expected an array of examples for options.eval');
      this.trainSource = null;
      this.evalSource = null;
      this.trainExamples = options.train as readonly E[];
      this.evalExamples = options.eval && (options.eval as readonly E[]).length > 0 ? options.eval as readonly E[] : null;
    }
    this.callbacks = options.callbacks ?? {};
    this.args = resolveArgs(options.args ?? {}, this.evalExamples !== null || this.evalSource !== null, this.task);

    const modelLabels = fromSource ? [] : model.labels;
    if (!modelLabels) throw new RootsError('ERR_CONFIG', 'The model has no labels: load it with { labels: [...] } (e.g. the tags of the training data)');
    if (options.labels && (options.labels.length !== modelLabels.length || options.labels.some((l, i) => l !== modelLabels[i]))) {
      throw new RootsError('ERR_CONFIG', `options.labels [${options.labels.join(', ')}] differ from the model's labels [${modelLabels.join(', ')}]; load the model with { labels } to give it that head`);
    }
    this.labels = new LabelVocab(modelLabels);
    const maxLength = this.args.maxLength ?? Math.min(512, model.config.max_position_embeddings, tokenizer.modelMaxLength ?? Infinity);
    if (maxLength > model.config.max_position_embeddings) {
      throw new RootsError('ERR_CONFIG', `args.maxLength ${maxLength} exceeds the model's max_position_embeddings (${model.config.max_position_embeddings})`);
    }
    const slotLabels = labelsOf(model.config, 'slot_id2label');
    this.#ctx = { tokenizer, labels: this.labels, labels2: slotLabels ? new LabelVocab(slotLabels) : undefined, maxLength };
    if (this.args.precision) model.setPrecision(this.args.precision);
    if (this.args.freeze) model.freeze(this.args.freeze);
    this.#continual = resolveContinual(options.continual, model);
    this.#lock = options.lock ?? null;
    if (this.#lock && this.args.outputDir && resolve(this.#lock.dir) !== resolve(this.args.outputDir)) {
      throw new RootsError('ERR_INVALID_ARG', `options.lock locks ${this.#lock.dir}, not args.outputDir ${this.args.outputDir}`);
    }
    this.#dist = options.distributed ?? null;
    this.#main = !this.#dist || this.#dist.isMain;
    if (this.#dist && fromSource) throw new RootsError('ERR_UNSUPPORTED', `Data-parallel training of the ${this.task.name} task (a batch source) is not supported yet: train it in one process`);
    this.#log = new JsonlLog(this.args.outputDir && this.#main ? join(this.args.outputDir, LOG_FILE) : null);
    this.#progress = new TrainingProgress({ mode: this.#main ? this.args.progress : 'none', stream: options.stream });
  }

  /** False on the data-parallel ranks other than 0, which neither write files nor evaluate (options.distributed). */
  get isMainProcess(): boolean {
    return this.#main;
  }

  /** The trainer state (global step, best metric, history ...); null before train(). */
  get state(): Readonly<TrainerState> | null {
    return this.#state;
  }

  /**
   * Where a run into `outputDir` starts: the checkpoint it resumes from, or null for a fresh start.
   * The one place that decides whether a run may start there: a fresh run into a folder holding
   * checkpoints needs `overwriteOutputDir`, `resumeFromCheckpoint: true` needs a checkpoint to
   * resume. train() asks it; `roots train` asks it first too, to fail before reading the data and
   * loading the model.
   */
  static async startingPoint(outputDir: string | null | undefined, o: { resumeFromCheckpoint?: string | boolean; overwriteOutputDir?: boolean }): Promise<string | null> {
    const resume = o.resumeFromCheckpoint;
    if (typeof resume === 'string' && resume !== '') return resume;
    if (resume) {
      if (!outputDir) throw new RootsError('ERR_CONFIG', 'resumeFromCheckpoint: true needs args.outputDir to look for checkpoints in');
      const latest = await latestCheckpoint(outputDir);
      if (!latest) throw new RootsError('ERR_CHECKPOINT', `resumeFromCheckpoint (--resume): no complete checkpoint-<step> folder in ${outputDir}`);
      return latest.path;
    }
    const old = outputDir && !o.overwriteOutputDir ? await listCheckpoints(outputDir) : [];
    if (old.length) {
      throw new RootsError('ERR_CONFIG', `${outputDir} already holds checkpoints (${old.map((c) => basename(c.path)).join(', ')}): resume from them (resumeFromCheckpoint / --resume), or pass overwriteOutputDir (--overwrite) to start over`);
    }
    return null;
  }

  /** Asks a running train() to stop after the current step (it saves a checkpoint first when it can). */
  stop(): void {
    this.#stopRequested = true;
  }

  /** The encoded training features (computed once). */
  get trainFeatures(): Feature[] {
    this.#trainFeatures ??= this.task.features(this.trainExamples, { ...this.#ctx, training: true });
    return this.#trainFeatures;
  }

  // -------------------------------------------------------------------------------------------
  // The loop
  // -------------------------------------------------------------------------------------------

  async train(options: { resumeFromCheckpoint?: string | boolean } = {}): Promise<TrainResult> {
    const dir = this.args.outputDir;
    // One run per output folder: locked before anything in it is read or deleted.
    const lock = dir && !this.#lock && this.#main ? await lockOutputDir(dir, { log: (m) => this.#progress.log(m) }) : null;
    try {
      return await this.#train(options);
    } finally {
      this.#dist?.detach(this.model);
      await lock?.release();
    }
  }

  async #train(options: { resumeFromCheckpoint?: string | boolean }): Promise<TrainResult> {
    const a = this.args;
    this.#started = performance.now();
    this.#stopRequested = false;
    const resume = await Trainer.startingPoint(a.outputDir, { resumeFromCheckpoint: options.resumeFromCheckpoint, overwriteOutputDir: a.overwriteOutputDir });
    if (a.outputDir && this.#main) {
      await mkdir(a.outputDir, { recursive: true });
      await cleanStaleCheckpoints(a.outputDir);
    }

    // Data: features once and a seeded loader (its order is a function of seed and epoch), or the
    // batch source given (masked-LM: MlmBatches, the same contract).
    const loaderOptions = { batchSize: a.batchSize, tokenizer: this.tokenizer, shuffle: true, seed: a.seed, bucketing: a.groupByLength, padToMultipleOf: a.padToMultipleOf, numLabels: this.labels.size };
    // Data parallelism: each rank its share of every global batch (lib/distributed/sampler.ts).
    const loader: BatchSource = this.trainSource ?? (this.#dist
      ? new ShardedLoader(this.trainFeatures, { ...loaderOptions, rank: this.#dist.rank, worldSize: this.#dist.worldSize })
      : new DataLoader(this.trainFeatures, loaderOptions));
    const numRows = this.trainSource ? (this.trainSource.rows ?? this.trainSource.length) : this.trainFeatures.length;
    if (loader.length === 0) throw new RootsError('ERR_INVALID_ARG', 'The training examples produced no features');
    const accum = a.gradientAccumulationSteps;
    const stepsPerEpoch = Math.ceil(loader.length / accum);
    const totalSteps = a.maxSteps ?? Math.max(1, Math.ceil(a.epochs * stepsPerEpoch));
    const schedule: Schedule = {
      name: a.lrScheduler, learningRate: a.learningRate, totalSteps,
      warmupSteps: resolveWarmupSteps(totalSteps, { warmupSteps: a.warmupSteps ?? undefined, warmupRatio: a.warmupRatio }),
    };
    const loggingSteps = a.loggingSteps ?? Math.min(50, Math.max(1, Math.round(totalSteps / 50)));

    // State: fresh, or from a checkpoint (weights, AdamW moments, loader position, best metric).
    let state = this.#freshState(totalSteps, numRows);
    if (resume) {
      state = await this.#restore(resume, state, loader);
      this.#progress.log(`Resuming from ${resume} (step ${state.globalStep} of ${totalSteps}, epoch ${state.epoch.toFixed(2)})`);
    } else if (a.outputDir && this.#main) {
      for (const c of await listCheckpoints(a.outputDir)) await deleteCheckpoint(c.path);
      await rm(join(a.outputDir, REPORT_FILE), { force: true });
      this.#log.truncateAfter(-1);
    }
    this.#state = state;
    if (this.#dist) await this.#joinGroup(this.#dist);

    const what = this.trainSource ? `${numRows} blocks` : `${this.trainExamples.length} examples${numRows !== this.trainExamples.length ? ` (${numRows} windows)` : ''}`;
    this.#progress.log(`Training ${this.task.name}: ${what}, ${totalSteps} optimizer steps ` +
      `(${stepsPerEpoch} per epoch, batch ${a.batchSize}${this.#dist ? ` x ${this.#dist.worldSize} processes` : ''}${accum > 1 ? ` x ${accum} accumulation` : ''}${a.groupByLength && !this.trainSource ? ', grouped by length' : ''}), lr ${a.learningRate} ${a.lrScheduler}` +
      `${schedule.warmupSteps ? ` with ${schedule.warmupSteps} warmup steps` : ''}, ${this.model.precision}, ${this.model.device}`);
    this.#progress.start(totalSteps, state.globalStep, { epoch: state.epoch, loss: null, learningRate: learningRateAt(schedule, Math.min(state.globalStep, totalSteps - 1)), tokensPerSecond: 0 });

    let stopReason: TrainResult['stopReason'] = 'completed';
    let segmentStart = performance.now();
    if (this.#continual) startContinual(this.model, this.#continual);
    try {
      outer: while (state.globalStep < totalSteps) {
        let group: Batch[] = [];
        for await (const batch of loader) {
          group.push(batch);
          const position = loader.state().position;
          const endOfEpoch = position >= loader.length;
          if (group.length < accum && !endOfEpoch) continue;

          // One optimizer step: forward, loss, backward over the micro-batches, clip, AdamW.
          const learningRate = learningRateAt(schedule, state.globalStep);
          const result = await this.model.trainStep(group, {
            learningRate, maxGradNorm: a.maxGradNorm, weightDecay: a.weightDecay, betas: a.adamBetas, eps: a.adamEpsilon,
            rngSeed: a.seed * 1_000_003 + state.globalStep,
            distill: this.#continual ? await distillFor(this.#continual, group) : undefined,
          });
          group = [];
          state.globalStep++;
          state.loader = loader.state();
          state.epoch = state.loader.epoch + position / loader.length;
          const now = performance.now();
          this.#account(state, result, now - segmentStart);

          if (result.skipped) await this.#nonFinite(state, result);
          await this.callbacks.onStep?.({ step: state.globalStep, epoch: state.epoch, result, learningRate }, this);
          if (state.globalStep % loggingSteps === 0 || state.globalStep === totalSteps) await this.#logStep(state, learningRate, totalSteps);
          const tps = now > segmentStart ? result.tokens / ((now - segmentStart) / 1000) : 0;
          this.#tps = this.#tps === 0 ? tps : 0.9 * this.#tps + 0.1 * tps;
          this.#progress.update(state.globalStep, { epoch: state.epoch, loss: result.skipped ? null : result.loss, learningRate, tokensPerSecond: this.#tps });

          // Evaluate, keep the best, stop early, save.
          const evalDue = (a.evalStrategy === 'steps' && state.globalStep % a.evalSteps! === 0) || (a.evalStrategy === 'epoch' && endOfEpoch);
          const saveDue = (a.saveStrategy === 'steps' && state.globalStep % a.saveSteps! === 0) || (a.saveStrategy === 'epoch' && endOfEpoch);
          // Data parallelism: a stop asked of any rank stops all after this step (rank 0 saves first).
          if (this.#dist) this.#stopRequested = (await this.#dist.allreduce([this.#stopRequested ? 1 : 0]))[0] > 0;
          let stopEarly = false;
          if (evalDue && this.#main) stopEarly = await this.#evaluateDuringTraining(state);
          if (evalDue && this.#dist) stopEarly = (await this.#dist.allreduce([stopEarly ? 1 : 0]))[0] > 0;  // rank 0's early stopping, for all
          if (saveDue || (this.#stopRequested && a.outputDir)) await this.#saveCheckpoint(state);
          segmentStart = performance.now();

          if (stopEarly) { stopReason = 'early-stopping'; break outer; }
          if (this.#stopRequested) { stopReason = 'stopped'; break outer; }
          if (state.globalStep >= totalSteps) break outer;
        }
      }

      // The end: a last evaluation if the final weights were never scored, then the best weights back.
      if (this.#main && stopReason !== 'stopped' && a.evalStrategy !== 'no' && state.lastEvalStep !== state.globalStep) {
        await this.#evaluateDuringTraining(state);
        if (a.saveStrategy !== 'no' && state.bestStep === state.globalStep) await this.#saveCheckpoint(state);
      }
      if (this.#main && stopReason !== 'stopped' && a.loadBestModelAtEnd && state.bestCheckpoint && state.bestStep !== state.globalStep) {
        this.#progress.log(`Loading the best checkpoint ${state.bestCheckpoint} (${a.metricForBestModel} ${state.bestMetric?.toFixed(4)} at step ${state.bestStep})`);
        await this.model.loadWeights(join(state.bestCheckpoint, MODEL_FILE), { log: null });
      }
    } catch (e) {
      this.#progress.stop();
      if (this.#continual) stopContinual(this.model);
      const err = e as Error & { code?: string };
      this.#log.append({ type: 'error', step: state.globalStep, epoch: state.epoch, code: err.code ?? 'ERR', message: err.message, elapsed: this.#elapsed() });
      throw e;
    }
    this.#progress.stop();
    if (this.#continual) stopContinual(this.model);

    const evaluation = stopReason === 'stopped' ? null : this.#finalEvaluation(state);
    if (evaluation) this.evaluations.set('eval', { name: 'eval', metrics: evaluation.metrics, report: evaluation.report, note: evaluation.note });
    const trainSeconds = state.totals.trainMs / 1000;
    this.#result = {
      globalStep: state.globalStep, epoch: state.epoch,
      trainLoss: state.totals.lossCount ? state.totals.lossSum / state.totals.lossCount : null,
      skippedSteps: state.skippedSteps, stopReason,
      bestStep: state.bestStep, bestMetric: state.bestMetric, bestCheckpoint: state.bestCheckpoint,
      evaluation: evaluation ? { metrics: evaluation.metrics, report: evaluation.report } : null,
      tokens: state.totals.tokens, tokensPerSecond: trainSeconds > 0 ? state.totals.tokens / trainSeconds : 0,
      trainSeconds, wallSeconds: this.#elapsed(),
    };
    this.#log.append({ type: 'end', step: state.globalStep, epoch: state.epoch, reason: stopReason, trainLoss: this.#result.trainLoss, tokensPerSecond: this.#result.tokensPerSecond, wallSeconds: this.#result.wallSeconds, bestStep: state.bestStep, bestMetric: state.bestMetric });
    if (stopReason === 'early-stopping') this.#progress.log(`Stopped early at step ${state.globalStep}: ${a.metricForBestModel} did not improve for ${a.earlyStopping!.patience} evaluations (best ${state.bestMetric?.toFixed(4)} at step ${state.bestStep})`);
    if (a.outputDir && a.report && this.#main) await this.writeReport();
    return this.#result;
  }

  // -------------------------------------------------------------------------------------------
  // Evaluation, saving, reporting
  // -------------------------------------------------------------------------------------------

  /**
   * Scores the model on `examples` (default: the eval set). With a `name` other than `'eval'` the
   * result is kept for the report (`'test'`).
   */
  async evaluate(examples?: readonly E[] | BatchSource, options: { name?: string } = {}): Promise<Evaluation> {
    if (this.task.batchSourceOnly) return this.#evaluateSource(examples, options);
    if (examples !== undefined && !Array.isArray(examples)) throw new RootsError('ERR_INVALID_ARG', `The ${this.task.name} task evaluates an array of examples`);
    const data = (examples as readonly E[] | undefined) ?? this.evalExamples;
    if (!data) throw new RootsError('ERR_INVALID_ARG', 'No examples to evaluate: pass them, or give the Trainer an eval set');
    let features: Feature[];
    if (examples === undefined || examples === this.evalExamples) {
      this.#evalFeatures ??= this.task.features(data, this.#ctx);
      features = this.#evalFeatures;
    } else {
      features = this.task.features(data, this.#ctx);
    }
    const start = performance.now();
    const outputs = await forwardFeatures(this.model, features, { batchSize: this.args.evalBatchSize, padTokenId: this.tokenizer.padTokenId ?? 0, padToMultipleOf: this.args.padToMultipleOf });
    const evaluation = this.task.score(data, features, outputs, this.#ctx);
    this.#recordEvaluation(evaluation, examples !== undefined, options.name ?? 'eval', start);
    return evaluation;
  }

  /** evaluate() for a task that scores batch sources (masked-LM). */
  async #evaluateSource(source: readonly E[] | BatchSource | undefined, options: { name?: string }): Promise<Evaluation> {
    if (source !== undefined && !isBatchSource(source)) throw new RootsError('ERR_INVALID_ARG', `The ${this.task.name} task evaluates a batch source (MlmBatches with shuffle: false), not an array`);
    const data = source ?? this.evalSource;
    if (!data) throw new RootsError('ERR_INVALID_ARG', 'Nothing to evaluate: pass a batch source, or give the Trainer one as options.eval');
    const start = performance.now();
    const evaluation = await this.task.evaluateBatches!(this.model, data);
    this.#recordEvaluation(evaluation, source !== undefined, options.name ?? 'eval', start);
    return evaluation;
  }

  /** Logs an evaluation outside the training loop (a test set, or eval data passed explicitly). */
  #recordEvaluation(evaluation: Evaluation, explicit: boolean, name: string, start: number): void {
    if (name === 'eval' && !explicit) return;
    const record: EvalLogRecord = { type: 'eval', step: this.#state?.globalStep ?? 0, epoch: this.#state?.epoch ?? 0, name, metrics: evaluation.metrics, runtime: (performance.now() - start) / 1000, elapsed: this.#elapsed() };
    this.#log.append(record);
    this.#state?.history.push(record);
    this.evaluations.set(name, { name, metrics: evaluation.metrics, report: evaluation.report });
  }


  /** Saves the model and tokenizer (config.json, model.safetensors, tokenizer files) into `dir` (default: outputDir). */
  async saveModel(dir = this.args.outputDir): Promise<void> {
    if (!dir) throw new RootsError('ERR_INVALID_ARG', 'saveModel needs a folder (or args.outputDir)');
    await this.model.save(dir, { tokenizer: this.tokenizer });
  }

  /** Writes report.html (loss and metric curves, final reports) into outputDir (or `path`). */
  async writeReport(path = this.args.outputDir ? join(this.args.outputDir, REPORT_FILE) : null): Promise<string | null> {
    if (!path) return null;
    const s = this.#state;
    const r = this.#result;
    const a = this.args;
    await writeReport(path, {
      title: `roots ${this.task.name} training${a.outputDir ? `: ${a.outputDir}` : ''}`,
      summary: {
        task: this.task.name,
        model: `BERT ${this.model.config.num_hidden_layers} layers, hidden ${this.model.config.hidden_size}, ${this.model.config.num_attention_heads} heads, ${(this.model.numParameters / 1e6).toFixed(2)}M parameters, ${this.model.precision}, ${this.model.device}`,
        ...(this.trainSource
          ? { 'training blocks': this.trainSource.rows ?? this.trainSource.length, 'eval blocks': this.evalSource ? (this.evalSource.rows ?? this.evalSource.length) : 0 }
          : { 'training examples': this.trainExamples.length, 'eval examples': this.evalExamples?.length ?? 0 }),
        'optimizer steps': s ? `${s.globalStep} of ${s.totalSteps}` : null,
        epochs: s ? +s.epoch.toFixed(3) : null,
        'stop reason': r?.stopReason ?? null,
        'train loss (mean)': r?.trainLoss ?? null,
        'skipped (non-finite) steps': s?.skippedSteps ?? null,
        [`best ${a.metricForBestModel}`]: s?.bestMetric ?? null,
        'best step': s?.bestStep ?? null,
        'tokens/s (training)': r ? Math.round(r.tokensPerSecond) : null,
        'training time (s)': r ? +r.trainSeconds.toFixed(1) : null,
        'wall time (s)': r ? +r.wallSeconds.toFixed(1) : null,
      },
      args: { ...a, earlyStopping: a.earlyStopping ? { ...a.earlyStopping, metric: a.metricForBestModel } : null },
      history: s?.history ?? [],
      evaluations: [...this.evaluations.values()],
    });
    return path;
  }

  // -------------------------------------------------------------------------------------------
  // Internals
  // -------------------------------------------------------------------------------------------

  #elapsed(): number {
    return (performance.now() - this.#started) / 1000;
  }

  #freshState(totalSteps: number, numFeatures: number): TrainerState {
    const a = this.args;
    return {
      version: 1, task: this.task.name, globalStep: 0, loader: { seed: a.seed, epoch: 0, position: 0 }, epoch: 0, totalSteps,
      compat: { seed: a.seed, batchSize: a.batchSize, gradientAccumulationSteps: a.gradientAccumulationSteps, numFeatures, worldSize: this.#dist?.worldSize ?? 1 },
      metricName: a.metricForBestModel, greaterIsBetter: a.greaterIsBetter,
      bestMetric: null, bestStep: null, bestCheckpoint: null, bestEvaluation: null, patienceCounter: 0,
      consecutiveNonFinite: 0, skippedSteps: 0,
      window: { lossSum: 0, lossCount: 0, gradNormSum: 0, tokens: 0, ms: 0, skipped: 0 },
      totals: { lossSum: 0, lossCount: 0, tokens: 0, trainMs: 0 },
      lastEvalStep: null, lastSaveStep: null, history: [],
    };
  }


  /**
   * Data parallelism, at the start: every rank must train the same config on the same data (a hash
   * of both, compared with rank 0's), from rank 0's weights; then the model's steps all-reduce.
   */
  async #joinGroup(dist: ProcessGroup): Promise<void> {
    const { outputDir: _, progress: __, ...args } = this.args;
    const settings = { args, task: this.task.name, config: this.model.config, labels: this.labels.size, frozen: this.model.parameters().filter((p) => !p.trainable).length };
    const digest = trainingDigest(settings, this.trainFeatures);
    await dist.checkSame('config and data (the training arguments, the model config and the encoded training set)', digest);
    dist.attach(this.model);
    await dist.broadcastWeights(this.model);
  }

  /** Loads weights, optimizer state and trainer state from a checkpoint and positions the loader. */
  async #restore(dir: string, fresh: TrainerState, loader: BatchSource): Promise<TrainerState> {
    const saved = await readTrainerState(dir);
    for (const k of ['seed', 'batchSize', 'gradientAccumulationSteps', 'numFeatures'] as const) {
      if (saved.compat[k] !== fresh.compat[k]) {
        const what = k === 'numFeatures' ? (this.trainSource ? 'training blocks' : 'training windows') : k;
        throw new RootsError('ERR_CONFIG', `Cannot resume from ${dir}: it was written with ${what} ${saved.compat[k]} but this run has ${fresh.compat[k]} (the same data, seed, batchSize and gradientAccumulationSteps (--seed, --batch-size, --grad-accum) are needed to continue exactly)`);
      }
    }
    if ((saved.compat.worldSize ?? 1) !== fresh.compat.worldSize) {
      throw new RootsError('ERR_CONFIG', `Cannot resume from ${dir}: it was written by ${saved.compat.worldSize ?? 1} data-parallel process(es), this run has ${fresh.compat.worldSize} (the global batch and each rank's share of the data depend on it): resume with the same --nproc-per-node / WORLD_SIZE`);
    }
    if (saved.task !== this.task.name) throw new RootsError('ERR_CONFIG', `Cannot resume from ${dir}: it is a ${saved.task} checkpoint, this is a ${this.task.name} run`);
    await this.model.loadWeights(join(dir, MODEL_FILE), { log: null });
    await this.model.loadOptimizer(join(dir, OPTIMIZER_FILE));
    loader.restore(saved.loader);
    this.#log.truncateAfter(saved.globalStep);
    // The best checkpoint is found next to this one (the folder may have moved since).
    const best = saved.bestCheckpoint ? join(this.args.outputDir ?? dirname(dir), basename(saved.bestCheckpoint)) : null;
    const state: TrainerState = {
      ...saved, totalSteps: fresh.totalSteps, metricName: fresh.metricName, greaterIsBetter: fresh.greaterIsBetter,
      bestCheckpoint: best && existsSync(join(best, MODEL_FILE)) ? best : null,
    };
    if (saved.metricName !== fresh.metricName || saved.greaterIsBetter !== fresh.greaterIsBetter) {
      // Another metric picks the best now: what was best by the old one says nothing.
      Object.assign(state, { bestMetric: null, bestStep: null, bestCheckpoint: null, bestEvaluation: null, patienceCounter: 0 });
    }
    return state;
  }

  #account(state: TrainerState, result: StepResult, ms: number): void {
    const w = state.window;
    w.tokens += result.tokens;
    w.ms += ms;
    state.totals.tokens += result.tokens;
    state.totals.trainMs += ms;
    if (result.skipped) {
      w.skipped++;
      state.skippedSteps++;
      state.consecutiveNonFinite++;
    } else {
      w.lossSum += result.loss;
      w.lossCount++;
      w.gradNormSum += result.gradNorm;
      state.totals.lossSum += result.loss;
      state.totals.lossCount++;
      state.consecutiveNonFinite = 0;
    }
  }

  /** A non-finite loss or gradient: the update was skipped; too many in a row end the run. */
  async #nonFinite(state: TrainerState, result: StepResult): Promise<void> {
    const n = state.consecutiveNonFinite;
    this.#log.append({ type: 'nonfinite', step: state.globalStep, epoch: state.epoch, loss: result.loss, gradNorm: result.gradNorm, consecutive: n, elapsed: this.#elapsed() });
    this.#progress.log(`warning: step ${state.globalStep}: loss ${result.loss}, gradient norm ${result.gradNorm}: not finite, update skipped (${n} in a row)`);
    if (n >= this.args.maxNonFiniteSteps) {
      const latest = this.args.outputDir ? await latestCheckpoint(this.args.outputDir) : null;
      const first = state.globalStep - n + 1;
      throw new RootsError('ERR_TRAINING',
        `Training stopped at step ${state.globalStep}: the loss or gradient was not finite (NaN/Infinity) at ${n} steps in a row (steps ${first}-${state.globalStep}), ` +
        `so those updates were skipped. ` +
        (latest ? `The last good checkpoint is ${latest.path} (step ${latest.step}); resume from it with a lower learning rate or stronger clipping (--lr, --max-grad-norm).`
          : 'No checkpoint was saved; try a lower learning rate, warmup, or gradient clipping.'));
    }
  }

  async #logStep(state: TrainerState, learningRate: number, totalSteps: number): Promise<void> {
    const w = state.window;
    const record: TrainLogRecord = {
      type: 'train', step: state.globalStep, epoch: +state.epoch.toFixed(4),
      loss: w.lossCount ? w.lossSum / w.lossCount : null, learningRate,
      gradNorm: w.lossCount ? w.gradNormSum / w.lossCount : null,
      tokensPerSecond: w.ms > 0 ? w.tokens / (w.ms / 1000) : 0, skipped: w.skipped, elapsed: +this.#elapsed().toFixed(3),
    };
    state.window = { lossSum: 0, lossCount: 0, gradNormSum: 0, tokens: 0, ms: 0, skipped: 0 };
    state.history.push(record);
    this.#log.append(record);
    if (this.#progress.plain) {
      const perStep = state.totals.trainMs / 1000 / Math.max(1, state.globalStep);
      this.#progress.log(formatTrainLine(record, totalSteps, perStep * (totalSteps - state.globalStep)));
    }
    await this.callbacks.onLog?.(record, this);
  }

  /** Evaluates on the eval set, tracks the best metric; returns true when early stopping says stop. */
  async #evaluateDuringTraining(state: TrainerState): Promise<boolean> {
    const a = this.args;
    const start = performance.now();
    const evaluation = await this.evaluate();
    const record: EvalLogRecord = { type: 'eval', step: state.globalStep, epoch: +state.epoch.toFixed(4), name: 'eval', metrics: evaluation.metrics, runtime: +((performance.now() - start) / 1000).toFixed(3), elapsed: +this.#elapsed().toFixed(3) };
    state.history.push(record);
    state.lastEvalStep = state.globalStep;
    this.#lastEvaluation = { step: state.globalStep, evaluation };
    this.#log.append(record);
    this.#progress.log(formatEvalLine(record));

    const value = evaluation.metrics[a.metricForBestModel];
    if (value === undefined) {
      throw new RootsError('ERR_CONFIG', `The metric "${a.metricForBestModel}" is not among the evaluation's metrics (${Object.keys(evaluation.metrics).join(', ')})`);
    }
    const threshold = a.earlyStopping?.threshold ?? 0;
    const improved = Number.isFinite(value) && (state.bestMetric === null ||
      (a.greaterIsBetter ? value > state.bestMetric + threshold : value < state.bestMetric - threshold));
    if (improved) {
      state.bestMetric = value;
      state.bestStep = state.globalStep;
      state.bestEvaluation = { step: state.globalStep, metrics: evaluation.metrics, report: evaluation.report };
      state.patienceCounter = 0;
    } else {
      state.patienceCounter++;
    }
    await this.callbacks.onEvaluate?.(record, evaluation, this);
    return a.earlyStopping !== null && state.patienceCounter >= a.earlyStopping.patience;
  }

  /** Writes checkpoint-<step> (never while the last steps were non-finite), then rotates old ones. */
  async #saveCheckpoint(state: TrainerState): Promise<void> {
    const dir = this.args.outputDir;
    if (!dir || !this.#main) return;
    if (state.consecutiveNonFinite > 0) {
      this.#progress.log(`warning: step ${state.globalStep}: not saving a checkpoint after a non-finite step; the last good one stays the newest`);
      return;
    }
    const best = state.bestStep === state.globalStep;
    const path = join(dir, `checkpoint-${state.globalStep}`);
    if (best) state.bestCheckpoint = path;
    state.lastSaveStep = state.globalStep;
    await writeCheckpoint(dir, state.globalStep, async (tmp) => {
      await this.model.save(tmp, { tokenizer: this.tokenizer });
      await this.model.saveOptimizer(join(tmp, OPTIMIZER_FILE));
      await writeFile(join(tmp, TRAINER_STATE_FILE), JSON.stringify(state, null, 1) + '\n');
    });
    this.#log.append({ type: 'save', step: state.globalStep, epoch: state.epoch, path, best, elapsed: this.#elapsed() });
    if (this.args.saveTotalLimit !== null) await rotateCheckpoints(dir, this.args.saveTotalLimit, [state.bestCheckpoint]);
    if (state.bestCheckpoint && !existsSync(state.bestCheckpoint)) state.bestCheckpoint = null;
    await this.callbacks.onSave?.({ step: state.globalStep, path, best }, this);
  }

  /** The evaluation that describes the final weights (from the best checkpoint or the last evaluation). */
  #finalEvaluation(state: TrainerState): (Evaluation & { note: string }) | null {
    if (this.args.evalStrategy === 'no') return null;
    const a = this.args;
    if (a.loadBestModelAtEnd && state.bestEvaluation && state.bestCheckpoint) {
      return { ...state.bestEvaluation, note: `best checkpoint, step ${state.bestEvaluation.step}` };
    }
    const last = this.#lastEvaluation;
    if (last && last.step === state.globalStep) return { ...last.evaluation, note: `final weights, step ${last.step}` };
    const record = [...state.history].reverse().find((r): r is EvalLogRecord => r.type === 'eval' && r.name === 'eval');
    if (!record || record.step !== state.globalStep) return null;
    const report = state.bestEvaluation?.step === record.step ? state.bestEvaluation.report : undefined;
    return { metrics: record.metrics, report, note: `final weights, step ${record.step}` };
  }
}

/** Writes a JSON file atomically (used by the CLI for summaries). */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}
