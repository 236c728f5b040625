/**
 * BERT-family tokenizer over `@huggingface/tokenizers` (pure TypeScript, by Hugging Face).
 *
 * The library gives us the WordPiece model, the vocabulary, the post-processor description and
 * decoding. It returns only ids and tokens for a whole input, so this wrapper adds what training and
 * prediction need (HF Transformers names, camelCased):
 *
 * - single and pair inputs with `[CLS] A [SEP] B [SEP]` and token type ids (from the template in
 *   tokenizer.json);
 * - truncation (`longest_first`, `only_first`, `only_second`) to `maxLength`, padding (to the
 *   longest or to `maxLength`, optionally to a multiple of N), batches;
 * - `wordIds` and `sequenceIds` for every token, both for raw text and for pre-split words
 *   (`encodeWords`: each word is encoded on its own, cached, and never yields zero tokens);
 * - character offsets into the ORIGINAL string (`returnOffsets`), as JS string indices (UTF-16 code
 *   units): `text.slice(start, end)` gives back the exact span, whatever normalization
 *   (lowercasing, accent stripping, control-character removal) did to it.
 *
 * Offsets are computed by normalizing the input one code point at a time with an alignment to the
 * original, pre-tokenizing the normalized text with the same pattern as the library's
 * `BertPreTokenizer`, and running the library's WordPiece model on each word (with a word cache).
 * For BERT's normalizer this follows the Rust `tokenizers` crate (what HF Transformers' fast
 * tokenizers run) where it and the JS library differ: lowercasing is per character (no Greek final
 * sigma) and CJK ideographs outside the BMP are split like the others.
 */
import { fileURLToPath } from 'node:url';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { RootsError, describe, expectPositiveInt } from '../errors.js';
import { DEFAULT_SPECIALS, bertJsonFromConfig, patchTokenizerJson, readPretrained, tokenName } from './load.js';
import { WordEncoder } from './aligned.js';
import { BARE_PAIR, BARE_SINGLE, applyTemplate, padEncoding, parseTemplate, specialTokenCount, truncatePair, truncationOf } from './template.js';
import { saveTokenizer } from './save.js';
import { resolveModelSource } from '../hub/resolve.js';
import type {
  AddedTokenInfo, DecodeOptions, EncodeOptions, Encoding, Json, Seq, SpecialTokens, TemplateItem, TokenizerLoadOptions,
} from './types.js';

export type {
  DecodeOptions, EncodeOptions, Encoding, PaddingStrategy, SpecialTokens, TokenizerLoadOptions, TruncationStrategy,
} from './types.js';
export { bertTokenizerJson, parseVocab } from './load.js';

/**
 * A BERT-family tokenizer: HF tokenizer.json or vocab.txt in, padded id arrays with word ids and
 * character offsets out.
 *
 * ```ts
 * const tok = await Tokenizer.fromPretrained('models/bert-base-uncased');
 * const enc = tok.encode('Zürich 🙂', null, { returnOffsets: true });
 * const batch = tok.encodeBatch([['a question', 'a context']], { truncation: true, maxLength: 128, padding: true });
 * ```
 */
export class Tokenizer {
  /** The library tokenizer (WordPiece model, vocabulary, decoder). */
  readonly hf: HfTokenizer;
  /** Names of the special tokens. */
  readonly specialTokens: SpecialTokens;
  /** Longest input (in tokens) the model accepts, if known (HF `model_max_length`). */
  readonly modelMaxLength: number | undefined;

  readonly #json: Json;
  readonly #config: Json;
  readonly #tokensToIds: Map<string, number>;
  readonly #unkId: number;
  readonly #single: TemplateItem[];
  readonly #pair: TemplateItem[];
  readonly #specialIds: Set<number>;
  readonly #words: WordEncoder;

  /**
   * Builds a tokenizer from a parsed tokenizer.json (checked, and patched for older files) and an
   * optional tokenizer_config.json. Prefer {@link Tokenizer.fromPretrained}.
   */
  constructor(tokenizerJson: Json, tokenizerConfig: Json = {}, source = 'tokenizer.json') {
    const json = patchTokenizerJson(tokenizerJson, source);
    this.#json = json;
    this.#config = tokenizerConfig;
    try {
      this.hf = new HfTokenizer(json, tokenizerConfig);
    } catch (err) {
      throw new RootsError('ERR_CONFIG', `${source}: @huggingface/tokenizers cannot load it: ${(err as Error).message}`, { cause: err });
    }
    const model = this.hf.model!;
    this.#tokensToIds = model.tokens_to_ids;
    const modelJson = json.model as Json;
    const unkName = tokenName(modelJson.unk_token) ?? tokenName(tokenizerConfig.unk_token) ?? DEFAULT_SPECIALS.unk;
    this.specialTokens = {
      unk: unkName,
      cls: tokenName(tokenizerConfig.cls_token) ?? DEFAULT_SPECIALS.cls,
      sep: tokenName(tokenizerConfig.sep_token) ?? DEFAULT_SPECIALS.sep,
      pad: tokenName(tokenizerConfig.pad_token) ?? DEFAULT_SPECIALS.pad,
      mask: tokenName(tokenizerConfig.mask_token) ?? DEFAULT_SPECIALS.mask,
    };
    const unkId = this.#tokensToIds.get(unkName);
    if (unkId === undefined) {
      throw new RootsError('ERR_CONFIG', `${source}: the unknown token ${JSON.stringify(unkName)} is not in the vocabulary`);
    }
    this.#unkId = unkId;
    const maxLen = tokenizerConfig.model_max_length;
    this.modelMaxLength = typeof maxLen === 'number' && Number.isInteger(maxLen) && maxLen > 0 && maxLen < 1e12 ? maxLen : undefined;

    // Template ([CLS] $A [SEP] / [CLS] $A [SEP] $B [SEP]) from the post-processor.
    [this.#single, this.#pair] = parseTemplate(json.post_processor as Json | null, this.#tokensToIds, source);

    // Added tokens are matched in the raw text (normalized: false) or the normalized text.
    const added: AddedTokenInfo[] = (json.added_tokens as Json[]).map((t) => ({
      id: t.id, content: t.content, special: t.special ?? false, normalized: t.normalized ?? !(t.special ?? false),
    }));
    this.#specialIds = new Set(added.filter((t) => t.special).map((t) => t.id));
    this.#words = new WordEncoder({
      hf: this.hf, json, tokensToIds: this.#tokensToIds, unkId, unkToken: unkName, addedTokens: added,
      prefix: typeof modelJson.continuing_subword_prefix === 'string' ? modelJson.continuing_subword_prefix : '##',
    });
  }

  /**
   * Loads a tokenizer from a Hugging Face model folder: tokenizer.json if present, else vocab.txt
   * (BERT WordPiece, built the way HF's converter builds it). tokenizer_config.json and
   * special_tokens_map.json are read when present; `options` override them. `dir` may also be a Hub
   * id (`'bert-base-cased'`, `'org/name@revision'`), read from or downloaded into the Hugging Face cache.
   */
  static async fromPretrained(dir: string | URL, options: TokenizerLoadOptions = {}): Promise<Tokenizer> {
    const folder = typeof dir === 'string' ? await resolveModelSource(dir, 'tokenizer', options) : dir;
    const { json, config, source } = await readPretrained(folder, options);
    return new Tokenizer(json, config, source);
  }

  /**
   * Builds a BERT WordPiece tokenizer from a vocabulary (the lines of vocab.txt) and optional
   * tokenizer_config.json values (`do_lower_case`, `strip_accents`, `tokenize_chinese_chars`,
   * special token names, `model_max_length`).
   */
  static fromVocab(vocab: readonly string[], tokenizerConfig: Json = {}): Tokenizer {
    if (!Array.isArray(vocab) || vocab.some((t) => typeof t !== 'string')) {
      throw new RootsError('ERR_INVALID_ARG', `Expected an array of token strings for vocab but received ${describe(vocab)}`);
    }
    return new Tokenizer(bertJsonFromConfig(vocab, tokenizerConfig), tokenizerConfig, 'vocab');
  }

  // ---------------------------------------------------------------------------------------------
  // Vocabulary
  // ---------------------------------------------------------------------------------------------

  /** Number of ids (highest id + 1, added tokens included): the embedding rows the model needs. */
  get vocabSize(): number {
    return this.hf.model!.vocab.length;
  }
  /** Whether the normalizer lowercases (HF `do_lower_case`). */
  get doLowerCase(): boolean {
    const n = this.#json.normalizer as Json | null;
    if (n === null) return false;
    if (n.type === 'BertNormalizer') return n.lowercase ?? true;
    const lowers = (m: Json): boolean => m.type === 'Lowercase' || (m.type === 'Sequence' && (m.normalizers as Json[]).some(lowers));
    return lowers(n);
  }
  /** Id of `[CLS]` (HF `cls_token_id`), undefined if the vocabulary lacks it; likewise below. */
  get clsTokenId(): number | undefined { return this.#tokensToIds.get(this.specialTokens.cls); }
  get sepTokenId(): number | undefined { return this.#tokensToIds.get(this.specialTokens.sep); }
  get padTokenId(): number | undefined { return this.#tokensToIds.get(this.specialTokens.pad); }
  get unkTokenId(): number { return this.#unkId; }
  get maskTokenId(): number | undefined { return this.#tokensToIds.get(this.specialTokens.mask); }
  /** Ids of all special tokens (HF `all_special_ids`). */
  get allSpecialIds(): number[] { return [...this.#specialIds].sort((a, b) => a - b); }

  /** The id of a token, or undefined when it is not in the vocabulary. */
  tokenToId(token: string): number | undefined {
    return this.#tokensToIds.get(token);
  }
  /** The token of an id, or undefined when the id is out of range. */
  idToToken(id: number): string | undefined {
    return this.hf.model!.vocab[id];
  }
  /** Tokens for ids (HF `convert_ids_to_tokens`); unknown ids give the unknown token. */
  convertIdsToTokens(ids: ArrayLike<number>): string[] {
    const vocab = this.hf.model!.vocab;
    return Array.from(ids, (id) => vocab[id] ?? this.specialTokens.unk);
  }
  /** Ids for tokens (HF `convert_tokens_to_ids`); unknown tokens give the unknown id. */
  convertTokensToIds(tokens: readonly string[]): number[] {
    return tokens.map((t) => this.#tokensToIds.get(t) ?? this.#unkId);
  }
  /** token → id for the whole vocabulary, added tokens included (HF `get_vocab`). */
  getVocab(): Map<string, number> {
    return new Map(this.#tokensToIds);
  }
  /** Special tokens the template adds (HF `num_special_tokens_to_add`). */
  numSpecialTokensToAdd(pair = false): number {
    return specialTokenCount(pair ? this.#pair : this.#single);
  }

  // ---------------------------------------------------------------------------------------------
  // Encoding
  // ---------------------------------------------------------------------------------------------

  /** Word pieces of `text` without special tokens (HF `tokenize`). */
  tokenize(text: string, pair?: string | null): string[] {
    return this.encode(text, pair, { addSpecialTokens: false }).tokens;
  }

  /**
   * Encodes a text, or a pair of texts (`pair`), with special tokens, truncation and padding.
   * Offsets index `text` (and `pair` for tokens whose `sequenceIds` is 1).
   */
  encode(text: string, pair?: string | null, options: EncodeOptions = {}): Encoding {
    if (typeof text !== 'string') throw new RootsError('ERR_INVALID_ARG', `Expected a string for text but received ${describe(text)}`);
    if (pair != null && typeof pair !== 'string') throw new RootsError('ERR_INVALID_ARG', `Expected a string or null for pair but received ${describe(pair)}`);
    this.#checkOffsets(options);
    const a = this.#words.encodeText(text);
    const b = pair == null ? null : this.#words.encodeText(pair);
    return this.#finish(a, b, options, options.padding === 'max_length' ? 'max_length' : false);
  }

  /**
   * Encodes pre-split words (HF `is_split_into_words`): each word is tokenized on its own (cached)
   * and every word yields at least one token (`[UNK]` for a word that would vanish, such as a
   * control character), so `wordIds` covers every word. Offsets index each word.
   */
  encodeWords(words: readonly string[], pair?: readonly string[] | null, options: EncodeOptions = {}): Encoding {
    this.#checkOffsets(options);
    const a = this.#words.encodeWords(words, 'words');
    const b = pair == null ? null : this.#words.encodeWords(pair, 'pair');
    return this.#finish(a, b, options, options.padding === 'max_length' ? 'max_length' : false);
  }

  /** Encodes texts or `[text, pair]` tuples, then pads them together as `options.padding` says. */
  encodeBatch(inputs: readonly (string | readonly [string, string])[], options: EncodeOptions = {}): Encoding[] {
    if (!Array.isArray(inputs)) throw new RootsError('ERR_INVALID_ARG', `Expected an array of inputs but received ${describe(inputs)}`);
    const encs = inputs.map((input, i) => {
      if (typeof input === 'string') return this.encode(input, null, { ...options, padding: false });
      if (Array.isArray(input) && input.length === 2) return this.encode(input[0], input[1], { ...options, padding: false });
      throw new RootsError('ERR_INVALID_ARG', `Expected a string or a [text, pair] tuple for inputs[${i}] but received ${describe(input)}`);
    });
    return this.pad(encs, options);
  }

  /** Encodes lists of pre-split words, then pads them together as `options.padding` says. */
  encodeWordsBatch(inputs: readonly (readonly string[])[], options: EncodeOptions = {}): Encoding[] {
    if (!Array.isArray(inputs)) throw new RootsError('ERR_INVALID_ARG', `Expected an array of word lists but received ${describe(inputs)}`);
    return this.pad(inputs.map((words) => this.encodeWords(words, null, { ...options, padding: false })), options);
  }

  /**
   * Pads encodings (new objects; the inputs are not changed): to the longest (`padding: true` or
   * `'longest'`) or to `maxLength` (`'max_length'`), rounded up to `padToMultipleOf`.
   */
  pad(encodings: readonly Encoding[], options: Pick<EncodeOptions, 'padding' | 'maxLength' | 'padToMultipleOf'> = {}): Encoding[] {
    const strategy = options.padding === true ? 'longest' : options.padding || false;
    if (strategy === false) return encodings.slice();
    if (strategy !== 'longest' && strategy !== 'max_length') {
      throw new RootsError('ERR_INVALID_ARG', `Expected padding to be true, false, 'longest' or 'max_length' but received ${describe(strategy)}`);
    }
    let target = strategy === 'longest' ? Math.max(0, ...encodings.map((e) => e.ids.length)) : this.#maxLength(options.maxLength, 'padding: \'max_length\'');
    if (options.padToMultipleOf !== undefined) {
      const m = expectPositiveInt('padToMultipleOf', options.padToMultipleOf);
      target = Math.ceil(target / m) * m;
    }
    const padId = this.padTokenId;
    if (padId === undefined && encodings.some((e) => e.ids.length < target)) {
      throw new RootsError('ERR_CONFIG', `Cannot pad: the pad token ${JSON.stringify(this.specialTokens.pad)} is not in the vocabulary`);
    }
    return encodings.map((e) => padEncoding(e, target, padId!, this.specialTokens.pad));
  }

  #maxLength(value: number | undefined, what: string): number {
    if (value !== undefined) return expectPositiveInt('maxLength', value);
    if (this.modelMaxLength !== undefined) return this.modelMaxLength;
    throw new RootsError('ERR_INVALID_ARG', `${what} needs maxLength: pass maxLength (the tokenizer has no model_max_length)`);
  }

  /** Truncation, template and padding for one or two encoded sequences. */
  #finish(a: Seq, b: Seq | null, options: EncodeOptions, padding: false | 'max_length'): Encoding {
    const addSpecial = options.addSpecialTokens ?? true;
    const strategy = truncationOf(options);
    if (strategy !== false) {
      const maxLength = this.#maxLength(options.maxLength, 'truncation');
      const budget = maxLength - (addSpecial ? this.numSpecialTokensToAdd(b !== null) : 0);
      if (budget < 0) throw new RootsError('ERR_INVALID_ARG', `maxLength ${maxLength} is shorter than the ${maxLength - budget} special tokens the template adds`);
      [a, b] = truncatePair(a, b, budget, strategy, options.truncationSide === 'left');
    }
    const template = addSpecial ? (b === null ? this.#single : this.#pair) : (b === null ? BARE_SINGLE : BARE_PAIR);
    const enc = applyTemplate(template, a, b, options.returnOffsets ?? false, (id) => this.idToToken(id));
    if (padding === 'max_length') return this.pad([enc], { padding, maxLength: options.maxLength, padToMultipleOf: options.padToMultipleOf })[0];
    return enc;
  }

  #checkOffsets(options: EncodeOptions): void {
    if (options.returnOffsets && !this.#words.aligned) {
      throw new RootsError('ERR_UNSUPPORTED', 'Offsets need a WordPiece tokenizer with a per-character normalizer and a BERT/whitespace pre-tokenizer; this tokenizer.json has other components');
    }
  }

  /** Empties the word caches (benchmarks measure cold and warm runs with it). */
  clearCache(): void {
    this.#words.clearCache();
  }

  // ---------------------------------------------------------------------------------------------
  // Decoding and saving
  // ---------------------------------------------------------------------------------------------

  /** Text for ids, joining `##` pieces (HF `decode`). */
  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const list = Array.from(ids);
    for (let i = 0; i < list.length; i++) {
      if (!Number.isInteger(list[i])) throw new RootsError('ERR_INVALID_ARG', `Expected integer token ids but ids[${i}] is ${describe(list[i])}`);
    }
    const kept = options.skipSpecialTokens ? list.filter((id) => !this.#specialIds.has(id)) : list;
    if (kept.length === 0) return '';
    return this.hf.decode(kept, { skip_special_tokens: false, clean_up_tokenization_spaces: options.cleanUpTokenizationSpaces });
  }

  /** Decodes each row (HF `batch_decode`). */
  batchDecode(rows: readonly ArrayLike<number>[], options: DecodeOptions = {}): string[] {
    return rows.map((r) => this.decode(r, options));
  }

  /** The tokenizer.json this tokenizer runs (patched: `model.type` present). */
  toJSON(): Json {
    return this.#json;
  }

  /**
   * Writes tokenizer.json, tokenizer_config.json, special_tokens_map.json and (for WordPiece)
   * vocab.txt into `dir`, so a model folder is self-contained for us and for HF Transformers.
   */
  async save(dir: string | URL): Promise<void> {
    await saveTokenizer(dir instanceof URL ? fileURLToPath(dir) : dir, {
      json: this.#json, config: this.#config, specialTokens: this.specialTokens, doLowerCase: this.doLowerCase, modelMaxLength: this.modelMaxLength,
    });
  }
}
