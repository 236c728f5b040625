/**
 * `roots predict --model DIR --text "..." | --input FILE [--json]`: runs a trained model on raw
 * text through its task's pipeline (the task comes from config.json, as for `roots eval`):
 * - ner: entities with character offsets (`--aggregation`, default first: whole words);
 * - text-classification: labels with scores (`--top-k`, `--threshold`; pairs with `--text-pair`,
 *   or a TAB between the two texts of an `--input` line);
 * - intent-slots: the intent and the slots;
 * - masked-LM (roots pretrain): fill-mask, the `--top-k` (default 5) likeliest tokens for each [MASK].
 * `--input` reads one text per line (empty lines are skipped; `--encoding latin1` for Latin-1
 * files); `--json` prints one JSON object per text.
 */
import type { Command } from 'commander';
import { readTextFile } from '../data/readers.js';
import { RootsError } from '../errors.js';
import type { Device, Precision } from '../models/bert.js';
import { AGGREGATION_STRATEGIES, type AggregationStrategy, type NerEntity } from '../pipelines/aggregation.js';
import { intentSlotsPipeline, type IntentSlotsResult } from '../pipelines/intent-slots.js';
import { nerPipeline } from '../pipelines/ner.js';
import { textClassificationPipeline, type LabelScore, type TextClassificationInput } from '../pipelines/text-classification.js';
import { fillMaskPipeline, type FillMaskOutput, type FillMaskResult } from '../pipelines/fill-mask.js';
import { DEVICE_PARSER, cli, parsers, processIO, requireFile, resolvePrecision, table, type CliIO } from './common.js';
import { ADAPTER_ANY_BASE_HELP, loadWithAdapter, resolveAdapterSource, tokenizerDir } from './adapter.js';
import { BertForMaskedLM } from '../models/bert.js';
import type { PipelineSource } from '../pipelines/source.js';
import { Tokenizer } from '../tokenizer/index.js';
import { ENCODING_PARSER } from './data.js';
import { TASKS, flagName, modelTask, type ModelTaskName } from './tasks.js';
import { qaInputs, qaPredictor } from './question-answering.js';
import { relationPredictor } from './relation.js';
import type { FileEncoding } from '../data/readers.js';

export interface PredictCommandOptions {
  model?: string;
  /** A PEFT adapter folder applied to --model. */
  adapter?: string;
  /** --adapter-any-base: load it whatever base its adapter_config.json names. */
  adapterAnyBase?: boolean;
  text?: string[];
  input?: string;
  encoding?: FileEncoding;
  json?: boolean;
  aggregation?: AggregationStrategy;
  batchSize?: number;
  maxLength?: number;
  device?: string;
  precision?: 'fp32' | 'bf16' | 'auto';
  /** text-classification: second texts, paired with --text by position */
  textPair?: string[];
  /** text-classification: labels per text (default: the best one; multi-label: those over the threshold) */
  topK?: number;
  threshold?: number;
  /** question-answering: questions (repeat), their context(s), answer length, window stride */
  question?: string[];
  context?: string[];
  maxAnswerLength?: number;
  docStride?: number;
}

/** One input: a text, or a pair (text-classification; question-answering: the question and its context). */
export interface Input {
  text: string;
  textPair?: string;
}

export interface PredictRun {
  /** The model folder, or (with --adapter) the base and its adapter already loaded. */
  dir: PipelineSource;
  inputs: Input[];
  load: { batchSize: number; maxLength?: number; device: Device; precision: Precision };
  o: PredictCommandOptions;
  /** Prints one result (and returns what `runPredict` returns for it). */
  emit(record: Record<string, unknown>, text: string): void;
}

/** Texts per pipeline call: the output keeps flowing on long --input files. */
const CHUNK = 256;

/** Each task's pipeline and its flags; a flag of another task is an error naming the tasks that take it. */
/**
 * Runs `pipe` over `inputs` CHUNK at a time (the output keeps flowing on long files), hands each
 * input and its result to `each`, and disposes the pipeline.
 */
async function inChunks<I, R>(pipe: { dispose(): void }, inputs: readonly I[], call: (part: I[]) => Promise<R[]>, each: (input: I, result: R) => void): Promise<void> {
  try {
    for (let i = 0; i < inputs.length; i += CHUNK) {
      const part = inputs.slice(i, i + CHUNK);
      const results = await call(part);
      part.forEach((input, k) => { each(input, results[k]); });
    }
  } finally {
    pipe.dispose();
  }
}

const PREDICTORS: Record<ModelTaskName, { flags: readonly (keyof PredictCommandOptions)[]; run(r: PredictRun): Promise<void> }> = {
  'question-answering': qaPredictor,
  'relation-classification': relationPredictor,
  ner: {
    flags: ['aggregation'],
    async run({ dir, inputs, load, o, emit }) {
      const ner = await nerPipeline(dir, { ...load, aggregation: o.aggregation ?? 'first' });
      await inChunks(ner, inputs.map((x) => x.text), (part) => ner(part), (text, entities) => {
        emit({ text, entities }, formatEntities(text, entities));
      });
    },
  },
  'text-classification': {
    flags: ['textPair', 'topK', 'threshold'],
    async run({ dir, inputs, load, o, emit }) {
      const clf = await textClassificationPipeline(dir, { ...load, topK: o.topK, threshold: o.threshold });
      await inChunks(clf, inputs, (part) => clf(part as TextClassificationInput[]), (input, labels) => {
        emit({ text: input.text, ...(input.textPair !== undefined ? { textPair: input.textPair } : {}), labels }, formatLabels(input, labels, clf.multiLabel));
      });
    },
  },
  mlm: {
    flags: ['topK'],
    async run({ dir, inputs, load, o, emit }) {
      const fill = await fillMaskPipeline(dir, { ...load, topK: o.topK ?? 5 });
      await inChunks(fill, inputs.map((x) => x.text), (part) => fill(part), (text, predictions) => {
        emit({ text, predictions }, formatFillMask(text, predictions));
      });
    },
  },
  'intent-slots': {
    flags: [],
    async run({ dir, inputs, load, emit }) {
      const nlu = await intentSlotsPipeline(dir, load);
      await inChunks(nlu, inputs.map((x) => x.text), (part) => nlu(part), (text, result) => {
        emit({ text, ...result }, formatIntentSlots(text, result));
      });
    },
  },
};

/** Throws for a flag of other tasks' pipelines, naming every task whose models take it. */
function checkPredictFlags(task: ModelTaskName, o: PredictCommandOptions): void {
  const given = (k: keyof PredictCommandOptions) => (Array.isArray(o[k]) ? (o[k] as unknown[]).length > 0 : o[k] !== undefined);
  const mine = PREDICTORS[task].flags;
  const all = [...new Set(Object.values(PREDICTORS).flatMap((p) => p.flags))];
  const foreign = all.find((k) => given(k) && !mine.includes(k));
  if (foreign === undefined) return;
  const owners = Object.entries(PREDICTORS).filter(([, p]) => p.flags.includes(foreign)).map(([name]) => (name === 'mlm' ? 'masked-LM' : name));
  const list = owners.length > 1 ? `${owners.slice(0, -1).join(', ')} and ${owners.at(-1)}` : owners[0];
  const kind = task === 'mlm' ? 'a masked-LM' : `${/^[aeiou]/.test(task) ? 'an' : 'a'} ${task}`;
  throw new RootsError('ERR_INVALID_ARG', `${flagName(foreign)} is for ${list} models (--model ${o.model} is ${kind} model)`);
}

/** Entities of one text as aligned lines: type, text, [start, end), score. */
export function formatEntities(text: string, entities: readonly NerEntity[]): string {
  if (entities.length === 0) return `${text}\n  (no entities)\n`;
  const rows = entities.map((e) => [
    '  ' + ('entity_group' in e ? e.entity_group : e.entity), JSON.stringify(text.slice(e.start, e.end)), `[${e.start}, ${e.end})`, e.score.toFixed(4),
  ]);
  return `${text}\n${table(rows)}`;
}

/** Labels of one input as aligned lines. */
export function formatLabels(input: Input, labels: readonly LabelScore[], multiLabel: boolean): string {
  const head = input.textPair !== undefined ? `${input.text}\t${input.textPair}` : input.text;
  if (labels.length === 0) return `${head}\n  (no label${multiLabel ? ' reaches the threshold' : ''})\n`;
  return `${head}\n${table(labels.map((l) => ['  ' + l.label, l.score.toFixed(4)]))}`;
}

/** Fill-mask proposals of one text: score, token, filled sequence (a block per mask when there are several). */
export function formatFillMask(text: string, out: FillMaskOutput): string {
  const rows = (list: readonly FillMaskResult[]) => table(list.map((r) => ['  ' + r.score.toFixed(4), JSON.stringify(r.token_str), r.sequence]));
  const lists = out.length > 0 && Array.isArray(out[0]) ? (out as FillMaskResult[][]) : null;
  if (!lists) return `${text}\n${rows(out as FillMaskResult[])}`;
  return `${text}\n${lists.map((l, m) => `  mask ${m + 1}:\n${rows(l)}`).join('')}`;
}

/** The intent and slots of one utterance as aligned lines. */
export function formatIntentSlots(text: string, r: IntentSlotsResult): string {
  const rows = [['  intent', r.intent.label, '', r.intent.score.toFixed(4)], ...r.slots.map((s) => [
    '  ' + s.entity, JSON.stringify(s.word), `[${s.start}, ${s.end})`, s.score.toFixed(4),
  ])];
  return `${text}\n${table(rows)}`;
}

export async function runPredict(o: PredictCommandOptions, io: CliIO = processIO): Promise<unknown[]> {
  const src = await resolveAdapterSource(o.model, o.adapter, io, o.adapterAnyBase);
  const task = modelTask(src.config, src.adapterDir ?? src.modelDir);
  checkPredictFlags(task, o);
  const pairs = task === 'text-classification';
  const inputs: Input[] = (o.text ?? []).map((text, i) => (o.textPair?.[i] !== undefined ? { text, textPair: o.textPair[i] } : { text }));
  if ((o.textPair?.length ?? 0) > (o.text?.length ?? 0)) {
    throw new RootsError('ERR_INVALID_ARG', `${o.textPair!.length} --text-pair values for ${o.text?.length ?? 0} --text values: give one --text per --text-pair`);
  }
  if (o.input && task !== 'question-answering') {
    const path = requireFile('--input', o.input);
    const content = await readTextFile(path, { encoding: o.encoding });
    for (const line of content.split(/\r?\n/)) {
      if (line.trim() === '') continue;
      const tab = line.indexOf('\t');
      inputs.push(pairs && tab >= 0 ? { text: line.slice(0, tab), textPair: line.slice(tab + 1) } : { text: line });
    }
  }
  if (task === 'question-answering') inputs.push(...(await qaInputs(o)));
  else if (!o.text?.length && !o.input) throw new RootsError('ERR_INVALID_ARG', 'Give --text "..." or --input FILE (one text per line)');
  const out: unknown[] = [];
  const load = { batchSize: o.batchSize ?? 16, maxLength: o.maxLength, device: (o.device ?? 'auto') as Device, precision: resolvePrecision(o.precision) };
  // With an adapter, the pipeline runs on the base with the adapter set (loaded here, disposed here).
  const Class = task === 'mlm' ? BertForMaskedLM : TASKS[task].model;
  const model = src.adapterDir ? await loadWithAdapter(Class, src, load) : null;
  try {
    const dir: PipelineSource = model ? { model, tokenizer: await Tokenizer.fromPretrained(tokenizerDir(src)) } : src.modelDir;
    await PREDICTORS[task].run({
      dir, inputs, o, load,
      emit(record, text) {
        out.push(record);
        io.out(o.json ? JSON.stringify(record) + '\n' : text);
      },
    });
  } finally {
    model?.dispose();
  }
  return out;
}

export function registerPredict(program: Command, io: CliIO = processIO): void {
  program
    .command('predict')
    .description('run a trained model on raw text: entities (ner), labels with scores (text-classification), intent and slots (intent-slots), fill-mask (masked-LM: texts with [MASK]), the relation of two marked entities (relation-classification: <e1>…</e1> and <e2>…</e2>, or [E1]…[/E1] and [E2]…[/E2]), answers from a context (question-answering: --question, --context)')
    .option('--model <dir|id>', 'trained model folder, or a Hub id (org/name[@revision]; Hugging Face cache, downloaded when missing)')
    .option('--adapter <dir|id>', 'a PEFT adapter folder (roots train --peft, or PEFT\'s save_pretrained) applied to --model')
    .option('--adapter-any-base', ADAPTER_ANY_BASE_HELP)
    .option('--text <text>', 'a text (repeat for several)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--text-pair <text>', 'text-classification: the second text of a pair, matched to --text by position (repeat)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--input <file>', 'a file with one text per line (text-classification: a TAB separates the two texts of a pair)')
    .option('--encoding <name>', 'text encoding of --input: utf-8 (default; invalid bytes are an error) or latin1', cli(ENCODING_PARSER))
    .option('--top-k <n>', 'text-classification: labels per text (default 1; multi-label: those reaching --threshold); masked-LM: tokens per [MASK] (default 5); relation-classification: relations per text (default 1)', cli(parsers.positiveInt))
    .option('--threshold <p>', 'multi-label: the score a label needs (default 0.5)', cli(parsers.number(0, 1)))
    .option('--json', 'one JSON object per text: {"text", "entities"} (ner), {"text", "labels"} (text-classification), {"text", "intent", "slots"} (intent-slots), {"text", "predictions"} (masked-LM: fill-mask), {"text", "relations"} (relation-classification)')
    .option('--aggregation <strategy>', `ner: ${AGGREGATION_STRATEGIES.join(', ')} (as Hugging Face's pipeline; default first: whole words, as roots trains them)`, cli(parsers.choice(AGGREGATION_STRATEGIES)))
    .option('--question <text>', 'question-answering: a question (repeat for several), answered from --context', (v: string, prev: string[] = []) => [...prev, v])
    .option('--context <text>', 'question-answering: the context of each --question (repeat, one per question), or one for all', (v: string, prev: string[] = []) => [...prev, v])
    .option('--max-answer-length <n>', 'question-answering: longest answer in tokens (default 15)', cli(parsers.positiveInt))
    .option('--doc-stride <n>', 'question-answering: context tokens shared by consecutive windows (default 128)', cli(parsers.nonNegativeInt))
    .option('--batch-size <n>', 'windows per forward pass (default 16)', cli(parsers.positiveInt))
    .option('--max-length <n>', 'window length in tokens (default: the model\'s maximum, up to 512)', cli(parsers.positiveInt))
    .option('--device <d>', 'cpu, cuda, cuda:N or auto (default auto)', cli(DEVICE_PARSER))
    .option('--precision <p>', 'fp32, bf16 or auto (default auto)', cli(parsers.choice(['fp32', 'bf16', 'auto'] as const)))
    .action(async (o: PredictCommandOptions) => { await runPredict(o, io); });
}
