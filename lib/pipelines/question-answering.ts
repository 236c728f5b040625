/**
 * The question-answering pipeline: a question and a context in, answers out in Transformers'
 * shape (`{ score, start, end, answer }`, character offsets into the context).
 *
 * ```ts
 * const qa = await pipeline('question-answering', 'out/squad');
 * await qa({ question: 'Who won?', context: 'The Broncos won the game.' });   // { score, start: 4, end: 11, answer: 'Broncos' }
 * await qa('Who won?', 'The Broncos won the game.', { topK: 3 });             // the 3 best, best first
 * ```
 *
 * Decoding is Transformers' QuestionAnsweringPipeline (select_starts_ends / decode_spans): the
 * context is cut into windows as in training (`maxLength`, `docStride`); in each window the start
 * and end logits of every token other than the context's and [CLS] are masked, each is
 * softmax-normalised, a span's score is start probability x end probability over the spans of at
 * most `maxAnswerLength` tokens; the `topK` best of all windows are returned. With
 * `alignToWords` (default) a span widens to whole words (pre-tokens), as there. With
 * `handleImpossibleAnswer` the empty answer competes with the score of [CLS] (its smallest over the
 * windows). `start`/`end` are JavaScript (UTF-16) offsets: `context.slice(start, end) === answer`.
 * As in Transformers, one answer comes back as an object and several (topK > 1) as a list; a list
 * of inputs gives one result per input.
 */
import { QA_DEFAULTS, type QaFeature, qaFeatures } from '../data/squad-features.js';
import { RootsError, describe, expectPositiveInt } from '../errors.js';
import type { HubOptions } from '../hub/cache.js';
import { BertForQuestionAnswering, type BertPreTrainedModel, type Device, type Precision } from '../models/bert.js';
import { forwardFeatures } from '../tasks/forward.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { loadPipelineModel, makePipeline, type PipelineSource } from './source.js';

/** A question about a context (Transformers' `question`/`context`). */
export interface QuestionAnsweringInput {
  question: string;
  context: string;
}

export interface QuestionAnsweringResult {
  score: number;
  /** `[start, end)` of the answer in the context (UTF-16 offsets). */
  start: number;
  end: number;
  answer: string;
}

export interface QuestionAnsweringCallOptions {
  /** Answers per input (default 1: a single object). */
  topK?: number;
  /** Longest answer in tokens (default 15, Transformers' pipeline default). */
  maxAnswerLength?: number;
  /** Let the empty answer compete (SQuAD 2.0-style models; default false). */
  handleImpossibleAnswer?: boolean;
  /** Widen spans to whole words (default true). */
  alignToWords?: boolean;
}

export interface QuestionAnsweringPipelineOptions extends QuestionAnsweringCallOptions, HubOptions {
  device?: Device;
  precision?: Precision;
  /** Windows per forward pass (default 16). */
  batchSize?: number;
  /** Window length in tokens (default min(384, max_position_embeddings)). */
  maxLength?: number;
  /** Context tokens shared by consecutive windows (default min(maxLength / 2, 128)). */
  docStride?: number;
}

export type QuestionAnsweringOutput = QuestionAnsweringResult | QuestionAnsweringResult[];

/** A callable question-answering pipeline. */
export interface QuestionAnsweringPipeline {
  (input: QuestionAnsweringInput, options?: QuestionAnsweringCallOptions): Promise<QuestionAnsweringOutput>;
  (question: string, context: string, options?: QuestionAnsweringCallOptions): Promise<QuestionAnsweringOutput>;
  (inputs: readonly QuestionAnsweringInput[], options?: QuestionAnsweringCallOptions): Promise<QuestionAnsweringOutput[]>;
  readonly task: 'question-answering';
  readonly model: BertPreTrainedModel;
  readonly tokenizer: Tokenizer;
  dispose(): void;
  [Symbol.dispose](): void;
}

function checkInput(x: unknown, i: number): QuestionAnsweringInput {
  const r = x as QuestionAnsweringInput;
  if (!r || typeof r !== 'object' || typeof r.question !== 'string' || typeof r.context !== 'string') {
    throw new RootsError('ERR_INVALID_ARG', `Expected { question: string, context: string } for input ${i} but received ${describe(x)}`);
  }
  if (r.question.trim() === '') throw new RootsError('ERR_INVALID_ARG', `Input ${i}: the question is empty`);
  if (r.context.trim() === '') throw new RootsError('ERR_INVALID_ARG', `Input ${i}: the context is empty`);
  return r;
}

/** Softmax over `[CLS]` (index 0) and the window's context tokens; other positions get 0. */
function maskedSoftmax(logits: Float32Array, f: QaFeature): Float64Array {
  const p = new Float64Array(f.contextEnd);
  let max = logits[0];
  for (let t = f.contextStart; t < f.contextEnd; t++) if (logits[t] > max) max = logits[t];
  let sum = Math.exp(logits[0] - max);
  p[0] = sum;
  for (let t = f.contextStart; t < f.contextEnd; t++) { p[t] = Math.exp(logits[t] - max); sum += p[t]; }
  for (let t = 0; t < f.contextEnd; t++) p[t] /= sum;
  return p;
}

/** The start and end characters of tokens `s..e` of a window, widened to whole words when asked. */
function spanChars(f: QaFeature, s: number, e: number, alignToWords: boolean): [number, number] {
  let a = s - f.contextStart;
  let b = e - f.contextStart;
  if (alignToWords) {
    const n = f.contextEnd - f.contextStart;
    while (a > 0 && f.wordIds[a - 1] === f.wordIds[a]) a--;
    while (b < n - 1 && f.wordIds[b + 1] === f.wordIds[b]) b++;
  }
  return [f.offsets[2 * a], f.offsets[2 * b + 1]];
}

/**
 * Transformers' select_starts_ends + decode_spans on the windows of one input: the `topK` best spans
 * of each window, merged, best first. Exported for tests.
 */
export function decodeSpans(
  context: string, features: readonly QaFeature[], startLogits: readonly Float32Array[], endLogits: readonly Float32Array[],
  options: Required<QuestionAnsweringCallOptions>,
): QuestionAnsweringResult[] {
  const answers: QuestionAnsweringResult[] = [];
  let minNull = 1_000_000;
  features.forEach((f, i) => {
    const ps = maskedSoftmax(startLogits[i], f);
    const pe = maskedSoftmax(endLogits[i], f);
    if (options.handleImpossibleAnswer) minNull = Math.min(minNull, ps[0] * pe[0]);
    const spans: { s: number; e: number; score: number }[] = [];
    for (let s = f.contextStart; s < f.contextEnd; s++) {
      for (let e = s; e < Math.min(f.contextEnd, s + options.maxAnswerLength); e++) spans.push({ s, e, score: ps[s] * pe[e] });
    }
    spans.sort((x, y) => y.score - x.score);
    for (const { s, e, score } of spans.slice(0, options.topK)) {
      const [start, end] = spanChars(f, s, e, options.alignToWords);
      answers.push({ score, start, end, answer: context.slice(start, end) });
    }
  });
  if (options.handleImpossibleAnswer) answers.push({ score: minNull, start: 0, end: 0, answer: '' });
  return answers.sort((x, y) => y.score - x.score).slice(0, options.topK);
}

export async function questionAnsweringPipeline(source: PipelineSource, options: QuestionAnsweringPipelineOptions = {}): Promise<QuestionAnsweringPipeline> {
  const batchSize = expectPositiveInt('batchSize', options.batchSize ?? 16);
  const loaded = await loadPipelineModel(source, BertForQuestionAnswering, 'a trained question-answering model', options,
    { task: 'question-answering', needs: 'a BertForQuestionAnswering' });
  const { model, tokenizer } = loaded;
  const maxLength = expectPositiveInt('maxLength', options.maxLength ?? Math.min(QA_DEFAULTS.maxLength, model.config.max_position_embeddings, tokenizer.modelMaxLength ?? Infinity));
  const docStride = options.docStride ?? Math.min(Math.floor(maxLength / 2), QA_DEFAULTS.docStride);

  const run = async (inputs: readonly QuestionAnsweringInput[], call: QuestionAnsweringCallOptions): Promise<QuestionAnsweringResult[][]> => {
    const o: Required<QuestionAnsweringCallOptions> = {
      topK: expectPositiveInt('topK', call.topK ?? options.topK ?? 1),
      maxAnswerLength: expectPositiveInt('maxAnswerLength', call.maxAnswerLength ?? options.maxAnswerLength ?? 15),
      handleImpossibleAnswer: call.handleImpossibleAnswer ?? options.handleImpossibleAnswer ?? false,
      alignToWords: call.alignToWords ?? options.alignToWords ?? true,
    };
    const examples = inputs.map((x, i) => ({ id: String(i), question: x.question, context: x.context, answers: [] }));
    const { features } = qaFeatures(tokenizer, examples, { maxLength, docStride });
    const out = await forwardFeatures(model, features, { batchSize, padTokenId: tokenizer.padTokenId ?? 0 });
    return inputs.map((x, i) => {
      const mine = features.map((f, k) => [f, k] as const).filter(([f]) => f.example === i);
      return decodeSpans(x.context, mine.map(([f]) => f), mine.map(([, k]) => out.logits[k]), mine.map(([, k]) => out.logits2![k]), o);
    });
  };

  const call = async (a: QuestionAnsweringInput | readonly QuestionAnsweringInput[] | string, b?: string | QuestionAnsweringCallOptions, c?: QuestionAnsweringCallOptions) => {
    let inputs: QuestionAnsweringInput[];
    let callOptions: QuestionAnsweringCallOptions;
    if (typeof a === 'string') {
      if (typeof b !== 'string') throw new RootsError('ERR_INVALID_ARG', `Expected the context as the second argument but received ${describe(b)}`);
      inputs = [checkInput({ question: a, context: b }, 0)];
      callOptions = c ?? {};
    } else {
      inputs = (Array.isArray(a) ? a : [a]).map((x, i) => checkInput(x, i));
      callOptions = (b as QuestionAnsweringCallOptions | undefined) ?? {};
    }
    const results = (await run(inputs, callOptions)).map((r) => (r.length === 1 ? r[0] : r));
    return Array.isArray(a) ? results : results[0];
  };
  return makePipeline<QuestionAnsweringPipeline>('question-answering', loaded, call);
}
