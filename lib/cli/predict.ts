/**
 * `roots predict --model DIR --text "..." | --input FILE [--json] [--aggregation first]`: entities
 * in raw text through the ner pipeline. `--input` reads one text per line (empty lines are
 * skipped); `--json` prints one JSON object per text: `{"text": ..., "entities": [...]}`.
 */
import type { Command } from 'commander';
import { readTextFile } from '../data/readers.js';
import { RootsError } from '../errors.js';
import type { Device } from '../models/bert.js';
import { nerPipeline } from '../pipelines/ner.js';
import { AGGREGATION_STRATEGIES, type AggregationStrategy, type NerEntity } from '../pipelines/aggregation.js';
import { DEVICE_PARSER, cli, parsers, processIO, requireFile, requireModelDir, resolvePrecision, table, type CliIO } from './common.js';
import { readConfig } from '../models/config.js';
import { modelTask, runPredictSequenceTask } from './sequence-tasks.js';

export interface PredictCommandOptions {
  model?: string;
  text?: string[];
  input?: string;
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
}

/** Entities of one text as aligned lines: type, text, [start, end), score. */
export function formatEntities(text: string, entities: readonly NerEntity[]): string {
  if (entities.length === 0) return `${text}\n  (no entities)\n`;
  const rows = entities.map((e) => [
    '  ' + ('entity_group' in e ? e.entity_group : e.entity), JSON.stringify(text.slice(e.start, e.end)), `[${e.start}, ${e.end})`, e.score.toFixed(4),
  ]);
  return `${text}\n${table(rows)}`;
}

export async function runPredict(o: PredictCommandOptions, io: CliIO = processIO): Promise<unknown[]> {
  const dir = requireModelDir('--model', o.model);
  const task = modelTask(await readConfig(dir));
  if (task !== 'ner') return runPredictSequenceTask(task, dir, o, io);
  if (o.textPair?.length || o.topK !== undefined || o.threshold !== undefined) throw new RootsError('ERR_INVALID_ARG', '--text-pair, --top-k and --threshold are for text-classification models');
  const texts: string[] = [...(o.text ?? [])];
  if (o.input) {
    const content = await readTextFile(requireFile('--input', o.input));
    for (const line of content.split(/\r?\n/)) if (line.trim() !== '') texts.push(line);
  }
  if (!o.text?.length && !o.input) throw new RootsError('ERR_INVALID_ARG', 'Give --text "..." or --input FILE (one text per line)');
  const ner = await nerPipeline(dir, {
    aggregation: o.aggregation ?? 'first', batchSize: o.batchSize ?? 16, maxLength: o.maxLength,
    device: (o.device ?? 'auto') as Device, precision: resolvePrecision(o.precision),
  });
  try {
    const out: { text: string; entities: NerEntity[] }[] = [];
    const chunk = 256;
    for (let i = 0; i < texts.length; i += chunk) {
      const part = texts.slice(i, i + chunk);
      const entities = await ner(part);
      part.forEach((text, k) => {
        out.push({ text, entities: entities[k] });
        io.out(o.json ? JSON.stringify({ text, entities: entities[k] }) + '\n' : formatEntities(text, entities[k]));
      });
    }
    return out;
  } finally {
    ner.dispose();
  }
}

export function registerPredict(program: Command, io: CliIO = processIO): void {
  program
    .command('predict')
    .description('run a trained model on raw text: entities (ner), labels with scores (text-classification), intent and slots (intent-slots)')
    .option('--model <dir>', 'trained model folder')
    .option('--text <text>', 'a text (repeat for several)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--text-pair <text>', 'text-classification: the second text of a pair, matched to --text by position (repeat)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--input <file>', 'a file with one text per line (text-classification: a TAB separates the two texts of a pair)')
    .option('--top-k <n>', 'text-classification: labels per text (default 1; multi-label: those reaching --threshold)', cli(parsers.positiveInt))
    .option('--threshold <p>', 'multi-label: the score a label needs (default 0.5)', cli(parsers.number(0, 1)))
    .option('--json', 'one JSON object per text: {"text", "entities"}')
    .option('--aggregation <strategy>', `${AGGREGATION_STRATEGIES.join(', ')} (as Hugging Face's pipeline; default first: whole words, as roots trains them)`, cli(parsers.choice(AGGREGATION_STRATEGIES)))
    .option('--batch-size <n>', 'windows per forward pass (default 16)', cli(parsers.positiveInt))
    .option('--max-length <n>', 'window length in tokens (default: the model\'s maximum, up to 512)', cli(parsers.positiveInt))
    .option('--device <d>', 'cpu, cuda, cuda:N or auto (default auto)', cli(DEVICE_PARSER))
    .option('--precision <p>', 'fp32, bf16 or auto (default auto)', cli(parsers.choice(['fp32', 'bf16', 'auto'] as const)))
    .action(async (o: PredictCommandOptions) => { await runPredict(o, io); });
}
