/**
 * The data flags of `roots train`, `roots eval` and `roots predict` (one table for commander and
 * `--config` files), and the readers behind them: each split is read with the flags given, and a
 * missing path or an empty file is a one-line error naming the flag. (The readers' own messages
 * name the flag and the API option both, e.g. "--encoding latin1 (API: { encoding: 'latin1' })".)
 */
import { existsSync, statSync } from 'node:fs';
import { DATA_FORMATS, readIntentSlotData, readTaggedData, readTextData, type TextDataOptions } from '../data/formats.js';
import type { IntentSlotExample, TaggedSentence, TextExample } from '../data/readers.js';
import { type QaExample, readSquad } from '../data/squad.js';
import { RootsError } from '../errors.js';
import { parsers, requireFile, type CommandOptionSpec } from './common.js';

/** An option of a command: its commander flags and help, and its parser (also for --config). */
export type FlagSpec = CommandOptionSpec;

/** The data flags every task's reader takes (a subset per task: see tasks.ts). */
export interface DataFlags extends TextDataOptions {
  tokenColumn?: number;
  tagColumn?: number;
}

export const ENCODING_PARSER = parsers.choice(['utf-8', 'utf8', 'latin1'] as const);

export const DATA_SPECS: readonly FlagSpec[] = [
  { key: 'format', flags: '--format <name>', help: `data format: ${DATA_FORMATS.join(', ')} (default: from the name: a folder is seq, .tsv, .csv, .jsonl, TREC.* is trec, else conll for ner)`, parse: parsers.choice(DATA_FORMATS) },
  { key: 'encoding', flags: '--encoding <name>', help: 'text encoding of the data files: utf-8 (default; invalid bytes are an error) or latin1', parse: ENCODING_PARSER },
  { key: 'tokenColumn', flags: '--token-column <n>', help: 'ner: column of the token in CoNLL files (default 0)', parse: parsers.integer },
  { key: 'tagColumn', flags: '--tag-column <n>', help: 'ner: column of the tag (default -1, the last)', parse: parsers.integer },
  { key: 'textColumn', flags: '--text-column <name>', help: 'TSV/CSV column (JSONL field) of the text (default: sentence, text, content, sentence1 or text_a)', parse: parsers.string },
  { key: 'textPairColumn', flags: '--text-pair-column <name>', help: 'column (field) of the second text of a pair (default: sentence2 or text_b when present)', parse: parsers.string },
  { key: 'labelColumn', flags: '--label-column <name>', help: 'column (field) of the label (default label)', parse: parsers.string },
  { key: 'labelSeparator', flags: '--label-separator <sep>', help: 'split TSV/CSV labels on this string: multi-label data (e.g. ",")', parse: parsers.string },
  { key: 'trecLabels', flags: '--trec-labels <kind>', help: 'TREC labels: coarse (6 classes; default) or fine (50)', parse: parsers.choice(['coarse', 'fine'] as const) },
];

function requireFolder(flag: string, path: unknown, what: string): string {
  if (typeof path !== 'string' || path === '') throw new RootsError('ERR_INVALID_ARG', `${flag} is required`);
  if (!existsSync(path)) throw new RootsError('ERR_IO', `${flag} ${path}: no such folder`);
  if (!statSync(path).isDirectory()) throw new RootsError('ERR_IO', `${flag} ${path}: not a folder (${what})`);
  return path;
}

function nonEmpty<T>(flag: string, path: string, data: T[], what: string): T[] {
  if (data.length === 0) throw new RootsError('ERR_PARSE', `${flag} ${path}: no ${what} found`);
  return data;
}

/** Tagged sentences (NER) from a CoNLL or JSONL file. */
export async function readTagged(flag: string, path: string, o: DataFlags): Promise<TaggedSentence[]> {
  requireFile(flag, path);
  const data = await readTaggedData(path, { format: o.format, encoding: o.encoding, tokenColumn: o.tokenColumn ?? 0, tagColumn: o.tagColumn ?? -1 });
  return nonEmpty(flag, path, data, 'sentences');
}

/** Labelled texts (or pairs) from a TSV, CSV, JSONL or TREC file. */
export async function readTexts(flag: string, path: string, o: DataFlags): Promise<TextExample[]> {
  requireFile(flag, path);
  return nonEmpty(flag, path, await readTextData(path, o), 'examples');
}

/** Utterances with intents and slots from a seq.in / seq.out / label folder. */
export async function readUtterances(flag: string, path: string, o: DataFlags): Promise<IntentSlotExample[]> {
  requireFolder(flag, path, 'intent-slots reads a folder with seq.in, seq.out and label');
  const data = await readIntentSlotData(path, { format: o.format, encoding: o.encoding });
  return nonEmpty(flag, path, data, 'utterances');
}

/** Questions with contexts and answers (question answering) from a SQuAD JSON or a JSONL file. */
export async function readQuestions(flag: string, path: string, o: DataFlags): Promise<QaExample[]> {
  requireFile(flag, path);
  if (o.format !== undefined && o.format !== 'jsonl') throw new RootsError('ERR_INVALID_ARG', `--format ${o.format} is not a question-answering format: SQuAD JSON (the default) or --format jsonl`);
  const data = await readSquad(path, { encoding: o.encoding, format: o.format === 'jsonl' ? 'jsonl' : undefined });
  return nonEmpty(flag, path, data, 'questions');
}
