/**
 * `roots eval --model DIR --data FILE [--json]`: entity-level scores (seqeval's classification
 * report) of a token-classification model on a CoNLL file. The gold tags are converted to the
 * scheme the model was trained with first. A text-classification or intent-slots model (its
 * config.json's architectures) is scored by sequence-tasks.ts instead.
 */
import type { Command } from 'commander';
import { readTaggedData, type TextDataOptions } from '../data/formats.js';
import { readConfig } from '../models/config.js';
import { RootsError } from '../errors.js';
import { BertForTokenClassification, type Device } from '../models/bert.js';
import { evaluateNer } from '../tasks/ner.js';
import { Tokenizer } from '../tokenizer/index.js';
import { TAGGING_SCHEMES } from '../metrics/seqeval.js';
import { DEVICE_PARSER, cli, parsers, processIO, requireFile, requireModelDir, resolvePrecision, type CliIO } from './common.js';
import { TASK_DATA_SPECS, modelTask, runEvalSequenceTask } from './sequence-tasks.js';

/** The data flags (format, encoding, columns, TREC labels) are those of TextDataOptions. */
export interface EvalCommandOptions extends TextDataOptions {
  model?: string;
  data?: string;
  json?: boolean;
  batchSize?: number;
  maxLength?: number;
  tokenColumn?: number;
  tagColumn?: number;
  strict?: string;
  device?: string;
  precision?: 'fp32' | 'bf16' | 'auto';
  threshold?: number;
}

export async function runEval(o: EvalCommandOptions, io: CliIO = processIO): Promise<Record<string, unknown>> {
  const dir = requireModelDir('--model', o.model);
  const task = modelTask(await readConfig(dir));
  if (task !== 'ner') return runEvalSequenceTask(task, dir, o, io);
  const file = requireFile('--data', o.data);
  const sentences = await readTaggedData(file, { format: o.format, encoding: o.encoding, tokenColumn: o.tokenColumn ?? 0, tagColumn: o.tagColumn ?? -1 });
  if (sentences.length === 0) throw new RootsError('ERR_PARSE', `--data ${file}: no sentences found`);
  const tokenizer = await Tokenizer.fromPretrained(dir);
  const model = await BertForTokenClassification.fromPretrained(dir, { device: (o.device ?? 'auto') as Device, precision: resolvePrecision(o.precision), log: null });
  try {
    if (!model.loadReport.source) throw new RootsError('ERR_CHECKPOINT', `--model ${dir} has no weights (model.safetensors): train it first`);
    const ev = await evaluateNer(model, tokenizer, sentences, {
      batchSize: o.batchSize ?? 32, maxLength: o.maxLength ?? Math.min(256, model.config.max_position_embeddings),
      scheme: o.strict as never,
    });
    const r = ev.details.report;
    const result = {
      model: dir, data: file, sentences: sentences.length, mode: o.strict ? `strict ${o.strict}` : 'default',
      metrics: ev.metrics,
      types: r.labels.map((l) => ({ type: l.label, precision: l.precision, recall: l.recall, f1: l.f1, support: l.support })),
      micro: r.micro, macro: r.macro, weighted: r.weighted, report: ev.report,
    };
    if (o.json) io.out(JSON.stringify(result, null, 2) + '\n');
    else io.out(`${ev.report}\naccuracy ${ev.metrics.accuracy.toFixed(4)}${ev.metrics.loss !== undefined ? `, loss ${ev.metrics.loss.toFixed(4)}` : ''} (${sentences.length} sentences, ${file})\n`);
    return result;
  } finally {
    model.dispose();
  }
}

export function registerEval(program: Command, io: CliIO = processIO): void {
  const cmd = program
    .command('eval')
    .description('score a trained model on labelled data: NER (seqeval report), text classification (accuracy, F1, MCC, report, confusion matrix), intent + slots (intent accuracy, slot F1, exact match)')
    .option('--model <dir>', 'trained model folder')
    .option('--data <file>', 'labelled data: CoNLL (ner), TSV/CSV/JSONL/TREC (text-classification), a seq.in/seq.out/label folder (intent-slots)')
    .option('--json', 'print the scores as JSON')
    .option('--batch-size <n>', 'windows per batch (default 32)', cli(parsers.positiveInt))
    .option('--max-length <n>', 'window length in tokens (default as roots train: 256 for ner, 128 for text-classification and intent-slots)', cli(parsers.positiveInt))
    .option('--token-column <n>', 'column of the token (default 0)', cli(parsers.integer))
    .option('--tag-column <n>', 'column of the gold tag (default -1, the last)', cli(parsers.integer))
    .option('--strict <scheme>', `seqeval strict mode with this scheme (${TAGGING_SCHEMES.join(', ')}); default: lenient`, cli(parsers.choice(TAGGING_SCHEMES)))
    .option('--device <d>', 'cpu, cuda, cuda:N or auto (default auto)', cli(DEVICE_PARSER))
    .option('--precision <p>', 'fp32, bf16 or auto (default auto)', cli(parsers.choice(['fp32', 'bf16', 'auto'] as const)));
  for (const s of TASK_DATA_SPECS.filter((x) => ['format', 'encoding', 'textColumn', 'textPairColumn', 'labelColumn', 'labelSeparator', 'trecLabels', 'threshold'].includes(x.key))) {
    cmd.option(s.flags, s.help, cli(s.parse));
  }
  cmd.action(async (o: EvalCommandOptions) => { await runEval(o, io); });
}
