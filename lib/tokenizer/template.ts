/**
 * Pair templates, truncation and padding: what turns one or two encoded sequences into a model
 * input (`[CLS] A [SEP] B [SEP]`, token type ids, `maxLength`, padding), as the Rust crate does it.
 */
import { RootsError, describe } from '../errors.js';
import type { Encoding, EncodeOptions, Json, Seq, TemplateItem, TruncationStrategy } from './types.js';

/** Templates without special tokens (`addSpecialTokens: false`): type ids stay 0, as in HF. */
export const BARE_SINGLE: TemplateItem[] = [{ special: false, seq: 0, typeId: 0 }];
export const BARE_PAIR: TemplateItem[] = [{ special: false, seq: 0, typeId: 0 }, { special: false, seq: 1, typeId: 0 }];

/**
 * The single and pair templates of a tokenizer.json post-processor (TemplateProcessing,
 * BertProcessing, RobertaProcessing; none means no special tokens). Its structure was checked on
 * load; here the special tokens are resolved against the vocabulary.
 */
export function parseTemplate(pp: Json | null, tokensToIds: ReadonlyMap<string, number>, source: string): [TemplateItem[], TemplateItem[]] {
  const special = (name: string, typeId: number, ids?: number[], tokens?: string[]): TemplateItem => {
    const resolvedIds = ids ?? [tokensToIds.get(name)!];
    if (resolvedIds.some((id) => typeof id !== 'number')) {
      throw new RootsError('ERR_CONFIG', `${source}: post_processor special token ${JSON.stringify(name)} is not in the vocabulary`);
    }
    return { special: true, ids: resolvedIds, tokens: tokens ?? [name], typeId };
  };
  if (pp === null) return [BARE_SINGLE, BARE_PAIR];
  switch (pp.type) {
    case 'TemplateProcessing': {
      const specials = (pp.special_tokens ?? {}) as Record<string, Json>;
      const parse = (items: Json[]): TemplateItem[] => items.map((item) => {
        if (item.SpecialToken) {
          const def = specials[item.SpecialToken.id];
          return special(item.SpecialToken.id, item.SpecialToken.type_id ?? 0, def?.ids, def?.tokens);
        }
        if (item.Sequence) return { special: false, seq: item.Sequence.id === 'B' ? 1 : 0, typeId: item.Sequence.type_id ?? 0 };
        throw new RootsError('ERR_CONFIG', `${source}: unknown TemplateProcessing item ${JSON.stringify(item)}`);
      });
      return [parse(pp.single ?? []), parse(pp.pair ?? [])];
    }
    case 'BertProcessing': {
      const [clsName, clsId] = pp.cls as [string, number];
      const [sepName, sepId] = pp.sep as [string, number];
      return [
        [special(clsName, 0, [clsId]), { special: false, seq: 0, typeId: 0 }, special(sepName, 0, [sepId])],
        [special(clsName, 0, [clsId]), { special: false, seq: 0, typeId: 0 }, special(sepName, 0, [sepId]), { special: false, seq: 1, typeId: 1 }, special(sepName, 1, [sepId])],
      ];
    }
    case 'RobertaProcessing': {
      const [clsName, clsId] = pp.cls as [string, number];
      const [sepName, sepId] = pp.sep as [string, number];
      return [
        [special(clsName, 0, [clsId]), { special: false, seq: 0, typeId: 0 }, special(sepName, 0, [sepId])],
        [special(clsName, 0, [clsId]), { special: false, seq: 0, typeId: 0 }, special(sepName, 0, [sepId]), special(sepName, 0, [sepId]), { special: false, seq: 1, typeId: 0 }, special(sepName, 0, [sepId])],
      ];
    }
    default:
      throw new RootsError('ERR_CONFIG', `${source}: post_processor type ${JSON.stringify(pp.type)} is not supported (expected TemplateProcessing, BertProcessing or RobertaProcessing)`);
  }
}

/** Special tokens a template adds (HF `num_special_tokens_to_add`). */
export function specialTokenCount(template: readonly TemplateItem[]): number {
  return template.reduce((n, item) => n + (item.special ? item.ids.length : 0), 0);
}

/** The truncation strategy of `options` (false for none), checked. */
export function truncationOf(options: EncodeOptions): TruncationStrategy | false {
  const strategy: TruncationStrategy | false = options.truncation === true ? 'longest_first' : options.truncation || false;
  if (strategy !== false && strategy !== 'longest_first' && strategy !== 'only_first' && strategy !== 'only_second') {
    throw new RootsError('ERR_INVALID_ARG', `Expected truncation to be true, false, 'longest_first', 'only_first' or 'only_second' but received ${describe(strategy)}`);
  }
  if (strategy !== false && options.truncationSide !== undefined && options.truncationSide !== 'left' && options.truncationSide !== 'right') {
    throw new RootsError('ERR_INVALID_ARG', `Expected truncationSide 'left' or 'right' but received ${describe(options.truncationSide)}`);
  }
  return strategy;
}

/**
 * One encoding from one or two sequences and a template. `idToToken` names special tokens the
 * template gives ids but no strings for.
 */
export function applyTemplate(template: readonly TemplateItem[], a: Seq, b: Seq | null, returnOffsets: boolean, idToToken: (id: number) => string | undefined): Encoding {
  const enc: Encoding = { ids: [], tokens: [], typeIds: [], attentionMask: [], specialTokensMask: [], wordIds: [], sequenceIds: [] };
  const offsets: [number, number][] | undefined = returnOffsets ? [] : undefined;
  for (const item of template) {
    if (item.special) {
      for (let i = 0; i < item.ids.length; i++) {
        enc.ids.push(item.ids[i]);
        enc.tokens.push(item.tokens[i] ?? idToToken(item.ids[i]) ?? '');
        enc.typeIds.push(item.typeId);
        enc.attentionMask.push(1);
        enc.specialTokensMask.push(1);
        enc.wordIds.push(null);
        enc.sequenceIds.push(null);
        offsets?.push([0, 0]);
      }
    } else {
      const s = item.seq === 0 ? a : b;
      if (s === null) continue;
      for (let i = 0; i < s.ids.length; i++) {
        enc.ids.push(s.ids[i]);
        enc.tokens.push(s.tokens[i]);
        enc.typeIds.push(item.typeId);
        enc.attentionMask.push(1);
        enc.specialTokensMask.push(0);
        enc.wordIds.push(s.words[i]);
        enc.sequenceIds.push(item.seq);
        offsets?.push([s.starts[i], s.ends[i]]);
      }
    }
  }
  if (offsets) enc.offsets = offsets;
  return enc;
}

/** `e` padded on the right to `target` tokens (a new object; `e` itself when already that long). */
export function padEncoding(e: Encoding, target: number, padId: number, padToken: string): Encoding {
  const n = target - e.ids.length;
  if (n <= 0) return e;
  const fill = <T>(arr: T[], v: T): T[] => arr.concat(new Array<T>(n).fill(v));
  const out: Encoding = {
    ids: fill(e.ids, padId),
    tokens: fill(e.tokens, padToken),
    typeIds: fill(e.typeIds, 0),
    attentionMask: fill(e.attentionMask, 0),
    specialTokensMask: fill(e.specialTokensMask, 1),
    wordIds: fill(e.wordIds, null),
    sequenceIds: fill(e.sequenceIds, null),
  };
  if (e.offsets) out.offsets = e.offsets.concat(Array.from({ length: n }, (): [number, number] => [0, 0]));
  return out;
}

/**
 * Truncates one or two sequences so their lengths sum to at most `budget`, as the Rust crate does:
 * `longest_first` gives the shorter sequence what it needs (up to half) and the rest to the other.
 */
export function truncatePair(a: Seq, b: Seq | null, budget: number, strategy: TruncationStrategy, left: boolean): [Seq, Seq | null] {
  const cut = (s: Seq, n: number): Seq => {
    if (s.ids.length <= n) return s;
    const from = left ? s.ids.length - n : 0;
    const to = left ? s.ids.length : n;
    return { ids: s.ids.slice(from, to), tokens: s.tokens.slice(from, to), words: s.words.slice(from, to), starts: s.starts.slice(from, to), ends: s.ends.slice(from, to) };
  };
  if (b === null) {
    if (strategy === 'only_second') throw new RootsError('ERR_INVALID_ARG', "truncation 'only_second' needs a pair of sequences");
    return [cut(a, budget), null];
  }
  const n1 = a.ids.length;
  const n2 = b.ids.length;
  if (n1 + n2 <= budget) return [a, b];
  if (strategy === 'only_first') {
    if (n2 >= budget) throw new RootsError('ERR_INVALID_ARG', `truncation 'only_first' cannot fit: the second sequence alone has ${n2} tokens and maxLength leaves ${budget} for both (use 'longest_first')`);
    return [cut(a, budget - n2), b];
  }
  if (strategy === 'only_second') {
    if (n1 >= budget) throw new RootsError('ERR_INVALID_ARG', `truncation 'only_second' cannot fit: the first sequence alone has ${n1} tokens and maxLength leaves ${budget} for both (use 'longest_first')`);
    return [a, cut(b, budget - n1)];
  }
  const swap = n1 > n2;
  const short = swap ? n2 : n1;
  let keepShort = short;
  let keepLong = Math.max(short, budget - short);
  if (keepShort + keepLong > budget) {
    keepShort = Math.floor(budget / 2);
    keepLong = keepShort + (budget % 2);
  }
  return swap ? [cut(a, keepLong), cut(b, keepShort)] : [cut(a, keepShort), cut(b, keepLong)];
}

