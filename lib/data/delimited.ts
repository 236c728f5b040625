/**
 * TSV and CSV files with a header row (SST-2, GLUE-style files): an RFC 4180 field splitter and a
 * reader that picks the text, pair and label columns by name.
 */
import { extname } from 'node:path';
import { RootsError, describe } from '../errors.js';
import { pathOf, readTextFile, splitLines, type ReadOptions, type Source, type TextExample } from './readers.js';

/** Options for {@link readDelimited}. */
export interface DelimitedOptions extends ReadOptions {
  /** Field separator (default: `','` for .csv files, TAB otherwise). */
  delimiter?: string;
  /** Quote character (default `'"'` for CSV; none for TSV, as GLUE's files are unquoted). */
  quote?: string | null;
  /** Column with the text (default: the first of sentence, text, content, sentence1, text_a). */
  textColumn?: string;
  /** Column with the second text of a pair (default: sentence2 or text_b when present). */
  textPairColumn?: string;
  /** Column with the label (default `'label'`); `null` reads unlabelled files. */
  labelColumn?: string | null;
  /** Split labels on this string for multi-label data (e.g. `','`). */
  labelSeparator?: string;
}

const TEXT_COLUMNS = ['sentence', 'text', 'content', 'sentence1', 'text_a'];

/**
 * Parses delimited text into rows of fields with the line each row starts on. With a quote
 * character, fields may be quoted (RFC 4180: `""` is a quote, delimiters and newlines are kept).
 */
export function parseDelimited(text: string, delimiter: string, quote: string | null, source = '<delimited>'): { fields: string[]; line: number }[] {
  const rows: { fields: string[]; line: number }[] = [];
  if (quote === null || !text.includes(quote)) {
    splitLines(text).forEach((l, i) => { if (l !== '') rows.push({ fields: l.split(delimiter), line: i + 1 }); });
    return rows;
  }
  let line = 1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const startLine = line;
    const fields: string[] = [];
    let field = '';
    let endOfRow = false;
    while (!endOfRow) {
      if (text.startsWith(quote, i) && field === '') {
        const quoteLine = line;
        i += quote.length;
        for (;;) {
          if (i >= n) throw new RootsError('ERR_PARSE', `${source}:${quoteLine}: quoted field never closed (missing ${quote})`);
          if (text.startsWith(quote, i)) {
            if (text.startsWith(quote, i + quote.length)) { field += quote; i += 2 * quote.length; continue; }
            i += quote.length;
            break;
          }
          if (text[i] === '\n') line++;
          field += text[i++];
        }
        if (i < n && !text.startsWith(delimiter, i) && text[i] !== '\n' && text[i] !== '\r') {
          throw new RootsError('ERR_PARSE', `${source}:${line}: unexpected ${describe(text[i])} after a closing quote (expected the delimiter or the end of the line)`);
        }
      }
      if (i >= n) { fields.push(field); endOfRow = true; } else if (text.startsWith(delimiter, i)) {
        fields.push(field);
        field = '';
        i += delimiter.length;
      } else if (text[i] === '\n' || (text[i] === '\r' && text[i + 1] === '\n')) {
        i += text[i] === '\r' ? 2 : 1;
        line++;
        fields.push(field);
        endOfRow = true;
      } else {
        field += text[i++];
      }
    }
    if (!(fields.length === 1 && fields[0] === '')) rows.push({ fields, line: startLine });
  }
  return rows;
}

/**
 * Reads a TSV or CSV file with a header row into text examples (SST-2, GLUE-style files). Column
 * names choose the text, pair and label columns.
 */
export async function readDelimited(source: Source, options: DelimitedOptions = {}): Promise<TextExample[]> {
  const path = pathOf(source);
  const isCsv = extname(path).toLowerCase() === '.csv';
  const delimiter = options.delimiter ?? (isCsv ? ',' : '\t');
  const quote = options.quote === undefined ? (isCsv ? '"' : null) : options.quote;
  const rows = parseDelimited(await readTextFile(path, options), delimiter, quote, path);
  if (rows.length === 0) throw new RootsError('ERR_PARSE', `${path}: empty file (expected a header row)`);
  const header = rows[0].fields.map((h) => h.trim());
  const column = (name: string | undefined, candidates: string[], what: string, required: boolean): number => {
    const chosen = name ?? candidates.find((c) => header.includes(c));
    const index = chosen === undefined ? -1 : header.indexOf(chosen);
    if (index < 0 && (required || name !== undefined)) {
      const [flag, option] = what === 'text' ? ['--text-column', 'textColumn'] : what === 'label' ? ['--label-column', 'labelColumn'] : ['--text-pair-column', 'textPairColumn'];
      throw new RootsError('ERR_PARSE', `${path}:1: the header has columns [${header.join(', ')}] but no ${what} column ${name !== undefined ? `"${name}"` : `(tried ${candidates.join(', ')})`}; ` +
        `choose it with ${flag} NAME (API: { ${option}: NAME })`);
    }
    return index;
  };
  const textIndex = column(options.textColumn, TEXT_COLUMNS, 'text', true);
  const pairIndex = column(options.textPairColumn, ['sentence2', 'text_b'], 'pair', false);
  const labelIndex = options.labelColumn === null ? -1 : column(options.labelColumn, ['label'], 'label', true);
  const out: TextExample[] = [];
  for (let r = 1; r < rows.length; r++) {
    const { fields, line } = rows[r];
    if (fields.length !== header.length) {
      throw new RootsError('ERR_PARSE', `${path}:${line}: expected ${header.length} fields like the header but found ${fields.length}` +
        `${quote === null ? ' (a quoted field with the delimiter or a newline in it? --format csv reads quoted fields; API: { quote: \'"\' })' : ''}`);
    }
    const example: TextExample = { text: fields[textIndex], line };
    if (pairIndex >= 0) example.textPair = fields[pairIndex];
    if (labelIndex >= 0) {
      const label = fields[labelIndex].trim();
      if (label === '') throw new RootsError('ERR_PARSE', `${path}:${line}: empty label in column "${header[labelIndex]}"`);
      example.label = options.labelSeparator ? label.split(options.labelSeparator).map((l) => l.trim()).filter((l) => l !== '') : label;
    }
    out.push(example);
  }
  return out;
}
