/**
 * Zero-shot classification by prompting a masked-language model (PET, LM-BFF): no training, any
 * MLM checkpoint. Each text goes through a cloze template (`'{text} It was [MASK] .'`); each
 * candidate label is scored by the log-probability of its word(s) at the mask (the mean over a
 * multi-token word's pieces, and over a label's words: native/prompt.h), and the scores are
 * normalised over the candidates with a softmax. Output in Transformers' shape:
 * `{ sequence, labels, scores }`, best first.
 *
 * ```ts
 * const zs = await pipeline('zero-shot-classification', 'out/pretrained');
 * await zs('A gorgeous, witty film.', ['great', 'terrible']);             // the labels are the words
 * const sst = await pipeline('zero-shot-classification', 'out/pretrained',
 *   { template: '{text} It was [MASK] .', verbalizer: { positive: 'great', negative: ['terrible', 'bad'] } });
 * await sst('A gorgeous, witty film.');                                   // every label of the verbalizer
 * ```
 *
 * A folder trained with `roots train --task prompt-classification` keeps its template and
 * verbalizer in config.json (`prompt_template`, `prompt_verbalizer`): they are the defaults there.
 * Difference from Transformers' NLI-based pipeline: there is no `multi_label` (one mask, one
 * softmax over the candidates), and `hypothesisTemplate` is the cloze `template`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TextExample } from '../data/readers.js';
import { RootsError, describe, expectPositiveInt } from '../errors.js';
import { BertForMaskedLM, type BertPreTrainedModel, type Device, type Precision } from '../models/bert.js';
import { readConfig } from '../models/config.js';
import { PromptTemplate } from '../prompt/template.js';
import { Verbalizer } from '../prompt/verbalizer.js';
import { forwardFeatures } from '../tasks/forward.js';
import type { PromptFeature } from '../tasks/prompt-classification.js';
import { softmax } from '../tasks/text-classification.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { loadPipelineModel, makePipeline, type PipelineSource } from './source.js';

/** Architectures with a masked-LM head (a Transformers BertForPreTraining loads as one). */
const MLM_ARCHITECTURES = ['BertForMaskedLM', 'BertForPreTraining'];

export interface ZeroShotResult {
  sequence: string;
  labels: string[];
  scores: number[];
}

export interface ZeroShotCallOptions {
  /** The labels to choose from (default: every label of the verbalizer). */
  candidateLabels?: readonly string[];
}

export interface ZeroShotPipelineOptions {
  /** The cloze template (default: the folder's prompt_template, else `'{text} It was [MASK] .'`). */
  template?: string;
  /** Words per label; without one, each candidate label is its own word. */
  verbalizer?: Readonly<Record<string, string | readonly string[]>>;
  device?: Device;
  precision?: Precision;
  /** Texts per forward pass (default 16). */
  batchSize?: number;
  /** Longest input in tokens (default min(512, max_position_embeddings)); texts are truncated, never the template. */
  maxLength?: number;
}

export interface ZeroShotClassificationPipeline {
  (text: string, candidateLabels?: readonly string[] | ZeroShotCallOptions): Promise<ZeroShotResult>;
  (texts: readonly string[], candidateLabels?: readonly string[] | ZeroShotCallOptions): Promise<ZeroShotResult[]>;
  readonly task: 'zero-shot-classification';
  readonly model: BertPreTrainedModel;
  readonly tokenizer: Tokenizer;
  readonly template: PromptTemplate;
  dispose(): void;
  [Symbol.dispose](): void;
}

const DEFAULT_TEMPLATE = '{text} It was [MASK] .';

export async function zeroShotPipeline(source: PipelineSource, options: ZeroShotPipelineOptions = {}): Promise<ZeroShotClassificationPipeline> {
  const batchSize = expectPositiveInt('batchSize', options.batchSize ?? 16);
  if (typeof source === 'string' && existsSync(join(source, 'config.json'))) {
    const arch = (await readConfig(source)).architectures?.[0];
    if (arch && !MLM_ARCHITECTURES.includes(arch)) {
      throw new RootsError('ERR_INVALID_ARG', `${source} holds a ${arch}, which has no masked-LM head; zero-shot prompting needs a masked-language model (BertForMaskedLM: roots pretrain's output, or a pretrained BERT)`);
    }
  }
  const loaded = await loadPipelineModel(source, BertForMaskedLM, 'a masked-language model (BertForMaskedLM)', options,
    { task: 'zero-shot-classification', needs: 'a masked-language model (BertForMaskedLM)' });
  const { model, tokenizer } = loaded;
  // A folder trained with --task prompt-classification keeps its prompt in config.json.
  const saved = { template: model.config.prompt_template as string | undefined, verbalizer: model.config.prompt_verbalizer as Record<string, string[]> | undefined };
  try {
    const template = PromptTemplate.parse(options.template ?? saved.template ?? DEFAULT_TEMPLATE, tokenizer.specialTokens.mask);
    const mapping = options.verbalizer ?? saved.verbalizer;
    const verbalizer = mapping ? new Verbalizer(mapping, 'options.verbalizer') : null;
    if (verbalizer) verbalizer.resolve(tokenizer);  // every word checked against the vocabulary now
    const maxLength = expectPositiveInt('maxLength', options.maxLength ?? Math.min(512, model.config.max_position_embeddings));

    const run = async (input: string | readonly string[], second?: readonly string[] | ZeroShotCallOptions): Promise<ZeroShotResult | ZeroShotResult[]> => {
      const candidates = Array.isArray(second) ? second as readonly string[] : (second as ZeroShotCallOptions | undefined)?.candidateLabels ?? verbalizer?.labels;
      if (!candidates || candidates.length === 0) {
        throw new RootsError('ERR_INVALID_ARG', 'Expected candidate labels (zs(text, [\'label\', ...]) or { candidateLabels }), or a verbalizer in the pipeline options');
      }
      if (candidates.some((c) => typeof c !== 'string') || new Set(candidates).size !== candidates.length) {
        throw new RootsError('ERR_INVALID_ARG', `Expected distinct strings for the candidate labels but received ${describe(candidates)}`);
      }
      // Without a verbalizer each label is its own word (checked against the vocabulary like any word).
      const words = verbalizer ?? new Verbalizer(Object.fromEntries(candidates.map((c) => [c, c])), 'the candidate labels');
      if (candidates.length < 2 && verbalizer === null) throw new RootsError('ERR_INVALID_ARG', 'Zero-shot classification needs at least two candidate labels');
      const v = words.resolve(tokenizer, candidates);
      const single = !Array.isArray(input);
      const texts = single ? [input as string] : input as readonly string[];
      const features: PromptFeature[] = texts.map((text, i) => {
        if (typeof text !== 'string') throw new RootsError('ERR_INVALID_ARG', `Expected a string for text ${i} but received ${describe(text)}`);
        const r = template.render(tokenizer, { text } as TextExample, { maxLength });
        const f: PromptFeature = { inputIds: r.inputIds, maskPosition: r.maskPosition, verbalizer: v };
        if (r.softPromptSlots) f.softPromptSlots = r.softPromptSlots;  // a model trained with [P] soft prompts
        return f;
      });
      const { logits } = await forwardFeatures(model, features, { batchSize, padTokenId: tokenizer.padTokenId ?? 0 });
      const results = texts.map((sequence, i) => {
        const p = softmax(logits[i]);
        const order = [...p.keys()].sort((a, b) => p[b] - p[a] || a - b);
        return { sequence, labels: order.map((k) => candidates[k]), scores: order.map((k) => p[k]) };
      });
      return single ? results[0] : results;
    };
    return makePipeline<ZeroShotClassificationPipeline>('zero-shot-classification', loaded, run as (...args: never[]) => Promise<unknown>, { template });
  } catch (e) {
    if (loaded.owned) model.dispose();
    throw e;
  }
}
