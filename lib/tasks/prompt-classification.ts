/**
 * Prompt-based classification (PET, LM-BFF) on a masked-language model: each example becomes a
 * cloze question through a template (`'{text} It was [MASK] .'`), and the label is the verbalizer
 * word the model finds most likely at the mask. Training is LM-BFF's prompt-based fine-tuning: the
 * MLM head's logits at the mask, restricted to the verbalizer's words, under cross-entropy over the
 * labels (native/prompt.h); no new head, so the pretraining objective is reused.
 *
 * Demonstrations (LM-BFF): with `demonstrations: { pool, seed }`, each input is followed by one
 * example of every label drawn from `pool`, rendered with the template and the label's word in
 * place of the mask. They are drawn once per example (a function of the seed and the example's
 * index; an example never demonstrates itself). Scoring is text classification's: accuracy,
 * macro/weighted F1, MCC, the report and the confusion matrix.
 *
 * Soft prompts (P-tuning): each `[P]` of the template is a trainable embedding instead of a word.
 * The model needs `config.soft_prompt_tokens` = the template's count (`softPromptConfig`); train
 * them alone, the encoder and head frozen, with `freeze: SOFT_PROMPT_ONLY`.
 */
import type { Feature } from '../data/features.js';
import type { LabelVocab } from '../data/labels.js';
import { Rng } from '../data/rng.js';
import type { TextExample } from '../data/readers.js';
import { RootsError, describe } from '../errors.js';
import { PromptTemplate, type Demonstration } from '../prompt/template.js';
import { Verbalizer, type VerbalizerIds } from '../prompt/verbalizer.js';
import type { FreezeStrategy } from '../models/bert.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { TEXT_CLASSIFICATION_METRICS, TextClassificationTask } from './text-classification.js';
import type { Evaluation, FeatureOutputs, Task, TaskContext } from './task.js';

export const PROMPT_CLASSIFICATION_METRICS = TEXT_CLASSIFICATION_METRICS;

/** The freezing that trains only the soft prompt (`soft_prompt.embeddings`): every bert.* and cls.* parameter frozen. */
export const SOFT_PROMPT_ONLY: FreezeStrategy = { patterns: ['^(bert|cls)\\.'] };

/** Model config fields a template needs: `soft_prompt_tokens` when it has `[P]`s (none otherwise). */
export function softPromptConfig(template: PromptTemplate): { soft_prompt_tokens?: number } {
  return template.softTokens > 0 ? { soft_prompt_tokens: template.softTokens } : {};
}

/** A cloze-encoded example: its tokens, the mask's index and the verbalizer the loss scores. */
export interface PromptFeature extends Feature {
  inputIds: Int32Array;
  tokenTypeIds?: Int32Array;
  softPromptSlots?: Int32Array;
  maskPosition: number;
  verbalizer: VerbalizerIds;
}

export interface PromptClassificationTaskOptions {
  /** A template string or a parsed one: `{text}`, optional `{text_pair}`, one `[MASK]`. */
  template: string | PromptTemplate;
  /** The label words: a Verbalizer or a mapping `{ label: word | words[] }`. */
  verbalizer: Verbalizer | Readonly<Record<string, string | readonly string[]>>;
  /** LM-BFF demonstrations: one example per label from `pool`, drawn with `seed` (default 42). */
  demonstrations?: { pool: readonly TextExample[]; seed?: number };
  /** Refuse verbalizer words of more than one token (default false). */
  singleTokenWords?: boolean;
}

export class PromptClassificationTask implements Task<TextExample, PromptFeature> {
  readonly name = 'prompt-classification';
  readonly defaultMetric = 'accuracy';
  readonly template: PromptTemplate;
  readonly verbalizer: Verbalizer;
  readonly #demos: { pool: readonly TextExample[]; seed: number; byLabel: Map<string, number[]> } | null;
  readonly #singleToken: boolean;
  readonly #scorer = new TextClassificationTask();
  readonly #resolved = new WeakMap<Tokenizer, Map<string, VerbalizerIds>>();

  constructor(options: PromptClassificationTaskOptions) {
    if (!options || typeof options !== 'object') throw new RootsError('ERR_INVALID_ARG', 'Expected options { template, verbalizer } for the prompt-classification task');
    this.template = options.template instanceof PromptTemplate ? options.template : PromptTemplate.parse(options.template);
    this.verbalizer = options.verbalizer instanceof Verbalizer ? options.verbalizer : new Verbalizer(options.verbalizer);
    this.#singleToken = options.singleTokenWords ?? false;
    const d = options.demonstrations;
    if (d) {
      const byLabel = new Map<string, number[]>();
      d.pool.forEach((e, i) => {
        if (typeof e.label !== 'string') return;
        const list = byLabel.get(e.label) ?? [];
        list.push(i);
        byLabel.set(e.label, list);
      });
      const missing = this.verbalizer.labels.filter((l) => !byLabel.has(l));
      if (missing.length) throw new RootsError('ERR_INVALID_ARG', `Demonstrations need an example of every label in the pool, but it has none of ${missing.map((l) => JSON.stringify(l)).join(', ')}`);
      this.#demos = { pool: d.pool, seed: d.seed ?? 42, byLabel };
    } else {
      this.#demos = null;
    }
  }

  greaterIsBetter(metric: string): boolean {
    return this.#scorer.greaterIsBetter(metric);
  }

  /** The verbalizer's labels, in its order (the model's id2label); data labels it lacks are an error. */
  labelsOf(examples: readonly TextExample[]): string[] {
    for (const e of examples) {
      if (e.label === undefined) continue;
      if (typeof e.label !== 'string') throw new RootsError('ERR_INVALID_ARG', `Prompt classification takes one label per example, not ${describe(e.label)}${e.line ? ` (line ${e.line})` : ''}`);
      if (!this.verbalizer.has(e.label)) this.verbalizer.words(e.label);  // throws naming the label
    }
    return [...this.verbalizer.labels];
  }

  /** The verbalizer's ids in the model's label order (resolved once per tokenizer and order). */
  verbalizerIds(tokenizer: Tokenizer, labels: LabelVocab | readonly string[]): VerbalizerIds {
    const order = Array.isArray(labels) ? labels as readonly string[] : (labels as LabelVocab).labels;
    const cache = this.#resolved.get(tokenizer) ?? new Map<string, VerbalizerIds>();
    this.#resolved.set(tokenizer, cache);
    const key = order.join('\u0000');
    const ids = cache.get(key) ?? this.verbalizer.resolve(tokenizer, order, { singleToken: this.#singleToken });
    cache.set(key, ids);
    return ids;
  }

  features(examples: readonly TextExample[], ctx: TaskContext): PromptFeature[] {
    const verbalizer = this.verbalizerIds(ctx.tokenizer, ctx.labels);
    return examples.map((ex, i) => {
      const where = `Example ${i}${ex.line ? ` (line ${ex.line})` : ''}`;
      const f = this.template.render(ctx.tokenizer, ex, { maxLength: ctx.maxLength, demonstrations: this.#demonstrationsFor(ex, i, verbalizer) });
      const feature: PromptFeature = { inputIds: f.inputIds, maskPosition: f.maskPosition, verbalizer };
      if (f.softPromptSlots) feature.softPromptSlots = f.softPromptSlots;
      if (ex.label !== undefined) {
        const id = typeof ex.label === 'string' ? ctx.labels.get(ex.label) : undefined;
        if (id === undefined) throw new RootsError('ERR_INVALID_ARG', `${where}: label ${describe(ex.label)} has no verbalizer word (labels: ${ctx.labels.labels.join(', ')})`);
        feature.label = id;
      } else if (ctx.training) {
        throw new RootsError('ERR_INVALID_ARG', `${where} has no label`);
      }
      return feature;
    });
  }

  score(examples: readonly TextExample[], features: readonly PromptFeature[], outputs: FeatureOutputs, ctx: TaskContext): Evaluation {
    return this.#scorer.score(examples, features, outputs, ctx);
  }

  /** One pool example per label (in label order), drawn with (seed, index); never `ex` itself. */
  #demonstrationsFor(ex: TextExample, index: number, v: VerbalizerIds): Demonstration[] | undefined {
    const d = this.#demos;
    if (!d) return undefined;
    const rng = new Rng((Math.imul(d.seed >>> 0, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca77)) | 0);
    return v.labels.map((label, c) => {
      const candidates = d.byLabel.get(label)!;
      let pick = d.pool[candidates[rng.nextInt(candidates.length)]];
      if (pick === ex && candidates.length > 1) {
        const others = candidates.filter((j) => d.pool[j] !== ex);
        pick = d.pool[others[rng.nextInt(others.length)]];
      }
      // The label's first word stands in for the mask (LM-BFF's demonstrations).
      return { text: pick.text, textPair: pick.textPair, wordIds: v.tokens[c][0] };
    });
  }
}

/** `new PromptClassificationTask(options)`. */
export function promptClassificationTask(options: PromptClassificationTaskOptions): PromptClassificationTask {
  return new PromptClassificationTask(options);
}
