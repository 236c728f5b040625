/**
 * Entity markers for relation classification (Baldini Soares et al. 2019): the text is read as
 * `… [E1] Paris [/E1] is the capital of [E2] France [/E2] …`, the four markers being special tokens
 * of their own, added to the tokenizer (tokenizer.json's added_tokens, after the vocabulary) and to
 * the model's word embeddings (new rows). Typed markers (`[E1:PER]` … `[/E1:PER]`, one set per
 * entity type; Zhou and Chen 2021) are the option when the data gives entity types.
 *
 * Each example becomes `[CLS] … [SEP]` with the markers in place and the token index of `[E1]` and
 * `[E2]` (the entity starts the head pools). A text longer than the window keeps a window centred
 * on the two entities; two entities further apart than the window are an error naming --max-length.
 */
import { RootsError } from '../errors.js';
import { exampleWhere, type RelationSpan, type RelationExample } from '../data/semeval.js';
import type { BertPreTrainedModel, ModelClass } from '../models/bert.js';
import { Tokenizer } from '../tokenizer/index.js';

/** The four untyped markers. */
export const ENTITY_MARKERS = ['[E1]', '[/E1]', '[E2]', '[/E2]'] as const;

/** The markers of one entity: its opening and closing token. */
export function markerTokens(entity: 1 | 2, type?: string): [string, string] {
  return type === undefined ? [`[E${entity}]`, `[/E${entity}]`] : [`[E${entity}:${type}]`, `[/E${entity}:${type}]`];
}

/** Every marker token of a marker set: untyped, or typed for each of `types`. */
export function markerVocabulary(types?: readonly string[]): string[] {
  if (!types) return [...ENTITY_MARKERS];
  return types.flatMap((t) => [...markerTokens(1, t), ...markerTokens(2, t)]);
}

/** The entity types of `examples` (typed markers), sorted; an error naming the example that has none. */
export function entityTypes(examples: readonly RelationExample[]): string[] {
  const types = new Set<string>();
  examples.forEach((ex, i) => {
    for (const [name, s] of [['e1', ex.e1], ['e2', ex.e2]] as const) {
      if (s.type === undefined || s.type === '') {
        throw new RootsError('ERR_INVALID_ARG', `${exampleWhere(ex, i)}: typed markers need an entity type for every entity, but ${name} has none (give ${name}.type in JSONL, or train without --typed-markers)`);
      }
      if (/[\]\s]/.test(s.type)) throw new RootsError('ERR_INVALID_ARG', `entity type ${JSON.stringify(s.type)} (${exampleWhere(ex, i)}) may not contain ']' or whitespace`);
      types.add(s.type);
    }
  });
  return [...types].sort();
}

/**
 * The tokenizer with `markers` as special tokens (added after the vocabulary, matched in the raw
 * text, never split), or the tokenizer itself when it has them all.
 */
export function withMarkerTokens(tokenizer: Tokenizer, markers: readonly string[]): Tokenizer {
  const missing = markers.filter((m) => tokenizer.tokenToId(m) === undefined);
  if (missing.length === 0) return tokenizer;
  const json = structuredClone(tokenizer.toJSON()) as { added_tokens: unknown[] };
  let id = tokenizer.vocabSize;
  for (const content of missing) json.added_tokens.push({ id: id++, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const s = tokenizer.specialTokens;
  return new Tokenizer(json, {
    unk_token: s.unk, cls_token: s.cls, sep_token: s.sep, pad_token: s.pad, mask_token: s.mask,
    ...(tokenizer.modelMaxLength !== undefined ? { model_max_length: tokenizer.modelMaxLength } : {}),
  }, 'tokenizer.json + entity markers');
}

/**
 * A model whose word embeddings have `vocabSize` rows (Transformers' resize_token_embeddings):
 * every parameter copied, the old rows of the embeddings bit-identical, the new rows initialised as
 * a fresh model's are (HF's _init_weights: normal(0, initializer_range), seeded). The given model is
 * returned as it is when it is large enough; otherwise it is disposed.
 */
export function resizeTokenEmbeddings<T extends BertPreTrainedModel>(model: T, vocabSize: number, options: { seed?: number } = {}): T {
  if (vocabSize <= model.config.vocab_size) return model;
  const Cls = model.constructor as unknown as ModelClass<T> & { fromConfig(c: unknown, o: unknown): T };
  const grown = Cls.fromConfig({ ...model.config, vocab_size: vocabSize }, { seed: options.seed ?? 42 });
  try {
    if (grown.precision !== model.precision) grown.setPrecision(model.precision);
    const name = 'bert.embeddings.word_embeddings.weight';
    for (const p of model.parameters()) {
      const values = model.getParameter(p.name);
      if (p.name === name) {
        const rows = grown.getParameter(name);
        rows.set(values, 0);  // rows 0..V_old-1 of [V, H], row-major
        grown.setParameter(name, rows);
      } else {
        grown.setParameter(p.name, values);
      }
    }
    grown.freeze({ patterns: model.parameters().filter((p) => !p.trainable).map((p) => `^${p.name.replace(/\./g, '\\.')}$`) });
    grown.loadReport = model.loadReport;
  } catch (e) {
    grown.dispose();
    throw e;
  }
  model.dispose();
  return grown;
}

/** One encoded relation example. */
export interface MarkedEncoding {
  inputIds: Int32Array;
  /** Token index of `[E1]` and of `[E2]` (the opening markers). */
  entityPositions: [number, number];
}

/** The marked text: the four markers inserted at the spans' edges (a span ending where the other begins closes first). */
export function insertMarkers(text: string, e1: RelationSpan, e2: RelationSpan, typed: boolean): string {
  const [o1, c1] = markerTokens(1, typed ? e1.type : undefined);
  const [o2, c2] = markerTokens(2, typed ? e2.type : undefined);
  const cuts = [
    { at: e1.start, open: 1, s: o1 }, { at: e1.end, open: 0, s: c1 }, { at: e2.start, open: 1, s: o2 }, { at: e2.end, open: 0, s: c2 },
  ].sort((a, b) => a.at - b.at || a.open - b.open);
  let out = '';
  let from = 0;
  for (const c of cuts) { out += text.slice(from, c.at) + c.s; from = c.at; }
  return out + text.slice(from);
}

/**
 * Encodes one example with its markers: `[CLS] … [SEP]` of at most `maxLength` tokens and the
 * positions of `[E1]` and `[E2]`. `where` names the example in errors.
 */
export function encodeMarked(tokenizer: Tokenizer, ex: RelationExample, options: { maxLength: number; typed: boolean; where: string }): MarkedEncoding {
  const { maxLength, typed, where } = options;
  const marked = insertMarkers(ex.text, ex.e1, ex.e2, typed);
  const ids = tokenizer.encode(marked, null, { addSpecialTokens: false }).ids;
  const [o1, c1] = markerTokens(1, typed ? ex.e1.type : undefined);
  const [o2, c2] = markerTokens(2, typed ? ex.e2.type : undefined);
  const pos: number[] = [];
  for (const m of [o1, c1, o2, c2]) {
    const id = tokenizer.tokenToId(m);
    if (id === undefined) {
      throw new RootsError('ERR_CONFIG', `${where}: the tokenizer has no ${m} token${typed ? ` (entity type ${JSON.stringify(m.slice(4, -1))} was not in the training data)` : ''}; a relation model's tokenizer carries its entity markers (train with --task relation-classification)`);
    }
    const at = ids.indexOf(id);
    if (at < 0 || ids.indexOf(id, at + 1) >= 0) {
      throw new RootsError('ERR_PARSE', `${where}: the text itself contains the marker ${m}; entity markers may appear only where the spans put them`);
    }
    pos.push(at);
  }
  const cls = tokenizer.clsTokenId, sep = tokenizer.sepTokenId;
  if (cls === undefined || sep === undefined) throw new RootsError('ERR_CONFIG', 'relation classification needs a tokenizer with [CLS] and [SEP]');
  const budget = maxLength - 2;
  const lo = Math.min(...pos), hi = Math.max(...pos);
  let start = 0;
  if (ids.length > budget) {
    if (hi - lo + 1 > budget) {
      throw new RootsError('ERR_INVALID_ARG', `${where}: the two entities with their markers span ${hi - lo + 1} tokens, more than the ${budget} a window of --max-length ${maxLength} holds; raise --max-length`);
    }
    start = Math.max(0, Math.min(lo - Math.floor((budget - (hi - lo + 1)) / 2), ids.length - budget));
  }
  const window = ids.slice(start, start + budget);
  const inputIds = Int32Array.from([cls, ...window, sep]);
  return { inputIds, entityPositions: [pos[0] - start + 1, pos[2] - start + 1] };
}
