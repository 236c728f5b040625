// Shared fixtures of the text-classification and intent + slots tests: the shared datasets (read in
// place), bert-base-uncased's vocabulary, strided subsets, and tiny models (fast on 2 cores).
import { join } from 'node:path';
import { Tokenizer } from '../lib/tokenizer/index.js';
import { BertForIntentAndSlots, BertForSequenceClassification, type FromPretrainedOptions } from '../lib/models/bert.js';
import type { BertConfig } from '../lib/models/config.js';
import { readJsonlLog, type TrainLogRecord } from '../lib/trainer/log.js';
import { requireSharedData, sharedData } from './helpers.js';

export const SST2 = join(sharedData, 'textcls', 'sst2');
export const TREC = join(sharedData, 'textcls', 'trec');
export const SNIPS = join(sharedData, 'intent', 'snips');
export const VOCAB = join(sharedData, 'vocab', 'bert-base-uncased');

/** `skip` values (false, or why the data is missing; under CI a missing file fails instead: requireSharedData). */
export const needSst2 = requireSharedData(join(SST2, 'train.tsv'), join(SST2, 'dev.tsv'), join(VOCAB, 'vocab.txt'));
export const needTrec = requireSharedData(join(TREC, 'TREC.train.all'), join(TREC, 'TREC.test.all'), join(VOCAB, 'vocab.txt'));
export const needSnips = requireSharedData(join(SNIPS, 'train', 'seq.in'), join(SNIPS, 'dev', 'seq.in'), join(VOCAB, 'vocab.txt'));

/** Every `k`-th element, starting at `offset`, at most `n` of them (the shared dev files are sorted by class). */
export function strided<T>(items: readonly T[], n: number, offset = 0): T[] {
  const k = Math.max(1, Math.floor(items.length / n));
  const out: T[] = [];
  for (let i = offset; i < items.length && out.length < n; i += k) out.push(items[i]);
  return out;
}

/** bert-base-uncased's vocabulary (lowercasing) with a short window. */
export async function uncasedTokenizer(maxLength = 64): Promise<Tokenizer> {
  return Tokenizer.fromPretrained(VOCAB, { modelMaxLength: maxLength });
}

export const TINY_TC: Partial<BertConfig> = { hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 128, max_position_embeddings: 64 };

export function tinySequenceModel(tokenizer: Tokenizer, labels: readonly string[], options: FromPretrainedOptions = {}): BertForSequenceClassification {
  return BertForSequenceClassification.fromConfig({ ...TINY_TC, vocab_size: tokenizer.vocabSize }, { labels, seed: 1, log: null, ...options });
}

export function tinyIntentSlotsModel(tokenizer: Tokenizer, intents: readonly string[], slots: readonly string[], options: FromPretrainedOptions = {}): BertForIntentAndSlots {
  return BertForIntentAndSlots.fromConfig({ ...TINY_TC, vocab_size: tokenizer.vocabSize }, { labels: intents, slotLabels: slots, seed: 1, log: null, ...options });
}

/** The logged training losses of a run (trainer_log.jsonl). */
export function trainLosses(logPath: string): number[] {
  return readJsonlLog(logPath).filter((r): r is TrainLogRecord => r.type === 'train').map((r) => r.loss!);
}

/** Mean of the first and of the last `k` values. */
export function firstLast(values: readonly number[], k = 2): [number, number] {
  const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return [mean(values.slice(0, k)), mean(values.slice(-k))];
}
