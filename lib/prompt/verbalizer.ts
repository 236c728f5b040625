/**
 * Verbalizers: the words that stand for each label at the template's mask (`{"positive": "great",
 * "negative": "terrible"}`; a label may have several words). A word that the tokenizer splits into
 * several pieces is scored as the mean log-probability of its pieces at the mask, a label with
 * several words as the mean of its words' scores (native/prompt.h). Words are checked against the
 * vocabulary: a word the tokenizer can only spell with [UNK] is an error naming the word and label.
 */
import { readFileSync } from 'node:fs';
import { RootsError, describe } from '../errors.js';
import type { Tokenizer } from '../tokenizer/index.js';

/** The verbalizer as the batch carries it to the native loss (lib/batch.ts). */
export interface VerbalizerIds {
  /** [numLabels * pieces]: the token ids of each label's words, padded with 0. */
  ids: Int32Array;
  /** [numLabels * pieces]: 1 / (words of the label * pieces of the word), 0 on padding. */
  weights: Float32Array;
  numLabels: number;
  /** Labels in id order. */
  labels: readonly string[];
  /** `tokens[label][word]`: the token ids of each word. */
  tokens: readonly (readonly (readonly number[])[])[];
}

export interface ResolveOptions {
  /** Refuse words of more than one token (default false: they are scored by the mean of their pieces). */
  singleToken?: boolean;
}

export class Verbalizer {
  /** Labels in the order the file gives them. */
  readonly labels: readonly string[];
  readonly #words: ReadonlyMap<string, readonly string[]>;
  /** Where it came from (a file path), for messages. */
  readonly source: string;

  constructor(mapping: Readonly<Record<string, string | readonly string[]>>, source = 'the verbalizer') {
    if (typeof mapping !== 'object' || mapping === null || Array.isArray(mapping)) {
      throw new RootsError('ERR_INVALID_ARG', `${source}: expected an object mapping each label to a word or a list of words, e.g. {"positive": "great", "negative": "terrible"}, but received ${describe(mapping)}`);
    }
    const words = new Map<string, string[]>();
    for (const [label, value] of Object.entries(mapping)) {
      const list = typeof value === 'string' ? [value] : value;
      if (!Array.isArray(list) || list.length === 0 || list.some((w) => typeof w !== 'string' || w.trim() === '')) {
        throw new RootsError('ERR_INVALID_ARG', `${source}: label ${JSON.stringify(label)} must map to a non-empty word or a non-empty list of words, not ${describe(value)}`);
      }
      words.set(label, list.map((w) => w.trim()));
    }
    if (words.size < 2) throw new RootsError('ERR_INVALID_ARG', `${source}: a verbalizer needs words for at least two labels (found ${words.size})`);
    this.labels = [...words.keys()];
    this.#words = words;
    this.source = source;
  }

  /** Reads a JSON verbalizer file (`--verbalizer labels.json`); small, so read synchronously. */
  static readFile(path: string): Verbalizer {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new RootsError('ERR_IO', `--verbalizer ${path}: cannot read it (${(e as Error).message})`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new RootsError('ERR_PARSE', `--verbalizer ${path}: not valid JSON (${(e as Error).message}); expected e.g. {"positive": "great", "negative": "terrible"}`);
    }
    return new Verbalizer(json as Record<string, string>, `--verbalizer ${path}`);
  }

  /** The words of a label. */
  words(label: string): readonly string[] {
    const w = this.#words.get(label);
    if (!w) throw this.#missing(label);
    return w;
  }

  /** Whether it has words for `label`. */
  has(label: string): boolean {
    return this.#words.has(label);
  }

  /** The mapping as JSON (what config.json keeps). */
  toJSON(): Record<string, string[]> {
    return Object.fromEntries([...this.#words].map(([l, w]) => [l, [...w]]));
  }

  /**
   * Token ids and weights for `labels` (the model's label order; default the verbalizer's own).
   * Every label needs words; every word must tokenize without [UNK].
   */
  resolve(tokenizer: Tokenizer, labels: readonly string[] = this.labels, options: ResolveOptions = {}): VerbalizerIds {
    const unk = tokenizer.unkTokenId;
    const tokens = labels.map((label) => this.words(label).map((word) => {
      const ids = tokenizer.encode(word, null, { addSpecialTokens: false }).ids;
      if (ids.length === 0) throw new RootsError('ERR_INVALID_ARG', `${this.source}: the word ${JSON.stringify(word)} of label ${JSON.stringify(label)} tokenizes to nothing`);
      if (ids.includes(unk)) {
        throw new RootsError('ERR_INVALID_ARG', `${this.source}: the word ${JSON.stringify(word)} of label ${JSON.stringify(label)} is not in the tokenizer's vocabulary (it tokenizes to ${tokenizer.convertIdsToTokens(ids).join(' ')}); choose another word`);
      }
      if (options.singleToken && ids.length > 1) {
        throw new RootsError('ERR_INVALID_ARG', `${this.source}: the word ${JSON.stringify(word)} of label ${JSON.stringify(label)} is ${ids.length} tokens (${tokenizer.convertIdsToTokens(ids).join(' ')}); single-token verbalizers need one-token words: choose another, or allow multi-token words (scored by the mean log-probability of their pieces)`);
      }
      return ids;
    }));
    const width = Math.max(...tokens.map((ws) => ws.reduce((n, w) => n + w.length, 0)));
    const ids = new Int32Array(labels.length * width);
    const weights = new Float32Array(labels.length * width);
    tokens.forEach((ws, c) => {
      let k = c * width;
      for (const w of ws) for (const id of w) { ids[k] = id; weights[k] = 1 / (ws.length * w.length); k++; }
    });
    return { ids, weights, numLabels: labels.length, labels: [...labels], tokens };
  }

  #missing(label: string): RootsError {
    return new RootsError('ERR_INVALID_ARG', `${this.source} has no word for the label ${JSON.stringify(label)} (it has ${this.labels.map((l) => JSON.stringify(l)).join(', ')}); add "${label}": "<word>"`);
  }
}
