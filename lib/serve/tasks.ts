/**
 * The tasks `roots serve` answers (ner, text-classification, intent-slots, fill-mask,
 * question-answering), one row each: the architectures (config.json) it serves, the model
 * class it loads, how the pipeline is made, and how a request's `inputs` and `parameters`
 * (Transformers-pipeline style, snake_case as the Hugging Face Inference API has them, camelCase
 * accepted too) become the pipeline's inputs and call options. Every check throws a ServeError whose
 * message names the input or parameter and what was expected.
 *
 * A new task is one more row here, or from outside `registerServedTask({ task, architectures, Class,
 * create: (src, o) => somePipeline(src, o), input, parameters })` before createServer.
 */
import { RootsError, describe } from '../errors.js';
import {
  BertForIntentAndSlots, BertForMaskedLM, BertForQuestionAnswering, BertForSequenceClassification, BertForTokenClassification,
  type BertPreTrainedModel, type FromPretrainedOptions,
} from '../models/bert.js';
import { AGGREGATION_STRATEGIES } from '../pipelines/aggregation.js';
import { fillMaskPipeline } from '../pipelines/fill-mask.js';
import { intentSlotsPipeline } from '../pipelines/intent-slots.js';
import { nerPipeline } from '../pipelines/ner.js';
import { questionAnsweringPipeline } from '../pipelines/question-answering.js';
import type { PipelineSource } from '../pipelines/source.js';
import { textClassificationPipeline } from '../pipelines/text-classification.js';

/** An error with the HTTP status it answers with. */
export class ServeError extends RootsError {
  readonly statusCode: number;
  constructor(statusCode: number, message: string) {
    super(statusCode === 503 ? 'ERR_OVERLOADED' : 'ERR_INVALID_ARG', message);
    this.name = 'ServeError';
    this.statusCode = statusCode;
  }
}

/** A loaded pipeline as the server holds it: called with a list of inputs and call options. */
export interface ServedPipeline {
  (inputs: never[], options?: never): Promise<unknown>;
  readonly labels?: readonly string[];
  readonly intents?: readonly string[];
  readonly slotLabels?: readonly string[];
  dispose(): void;
}

export interface ServedTask {
  /** The task name requests and /v1/models see (Transformers' pipeline names). */
  task: string;
  /** config.json `architectures[0]` values this row serves. */
  architectures: readonly string[];
  /** The class loaded for the base model (its head). */
  Class: { fromPretrained(dir: string, o: FromPretrainedOptions): Promise<BertPreTrainedModel> };
  /** The pipeline over a loaded model (and adapter); `batchSize`: the server's batch size. */
  create(source: PipelineSource, options: { batchSize: number }): Promise<ServedPipeline>;
  /** One input as the pipeline takes it (`i`: its index in the request), or a ServeError. */
  input(value: unknown, i: number): unknown;
  /** Request parameters by name: the pipeline option each sets and its check. */
  parameters: Record<string, { option: string; check(value: unknown, name: string): unknown }>;
}

const bad = (message: string) => new ServeError(400, message);

function textInput(value: unknown, i: number): string {
  if (typeof value !== 'string') throw bad(`inputs[${i}]: expected a string but received ${describe(value)}`);
  if (value.trim() === '') throw bad(`inputs[${i}] is empty: give a text with at least one non-space character`);
  return value;
}

const topK = { option: 'topK', check: (v: unknown, name: string) => {
  if (v === null) return null;
  if (!Number.isInteger(v) || (v as number) < 1) throw bad(`parameters.${name}: expected a positive integer (or null: all) but received ${describe(v)}`);
  return v;
} };

const flag = { option: '', check: (v: unknown, name: string) => {
  if (typeof v !== 'boolean') throw bad(`parameters.${name}: expected true or false but received ${describe(v)}`);
  return v;
} };

const builtIn: ServedTask[] = [
  {
    task: 'ner', architectures: ['BertForTokenClassification'], Class: BertForTokenClassification,
    // Whole words, as roots trains them and `roots predict` answers; aggregation_strategy overrides it.
    create: (src, o) => nerPipeline(src, { batchSize: o.batchSize, aggregation: 'first' }) as Promise<ServedPipeline>,
    input: textInput,
    parameters: {
      aggregation_strategy: { option: 'aggregation', check: (v, name) => {
        if (!AGGREGATION_STRATEGIES.includes(v as never)) throw bad(`parameters.${name}: expected one of ${AGGREGATION_STRATEGIES.join(', ')} but received ${describe(v)}`);
        return v;
      } },
      ignore_labels: { option: 'ignoreLabels', check: (v, name) => {
        if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw bad(`parameters.${name}: expected an array of label names but received ${describe(v)}`);
        return v;
      } },
    },
  },
  {
    task: 'text-classification', architectures: ['BertForSequenceClassification'], Class: BertForSequenceClassification,
    create: (src, o) => textClassificationPipeline(src, { batchSize: o.batchSize }) as Promise<ServedPipeline>,
    input: (value, i) => {
      if (typeof value === 'string') return textInput(value, i);
      if (value && typeof value === 'object' && !Array.isArray(value)) {
        const { text, text_pair: pair, textPair, ...rest } = value as Record<string, unknown>;
        const extra = Object.keys(rest);
        if (extra.length) throw bad(`inputs[${i}]: unknown field ${JSON.stringify(extra[0])} (a pair is {"text", "text_pair"})`);
        const second = pair ?? textPair;
        if (second !== undefined && typeof second !== 'string') throw bad(`inputs[${i}].text_pair: expected a string but received ${describe(second)}`);
        return second === undefined ? { text: textInput(text, i) } : { text: textInput(text, i), textPair: second };
      }
      throw bad(`inputs[${i}]: expected a string or {"text", "text_pair"} but received ${describe(value)}`);
    },
    parameters: {
      top_k: topK,
      function_to_apply: { option: 'functionToApply', check: (v, name) => {
        if (!['softmax', 'sigmoid', 'none'].includes(v as string)) throw bad(`parameters.${name}: expected softmax, sigmoid or none but received ${describe(v)}`);
        return v;
      } },
      threshold: { option: 'threshold', check: (v, name) => {
        if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw bad(`parameters.${name}: expected a number in [0, 1] but received ${describe(v)}`);
        return v;
      } },
    },
  },
  {
    task: 'intent-slots', architectures: ['BertForIntentAndSlots'], Class: BertForIntentAndSlots,
    create: (src, o) => intentSlotsPipeline(src, { batchSize: o.batchSize }) as Promise<ServedPipeline>,
    input: textInput,
    parameters: {},
  },
  {
    task: 'fill-mask', architectures: ['BertForMaskedLM', 'BertForPreTraining'], Class: BertForMaskedLM,
    create: (src, o) => fillMaskPipeline(src, { batchSize: o.batchSize }) as Promise<ServedPipeline>,
    input: textInput,
    parameters: { top_k: topK },
  },
  {
    task: 'question-answering', architectures: ['BertForQuestionAnswering'], Class: BertForQuestionAnswering,
    create: (src, o) => questionAnsweringPipeline(src, { batchSize: o.batchSize }) as Promise<ServedPipeline>,
    input: (value, i) => {
      if (!value || typeof value !== 'object' || Array.isArray(value)) throw bad(`inputs[${i}]: expected {"question", "context"} but received ${describe(value)}`);
      const { question, context, ...rest } = value as Record<string, unknown>;
      const extra = Object.keys(rest);
      if (extra.length) throw bad(`inputs[${i}]: unknown field ${JSON.stringify(extra[0])} (expected {"question", "context"})`);
      for (const [k, v] of [['question', question], ['context', context]] as const) {
        if (typeof v !== 'string') throw bad(`inputs[${i}].${k}: expected a string but received ${describe(v)}`);
        if (v.trim() === '') throw bad(`inputs[${i}].${k} is empty`);
      }
      return { question, context };
    },
    parameters: {
      top_k: topK,
      max_answer_len: { option: 'maxAnswerLength', check: (v, name) => {
        if (!Number.isInteger(v) || (v as number) < 1) throw bad(`parameters.${name}: expected a positive integer but received ${describe(v)}`);
        return v;
      } },
      handle_impossible_answer: { ...flag, option: 'handleImpossibleAnswer' },
      align_to_words: { ...flag, option: 'alignToWords' },
    },
  },
];

const rows: ServedTask[] = [...builtIn];

/** Adds (or replaces, by task name) a task the server answers. */
export function registerServedTask(row: ServedTask): void {
  const i = rows.findIndex((r) => r.task === row.task);
  if (i >= 0) rows[i] = row;
  else rows.push(row);
}

/** The served tasks. */
export function servedTasks(): readonly ServedTask[] { return rows; }

/** The row serving `architecture` (config.json's architectures[0]); an error naming what is served otherwise. */
export function taskForArchitecture(architecture: string | undefined, where: string): ServedTask {
  const row = rows.find((r) => architecture !== undefined && r.architectures.includes(architecture));
  if (row) return row;
  const served = rows.flatMap((r) => r.architectures.map((a) => `${a} (${r.task})`)).join(', ');
  throw new RootsError('ERR_CONFIG', `${where}: ${architecture ? `architectures names ${architecture}` : 'config.json names no architectures'}; roots serve answers ${served}`);
}

const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** A request's parameters as the pipeline's call options (unknown names are errors naming the known ones). */
export function callOptions(row: ServedTask, parameters: unknown): Record<string, unknown> | undefined {
  if (parameters === undefined || parameters === null) return undefined;
  if (typeof parameters !== 'object' || Array.isArray(parameters)) throw bad(`parameters: expected an object but received ${describe(parameters)}`);
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(parameters)) {
    const key = Object.keys(row.parameters).find((k) => k === name || camel(k) === name);
    if (!key) {
      const known = Object.keys(row.parameters);
      throw bad(`parameters.${name} is not a ${row.task} parameter (${known.length ? `known: ${known.join(', ')}` : 'it takes none'})`);
    }
    out[row.parameters[key].option] = row.parameters[key].check(value, name);
  }
  return Object.keys(out).length ? out : undefined;
}
