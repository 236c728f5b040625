/**
 * Cloze templates (PET, LM-BFF): `'{text} It was [MASK] .'` turns a classification example into a
 * fill-in-the-blank question for a masked-language model.
 *
 * Placeholders: `{text}` (once, required), `{text_pair}` (at most once), `[MASK]` (once,
 * required; the tokenizer's own mask token is accepted too) and `[P]` (any number: soft prompt
 * tokens, P-tuning's trainable embeddings, numbered in template order; see
 * PromptClassificationTask). Everything else is literal text, tokenized on its own. Rendering truncates the example's texts, never the template or the mask:
 * the texts share what the template leaves of `maxLength`, longest first (as 'longest_first'),
 * and demonstrations (LM-BFF: one example per label, appended after [SEP], with the label's word in
 * place of the mask) only take what the input leaves.
 */
import { RootsError, describe, expectPositiveInt } from '../errors.js';
import type { Tokenizer } from '../tokenizer/index.js';

export type TemplatePart = { kind: 'text' } | { kind: 'text_pair' } | { kind: 'mask' } | { kind: 'literal'; value: string } | { kind: 'soft'; index: number };

/** An example's texts as a template takes them. */
export interface PromptInput {
  text: string;
  textPair?: string;
}

/** A demonstration: an example and the token ids of its label's word (in place of the mask). */
export interface Demonstration extends PromptInput {
  wordIds: readonly number[];
}

export interface RenderOptions {
  /** Longest input in tokens, [CLS] and [SEP]s included. */
  maxLength: number;
  /** LM-BFF demonstrations, appended in this order. */
  demonstrations?: readonly Demonstration[];
}

export interface RenderedPrompt {
  inputIds: Int32Array;
  /** Index of the [MASK] in `inputIds`. */
  maskPosition: number;
  /** Tokens cut from the input's own texts (0 when they fit). */
  truncated: number;
  /** Templates with `[P]`: per token, the soft prompt token there, or -1. */
  softPromptSlots?: Int32Array;
}

const PLACEHOLDER = /\{([^{}]*)\}|\[MASK\]|(\[P\])/g;

export class PromptTemplate {
  readonly source: string;
  readonly parts: readonly TemplatePart[];
  /** Whether the template has `{text_pair}` (pair tasks). */
  readonly hasPair: boolean;
  /** How many `[P]` soft prompt tokens it has (the model's config.soft_prompt_tokens). */
  readonly softTokens: number;
  readonly #literalIds = new WeakMap<Tokenizer, number[][]>();

  private constructor(source: string, parts: TemplatePart[]) {
    this.source = source;
    this.parts = parts;
    this.hasPair = parts.some((p) => p.kind === 'text_pair');
    this.softTokens = parts.filter((p) => p.kind === 'soft').length;
  }

  /**
   * Parses a template. `maskToken`: another spelling of the mask (the tokenizer's, e.g. `<mask>`).
   * Errors name what is missing or unknown and the flag that sets it (--template).
   */
  static parse(source: string, maskToken?: string): PromptTemplate {
    if (typeof source !== 'string' || source.trim() === '') throw new RootsError('ERR_INVALID_ARG', `Expected a template string such as '{text} It was [MASK] .' (--template) but received ${describe(source)}`);
    const parts: TemplatePart[] = [];
    let last = 0;
    const re = maskToken && maskToken !== '[MASK]' ? new RegExp(`${PLACEHOLDER.source}|(${maskToken.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')})`, 'g') : new RegExp(PLACEHOLDER.source, 'g');
    for (const m of source.matchAll(re)) {
      if (m.index! > last) parts.push({ kind: 'literal', value: source.slice(last, m.index) });
      last = m.index! + m[0].length;
      if (m[2] !== undefined) { parts.push({ kind: 'soft', index: parts.filter((p) => p.kind === 'soft').length }); continue; }
      if (m[1] === undefined) { parts.push({ kind: 'mask' }); continue; }
      if (m[1] === 'text') parts.push({ kind: 'text' });
      else if (m[1] === 'text_pair') parts.push({ kind: 'text_pair' });
      else throw new RootsError('ERR_INVALID_ARG', `Template ${JSON.stringify(source)} (--template): unknown placeholder {${m[1]}}; expected {text}, {text_pair} and [MASK]`);
    }
    if (last < source.length) parts.push({ kind: 'literal', value: source.slice(last) });
    const count = (k: TemplatePart['kind']) => parts.filter((p) => p.kind === k).length;
    const mask = maskToken && maskToken !== '[MASK]' ? `[MASK] (or ${maskToken})` : '[MASK]';
    if (count('mask') !== 1) throw new RootsError('ERR_INVALID_ARG', `Template ${JSON.stringify(source)} (--template) has ${count('mask')} ${mask}; a cloze template needs exactly one, where the label word goes (e.g. '{text} It was [MASK] .')`);
    if (count('text') !== 1) throw new RootsError('ERR_INVALID_ARG', `Template ${JSON.stringify(source)} (--template) has ${count('text')} {text} placeholders; it needs exactly one, where the example's text goes (e.g. '{text} It was [MASK] .')`);
    if (count('text_pair') > 1) throw new RootsError('ERR_INVALID_ARG', `Template ${JSON.stringify(source)} (--template) has ${count('text_pair')} {text_pair} placeholders; at most one`);
    return new PromptTemplate(source, parts);
  }

  /** Token ids of each literal part (in order), encoded once per tokenizer. */
  literalIds(tokenizer: Tokenizer): number[][] {
    let ids = this.#literalIds.get(tokenizer);
    if (!ids) {
      ids = this.parts.flatMap((p) => (p.kind === 'literal' ? [tokenizer.encode(p.value, null, { addSpecialTokens: false }).ids] : []));
      this.#literalIds.set(tokenizer, ids);
    }
    return ids;
  }

  /**
   * Renders `input` (and the demonstrations) into `[CLS] prompt [SEP] demo1 [SEP] ...`, truncating
   * only texts. An input with a pair needs `{text_pair}` in the template, and the reverse.
   */
  render(tokenizer: Tokenizer, input: PromptInput, options: RenderOptions): RenderedPrompt {
    const maxLength = expectPositiveInt('maxLength', options.maxLength);
    const cls = tokenizer.clsTokenId, sep = tokenizer.sepTokenId, mask = tokenizer.maskTokenId;
    if (cls === undefined || sep === undefined || mask === undefined) {
      throw new RootsError('ERR_CONFIG', `The tokenizer lacks ${[cls === undefined && 'a [CLS]', sep === undefined && 'a [SEP]', mask === undefined && 'a mask'].filter(Boolean).join(', ')} token, which cloze templates need`);
    }
    const literals = this.literalIds(tokenizer);
    const encode = (t: string) => tokenizer.encode(t, null, { addSpecialTokens: false }).ids;
    const textsOf = (x: PromptInput, what: string): number[][] => {
      if (typeof x.text !== 'string') throw new RootsError('ERR_INVALID_ARG', `Expected a string for ${what}.text but received ${describe(x.text)}`);
      if (this.hasPair && typeof x.textPair !== 'string') throw new RootsError('ERR_INVALID_ARG', `Template ${JSON.stringify(this.source)} has {text_pair} but ${what} has no second text (textPair)`);
      if (!this.hasPair && x.textPair !== undefined) throw new RootsError('ERR_INVALID_ARG', `${what} is a pair of texts but template ${JSON.stringify(this.source)} has no {text_pair}; add it where the second text goes`);
      return this.hasPair ? [encode(x.text), encode(x.textPair!)] : [encode(x.text)];
    };
    const fixed = literals.reduce((n, l) => n + l.length, 0) + this.softTokens;
    const own = textsOf(input, 'the example');
    const demos = (options.demonstrations ?? []).map((d, i) => ({ d, texts: textsOf(d, `demonstration ${i}`) }));
    // [CLS] + [SEP] around the prompt, the template's own tokens and the mask; each demonstration
    // adds its template, its word and a [SEP].
    const ownFixed = 2 + fixed + 1;
    const demoFixed = demos.reduce((n, { d }) => n + fixed + d.wordIds.length + 1, 0);
    const budget = maxLength - ownFixed - demoFixed;
    if (budget < 0) {
      throw new RootsError('ERR_INVALID_ARG', `Template ${JSON.stringify(this.source)} takes ${ownFixed} tokens${demos.length ? ` and its ${demos.length} demonstrations ${demoFixed} more` : ''} without any text, more than maxLength ${maxLength} (--max-length)`);
    }
    const ownLengths = fitLengths(own.map((t) => t.length), budget);
    const used = ownLengths.reduce((a, b) => a + b, 0);
    const demoLengths = fitLengths(demos.flatMap(({ texts }) => texts.map((t) => t.length)), budget - used);
    const out: number[] = [cls];
    const soft: number[] = [];  // [position, soft token] pairs
    let maskPosition = -1;
    const emit = (texts: number[][], lengths: number[], word: readonly number[] | null) => {
      let lit = 0;
      for (const p of this.parts) {
        if (p.kind === 'literal') out.push(...literals[lit++]);
        else if (p.kind === 'soft') {
          // Any id will do (the model puts the soft prompt's embedding there); [UNK] says "not a word".
          soft.push(out.length, p.index);
          out.push(tokenizer.unkTokenId);
        } else if (p.kind === 'mask') {
          if (word) out.push(...word);
          else { maskPosition = out.length; out.push(mask); }
        } else {
          const k = p.kind === 'text' ? 0 : 1;
          for (let i = 0; i < lengths[k]; i++) out.push(texts[k][i]);
        }
      }
      out.push(sep);
    };
    emit(own, ownLengths, null);
    let at = 0;
    for (const { d, texts } of demos) {
      emit(texts, demoLengths.slice(at, at + texts.length), d.wordIds);
      at += texts.length;
    }
    const truncated = own.reduce((n, t, i) => n + t.length - ownLengths[i], 0);
    const rendered: RenderedPrompt = { inputIds: Int32Array.from(out), maskPosition, truncated };
    if (this.softTokens > 0) {
      rendered.softPromptSlots = new Int32Array(out.length).fill(-1);
      for (let i = 0; i < soft.length; i += 2) rendered.softPromptSlots[soft[i]] = soft[i + 1];
    }
    return rendered;
  }
}

/**
 * Lengths that fit `budget`, cutting the longest first: the largest cap L with
 * sum(min(len, L)) <= budget, and what is left of the budget given one token each to the first
 * texts longer than L. Texts that fit are kept whole.
 */
export function fitLengths(lengths: readonly number[], budget: number): number[] {
  const total = lengths.reduce((a, b) => a + b, 0);
  if (total <= budget) return [...lengths];
  if (budget <= 0) return lengths.map(() => 0);
  let lo = 0, hi = Math.max(...lengths);
  while (lo < hi) {  // the largest L with sum(min(len, L)) <= budget
    const mid = Math.ceil((lo + hi) / 2);
    if (lengths.reduce((s, n) => s + Math.min(n, mid), 0) <= budget) lo = mid; else hi = mid - 1;
  }
  const out = lengths.map((n) => Math.min(n, lo));
  let left = budget - out.reduce((a, b) => a + b, 0);
  for (let i = 0; i < out.length && left > 0; i++) if (lengths[i] > lo) { out[i]++; left--; }
  return out;
}
