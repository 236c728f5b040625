/**
 * Extractive question answering (BertForQuestionAnswering): SQuAD-style examples, windows as
 * Transformers builds them (data/squad-features.ts), answers decoded from start/end logits, and
 * the official SQuAD v1.1 exact match and F1 (metrics/squad.ts).
 *
 * Decoding for evaluation is run_qa.py's postprocess_qa_predictions: in every window of an example
 * the `nBest` best start and end tokens, every pair with end >= start and at most `maxAnswerLength`
 * tokens, scored start logit + end logit, merged across the windows; the answer is the context's
 * characters from the start token's first to the end token's last. Candidates are taken among the
 * window's context tokens only (Transformers ranks every position, question and padding included,
 * and drops those afterwards, so it can keep fewer than `nBest`).
 */
import { LabelVocab } from '../data/labels.js';
import { QA_DEFAULTS, type QaFeature, qaFeatures } from '../data/squad-features.js';
import type { QaExample } from '../data/squad.js';
import { RootsError, expectPositiveInt } from '../errors.js';
import { squadScores, type SquadScores } from '../metrics/squad.js';
import type { BertPreTrainedModel } from '../models/bert.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { forwardFeatures } from './forward.js';
import type { Evaluation, FeatureOutputs, Task, TaskContext } from './task.js';

export interface QuestionAnsweringTaskOptions {
  /** Context tokens shared by consecutive windows (default 128). */
  docStride?: number;
  /** Longest answer in tokens (default 30, run_qa.py's). */
  maxAnswerLength?: number;
  /** Start and end candidates per window (default 20). */
  nBest?: number;
  /** Where notices go (examples left out of training); default console.warn. */
  log?: (message: string) => void;
}

/** One candidate answer. */
export interface QaCandidate {
  text: string;
  /** `[start, end)` in the context (UTF-16). */
  start: number;
  end: number;
  /** start logit + end logit */
  score: number;
  startLogit: number;
  endLogit: number;
}

/** What `score` puts into `Evaluation.details`. */
export interface QuestionAnsweringDetails {
  /** SQuAD's predictions file: question id -> answer text. */
  predictions: Record<string, string>;
  /** The n best candidates of each question, best first. */
  nbest: Record<string, QaCandidate[]>;
  scores: SquadScores;
}

export const QUESTION_ANSWERING_METRICS = ['exact_match', 'f1'] as const;

export interface DecodeOptions {
  nBest?: number;
  maxAnswerLength?: number;
}

/** Indices of the `k` largest of `values[from..to)`, largest first (ties: lower index first). */
function topIndices(values: Float32Array, from: number, to: number, k: number): number[] {
  const idx: number[] = [];
  for (let i = from; i < to; i++) idx.push(i);
  idx.sort((a, b) => values[b] - values[a] || a - b);
  return idx.slice(0, k);
}

/**
 * The n-best answers of each example from its windows' start and end logits (see the module doc);
 * `startLogits[f]` and `endLogits[f]` belong to `features[f]` (at least its length, extra padding
 * ignored).
 */
export function decodeAnswers(examples: readonly QaExample[], features: readonly QaFeature[], startLogits: readonly Float32Array[], endLogits: readonly Float32Array[], options: DecodeOptions = {}): QaCandidate[][] {
  const nBest = expectPositiveInt('nBest', options.nBest ?? QA_DEFAULTS.nBest);
  const maxLen = expectPositiveInt('maxAnswerLength', options.maxAnswerLength ?? QA_DEFAULTS.maxAnswerLength);
  const prelim: QaCandidate[][] = examples.map(() => []);
  features.forEach((f, i) => {
    const sl = startLogits[i];
    const el = endLogits[i];
    if (!sl || !el || sl.length < f.contextEnd || el.length < f.contextEnd) throw new RootsError('ERR_INVALID_ARG', `Feature ${i}: expected start and end logits for its ${f.inputIds.length} tokens`);
    const context = examples[f.example].context;
    const starts = topIndices(sl, f.contextStart, f.contextEnd, nBest);
    const ends = topIndices(el, f.contextStart, f.contextEnd, nBest);
    for (const s of starts) {
      for (const e of ends) {
        if (e < s || e - s + 1 > maxLen) continue;
        const a = f.offsets[2 * (s - f.contextStart)];
        const b = f.offsets[2 * (e - f.contextStart) + 1];
        prelim[f.example].push({ text: context.slice(a, b), start: a, end: b, score: sl[s] + el[e], startLogit: sl[s], endLogit: el[e] });
      }
    }
  });
  // Array.prototype.sort is stable, as Python's sorted: equal scores keep window and candidate order.
  return prelim.map((list) => list.sort((x, y) => y.score - x.score).slice(0, nBest));
}

export class QuestionAnsweringTask implements Task<QaExample, QaFeature> {
  readonly name = 'question-answering';
  readonly defaultMetric = 'f1';
  readonly options: QuestionAnsweringTaskOptions;

  constructor(options: QuestionAnsweringTaskOptions = {}) {
    this.options = options;
  }

  greaterIsBetter(metric: string): boolean {
    return !/loss/i.test(metric);
  }

  /** The head has two outputs (start, end) and no label names. */
  labelsOf(): string[] {
    return [];
  }

  features(examples: readonly QaExample[], ctx: TaskContext): QaFeature[] {
    const { features, unreachable } = qaFeatures(ctx.tokenizer, examples, {
      maxLength: ctx.maxLength, docStride: this.options.docStride ?? QA_DEFAULTS.docStride, training: ctx.training,
    });
    if (unreachable.length > 0) {
      (this.options.log ?? console.warn)(`roots: ${unreachable.length} of ${examples.length} training questions have an answer that fits in no window ` +
        `(${unreachable.slice(0, 5).join(', ')}${unreachable.length > 5 ? ', ...' : ''}): they are left out of training instead of being taught "no answer"; ` +
        'raise --doc-stride or --max-length to keep them');
    }
    if (ctx.training && features.length === 0) throw new RootsError('ERR_INVALID_ARG', 'No training question has its answer inside a window');
    return features;
  }

  /** The n-best answers of each example (see {@link decodeAnswers}). */
  decode(examples: readonly QaExample[], features: readonly QaFeature[], outputs: FeatureOutputs): QaCandidate[][] {
    if (!outputs.logits2) throw new RootsError('ERR_INVALID_ARG', 'Question answering needs start and end logits (a BertForQuestionAnswering)');
    return decodeAnswers(examples, features, outputs.logits, outputs.logits2, this.options);
  }

  score(examples: readonly QaExample[], features: readonly QaFeature[], outputs: FeatureOutputs): Evaluation {
    const nbest = this.decode(examples, features, outputs);
    const predictions: Record<string, string> = {};
    const byId: Record<string, QaCandidate[]> = {};
    examples.forEach((ex, i) => {
      predictions[ex.id] = nbest[i][0]?.text ?? '';
      byId[ex.id] = nbest[i];
    });
    const scores = squadScores(examples.map((e) => ({ id: e.id, answers: e.answers.map((a) => a.text) })), predictions);
    const metrics: Record<string, number> = { exact_match: scores.exact_match, f1: scores.f1 };
    if (outputs.loss !== null) metrics.loss = outputs.loss;
    const report = `exact_match ${scores.exact_match.toFixed(2)}, f1 ${scores.f1.toFixed(2)} (SQuAD v1.1, ${scores.total} questions)\n`;
    const details: QuestionAnsweringDetails = { predictions, nbest: byId, scores };
    return { metrics, report, details };
  }
}

/** A question-answering task with options (the Trainer also accepts `'question-answering'`). */
export function questionAnsweringTask(options: QuestionAnsweringTaskOptions = {}): QuestionAnsweringTask {
  return new QuestionAnsweringTask(options);
}

export interface EvaluateQuestionAnsweringOptions extends QuestionAnsweringTaskOptions {
  batchSize?: number;
  /** Window length (default min(384, max_position_embeddings)). */
  maxLength?: number;
}

/**
 * Scores a BertForQuestionAnswering on SQuAD-style examples: the official EM and F1 (percent),
 * and in `details` the predictions file ({id: answer}) and the n-best lists.
 */
export async function evaluateQuestionAnswering(
  model: BertPreTrainedModel, tokenizer: Tokenizer, examples: readonly QaExample[], options: EvaluateQuestionAnsweringOptions = {},
): Promise<Evaluation & { details: QuestionAnsweringDetails }> {
  if (model.head !== 'qa') throw new RootsError('ERR_INVALID_ARG', `Question answering needs a BertForQuestionAnswering, not a ${model.head} head`);
  const task = new QuestionAnsweringTask(options);
  const ctx: TaskContext = { tokenizer, labels: new LabelVocab([]), maxLength: options.maxLength ?? Math.min(QA_DEFAULTS.maxLength, model.config.max_position_embeddings) };
  const features = task.features(examples, ctx);
  const outputs = await forwardFeatures(model, features, { batchSize: options.batchSize ?? 32, padTokenId: tokenizer.padTokenId ?? 0, padToMultipleOf: 8 });
  return task.score(examples, features, outputs) as Evaluation & { details: QuestionAnsweringDetails };
}
