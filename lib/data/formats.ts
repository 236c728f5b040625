/**
 * Data formats by name, and which one a path holds: what `--format` means on the command line.
 *
 * | format | reader | layout |
 * | --- | --- | --- |
 * | `conll` | readConll | one token a line, tag last, blank lines between sentences |
 * | `tsv` / `csv` | readDelimited | a header row; text, optional pair and label columns |
 * | `jsonl` | readTextJsonl / readTaggedJsonl | one JSON object a line |
 * | `trec` | readTrec | `COARSE:fine question` or `N question` lines |
 * | `seq` | readIntentSlots | a folder with seq.in, seq.out and label (ATIS, SNIPS) |
 *
 * Detection: a folder is `seq`; `.tsv`/`.tab`, `.csv`, `.jsonl`/`.ndjson`/`.json`, `.conll` go by
 * extension; a file named like TREC's (`TREC.train.all`, `train_5500.label`) is `trec`; anything
 * else is `conll` for NER and, for text classification, decided from its first line (a JSON object,
 * a TAB-separated header, or a TREC label), else an error asking for `--format`.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { RootsError, describe } from '../errors.js';
import {
  readConll, readIntentSlots, readTaggedJsonl, readTextJsonl, readTrec,
  type FileEncoding, type IntentSlotExample, type TaggedSentence, type TextExample,
} from './readers.js';
import { readDelimited } from './delimited.js';
import { chunkTagProblem } from './tagging.js';

export type DataFormat = 'conll' | 'tsv' | 'csv' | 'jsonl' | 'trec' | 'seq';
export const DATA_FORMATS: readonly DataFormat[] = ['conll', 'tsv', 'csv', 'jsonl', 'trec', 'seq'];

/** The kinds of data the formats hold. */
export type DataKind = 'tagged' | 'text' | 'intent-slots';

/** Which formats hold which kind of data. */
const FORMATS_OF: Record<DataKind, readonly DataFormat[]> = {
  tagged: ['conll', 'jsonl'],
  text: ['tsv', 'csv', 'jsonl', 'trec'],
  'intent-slots': ['seq'],
};

/** The format of `path` for data of `kind` (see the module doc). */
export function detectFormat(path: string, kind: DataKind): DataFormat {
  if (existsSync(path) && statSync(path).isDirectory()) return 'seq';
  const ext = extname(path).toLowerCase();
  const name = basename(path).toLowerCase();
  if (ext === '.tsv' || ext === '.tab') return 'tsv';
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson' || ext === '.json') return 'jsonl';
  if (ext === '.conll' || ext === '.bio' || ext === '.iob') return 'conll';
  if (name.startsWith('trec') || ext === '.label') return 'trec';
  if (kind === 'tagged') return 'conll';
  if (kind === 'intent-slots') return 'seq';
  let first = '';
  try {
    const head = readFileSync(path, { encoding: 'latin1' }).slice(0, 4096);
    first = head.split(/\r?\n/).find((l) => l.trim() !== '') ?? '';
  } catch { /* the reader reports a missing file */ }
  if (first.trimStart().startsWith('{')) return 'jsonl';
  if (/^([A-Z]+:\S+|\d+) +\S/.test(first)) return 'trec';
  if (first.includes('\t')) return 'tsv';
  throw new RootsError('ERR_PARSE', `Cannot tell the format of ${path} from its name or first line: pass --format (${FORMATS_OF[kind].join(', ')})`);
}

/** Throws unless `format` holds data of `kind`. */
export function checkFormat(format: DataFormat, kind: DataKind, path: string): void {
  if (!DATA_FORMATS.includes(format)) throw new RootsError('ERR_INVALID_ARG', `Expected a format (${DATA_FORMATS.join(', ')}) but received ${describe(format)}`);
  if (!FORMATS_OF[kind].includes(format)) {
    const what = kind === 'tagged' ? 'tagged sentences (NER)' : kind === 'text' ? 'labelled texts (text classification)' : 'utterances with intents and slots';
    throw new RootsError('ERR_INVALID_ARG', `${path}: format ${format} does not hold ${what}; use ${FORMATS_OF[kind].join(' or ')}`);
  }
}

/** Options for {@link readTextData}. */
export interface TextDataOptions {
  /** Default: {@link detectFormat}. */
  format?: DataFormat;
  encoding?: FileEncoding;
  /** TSV/CSV column or JSONL field of the text (default: sentence, text, content, sentence1, text_a). */
  textColumn?: string;
  /** TSV/CSV column or JSONL field of the second text of a pair (default: sentence2 / text_b when present). */
  textPairColumn?: string;
  /** TSV/CSV column or JSONL field of the label (default `label`). */
  labelColumn?: string;
  /** TSV/CSV: split labels on this string (multi-label data). */
  labelSeparator?: string;
  /** TREC: `'coarse'` (default) or `'fine'` labels. */
  trecLabels?: 'coarse' | 'fine';
}

/** Reads labelled texts (or pairs) from a TSV, CSV, JSONL or TREC file. */
export async function readTextData(path: string, options: TextDataOptions = {}): Promise<TextExample[]> {
  const format = options.format ?? detectFormat(path, 'text');
  checkFormat(format, 'text', path);
  const enc = { encoding: options.encoding };
  if (format === 'tsv' || format === 'csv') {
    return readDelimited(path, {
      ...enc, delimiter: format === 'csv' ? ',' : '\t', quote: format === 'csv' ? '"' : null,
      textColumn: options.textColumn, textPairColumn: options.textPairColumn,
      labelColumn: options.labelColumn, labelSeparator: options.labelSeparator,
    });
  }
  if (format === 'jsonl') {
    return readTextJsonl(path, {
      ...enc, textField: options.textColumn, textPairField: options.textPairColumn, labelField: options.labelColumn,
    });
  }
  return readTrec(path, { ...enc, labels: options.trecLabels });
}

/**
 * Reads tagged sentences (NER) from a CoNLL or JSONL file. Every tag must be a chunk tag (`O`,
 * `B-PER`, ...): the first that is not is an error with its file and line, the column it was read
 * from, and the flag that chooses another column.
 */
export async function readTaggedData(path: string, options: { format?: DataFormat; encoding?: FileEncoding; tokenColumn?: number; tagColumn?: number } = {}): Promise<TaggedSentence[]> {
  const format = options.format ?? detectFormat(path, 'tagged');
  checkFormat(format, 'tagged', path);
  if (format === 'jsonl') {
    const sentences = await readTaggedJsonl(path, { encoding: options.encoding });
    checkChunkTags(sentences, (s, i) => `${path}:${s.line} tags[${i}]`, 'the "tags" field (or "ner_tags")', '');
    return sentences;
  }
  const tagColumn = options.tagColumn ?? -1;
  const sentences = await readConll(path, { encoding: options.encoding, tokenColumn: options.tokenColumn ?? 0, tagColumn });
  const column = tagColumn === -1 ? 'column -1 (the last)' : `column ${tagColumn}`;
  checkChunkTags(sentences, (s, i) => `${path}:${s.line! + i}`, column,
    `; if ${column} does not hold the tags, choose the tag column with --tag-column N (API: { tagColumn: N }; columns count from 0, negative from the end)`);
  return sentences;
}

/** Throws for the first tag that is not a chunk tag, saying how many others are not either. */
function checkChunkTags(sentences: readonly TaggedSentence[], where: (s: TaggedSentence, i: number) => string, from: string, hint: string): void {
  let first: { at: string; token: string; problem: string } | undefined;
  let bad = 0;
  let total = 0;
  for (const s of sentences) {
    for (let i = 0; i < s.tags.length; i++) {
      total++;
      const problem = chunkTagProblem(s.tags[i]);
      if (problem === null) continue;
      bad++;
      first ??= { at: where(s, i), token: s.tokens[i], problem };
    }
  }
  if (first) {
    const more = bad > 1 ? `; ${bad} of the ${total} tags are not chunk tags` : '';
    throw new RootsError('ERR_PARSE', `${first.at}: the tag of token ${describe(first.token)}, read from ${from}: ${first.problem}${more}${hint}`);
  }
}

/** Reads utterances with intents and slot tags from a seq.in / seq.out / label folder. */
export async function readIntentSlotData(path: string, options: { format?: DataFormat; encoding?: FileEncoding } = {}): Promise<IntentSlotExample[]> {
  const format = options.format ?? detectFormat(path, 'intent-slots');
  checkFormat(format, 'intent-slots', path);
  if (!existsSync(path) || !statSync(path).isDirectory()) {
    throw new RootsError('ERR_IO', `${path}: expected a folder with seq.in, seq.out and label (the JointBERT layout of ATIS and SNIPS)`);
  }
  const examples = await readIntentSlots(path, { encoding: options.encoding });
  checkChunkTags(examples, (s, i) => `${join(path, 'seq.out')}:${s.line} word ${i + 1}`, 'seq.out', '');
  return examples;
}
