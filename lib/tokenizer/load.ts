/**
 * Loading: a model folder (tokenizer.json, or vocab.txt built the way HF's `BertConverter` builds
 * it, plus tokenizer_config.json and special_tokens_map.json), and the structure checks that turn a
 * malformed tokenizer.json into a message naming the file and the field.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RootsError, describe, expectPositiveInt } from '../errors.js';
import type { Json, SpecialTokens, TokenizerLoadOptions } from './types.js';

export const DEFAULT_SPECIALS: SpecialTokens = { unk: '[UNK]', cls: '[CLS]', sep: '[SEP]', pad: '[PAD]', mask: '[MASK]' };

/** The special token name in a tokenizer_config.json field: a string or an AddedToken object. */
export function tokenName(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as Json).content === 'string') return (value as Json).content;
  return undefined;
}

async function readJsonFile(path: string): Promise<Json | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new RootsError('ERR_IO', `Cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      throw new Error(`expected a JSON object, found ${Array.isArray(value) ? 'an array' : typeof value}`);
    }
    return value as Json;
  } catch (err) {
    throw new RootsError('ERR_PARSE', `Cannot parse ${path}: ${(err as Error).message}`, { cause: err });
  }
}

async function readTextFile(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new RootsError('ERR_IO', `Cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Parses a vocab.txt (one token per line, id = line number) into an ordered token list. Like HF's
 * `load_vocab`, a duplicated token keeps its last id.
 */
export function parseVocab(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/**
 * The tokenizer.json Hugging Face's `BertConverter` would write for a vocab.txt and the BERT
 * options of tokenizer_config.json, built in memory.
 */
export function bertTokenizerJson(vocab: readonly string[], options: {
  doLowerCase?: boolean; stripAccents?: boolean | null; tokenizeChineseChars?: boolean; specialTokens?: Partial<SpecialTokens>;
} = {}): Json {
  const specials = { ...DEFAULT_SPECIALS, ...options.specialTokens };
  const vocabObj: Record<string, number> = Object.create(null);
  vocab.forEach((token, id) => { vocabObj[token] = id; });
  for (const key of ['unk', 'cls', 'sep'] as const) {
    if (!(specials[key] in vocabObj)) {
      throw new RootsError('ERR_CONFIG', `vocab.txt has no ${specials[key]} token (${key}_token); a BERT vocabulary needs ${specials.unk}, ${specials.cls} and ${specials.sep}`);
    }
  }
  const addedTokens = [specials.pad, specials.unk, specials.cls, specials.sep, specials.mask]
    .filter((t) => t in vocabObj)
    .map((t) => ({ id: vocabObj[t], content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }))
    .sort((a, b) => a.id - b.id);
  const cls = specials.cls;
  const sep = specials.sep;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: options.tokenizeChineseChars ?? true,
      strip_accents: options.stripAccents ?? null,
      lowercase: options.doLowerCase ?? true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: cls, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: sep, type_id: 0 } }],
      pair: [
        { SpecialToken: { id: cls, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: sep, type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: sep, type_id: 1 } },
      ],
      special_tokens: {
        [cls]: { id: cls, ids: [vocabObj[cls]], tokens: [cls] },
        [sep]: { id: sep, ids: [vocabObj[sep]], tokens: [sep] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: specials.unk,
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: vocabObj,
    },
  };
}
/** `config` with the BERT options of tokenizer_config.json as {@link bertTokenizerJson} takes them. */
export function bertJsonFromConfig(vocab: readonly string[], config: Json): Json {
  return bertTokenizerJson(vocab, {
    doLowerCase: typeof config.do_lower_case === 'boolean' ? config.do_lower_case : undefined,
    stripAccents: config.strip_accents as boolean | null | undefined,
    tokenizeChineseChars: typeof config.tokenize_chinese_chars === 'boolean' ? config.tokenize_chinese_chars : undefined,
    specialTokens: {
      ...(tokenName(config.unk_token) && { unk: tokenName(config.unk_token) }),
      ...(tokenName(config.cls_token) && { cls: tokenName(config.cls_token) }),
      ...(tokenName(config.sep_token) && { sep: tokenName(config.sep_token) }),
      ...(tokenName(config.pad_token) && { pad: tokenName(config.pad_token) }),
      ...(tokenName(config.mask_token) && { mask: tokenName(config.mask_token) }),
    },
  });
}

const MODEL_TYPES = ['WordPiece', 'BPE', 'Unigram'];
/** The member holding the children of a `Sequence` component, by component. */
const SEQUENCE_MEMBERS: Record<string, string> = {
  normalizer: 'normalizers', pre_tokenizer: 'pretokenizers', decoder: 'decoders', post_processor: 'processors',
};

/** Throws the error for `field`: what it must be, and what it is. */
type Fail = (field: string, expected: string, value: unknown) => never;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isIndex = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;

/**
 * Checks the parts of a tokenizer.json that this wrapper and the library read, so a file of the
 * wrong structure fails with the file, the field and what was expected instead of a TypeError from
 * deep inside the library.
 */
function checkTokenizerJson(json: Json, source: string): void {
  const bad: Fail = (field, expected, value) => {
    throw new RootsError('ERR_CONFIG', `${source}: ${field} must be ${expected} but is ${value === undefined ? 'missing' : describe(value)}`);
  };
  const model = json.model as Json;
  if (typeof model.type === 'string' && !MODEL_TYPES.includes(model.type)) {
    bad('model.type', MODEL_TYPES.map((t) => `"${t}"`).join(', ').replace(/, ([^,]*)$/, ' or $1'), model.type);
  }
  const type = model.type ?? (Array.isArray(model.vocab) ? 'Unigram' : undefined);
  if (type === 'Unigram') {
    if (!Array.isArray(model.vocab)) bad('model.vocab', 'an array of [piece, score] pairs for a Unigram model', model.vocab);
    model.vocab.forEach((e: unknown, i: number) => {
      if (!Array.isArray(e) || typeof e[0] !== 'string' || typeof e[1] !== 'number') bad(`model.vocab[${i}]`, 'a [piece, score] pair', e);
    });
  } else {
    if (!isObject(model.vocab)) bad('model.vocab', 'an object mapping tokens to ids', model.vocab);
    for (const [token, id] of Object.entries(model.vocab as Json)) {
      if (!isIndex(id)) bad(`model.vocab[${JSON.stringify(token)}]`, 'a non-negative integer id', id);
    }
    if (model.unk_token !== undefined && model.unk_token !== null && typeof model.unk_token !== 'string') bad('model.unk_token', 'a string', model.unk_token);
    if (model.continuing_subword_prefix !== undefined && model.continuing_subword_prefix !== null && typeof model.continuing_subword_prefix !== 'string') {
      bad('model.continuing_subword_prefix', 'a string', model.continuing_subword_prefix);
    }
    if (type === 'BPE' && !Array.isArray(model.merges)) bad('model.merges', 'an array of merges for a BPE model', model.merges);
  }
  if (json.added_tokens !== undefined && json.added_tokens !== null) {
    if (!Array.isArray(json.added_tokens)) bad('added_tokens', 'an array', json.added_tokens);
    (json.added_tokens as unknown[]).forEach((t, i) => {
      if (!isObject(t)) bad(`added_tokens[${i}]`, 'an object { id, content, ... }', t);
      if (!isIndex(t.id)) bad(`added_tokens[${i}].id`, 'a non-negative integer', t.id);
      if (typeof t.content !== 'string' || t.content === '') bad(`added_tokens[${i}].content`, 'a non-empty string', t.content);
      for (const flag of ['special', 'normalized', 'single_word', 'lstrip', 'rstrip']) {
        if (t[flag] !== undefined && typeof t[flag] !== 'boolean') bad(`added_tokens[${i}].${flag}`, 'true or false', t[flag]);
      }
    });
  }
  const component = (field: string, value: unknown, kind: string): void => {
    if (value === undefined || value === null) return;
    if (!isObject(value)) bad(field, `null or an object with a "type"`, value);
    if (typeof value.type !== 'string') bad(`${field}.type`, `a string naming the ${kind}`, value.type);
    if (value.type === 'Sequence') {
      const member = SEQUENCE_MEMBERS[kind];
      const list = value[member];
      if (list === undefined) return; // the library reads a missing list as empty
      if (!Array.isArray(list)) bad(`${field}.${member}`, 'an array', list);
      list.forEach((child: unknown, i: number) => {
        if (!isObject(child)) bad(`${field}.${member}[${i}]`, 'an object with a "type"', child);
        component(`${field}.${member}[${i}]`, child, kind);
      });
    }
  };
  for (const kind of ['normalizer', 'pre_tokenizer', 'decoder', 'post_processor']) component(kind, json[kind], kind);
  checkPostProcessor(json.post_processor, 'post_processor', bad);
}

/** Checks the fields {@link parseTemplate} reads for the post-processors it supports. */
function checkPostProcessor(pp: unknown, field: string, bad: Fail): void {
  if (!isObject(pp)) return;
  if (pp.type === 'TemplateProcessing') {
    for (const which of ['single', 'pair']) {
      const items = pp[which];
      if (items === undefined) continue;
      if (!Array.isArray(items)) bad(`${field}.${which}`, 'an array of template items ({ "SpecialToken": ... } or { "Sequence": ... })', items);
      items.forEach((item: unknown, i: number) => {
        const at = `${field}.${which}[${i}]`;
        if (!isObject(item)) bad(at, 'an object { "SpecialToken": { "id", "type_id" } } or { "Sequence": { "id", "type_id" } }', item);
        const inner = item.SpecialToken ?? item.Sequence;
        const name = item.SpecialToken !== undefined ? 'SpecialToken' : item.Sequence !== undefined ? 'Sequence' : undefined;
        if (name === undefined) bad(at, 'an object with a "SpecialToken" or a "Sequence" key', Object.keys(item).join(', ') || item);
        if (!isObject(inner)) bad(`${at}.${name}`, 'an object { "id", "type_id" }', inner);
        if (name === 'SpecialToken' && typeof inner.id !== 'string') bad(`${at}.SpecialToken.id`, 'the special token (a string)', inner.id);
        if (name === 'Sequence' && inner.id !== 'A' && inner.id !== 'B') bad(`${at}.Sequence.id`, '"A" or "B"', inner.id);
        if (inner.type_id !== undefined && !isIndex(inner.type_id)) bad(`${at}.${name}.type_id`, 'a non-negative integer', inner.type_id);
      });
    }
    if (pp.special_tokens !== undefined) {
      if (!isObject(pp.special_tokens)) bad(`${field}.special_tokens`, 'an object', pp.special_tokens);
      for (const [name, def] of Object.entries(pp.special_tokens as Json)) {
        const at = `${field}.special_tokens[${JSON.stringify(name)}]`;
        if (!isObject(def)) bad(at, 'an object { "id", "ids", "tokens" }', def);
        if (!Array.isArray(def.ids) || !def.ids.every(isIndex)) bad(`${at}.ids`, 'an array of token ids', def.ids);
        if (def.tokens !== undefined && (!Array.isArray(def.tokens) || !def.tokens.every((t: unknown) => typeof t === 'string'))) {
          bad(`${at}.tokens`, 'an array of token strings', def.tokens);
        }
      }
    }
  } else if (pp.type === 'BertProcessing' || pp.type === 'RobertaProcessing') {
    for (const key of ['cls', 'sep']) {
      const v = pp[key];
      if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'string' || !isIndex(v[1])) bad(`${field}.${key}`, 'a [token, id] pair', v);
    }
  } else if (pp.type === 'Sequence' && Array.isArray(pp.processors)) {
    pp.processors.forEach((p: unknown, i: number) => {
      checkPostProcessor(p, `${field}.processors[${i}]`, bad);
    });
  }
}

/**
 * Makes a tokenizer.json the library can load: older serialisations have no `model.type` (the
 * model kind is implied by its fields) and may lack keys the library requires. Checks its
 * structure first.
 */
export function patchTokenizerJson(json: Json, source: string): Json {
  if (!isObject(json)) {
    throw new RootsError('ERR_CONFIG', `${source}: expected a JSON object with a "model" object with a "vocab" but received ${describe(json)} (is this a Hugging Face tokenizer.json?)`);
  }
  const model = json.model as Json | undefined;
  if (!model || typeof model !== 'object' || !model.vocab || typeof model.vocab !== 'object') {
    throw new RootsError('ERR_CONFIG', `${source}: expected a "model" object with a "vocab" (is this a Hugging Face tokenizer.json?)`);
  }
  checkTokenizerJson(json, source);
  const patched: Json = { ...json };
  if (typeof model.type !== 'string') {
    let type: string;
    if (Array.isArray(model.vocab)) type = 'Unigram';
    else if ('merges' in model) type = 'BPE';
    else if ('continuing_subword_prefix' in model || 'max_input_chars_per_word' in model) type = 'WordPiece';
    else throw new RootsError('ERR_CONFIG', `${source}: "model" has no "type" and its fields (${Object.keys(model).join(', ')}) match neither WordPiece, BPE nor Unigram`);
    // Rebuild with "type" first, as current serialisations write it.
    patched.model = { type, ...model };
  }
  for (const key of ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder']) {
    if (patched[key] === undefined) patched[key] = null;
  }
  if (!Array.isArray(patched.added_tokens)) patched.added_tokens = [];
  return patched;
}

/** What {@link readPretrained} found: the (patched) tokenizer.json, the merged config and the file it came from. */
export interface PretrainedFiles {
  json: Json;
  config: Json;
  source: string;
}

/**
 * Reads a Hugging Face model folder: tokenizer.json if present, else vocab.txt (BERT WordPiece,
 * built the way HF's converter builds it). tokenizer_config.json and special_tokens_map.json are
 * read when present; `options` override them.
 */
export async function readPretrained(dir: string | URL, options: TokenizerLoadOptions): Promise<PretrainedFiles> {
  const path = dir instanceof URL ? fileURLToPath(dir) : dir;
  if (typeof path !== 'string' || path === '') {
    throw new RootsError('ERR_INVALID_ARG', `Expected a folder path for dir but received ${describe(dir)}`);
  }
  try {
    if (!(await stat(path)).isDirectory()) throw new RootsError('ERR_IO', `Tokenizer path ${path} is not a folder`);
  } catch (err) {
    if (err instanceof RootsError) throw err;
    throw new RootsError('ERR_IO', `Tokenizer folder ${path} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  const config: Json = { ...(await readJsonFile(join(path, 'special_tokens_map.json'))), ...(await readJsonFile(join(path, 'tokenizer_config.json'))) };
  if (options.doLowerCase !== undefined) config.do_lower_case = options.doLowerCase;
  if (options.stripAccents !== undefined) config.strip_accents = options.stripAccents;
  if (options.tokenizeChineseChars !== undefined) config.tokenize_chinese_chars = options.tokenizeChineseChars;
  if (options.modelMaxLength !== undefined) config.model_max_length = expectPositiveInt('modelMaxLength', options.modelMaxLength);

  const jsonPath = join(path, 'tokenizer.json');
  const tokenizerJson = await readJsonFile(jsonPath);
  if (tokenizerJson) {
    const json = patchTokenizerJson(tokenizerJson, jsonPath);
    // As HF's BertTokenizerFast: tokenizer_config.json's BERT options win over the normalizer's.
    const norm = json.normalizer as Json | null;
    if (norm && norm.type === 'BertNormalizer') {
      const patched = { ...norm };
      if (typeof config.do_lower_case === 'boolean') patched.lowercase = config.do_lower_case;
      if (config.strip_accents !== undefined) patched.strip_accents = config.strip_accents;
      if (typeof config.tokenize_chinese_chars === 'boolean') patched.handle_chinese_chars = config.tokenize_chinese_chars;
      json.normalizer = patched;
    }
    return { json, config, source: jsonPath };
  }
  const vocabPath = join(path, 'vocab.txt');
  const vocabText = await readTextFile(vocabPath);
  if (vocabText === undefined) {
    throw new RootsError('ERR_IO', `Tokenizer folder ${path} has neither tokenizer.json nor vocab.txt`);
  }
  const vocab = parseVocab(vocabText);
  if (typeof config.do_lower_case !== 'boolean') {
    const cased = vocab.filter((t) => !t.startsWith('[') && /\p{Lu}/u.test(t)).length;
    if (cased > vocab.length / 20) {
      process.emitWarning(`${vocabPath} looks cased (${cased} of ${vocab.length} tokens have capitals) but nothing sets do_lower_case, so it defaults to true as in HF; pass { doLowerCase: false } or add a tokenizer_config.json`, 'RootsWarning');
    }
  }
  return { json: bertJsonFromConfig(vocab, config), config, source: vocabPath };
}
