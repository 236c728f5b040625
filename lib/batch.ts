/**
 * The unit that crosses into the native engine: one padded batch, row-major, as Int32Arrays.
 * Everything here is plain data so the data pipeline can build it ahead of time (prefetch) and the
 * engine can copy it in one go. The addon reads this object as it is, under these field names, and
 * checks every length, id and target against the model's config where it enters (native/batch.cc).
 */
export interface Batch {
  /** rows in the batch */
  batchSize: number;
  /** padded sequence length (the longest row, or a fixed length) */
  seqLen: number;
  /** [batchSize * seqLen] token ids */
  inputIds: Int32Array;
  /** [batchSize * seqLen] 1 for real tokens, 0 for padding */
  attentionMask: Int32Array;
  /** [batchSize * seqLen] segment ids (0 for the first sentence, 1 for the second) */
  tokenTypeIds: Int32Array;
  /**
   * Targets. Token classification and masked LM: [batchSize * seqLen] with -100 where no loss is
   * taken. Sequence classification: [batchSize] class ids. Multi-label: use `labelsFloat`.
   */
  labels?: Int32Array;
  /** Multi-label sequence classification targets: [batchSize * numLabels] of 0/1. */
  labelsFloat?: Float32Array;
  /** Joint intent + slot models: slot targets [batchSize * seqLen] (labels holds the intents). */
  slotLabels?: Int32Array;
  /**
   * Prompt classification on a masked-LM (lib/prompt/): the [MASK] of each row [batchSize]; the
   * verbalizer's token ids and weights [verbalizerLabels * pieces]; `labels` then holds class ids
   * [batchSize]. The loss is cross-entropy over the labels' scores at the mask (native/prompt.h).
   */
  maskPositions?: Int32Array;
  verbalizerIds?: Int32Array;
  verbalizerWeights?: Float32Array;
  verbalizerLabels?: number;
  /** Soft prompts (a model with config.soft_prompt_tokens): [batchSize * seqLen], -1 or the soft token there. */
  softPromptSlots?: Int32Array;
  /** Relation classification (native/relation.h): the token index of [E1] and of [E2] in each row, [batchSize * 2]. */
  entityPositions?: Int32Array;
  /** Extractive QA targets: [batchSize] token positions. */
  startPositions?: Int32Array;
  endPositions?: Int32Array;
}

/** The value the engine ignores in token-level targets (PyTorch's CrossEntropyLoss ignore_index). */
export const IGNORE_INDEX = -100;
