/** The Trainer's options, hooks and result (the public shapes of lib/trainer/trainer.ts). */
import type { BertPreTrainedModel, StepResult } from '../models/bert.js';
import type { Tokenizer } from '../tokenizer/index.js';
import type { ContinualOptions } from '../continual/index.js';
import type { ProcessGroup } from '../distributed/group.js';
import type { TaskName } from '../tasks/index.js';
import type { BatchSource, Evaluation, Task } from '../tasks/task.js';
import type { TrainingArgs } from './args.js';
import type { EvalLogRecord, TrainLogRecord } from './log.js';
import type { OutputDirLock } from './lock.js';
import type { Trainer } from './trainer.js';

/** Hooks for users: called in order, awaited. Throwing from a hook aborts the run. */
export interface TrainerCallbacks {
  /** After each optimizer step. */
  onStep?(info: { step: number; epoch: number; result: StepResult; learningRate: number }, trainer: Trainer): void | Promise<void>;
  /** Every `loggingSteps` steps. */
  onLog?(record: TrainLogRecord, trainer: Trainer): void | Promise<void>;
  /** After each evaluation. */
  onEvaluate?(record: EvalLogRecord, evaluation: Evaluation, trainer: Trainer): void | Promise<void>;
  /** After a checkpoint has been written (complete, renamed into place). */
  onSave?(info: { step: number; path: string; best: boolean }, trainer: Trainer): void | Promise<void>;
}

export interface TrainerOptions<E = unknown> {
  model: BertPreTrainedModel;
  tokenizer: Tokenizer;
  /**
   * Training examples (NER: `TaggedSentence[]` from readConll), or a batch source for a task that
   * trains from one (`task: 'mlm'`: `MlmBatches`, e.g. from `corpusBatches()`).
   */
  train: readonly E[] | BatchSource;
  /** Evaluation examples (dev set), or a batch source (`'mlm'`: MlmBatches with `shuffle: false`). */
  eval?: readonly E[] | BatchSource;
  /** `'ner'` (default) or a Task object. */
  task?: TaskName | Task<E>;
  /** Label names; must equal the model's (default: the model's id2label). */
  labels?: readonly string[];
  args?: TrainingArgs;
  callbacks?: TrainerCallbacks;
  /** Where progress and log lines go (default process.stderr). */
  stream?: NodeJS.WriteStream;
  /**
   * A lock on `args.outputDir` that the caller holds for longer than train() (`roots train` holds
   * it for the whole command: training, the test set, the saved model). Without one, train() locks
   * the folder itself for the run (lock.ts): a second run into the same folder fails at once.
   */
  lock?: OutputDirLock;
  /** Continual learning (lib/continual): EWC, L2-SP and LwF, combinable; replay is data (mixReplay). */
  continual?: ContinualOptions;
  /**
   * Data parallelism (lib/distributed): this rank's process group. Each rank trains on its share of
   * every global batch (batchSize rows per rank), gradients averaged in the native step; rank 0 alone
   * writes checkpoints, logs and the report and evaluates.
   */
  distributed?: ProcessGroup;
}

export interface TrainResult {
  globalStep: number;
  epoch: number;
  /** Mean loss over the run's non-skipped steps. */
  trainLoss: number | null;
  skippedSteps: number;
  stopReason: 'completed' | 'early-stopping' | 'stopped';
  bestStep: number | null;
  bestMetric: number | null;
  bestCheckpoint: string | null;
  /** The evaluation of the final model (the best checkpoint's when it was loaded). */
  evaluation: Evaluation | null;
  tokens: number;
  /** Tokens per second of training time (evaluation and saving excluded). */
  tokensPerSecond: number;
  trainSeconds: number;
  wallSeconds: number;
}
