/**
 * Features: examples encoded once, up front, before they reach the loader (tokenization is
 * synchronous). The token-classification features live with the label alignment (align.ts).
 */
import { RootsError, describe, expectPositiveInt } from '../errors.js';
import type { Tokenizer, TruncationStrategy } from '../tokenizer/index.js';
import type { LabelVocab } from './labels.js';
import type { TextExample } from './readers.js';

/** One encoded example. Exactly one kind of target (or none) across a dataset. */
export interface Feature {
  inputIds: ArrayLike<number>;
  /** segment ids (pairs); zeros when absent */
  tokenTypeIds?: ArrayLike<number>;
  /** token-level targets, same length as inputIds, -100 where ignored */
  labels?: ArrayLike<number>;
  /** sequence-level class id */
  label?: number;
  /** multi-label: ids of the positive classes (becomes a 0/1 row of `numLabels` in `labelsFloat`) */
  labelIds?: readonly number[];
  /** joint intent + slot models: slot targets per token (same length as inputIds, -100 where ignored); `label` holds the intent */
  slotLabels?: ArrayLike<number>;
  /** Prompt classification: index of the [MASK] in inputIds; `label` holds the class id. */
  maskPosition?: number;
  /** Prompt classification: the verbalizer (one shared object for every feature of a task). */
  verbalizer?: { ids: Int32Array; weights: Float32Array; numLabels: number };
  /** Soft prompts: per token, -1 or the soft prompt token that replaces its embedding. */
  softPromptSlots?: Int32Array;
  /** Extractive QA: token indices of the answer's first and last token (0, [CLS], for none). */
  startPosition?: number;
  endPosition?: number;
  /** Relation classification: the token index of [E1] and of [E2] (lib/tasks/relation-markers.ts); `label` holds the relation. */
  entityPositions?: readonly [number, number];
}


/** Options for {@link textClassificationFeatures}. */
export interface TextFeatureOptions {
  /** Longest input in tokens (default: the tokenizer's modelMaxLength, else 512). */
  maxLength?: number;
  /** How to shorten pairs (default `'longest_first'`). */
  truncation?: TruncationStrategy;
  /** Multi-label targets (`labelIds`); default: when any example's label is an array. */
  multiLabel?: boolean;
}

/** A sequence-classification feature. */
export interface TextFeature extends Feature {
  inputIds: Int32Array;
  tokenTypeIds?: Int32Array;
}

/**
 * Encodes text examples once (truncated to `maxLength`) with their class ids. Unlabelled examples
 * are allowed when `labels` is omitted.
 */
export function textClassificationFeatures(
  tokenizer: Tokenizer,
  examples: readonly TextExample[],
  labels: LabelVocab | undefined,
  options: TextFeatureOptions = {},
): TextFeature[] {
  const maxLength = expectPositiveInt('maxLength', options.maxLength ?? tokenizer.modelMaxLength ?? 512);
  const truncation = options.truncation ?? 'longest_first';
  const multi = options.multiLabel ?? examples.some((e) => Array.isArray(e.label));
  return examples.map((ex, i) => {
    const enc = tokenizer.encode(ex.text, ex.textPair ?? null, { truncation, maxLength });
    const f: TextFeature = { inputIds: Int32Array.from(enc.ids) };
    if (ex.textPair !== undefined) f.tokenTypeIds = Int32Array.from(enc.typeIds);
    if (labels) {
      if (ex.label === undefined) throw new RootsError('ERR_INVALID_ARG', `Example ${i}${ex.line ? ` (line ${ex.line})` : ''} has no label`);
      const names = typeof ex.label === 'string' ? [ex.label] : ex.label;
      const ids = names.map((name) => {
        const id = labels.get(name);
        if (id === undefined) throw new RootsError('ERR_INVALID_ARG', `Example ${i}${ex.line ? ` (line ${ex.line})` : ''}: label ${describe(name)} is not in the label vocabulary (${labels.labels.join(', ')})`);
        return id;
      });
      if (multi) f.labelIds = ids;
      else if (ids.length !== 1) throw new RootsError('ERR_INVALID_ARG', `Example ${i}${ex.line ? ` (line ${ex.line})` : ''} has ${ids.length} labels; pass multiLabel: true`);
      else f.label = ids[0];
    }
    return f;
  });
}
