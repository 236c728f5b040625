/**
 * The tasks `roots serve` answers (ner, text-classification, intent-slots, fill-mask,
 * question-answering, relation-classification, and zero-shot-classification for a folder trained with
 * --task prompt-classification), one row each: the architectures (config.json) it serves, the model
 * class it loads, how the pipeline is made, and how a request's `inputs` and `parameters`
 * (Transformers-pipeline style, snake_case as the Hugging Face Inference API has them, camelCase
 * accepted too) become the pipeline's inputs and call options. Every check throws a ServeError whose
 * message names the input or parameter and what was expected.
 *
 * A new task is one more row here, or from outside `registerServedTask({ task, architectures, Class,
 * create: (src, o) => somePipeline(src, o), input, parameters })` before createServer.
 */
import { type RelationSpan, checkSpans, parseMarkedText } from '../data/semeval.js';
import { RootsError, describe } from '../errors.js';
import {
  BertForIntentAndSlots, BertForMaskedLM, BertForQuestionAnswering, BertForRelationClassification, BertForSequenceClassification,
  BertForTokenClassification, type BertPreTrainedModel, type FromPretrainedOptions,
} from '../models/bert.js';
import type { BertConfig } from '../models/config.js';
import { AGGREGATION_STRATEGIES } from '../pipelines/aggregation.js';
import { fillMaskPipeline } from '../pipelines/fill-mask.js';
import { intentSlotsPipeline } from '../pipelines/intent-slots.js';
import { nerPipeline } from '../pipelines/ner.js';
import { questionAnsweringPipeline } from '../pipelines/question-answering.js';
import { relationPipeline } from '../pipelines/relation.js';
import type { PipelineSource } from '../pipelines/source.js';
import { textClassificationPipeline } from '../pipelines/text-classification.js';
import { zeroShotPipeline } from '../pipelines/zero-shot.js';

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
  /** When set, the row serves only the configs it accepts (and is chosen before a row without one). */
  matches?(config: BertConfig): boolean;
  /** The labels GET /v1/models lists, when they are not config.json's id2label (null: none). */
  labels?(config: BertConfig): readonly string[] | null;
  /** The class loaded for the base model (its head). */
  Class: { fromPretrained(dir: string, o: FromPretrainedOptions): Promise<BertPreTrainedModel> };
  /** The pipeline over a loaded model (and adapter); `batchSize`: the server's batch size. */
  create(source: PipelineSource, options: { batchSize: number }): Promise<ServedPipeline>;
  /** One input as the pipeline takes it (`i`: its index in the request; `config`: the served model's), or a ServeError. */
  input(value: unknown, i: number, config: BertConfig): unknown;
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
    task: 'fill-mask', architectures: ['BertForMaskedLM', 'BertForPreTraining'], Class: BertForMaskedLM, labels: () => null,
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
  {
    task: 'relation-classification', architectures: ['BertForRelationClassification'], Class: BertForRelationClassification,
    // Entity types unknown to a typed-marker model's tokenizer surface when the batch is encoded: the request's fault.
    create: async (src, o) => inputErrorsAre400(await relationPipeline(src, { batchSize: o.batchSize }) as ServedPipeline),
    input: relationInput,
    parameters: { top_k: topK },
  },
  {
    // A masked-LM folder trained with --task prompt-classification keeps its template and verbalizer
    // (config.json prompt_template, prompt_verbalizer); other masked-LM folders are fill-mask.
    task: 'zero-shot-classification', architectures: ['BertForMaskedLM', 'BertForPreTraining'], Class: BertForMaskedLM,
    matches: (config) => typeof config.prompt_template === 'string',
    labels: (config) => Object.keys((config.prompt_verbalizer as Record<string, unknown> | undefined) ?? {}),
    create: async (src, o) => inputErrorsAre400(await zeroShotPipeline(src, { batchSize: o.batchSize }) as unknown as ServedPipeline),
    input: textInput,
    parameters: {
      candidate_labels: { option: 'candidateLabels', check: (v, name) => {
        if (!Array.isArray(v) || v.length === 0 || v.some((x) => typeof x !== 'string' || x.trim() === '')) {
          throw bad(`parameters.${name}: expected a non-empty array of label words but received ${describe(v)}`);
        }
        if (new Set(v).size !== v.length) throw bad(`parameters.${name}: the labels must be distinct but received ${describe(v)}`);
        return v;
      } },
    },
  },
];

/**
 * A pipeline whose input errors (ERR_INVALID_ARG, ERR_PARSE, ERR_CONFIG: found while encoding the
 * inputs, before the model runs) answer 400. The batcher retries a failed batch one request at a
 * time, so the error reaches only the request that caused it.
 */
function inputErrorsAre400(pipe: ServedPipeline): ServedPipeline {
  const call = async (inputs: never[], options?: never) => {
    try {
      return await pipe(inputs, options);
    } catch (e) {
      if (e instanceof RootsError && ['ERR_INVALID_ARG', 'ERR_PARSE', 'ERR_CONFIG'].includes(e.code)) throw bad(e.message);
      throw e;
    }
  };
  return Object.assign(call, { labels: pipe.labels, dispose: () => pipe.dispose() });
}

/** One entity of a relation input: [start, end] or {start, end, type?}. */
function relationSpan(v: unknown, where: string, typed: boolean): RelationSpan {
  let out: RelationSpan | undefined;
  if (Array.isArray(v) && v.length === 2 && v.every((x) => Number.isInteger(x))) out = { start: v[0], end: v[1] };
  else if (v && typeof v === 'object' && !Array.isArray(v)) {
    const { start, end, type, ...rest } = v as Record<string, unknown>;
    const extra = Object.keys(rest);
    if (extra.length) throw bad(`${where}: unknown field ${JSON.stringify(extra[0])} (a span is [start, end] or {"start", "end", "type"})`);
    if (type !== undefined && typeof type !== 'string') throw bad(`${where}.type: expected an entity type name but received ${describe(type)}`);
    if (Number.isInteger(start) && Number.isInteger(end)) out = { start: start as number, end: end as number, ...(type === undefined ? {} : { type }) };
  }
  if (!out) throw bad(`${where}: expected [start, end] or {"start", "end", "type"} (integer string offsets, end exclusive) but received ${describe(v)}`);
  if (typed && out.type === undefined) throw bad(`${where}: this model marks entities with their types ([E1:PER]); give {"start", "end", "type"}`);
  return out;
}

/** A relation input: a marked text (`<e1>…</e1>`, `[E1]…[/E1]`) or {"text", "e1", "e2"}; checked here, before it queues. */
function relationInput(value: unknown, i: number, config: BertConfig): unknown {
  const where = `inputs[${i}]`;
  const typed = config.relation_markers === 'typed';
  const parsed = (f: () => unknown) => {
    try { return f(); } catch (e) { throw e instanceof RootsError ? bad(e.message) : e; }
  };
  if (typeof value === 'string') {
    textInput(value, i);
    if (typed) throw bad(`${where}: this model marks entities with their types ([E1:PER]), which a marked text cannot give; send {"text", "e1": {"start", "end", "type"}, "e2": {...}}`);
    return parsed(() => parseMarkedText(value, where));
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw bad(`${where}: expected a marked text ("<e1>Paris</e1> is in <e2>France</e2>") or {"text", "e1", "e2"} but received ${describe(value)}`);
  }
  const { text, e1, e2, ...rest } = value as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length) throw bad(`${where}: unknown field ${JSON.stringify(extra[0])} (expected {"text", "e1", "e2"})`);
  const ex = { text: textInput(text, i), e1: relationSpan(e1, `${where}.e1`, typed), e2: relationSpan(e2, `${where}.e2`, typed) };
  parsed(() => checkSpans(ex.text, ex.e1, ex.e2, where));
  return ex;
}

const rows: ServedTask[] = [...builtIn];

/** Adds (or replaces, by task name) a task the server answers. */
export function registerServedTask(row: ServedTask): void {
  const i = rows.findIndex((r) => r.task === row.task);
  if (i >= 0) rows[i] = row;
  else rows.push(row);
}

/** The served tasks. */
export function servedTasks(): readonly ServedTask[] { return rows; }

/**
 * The row serving a folder of `config` whose architecture is `architecture` (config.json's
 * architectures[0]): a row whose `matches` accepts the config first, else one without `matches`;
 * an error naming what is served otherwise.
 */
export function taskForArchitecture(architecture: string | undefined, where: string, config: BertConfig): ServedTask {
  const candidates = rows.filter((r) => architecture !== undefined && r.architectures.includes(architecture));
  const row = candidates.find((r) => r.matches?.(config)) ?? candidates.find((r) => !r.matches);
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
