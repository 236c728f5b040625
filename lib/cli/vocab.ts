/**
 * `roots vocab INPUT... --output DIR`: trains a WordPiece vocabulary (Hugging Face's algorithm) on
 * text files, folders or globs (optionally .gz), streamed a line at a time, and writes vocab.txt,
 * tokenizer.json, tokenizer_config.json and special_tokens_map.json that roots, @huggingface/tokenizers
 * and Transformers' BertTokenizerFast load. The logic is in lib/tokenizer/wordpiece-trainer.ts.
 */
import type { Command } from 'commander';
import { performance } from 'node:perf_hooks';
import { RootsError } from '../errors.js';
import { DEFAULT_MAX_LINE_BYTES } from '../data/corpus.js';
import { DEFAULT_SPECIAL_TOKENS, saveVocabulary, trainWordPiece } from '../tokenizer/wordpiece-trainer.js';
import { cli, parsers, processIO, type CliIO } from './common.js';

interface VocabCliOptions {
  output: string;
  vocabSize: number;
  minFrequency: number;
  limitAlphabet: number;
  lowercase: boolean;
  stripAccents?: boolean;
  cleanText: boolean;
  chineseChars: boolean;
  specialTokens?: string;
  maxLength?: number;
  maxLineBytes: number;
}

export function registerVocab(program: Command, io: CliIO = processIO): void {
  program
    .command('vocab')
    .description("train a WordPiece vocabulary (Hugging Face's WordPieceTrainer) on text files, folders or globs")
    .argument('<inputs...>', 'text files, folders or globs; .gz files are decompressed')
    .requiredOption('-o, --output <dir>', 'folder for vocab.txt, tokenizer.json, tokenizer_config.json, special_tokens_map.json')
    .option('--vocab-size <n>', 'vocabulary size, special tokens included', cli(parsers.positiveInt), 30000)
    .option('--min-frequency <n>', 'merge only pairs seen at least this often', cli(parsers.nonNegativeInt), 2)
    .option('--limit-alphabet <n>', 'keep only the n most frequent characters', cli(parsers.positiveInt), 1000)
    .option('--no-lowercase', 'keep case (a cased vocabulary)')
    .option('--strip-accents', 'strip accents (default: when lowercasing)')
    .option('--no-strip-accents', 'keep accents even when lowercasing')
    .option('--no-clean-text', 'keep control characters')
    .option('--no-chinese-chars', 'do not split CJK ideographs into words of their own')
    .option('--special-tokens <list>', `comma-separated special tokens, first in the vocabulary (default ${DEFAULT_SPECIAL_TOKENS.join(',')})`)
    .option('--max-length <n>', 'model_max_length written to tokenizer_config.json', cli(parsers.positiveInt))
    .option('--max-line-bytes <n>', 'longest input line accepted, in bytes', cli(parsers.positiveInt), DEFAULT_MAX_LINE_BYTES)
    .action(async function (this: Command, inputs: string[], o: VocabCliOptions) {
      try {
        await runVocab(inputs, o, io);
      } catch (err) {
        if (err instanceof RootsError) this.error(`roots: error: ${err.message.replace(/\s*\n\s*/g, ' ')}`, { exitCode: 1, code: `roots.${err.code}` });
        throw err;
      }
    });
}

async function runVocab(inputs: string[], o: VocabCliOptions, io: CliIO): Promise<void> {
  const t0 = performance.now();
  const specialTokens = o.specialTokens?.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (specialTokens) {
    for (const t of ['[UNK]', '[CLS]', '[SEP]']) {
      if (!specialTokens.includes(t)) throw new RootsError('ERR_INVALID_ARG', `--special-tokens must include ${t} (a BERT vocabulary needs [UNK], [CLS] and [SEP]; [PAD] and [MASK] for pretraining)`);
    }
  }
  const trained = await trainWordPiece(inputs, {
    vocabSize: o.vocabSize, minFrequency: o.minFrequency, limitAlphabet: o.limitAlphabet, lowercase: o.lowercase,
    stripAccents: o.stripAccents ?? null, cleanText: o.cleanText, handleChineseChars: o.chineseChars,
    specialTokens, modelMaxLength: o.maxLength, maxLineBytes: o.maxLineBytes,
  });
  const written = await saveVocabulary(o.output, trained.tokenizer);
  const seconds = (performance.now() - t0) / 1000;
  io.err(`roots vocab: ${trained.lines} lines, ${trained.words} distinct words from ${trained.files.length} file(s) in ${seconds.toFixed(1)} s\n`);
  if (trained.vocab.length < o.vocabSize) {
    io.err(`roots vocab: the vocabulary has ${trained.vocab.length} tokens, fewer than --vocab-size ${o.vocabSize}: no pair left seen at least --min-frequency ${o.minFrequency} times\n`);
  }
  io.out(`${trained.vocab.length} tokens written to ${written.join(', ')}\n`);
}
