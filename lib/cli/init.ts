/**
 * `roots init --vocab vocab.txt --out DIR --hidden 128 --layers 2 --heads 2 [--intermediate N]
 * [--labels O,B-PER,I-PER | --labels-from FILE]`: a model folder for a fresh start — config.json
 * (Hugging Face's BertConfig) and the tokenizer files, no weights. `roots train --model DIR` then
 * initialises the weights as Transformers' `_init_weights` does and trains from scratch.
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readConll, readTextFile } from '../data/readers.js';
import { LabelVocab } from '../data/labels.js';
import { convertTags, TAG_SCHEMES, type TagScheme } from '../data/tagging.js';
import { RootsError } from '../errors.js';
import { normalizeConfig, withLabels, type BertConfig } from '../models/config.js';
import { Tokenizer, parseVocab } from '../tokenizer/index.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { cli, parsers, processIO, requireFile, type CliIO } from './common.js';

export interface InitCommandOptions {
  vocab?: string;
  out?: string;
  hidden?: number;
  layers?: number;
  heads?: number;
  intermediate?: number;
  maxPosition?: number;
  dropout?: number;
  labels?: string;
  labelsFrom?: string;
  scheme?: TagScheme;
  lowercase?: boolean;
  cased?: boolean;
  force?: boolean;
  json?: boolean;
}

/** Whether a vocabulary looks cased (capitals in more than 5% of its ordinary tokens). */
export function looksCased(vocab: readonly string[]): boolean {
  const words = vocab.filter((t) => !/^\[.*\]$/.test(t));
  return words.filter((t) => /\p{Lu}/u.test(t)).length > words.length / 20;
}

export async function runInit(o: InitCommandOptions, io: CliIO = processIO): Promise<{ out: string; config: BertConfig }> {
  const vocabPath = requireFile('--vocab', o.vocab);
  if (!o.out) throw new RootsError('ERR_INVALID_ARG', '--out is required (the model folder to create)');
  if (o.lowercase && o.cased) throw new RootsError('ERR_INVALID_ARG', '--lowercase and --cased contradict each other');
  if (o.labels && o.labelsFrom) throw new RootsError('ERR_INVALID_ARG', 'give --labels or --labels-from, not both');
  if (existsSync(join(o.out, 'config.json')) && !o.force) throw new RootsError('ERR_IO', `--out ${o.out} already has a config.json (pass --force to replace it)`);
  const vocab = parseVocab(await readTextFile(vocabPath));
  for (const t of ['[UNK]', '[CLS]', '[SEP]', '[PAD]']) {
    if (!vocab.includes(t)) throw new RootsError('ERR_CONFIG', `--vocab ${vocabPath}: the vocabulary lacks ${t}`);
  }
  const hidden = o.hidden ?? 256;
  const maxPosition = o.maxPosition ?? 512;
  let config = normalizeConfig({
    vocab_size: vocab.length, hidden_size: hidden, num_hidden_layers: o.layers ?? 4, num_attention_heads: o.heads ?? 4,
    intermediate_size: o.intermediate ?? 4 * hidden, max_position_embeddings: maxPosition,
    hidden_dropout_prob: o.dropout ?? 0.1, attention_probs_dropout_prob: o.dropout ?? 0.1,
    pad_token_id: vocab.indexOf('[PAD]'),
  }, 'roots init');
  let labels: string[] | undefined;
  if (o.labels) labels = o.labels.split(',').map((l) => l.trim()).filter((l) => l !== '');
  if (o.labelsFrom) {
    const data = await readConll(requireFile('--labels-from', o.labelsFrom));
    const scheme = o.scheme ?? 'IOB2';
    labels = [...LabelVocab.fromTags(data.map((s) => convertTags(s.tags, scheme))).labels];
    config = { ...config, tag_scheme: scheme };
  }
  if (labels) {
    if (labels.length < 2) throw new RootsError('ERR_INVALID_ARG', `--labels needs at least two labels but got ${JSON.stringify(labels)}`);
    config = { ...withLabels(config, labels), architectures: ['BertForTokenClassification'] };
    delete (config as Record<string, unknown>).num_labels;
  }
  const lowercase = o.lowercase ? true : o.cased ? false : !looksCased(vocab);
  const tokenizer = Tokenizer.fromVocab(vocab, { do_lower_case: lowercase, model_max_length: maxPosition });
  await mkdir(o.out, { recursive: true });
  await tokenizer.save(o.out);
  await writeFileAtomic(join(o.out, 'config.json'), JSON.stringify({ ...config, model_type: 'bert' }, null, 2) + '\n');
  const params = vocab.length * hidden + maxPosition * hidden + (config.num_hidden_layers * (4 * hidden * hidden + 2 * hidden * config.intermediate_size));
  if (o.json) io.out(JSON.stringify({ out: o.out, config }, null, 2) + '\n');
  else {
    io.out(`Wrote ${o.out}: config.json (BERT ${config.num_hidden_layers} layers, hidden ${hidden}, ${config.num_attention_heads} heads, ` +
      `intermediate ${config.intermediate_size}, vocab ${vocab.length}, ~${(params / 1e6).toFixed(1)}M parameters` +
      `${labels ? `, ${labels.length} labels` : ''}) and the tokenizer (${lowercase ? 'lowercased' : 'cased'}); no weights: training starts fresh\n`);
  }
  return { out: o.out, config };
}

export function registerInit(program: Command, io: CliIO = processIO): void {
  program
    .command('init')
    .description('create a model folder (config.json + tokenizer, no weights) to train from scratch')
    .option('--vocab <file>', 'WordPiece vocabulary (vocab.txt, one token a line)')
    .option('--out <dir>', 'the folder to create')
    .option('--hidden <n>', 'hidden size (default 256)', cli(parsers.positiveInt))
    .option('--layers <n>', 'transformer layers (default 4)', cli(parsers.positiveInt))
    .option('--heads <n>', 'attention heads; must divide --hidden (default 4)', cli(parsers.positiveInt))
    .option('--intermediate <n>', 'feed-forward size (default 4 x hidden)', cli(parsers.positiveInt))
    .option('--max-position <n>', 'longest input in tokens (default 512)', cli(parsers.positiveInt))
    .option('--dropout <p>', 'hidden and attention dropout (default 0.1)', cli(parsers.number(0, 0.99)))
    .option('--labels <list>', 'comma-separated labels, e.g. O,B-PER,I-PER (optional: roots train takes them from the data)')
    .option('--labels-from <file>', 'take the labels from a CoNLL file')
    .option('--scheme <name>', `tag scheme of --labels-from labels (default IOB2)`, cli(parsers.choice(TAG_SCHEMES)))
    .option('--lowercase', 'lowercase the input (an uncased vocabulary)')
    .option('--cased', 'keep case (default when the vocabulary has capitals)')
    .option('--force', 'replace an existing config.json')
    .option('--json', 'print the config as JSON')
    .action(async (o: InitCommandOptions) => { await runInit(o, io); });
}
