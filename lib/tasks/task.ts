/**
 * The task-specific side of training: how examples become features, and how the model's outputs on
 * those features become metrics. The Trainer knows nothing about NER, text classification or
 * intent + slots; it asks its {@link Task}. Adding a task means one file implementing this
 * interface (see ner.ts) and one line in index.ts.
 */
import type { BertPreTrainedModel } from '../models/bert.js';
import type { Tokenizer } from '../tokenizer/index.js';
import type { Feature } from '../data/features.js';
import type { LabelVocab } from '../data/labels.js';
import type { LoaderState } from '../data/loader.js';
import type { Batch } from '../batch.js';

/**
 * A resumable source of training batches: `DataLoader` over encoded features, or `MlmBatches` over
 * a token cache (pretraining). The Trainer's one loop reads either: `length` batches per epoch,
 * iteration over the rest of the current epoch, and a `state()` checkpoints store and `restore()`
 * takes back (the same batches follow, so a resumed run continues exactly).
 */
export interface BatchSource<B extends Batch = Batch> extends AsyncIterable<B> {
  readonly length: number;
  state(): LoaderState;
  restore(state: LoaderState): void;
  /** Training rows per epoch (for the resume check); default `length`. */
  readonly rows?: number;
}

/** Whether `x` is a {@link BatchSource} rather than an array of examples. */
export function isBatchSource(x: unknown): x is BatchSource {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && typeof (x as BatchSource).state === 'function' &&
    typeof (x as BatchSource).restore === 'function' && typeof (x as BatchSource)[Symbol.asyncIterator] === 'function';
}

/** What a task needs to encode and score examples. */
export interface TaskContext {
  tokenizer: Tokenizer;
  /** The model's label set (ids = classifier rows). */
  labels: LabelVocab;
  /** Second label set of joint models (intent + slots: the slots). */
  labels2?: LabelVocab;
  /** Longest encoded input in tokens, [CLS] and [SEP] included. */
  maxLength: number;
  /** Features for training: every example must carry targets the label set knows (else an error). */
  training?: boolean;
}

/** The model's outputs for each feature, in feature order (padding removed). */
export interface FeatureOutputs {
  /** `logits[f]`: token heads `[len * numLabels]`, sequence heads `[numLabels]`. */
  logits: Float32Array[];
  numLabels: number;
  /** Second head (intent + slots: the slot logits `[len * numLabels2]`). */
  logits2?: Float32Array[];
  numLabels2?: number;
  /** Mean loss over the labelled targets, or null when the features carry no labels. */
  loss: number | null;
}

/** The result of scoring a dataset. */
export interface Evaluation {
  /** Numbers a run can log, plot and select on: `loss`, `f1`, `accuracy`, ... */
  metrics: Record<string, number>;
  /** A human-readable report (for NER: seqeval's classification report). */
  report?: string;
  /** Task-specific data (for NER: the entity report and the predicted tags). */
  details?: unknown;
}

/**
 * A training task. `E` is the example type the readers produce (NER: `TaggedSentence`), `F` the
 * encoded feature type the loader batches.
 */
export interface Task<E = unknown, F extends Feature = Feature> {
  /** Short name (`'ner'`), written into logs and trainer_state.json. */
  readonly name: string;
  /** Metric used for the best checkpoint and early stopping when none is chosen (NER: `'f1'`). */
  readonly defaultMetric: string;
  /** Whether a larger value of `metric` is better (false for losses). */
  greaterIsBetter(metric: string): boolean;
  /** The label names present in `examples`, in the order a new head should use. */
  labelsOf(examples: readonly E[]): string[];
  /** Encodes examples (with their targets when they have them). */
  features(examples: readonly E[], ctx: TaskContext): F[];
  /** Turns outputs on `features` of `examples` into metrics and a report. */
  score(examples: readonly E[], features: readonly F[], outputs: FeatureOutputs, ctx: TaskContext): Evaluation;
  /**
   * Tasks that train from a batch source rather than examples (masked-LM: `MlmBatches`) set this and
   * evaluate a source with {@link evaluateBatches}; the Trainer then has no labels and no features.
   */
  readonly batchSourceOnly?: boolean;
  /** Scores the model on every batch of `batches` (a task with `batchSourceOnly`). */
  evaluateBatches?(model: BertPreTrainedModel, batches: BatchSource): Promise<Evaluation>;
}

/** What the Trainer and the CLI need of a model: a BERT with a head (the native engine). */
export type TaskModel = BertPreTrainedModel;
