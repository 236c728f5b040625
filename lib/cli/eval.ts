/**
 * `roots eval --model DIR --data FILE [--json]`: scores a trained model on labelled data. The task
 * comes from the folder's config.json (`architectures`; tasks.ts), the data is read by that task's
 * reader, and each task reports what its field reports:
 * - ner: entity-level scores (seqeval's classification report; `--strict SCHEME` for its strict
 *   mode), the gold tags converted to the scheme the model was trained in first;
 * - text-classification: accuracy, macro/weighted F1, MCC, the report and the confusion matrix
 *   (multi-label: micro/macro F1 and exact match per `--threshold`);
 * - intent-slots: intent accuracy, slot F1 (seqeval), exact match.
 */
import type { Command } from 'commander';
import type { IntentSlotExample, TaggedSentence, TextExample } from '../data/readers.js';
import { RootsError } from '../errors.js';
import type { BertPreTrainedModel, Device } from '../models/bert.js';
import { TAGGING_SCHEMES, type TaggingScheme } from '../metrics/seqeval.js';
import { evaluateIntentSlots } from '../tasks/intent-slots.js';
import { evaluateNer } from '../tasks/ner.js';
import { evaluateTextClassification } from '../tasks/text-classification.js';
import { evaluateQuestionAnswering } from '../tasks/question-answering.js';
import { evalRelation } from './relation.js';
import type { QaExample } from '../data/squad.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { Tokenizer } from '../tokenizer/index.js';
import { DEVICE_PARSER, cli, parsers, processIO, resolvePrecision, type CliIO } from './common.js';
import { ADAPTER_ANY_BASE_HELP, loadWithAdapter, resolveAdapterSource } from './adapter.js';
import { DATA_SPECS, type DataFlags } from './data.js';
import { TASKS, TASK_FLAGS, checkTaskFlags, flagName, modelTask, type CliTaskName } from './tasks.js';
import { MLM_EVAL_FLAGS, evalMlmCorpus, type MlmEvalFlags } from './pretrain.js';

/** Options of `roots eval`. */
export interface EvalCommandOptions extends DataFlags, MlmEvalFlags {
  model?: string;
  /** A PEFT adapter folder applied to --model. */
  adapter?: string;
  /** --adapter-any-base: load it whatever base its adapter_config.json names. */
  adapterAnyBase?: boolean;
  data?: string;
  json?: boolean;
  batchSize?: number;
  maxLength?: number;
  strict?: string;
  device?: string;
  precision?: 'fp32' | 'bf16' | 'auto';
  threshold?: number;
  docStride?: number;
  maxAnswerLength?: number;
  /** Write the predictions in the task's official format to this file. */
  predictions?: string;
}

interface EvalInput {
  model: BertPreTrainedModel;
  tokenizer: Tokenizer;
  examples: unknown[];
  batchSize: number;
  maxLength: number;
  o: EvalCommandOptions & { data: string };
}

/** What `roots eval` prints: the JSON result, and the text form. */
interface EvalOutput {
  result: Record<string, unknown>;
  text: string;
  /** The predictions in the official scorer's format (`--predictions FILE`). */
  predictions?: string;
}

/** How each task scores a model (the rows of tasks.ts read the data). */
const EVALUATORS: Record<CliTaskName, (x: EvalInput) => Promise<EvalOutput>> = {
  async ner({ model, tokenizer, examples, batchSize, maxLength, o }) {
    const sentences = examples as TaggedSentence[];
    const ev = await evaluateNer(model, tokenizer, sentences, { batchSize, maxLength, scheme: o.strict as TaggingScheme | undefined });
    const r = ev.details.report;
    const result = {
      model: o.model, data: o.data, sentences: sentences.length, mode: o.strict ? `strict ${o.strict}` : 'default',
      metrics: ev.metrics,
      types: r.labels.map((l) => ({ type: l.label, precision: l.precision, recall: l.recall, f1: l.f1, support: l.support })),
      micro: r.micro, macro: r.macro, weighted: r.weighted, report: ev.report,
    };
    const loss = ev.metrics.loss !== undefined ? `, loss ${ev.metrics.loss.toFixed(4)}` : '';
    return { result, text: `${ev.report}\naccuracy ${ev.metrics.accuracy.toFixed(4)}${loss} (${sentences.length} sentences, ${o.data})\n` };
  },

  async 'text-classification'({ model, tokenizer, examples, batchSize, maxLength, o }) {
    if (o.strict !== undefined) throw new RootsError('ERR_INVALID_ARG', '--strict is for ner and intent-slots models (it scores entities)');
    const ev = await evaluateTextClassification(model, tokenizer, examples as TextExample[], { batchSize, maxLength, threshold: o.threshold });
    const d = ev.details;
    const result: Record<string, unknown> = {
      model: o.model, data: o.data, task: 'text-classification', examples: examples.length, metrics: ev.metrics, report: ev.report, multiLabel: d.multiLabel,
    };
    if (d.report) result.labels = d.report.labels;
    if (d.confusion) result.confusionMatrix = d.confusion;
    if (d.multiLabelScores) result.labels = d.multiLabelScores.labels.map((l) => ({ label: l.label, precision: l.precision, recall: l.recall, f1: l.f1, support: l.support }));
    return { result, text: `${ev.report}\n${metricsLine(ev.metrics)} (${examples.length} examples, ${o.data})\n` };
  },

  async 'question-answering'({ model, tokenizer, examples, batchSize, maxLength, o }) {
    if (o.strict !== undefined) throw new RootsError('ERR_INVALID_ARG', '--strict is for ner and intent-slots models (it scores entities)');
    const questions = examples as QaExample[];
    const ev = await evaluateQuestionAnswering(model, tokenizer, questions, { batchSize, maxLength, docStride: o.docStride, maxAnswerLength: o.maxAnswerLength });
    const s = ev.details.scores;
    const result: Record<string, unknown> = { model: o.model, data: o.data, task: 'question-answering', questions: questions.length, metrics: ev.metrics };
    // The official script's output line: {"exact_match": ..., "f1": ...} as Python's json.dumps writes it.
    const official = `{"exact_match": ${pyFloat(s.exact_match)}, "f1": ${pyFloat(s.f1)}}`;
    return { result, text: `${official}\n(SQuAD v1.1 exact match and F1 in percent, ${questions.length} questions, ${o.data})\n`, predictions: `${JSON.stringify(ev.details.predictions)}\n` };
  },

  'relation-classification': evalRelation,

  async 'intent-slots'({ model, tokenizer, examples, batchSize, maxLength, o }) {
    const ev = await evaluateIntentSlots(model, tokenizer, examples as IntentSlotExample[], { batchSize, maxLength, scheme: o.strict as TaggingScheme | undefined });
    const result: Record<string, unknown> = {
      model: o.model, data: o.data, task: 'intent-slots', examples: examples.length, metrics: ev.metrics, report: ev.report,
      slots: ev.details.slotReport.labels,
    };
    return { result, text: `${ev.report}\n${metricsLine(ev.metrics)} (${examples.length} utterances, ${o.data})\n` };
  },
};

/** A number as Python's json.dumps writes a float (what the official scorers print). */
function pyFloat(x: number): string {
  if (Number.isInteger(x)) return x.toFixed(1);
  const s = String(x);
  return /e/.test(s) ? s.replace(/e([+-])(\d)$/, 'e$10$2') : s;
}

function metricsLine(metrics: Record<string, number>): string {
  return Object.entries(metrics).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ');
}

export async function runEval(o: EvalCommandOptions, io: CliIO = processIO): Promise<Record<string, unknown>> {
  const src = await resolveAdapterSource(o.model, o.adapter, io, o.adapterAnyBase);
  const dir = src.modelDir;
  const task = modelTask(src.config, src.adapterDir ?? dir);
  const foreign = (task === 'mlm' ? [...TASK_FLAGS, 'strict', 'threshold', 'format', 'encoding'] as const : MLM_EVAL_FLAGS).find((k) => o[k as keyof EvalCommandOptions] !== undefined);
  if (foreign) throw new RootsError('ERR_INVALID_ARG', `${flagName(foreign)} is ${task === 'mlm' ? 'not for' : 'for'} masked-LM models (--model ${dir} is ${task === 'mlm' ? 'a masked-LM' : `a ${task}`} model)`);
  if (task === 'mlm' && src.adapterDir) throw new RootsError('ERR_UNSUPPORTED', `--adapter with a masked-LM model: roots eval scores adapters on labelled data (ner, text-classification, intent-slots)`);
  if (task === 'mlm') return evalMlmCorpus(dir, o, io);
  const row = TASKS[task];
  checkTaskFlags(row, o, 'model');
  if (!o.data) throw new RootsError('ERR_INVALID_ARG', `--data is required (${row.data})`);
  const examples = await row.read('--data', o.data, o);
  const tokenizer = await Tokenizer.fromPretrained(dir);
  const model = await loadWithAdapter(row.model, src, { device: (o.device ?? 'auto') as Device, precision: resolvePrecision(o.precision) });
  try {
    if (!model.loadReport.source) throw new RootsError('ERR_CHECKPOINT', `--model ${dir} has no weights (model.safetensors): train it first`);
    const maxLength = o.maxLength ?? Math.min(row.maxLength, model.config.max_position_embeddings);
    const output = await EVALUATORS[row.name as CliTaskName]({ model, tokenizer, examples, batchSize: o.batchSize ?? 32, maxLength, o: { ...o, model: dir, data: o.data } });
    const { result, text } = output;
    if (o.predictions !== undefined) {
      if (output.predictions === undefined) throw new RootsError('ERR_INVALID_ARG', `--predictions is for question-answering and relation-classification models (an official predictions file), not for ${row.name}`);
      await writeFileAtomic(o.predictions, output.predictions);
      result.predictions = o.predictions;
    }
    io.out(o.json ? JSON.stringify(result, null, 2) + '\n' : text);
    return result;
  } finally {
    model.dispose();
  }
}

export function registerEval(program: Command, io: CliIO = processIO): void {
  const cmd = program
    .command('eval')
    .description('score a trained model on labelled data: NER (seqeval report), text classification (accuracy, F1, MCC, report, confusion matrix), intent + slots (intent accuracy, slot F1, exact match), relation classification (the official SemEval-2010 Task 8 scorer\'s output), question answering (the official SQuAD v1.1 exact match and F1); a masked-LM on plain text (loss, perplexity, masked-token accuracy)')
    .option('--model <dir|id>', 'trained model folder, or a Hub id (org/name[@revision]; Hugging Face cache, downloaded when missing)')
    .option('--adapter <dir|id>', 'a PEFT adapter folder (roots train --peft, or PEFT\'s save_pretrained) applied to --model')
    .option('--adapter-any-base', ADAPTER_ANY_BASE_HELP)
    .option('--data <file>', 'labelled data: CoNLL (ner), TSV/CSV/JSONL/TREC (text-classification), a seq.in/seq.out/label folder (intent-slots), a SemEval-2010 Task 8 or JSONL file (relation-classification), SQuAD JSON or JSONL (question-answering); plain text (masked-LM)')
    .option('--json', 'print the scores as JSON')
    .option('--batch-size <n>', 'windows per batch (default 32)', cli(parsers.positiveInt))
    .option('--max-length <n>', 'window length in tokens (default as roots train: 256 for ner, 128 for text-classification and intent-slots, 384 for question-answering)', cli(parsers.positiveInt))
    .option('--strict <scheme>', `seqeval strict mode with this scheme (${TAGGING_SCHEMES.join(', ')}); default: lenient`, cli(parsers.choice(TAGGING_SCHEMES)))
    .option('--threshold <p>', 'multi-label: a label is predicted when its sigmoid reaches this (default 0.5)', cli(parsers.number(0, 1)))
    .option('--device <d>', 'cpu, cuda, cuda:N or auto (default auto)', cli(DEVICE_PARSER))
    .option('--precision <p>', 'fp32, bf16 or auto (default auto)', cli(parsers.choice(['fp32', 'bf16', 'auto'] as const)))
    .option('--predictions <file>', 'also write the predictions in the official scorer\'s format (question-answering: SQuAD\'s {"question id": "answer"} JSON; relation-classification: SemEval\'s id<TAB>relation lines)')
    .option('--doc-stride <n>', 'question-answering: context tokens shared by consecutive windows (default 128)', cli(parsers.nonNegativeInt))
    .option('--max-answer-length <n>', 'question-answering: longest answer in tokens (default 30)', cli(parsers.positiveInt));
  for (const s of DATA_SPECS) cmd.option(s.flags, s.help, cli(s.parse));
  cmd.option('--mlm-probability <p>', 'masked-LM: fraction of tokens masked (default 0.15)', cli(parsers.number(0, 1, true)))
    .option('--whole-word-mask', 'masked-LM: mask whole words')
    .option('--seed <n>', 'masked-LM: seed of the masks (default 42)', cli(parsers.nonNegativeInt))
    .option('--documents <mode>', 'masked-LM: line (default) or blank-line', cli(parsers.choice(['line', 'blank-line'] as const)));
  cmd.action(async (o: EvalCommandOptions) => { await runEval(o, io); });
}
