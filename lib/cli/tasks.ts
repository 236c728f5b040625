/**
 * The tasks of `roots train`, one row each: the data it reads, the flags only it takes, the model
 * class it trains, its label sets, the Trainer's task and what results.json says about it. The
 * command itself (train.ts) is the same for every row; a new task (masked-language-model
 * pretraining, question answering) is one more row here.
 *
 * `roots eval` and `roots predict` pick their row from a trained folder's config.json
 * (`architectures`), with their own per-task tables keyed by the same names (eval.ts, predict.ts).
 */
import type { TaggedSentence, IntentSlotExample, TextExample } from '../data/readers.js';
import type { QaExample } from '../data/squad.js';
import { detectScheme, type TagScheme } from '../data/tagging.js';
import { LabelVocab } from '../data/labels.js';
import { RootsError } from '../errors.js';
import {
  BertForIntentAndSlots, BertForQuestionAnswering, BertForSequenceClassification, BertForTokenClassification,
  type BertPreTrainedModel, type FromPretrainedOptions,
} from '../models/bert.js';
import type { BertConfig } from '../models/config.js';
import { labelsOf } from '../models/config.js';
import { convertSentences, nerTask } from '../tasks/ner.js';
import { INTENT_SLOTS_METRICS, IntentSlotsTask } from '../tasks/intent-slots.js';
import { MULTI_LABEL_METRICS, TEXT_CLASSIFICATION_METRICS, TextClassificationTask, parseClassWeights } from '../tasks/text-classification.js';
import type { Task } from '../tasks/task.js';
import { QUESTION_ANSWERING_METRICS, QuestionAnsweringTask } from '../tasks/question-answering.js';
import type { CliIO } from './common.js';
import { promptClassification } from './prompt.js';
import { relationClassification } from './relation.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { readQuestions, readTagged, readTexts, readUtterances, type DataFlags } from './data.js';
import type { TrainCommandOptions, TrainSummary } from './train.js';

export type CliTaskName = 'ner' | 'text-classification' | 'intent-slots' | 'question-answering' | 'relation-classification';

/** The flags only some tasks take; giving one to another task is an error naming its tasks. */
export const TASK_FLAGS = [
  'tokenColumn', 'tagColumn', 'scheme', 'labelAllTokens', 'textColumn', 'textPairColumn', 'labelColumn', 'labelSeparator',
  'trecLabels', 'multiLabel', 'threshold', 'classWeights', 'slotLossWeight', 'template', 'verbalizer', 'shots', 'demonstrations',
  'docStride', 'maxAnswerLength', 'typedMarkers', 'relationPooling',
] as const;
export type TaskFlag = (typeof TASK_FLAGS)[number];

/** The splits of a run (dev and test optional). */
export interface Splits<E> {
  train: E[];
  dev: E[] | null;
  test: E[] | null;
}

/** What a row makes of the data of one run. */
export interface TaskPlan<E> {
  /** The data as it is trained on (NER: converted to one tag scheme). */
  data: Splits<E>;
  /**
   * Labels of the head (intent-slots: the intents), in the order a fresh head takes them; none for
   * a head without labels (masked-language modelling predicts the vocabulary).
   */
  labels?: string[];
  /** Labels of a second head (intent-slots: the slot tags). */
  slotLabels?: string[];
  /** The metrics `--metric` may name, and what to call them in the error. */
  metrics: { kind: string; names: readonly string[] };
  /** The Trainer's task. */
  task: Task<E>;
  /** Model options besides the label sets; `covers`: the folder's label sets cover the data's. */
  modelOptions(covers: boolean): Pick<FromPretrainedOptions, 'config' | 'problemType'>;
  /** Fields of results.json (and `--json`) besides the shared ones. */
  summary(model: BertPreTrainedModel): Partial<TrainSummary>;
  /** Metrics of the closing line. */
  headline: readonly string[];
  /** Fits the loaded model and tokenizer to the task (relation classification: entity markers in both); may replace (and dispose) the model. */
  prepare?(model: BertPreTrainedModel, tokenizer: Tokenizer): { model: BertPreTrainedModel; tokenizer: Tokenizer };
}

/** A model class as the rows use it. */
export type CliModelClass = { readonly head: string; fromPretrained(dir: string, options?: FromPretrainedOptions): Promise<BertPreTrainedModel> };

export interface TaskRow<E = unknown> {
  readonly name: CliTaskName | TrainOnlyTaskName;
  /** The model class it trains, and the architecture its folders name in config.json. */
  readonly model: CliModelClass;
  readonly architecture: string;
  /** What --train, --dev, --test and --data take (for messages). */
  readonly data: string;
  /** The task-specific flags it takes. */
  readonly flags: readonly TaskFlag[];
  /** Default --max-length (capped by the model's max_position_embeddings). */
  readonly maxLength: number;
  /** Every metric it may report (the data narrows them: TaskPlan.metrics). */
  readonly metricNames: readonly string[];
  /** Reads one split (`flag` names it in errors). */
  read(flag: string, path: string, o: DataFlags): Promise<E[]>;
  /** Checks its flags against the data, converts the data, picks the label sets. */
  plan(data: Splits<E>, o: TrainCommandOptions, io: CliIO): TaskPlan<E>;
}

function all<E>(d: Splits<E>): E[] {
  return [...d.train, ...(d.dev ?? []), ...(d.test ?? [])];
}

const NER_METRICS = ['f1', 'precision', 'recall', 'accuracy', 'loss'] as const;

const ner: TaskRow<TaggedSentence> = {
  name: 'ner', model: BertForTokenClassification, architecture: 'BertForTokenClassification', data: 'a CoNLL or JSONL file of tagged tokens',
  flags: ['tokenColumn', 'tagColumn', 'scheme', 'labelAllTokens'], maxLength: 256, metricNames: NER_METRICS,
  read: readTagged,
  plan(d, o, io) {
    // One tag scheme for every split (CoNLL-2003's IOB1 becomes IOB2: the same entities).
    const found = detectScheme(d.train.map((s) => s.tags));
    const scheme: TagScheme = o.scheme === 'keep' ? (found ?? 'IOB2') : (o.scheme ?? 'IOB2');
    let data = d;
    if (o.scheme !== 'keep') {
      data = { train: convertSentences(d.train, scheme), dev: d.dev && convertSentences(d.dev, scheme), test: d.test && convertSentences(d.test, scheme) };
      if (found && found !== scheme) io.err(`Converted the tags from ${found} to ${scheme} (--scheme keep trains on them as they are)\n`);
    }
    const task = nerTask({ labelAllTokens: o.labelAllTokens });
    return {
      data, labels: task.labelsOf(all(data)), task,
      metrics: { kind: 'ner', names: NER_METRICS },
      modelOptions: () => ({ config: { tag_scheme: scheme } }),
      summary: () => ({ scheme }),
      headline: ['precision', 'recall', 'f1'],
    };
  },
};

const textClassification: TaskRow<TextExample> = {
  name: 'text-classification', model: BertForSequenceClassification, architecture: 'BertForSequenceClassification',
  data: 'a TSV, CSV, JSONL or TREC file of labelled texts',
  flags: ['textColumn', 'textPairColumn', 'labelColumn', 'labelSeparator', 'trecLabels', 'multiLabel', 'threshold', 'classWeights'], maxLength: 128,
  metricNames: [...new Set([...TEXT_CLASSIFICATION_METRICS, ...MULTI_LABEL_METRICS])],
  read: readTexts,
  plan(data, o) {
    const examples = all(data);
    const multiLabel = o.multiLabel === true || o.labelSeparator !== undefined || examples.some((e) => Array.isArray(e.label));
    if (o.threshold !== undefined && !multiLabel) throw new RootsError('ERR_INVALID_ARG', '--threshold is for multi-label classification (--multi-label)');
    const task = new TextClassificationTask({ multiLabel, threshold: o.threshold });
    const labels = task.labelsOf(examples);
    if (labels.length < (multiLabel ? 1 : 2)) {
      throw new RootsError('ERR_PARSE', `--train ${o.train}: found ${labels.length} label${labels.length === 1 ? '' : 's'} (${labels.join(', ')}); classification needs at least two`);
    }
    const classWeights = o.classWeights === undefined ? undefined : parseClassWeights(o.classWeights, new LabelVocab(labels), data.train.map((e) => e.label));
    return {
      data, labels, task,
      metrics: multiLabel ? { kind: 'multi-label', names: MULTI_LABEL_METRICS } : { kind: 'text-classification', names: TEXT_CLASSIFICATION_METRICS },
      modelOptions: (covers) => ({
        problemType: multiLabel ? 'multi_label_classification' : 'single_label_classification',
        config: classWeights ? { class_weights: classWeights } : covers ? {} : { class_weights: undefined },  // weights of another label set do not apply
      }),
      summary: () => ({ multiLabel }),
      headline: multiLabel ? ['f1_micro', 'exact_match'] : ['accuracy', 'f1_macro'],
    };
  },
};

const intentSlots: TaskRow<IntentSlotExample> = {
  name: 'intent-slots', model: BertForIntentAndSlots, architecture: 'BertForIntentAndSlots',
  data: 'a folder with seq.in, seq.out and label', flags: ['classWeights', 'slotLossWeight'], maxLength: 128, metricNames: INTENT_SLOTS_METRICS,
  read: readUtterances,
  plan(data, o) {
    const task = new IntentSlotsTask();
    const examples = all(data);
    const labels = task.labelsOf(examples);
    if (labels.length < 2) throw new RootsError('ERR_PARSE', `--train ${o.train}: found ${labels.length} intent (${labels.join(', ')}); classification needs at least two`);
    const classWeights = o.classWeights === undefined ? undefined : parseClassWeights(o.classWeights, new LabelVocab(labels), data.train.map((e) => e.intent));
    return {
      data, labels, slotLabels: task.slotLabelsOf(examples), task,
      metrics: { kind: 'intent-slots', names: INTENT_SLOTS_METRICS },
      modelOptions: (covers) => ({
        config: {
          ...(classWeights ? { class_weights: classWeights } : covers ? {} : { class_weights: undefined }),
          ...(o.slotLossWeight !== undefined ? { slot_loss_weight: o.slotLossWeight } : {}),
        },
      }),
      summary: (model) => ({ slotLabels: labelsOf(model.config, 'slot_id2label') }),
      headline: ['intent_accuracy', 'slot_f1', 'exact_match'],
    };
  },
};

const questionAnswering: TaskRow<QaExample> = {
  name: 'question-answering', model: BertForQuestionAnswering, architecture: 'BertForQuestionAnswering',
  data: 'a SQuAD JSON file, or JSONL with id, question, context and answers', flags: ['docStride', 'maxAnswerLength'], maxLength: 384,
  metricNames: QUESTION_ANSWERING_METRICS,
  read: readQuestions,
  plan(data, o, io) {
    const task = new QuestionAnsweringTask({ docStride: o.docStride, maxAnswerLength: o.maxAnswerLength, log: (m) => io.err(`${m}\n`) });
    return {
      data, task, metrics: { kind: 'question-answering', names: QUESTION_ANSWERING_METRICS },
      modelOptions: () => ({}), summary: () => ({}), headline: ['exact_match', 'f1'],
    };
  },
};

/** Every task, by the name `--task` takes. */
export const TASKS: Readonly<Record<CliTaskName, TaskRow>> = { ner, 'text-classification': textClassification, 'intent-slots': intentSlots, 'question-answering': questionAnswering,
  'relation-classification': relationClassification as TaskRow,
};

/** Tasks `roots train` runs whose folders eval and predict do not take as their own (prompt.ts). */
export type TrainOnlyTaskName = 'prompt-classification';
const TRAIN_ONLY: Readonly<Record<TrainOnlyTaskName, TaskRow>> = { 'prompt-classification': promptClassification as TaskRow };

/** Other names `--task` accepts. */
const ALIASES: Readonly<Record<string, CliTaskName>> = { 'token-classification': 'ner' };

export const TASK_CHOICES = [...Object.keys(TASKS), ...Object.keys(TRAIN_ONLY), ...Object.keys(ALIASES)] as readonly string[];

/** The row of a `--task` value (default ner). */
export function taskRow(name: string | undefined): TaskRow {
  const key = ALIASES[name ?? 'ner'] ?? name ?? 'ner';
  const row = TASKS[key as CliTaskName] ?? TRAIN_ONLY[key as TrainOnlyTaskName];
  if (!row) throw new RootsError('ERR_INVALID_ARG', `--task ${name} is not supported (${[...Object.keys(TASKS), ...Object.keys(TRAIN_ONLY)].join(', ')})`);
  return row;
}

/** What a trained folder is for: a `roots train` task, or masked-LM (`roots pretrain`; fill-mask). */
export type ModelTaskName = CliTaskName | 'mlm';

/** Architectures `roots pretrain` makes or continues (a Transformers BertForPreTraining loads as BertForMaskedLM). */
const MLM_ARCHITECTURES = ['BertForMaskedLM', 'BertForPreTraining'];

/** The task a trained model folder is for, from config.json's architectures (or its label sets). */
export function modelTask(config: BertConfig, dir: string): ModelTaskName {
  const arch = config.architectures?.[0];
  const row = Object.values(TASKS).find((r) => r.architecture === arch);
  if (row) return row.name as CliTaskName;  // TASKS holds no train-only row
  if (arch && MLM_ARCHITECTURES.includes(arch)) return 'mlm';
  if (!arch) return config.slot_id2label ? 'intent-slots' : 'ner';
  throw new RootsError('ERR_CONFIG', `--model ${dir} holds a ${arch} (config.json's architectures); roots eval and predict take ${[...Object.values(TASKS).map((r) => r.architecture), 'BertForMaskedLM'].join(', ')} models`);
}

/** `--task-flag` form of an option key. */
export function flagName(key: string): string {
  return '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

/** Throws a one-line error for a task-specific flag the task does not take, naming the tasks that do. */
export function checkTaskFlags(row: TaskRow, o: Partial<Record<TaskFlag, unknown>>, command = '--task'): void {
  const foreign = TASK_FLAGS.find((k) => o[k] !== undefined && !row.flags.includes(k));
  if (!foreign) return;
  const owners = [...Object.values(TASKS), ...Object.values(TRAIN_ONLY)].filter((r) => r.flags.includes(foreign)).map((r) => r.name);
  const where = command === '--task' ? `--task ${row.name}` : `${/^[aeiou]/.test(row.name) ? 'an' : 'a'} ${row.name} model`;
  throw new RootsError('ERR_INVALID_ARG', `${flagName(foreign)} is for ${command === '--task' ? '--task ' : ''}${owners.join(' and ')}${command === '--task' ? '' : ' models'}, not for ${where}`);
}
