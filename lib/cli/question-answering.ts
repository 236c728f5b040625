/**
 * `roots predict` on a question-answering model: `--question` (repeat) with `--context` (one per
 * question, or one for all), or `--input FILE` (SQuAD JSON or JSONL; answers, when present, are
 * ignored); the answers come from pipeline('question-answering') (`--top-k`, `--max-answer-length`,
 * `--doc-stride`).
 */
import { readSquad } from '../data/squad.js';
import { RootsError } from '../errors.js';
import { questionAnsweringPipeline, type QuestionAnsweringResult } from '../pipelines/question-answering.js';
import { requireFile, table } from './common.js';
import type { Input, PredictCommandOptions, PredictRun } from './predict.js';

/** The questions of a run as predict's inputs (text: the question, textPair: its context). */
export async function qaInputs(o: PredictCommandOptions): Promise<(Input & { id?: string })[]> {
  if (o.text?.length) throw new RootsError('ERR_INVALID_ARG', '--text is not for question-answering models: give --question "..." --context "..." (or --input FILE, SQuAD JSON or JSONL)');
  const questions = o.question ?? [];
  const contexts = o.context ?? [];
  if (questions.length > 0 && contexts.length !== 1 && contexts.length !== questions.length) {
    throw new RootsError('ERR_INVALID_ARG', `${questions.length} --question values and ${contexts.length} --context values: give one --context for all questions or one per question`);
  }
  if (contexts.length > 0 && questions.length === 0) throw new RootsError('ERR_INVALID_ARG', '--context needs at least one --question');
  const inputs: (Input & { id?: string })[] = questions.map((q, i) => ({ text: q, textPair: contexts.length === 1 ? contexts[0] : contexts[i] }));
  if (o.input) {
    const examples = await readSquad(requireFile('--input', o.input), { encoding: o.encoding, requireAnswers: false });
    inputs.push(...examples.map((e) => ({ id: e.id, text: e.question, textPair: e.context })));
  }
  if (inputs.length === 0) throw new RootsError('ERR_INVALID_ARG', 'Give --question "..." --context "..." or --input FILE (SQuAD JSON or JSONL)');
  return inputs;
}

/** One question's answers as aligned lines: answer, [start, end), score. */
export function formatAnswers(question: string, answers: readonly QuestionAnsweringResult[]): string {
  return `${question}\n${table(answers.map((a) => ['  ' + JSON.stringify(a.answer), `[${a.start}, ${a.end})`, a.score.toFixed(4)]))}`;
}

export const qaPredictor = {
  flags: ['question', 'context', 'maxAnswerLength', 'docStride', 'topK'] as const,
  async run({ dir, inputs, load, o, emit }: PredictRun): Promise<void> {
    const qa = await questionAnsweringPipeline(dir, { ...load, topK: o.topK, maxAnswerLength: o.maxAnswerLength, docStride: o.docStride });
    try {
      for (let i = 0; i < inputs.length; i += 64) {
        const part = inputs.slice(i, i + 64) as (Input & { id?: string })[];
        const results = await qa(part.map((x) => ({ question: x.text, context: x.textPair! })));
        part.forEach((x, k) => {
          const r = results[k];
          const answers = Array.isArray(r) ? r : [r];
          emit({ ...(x.id !== undefined ? { id: x.id } : {}), question: x.text, context: x.textPair, answers }, formatAnswers(x.text, answers));
        });
      }
    } finally {
      qa.dispose();
    }
  },
};
