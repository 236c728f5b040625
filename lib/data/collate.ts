/** Collation: features padded into one row-major {@link Batch} for the native step. */
import { RootsError, describe, expectPositiveInt } from '../errors.js';
import { IGNORE_INDEX, type Batch } from '../batch.js';
import type { Feature } from './features.js';


/** Options for {@link collate}. */
export interface CollateOptions {
  /** Id written into padding positions. */
  padTokenId: number;
  /** `'longest'` (default): pad to the batch's longest row; `'max_length'`: to `maxLength`. */
  padding?: 'longest' | 'max_length';
  /** Required for `padding: 'max_length'`; rows longer than it are an error in both modes. */
  maxLength?: number;
  /** Round the padded length up to a multiple of this (8 suits tensor cores). */
  padToMultipleOf?: number;
  /** Classes for multi-label features (`labelIds`). */
  numLabels?: number;
}

/** Pads features into one {@link Batch} (row-major Int32Arrays, labels -100 on padding). */
export function collate(features: readonly Feature[], options: CollateOptions): Batch {
  const b = features.length;
  if (b === 0) throw new RootsError('ERR_INVALID_ARG', 'Cannot collate an empty list of features');
  let longest = 0;
  for (const f of features) if (f.inputIds.length > longest) longest = f.inputIds.length;
  if (options.maxLength !== undefined && longest > options.maxLength) {
    throw new RootsError('ERR_INVALID_ARG', `A feature has ${longest} tokens, more than maxLength ${options.maxLength}; truncate or window it first`);
  }
  let t = options.padding === 'max_length' ? expectPositiveInt('maxLength', options.maxLength) : longest;
  if (options.padToMultipleOf !== undefined && options.padToMultipleOf > 1) t = Math.ceil(t / options.padToMultipleOf) * options.padToMultipleOf;
  const inputIds = new Int32Array(b * t).fill(options.padTokenId);
  const attentionMask = new Int32Array(b * t);
  const tokenTypeIds = new Int32Array(b * t);
  const first = features[0];
  const kind = first.labels !== undefined ? 'token' : first.label !== undefined ? 'sequence' : first.labelIds !== undefined ? 'multi' : 'none';
  const batch: Batch = { batchSize: b, seqLen: t, inputIds, attentionMask, tokenTypeIds };
  const slotLabels = first.slotLabels !== undefined ? new Int32Array(b * t).fill(IGNORE_INDEX) : undefined;
  if (slotLabels) batch.slotLabels = slotLabels;
  const prompt = first.verbalizer;
  const softSlots = first.softPromptSlots ? new Int32Array(b * t).fill(-1) : undefined;
  if (softSlots) batch.softPromptSlots = softSlots;
  const entities = first.entityPositions ? new Int32Array(b * 2) : undefined;  // relation classification
  if (entities) batch.entityPositions = entities;
  if (prompt) {
    batch.maskPositions = new Int32Array(b);
    batch.verbalizerIds = prompt.ids;
    batch.verbalizerWeights = prompt.weights;
    batch.verbalizerLabels = prompt.numLabels;
  }
  const spans = first.startPosition !== undefined;  // extractive QA
  if (spans) { batch.startPositions = new Int32Array(b); batch.endPositions = new Int32Array(b); }
  let labels: Int32Array | undefined;
  let labelsFloat: Float32Array | undefined;
  if (kind === 'token') labels = batch.labels = new Int32Array(b * t).fill(IGNORE_INDEX);
  else if (kind === 'sequence') labels = batch.labels = new Int32Array(b);
  else if (kind === 'multi') {
    const n = options.numLabels;
    if (n === undefined) throw new RootsError('ERR_INVALID_ARG', 'Multi-label features (labelIds) need numLabels in the loader options');
    labelsFloat = batch.labelsFloat = new Float32Array(b * expectPositiveInt('numLabels', n));
  }
  for (let r = 0; r < b; r++) {
    const f = features[r];
    const n = f.inputIds.length;
    const fKind = f.labels !== undefined ? 'token' : f.label !== undefined ? 'sequence' : f.labelIds !== undefined ? 'multi' : 'none';
    if (fKind !== kind) throw new RootsError('ERR_INVALID_ARG', `Features mix target kinds: row 0 has ${kind} targets, row ${r} has ${fKind}`);
    if ((f.slotLabels !== undefined) !== (slotLabels !== undefined)) throw new RootsError('ERR_INVALID_ARG', `Features mix slot targets: row 0 ${slotLabels ? 'has' : 'lacks'} slotLabels, row ${r} ${slotLabels ? 'lacks' : 'has'} them`);
    if (f.verbalizer !== prompt || (prompt && !Number.isInteger(f.maskPosition))) throw new RootsError('ERR_INVALID_ARG', `Row ${r}: prompt features (maskPosition, verbalizer) must share one verbalizer, and every row needs a maskPosition`);
    if (prompt) batch.maskPositions![r] = f.maskPosition!;
    if ((f.startPosition !== undefined) !== spans || (spans && f.endPosition === undefined)) {
      throw new RootsError('ERR_INVALID_ARG', `Row ${r}: QA features need startPosition and endPosition in every row or in none`);
    }
    if (spans) { batch.startPositions![r] = f.startPosition!; batch.endPositions![r] = f.endPosition!; }
    if ((f.softPromptSlots !== undefined) !== (softSlots !== undefined) || (f.softPromptSlots && f.softPromptSlots.length !== n)) {
      throw new RootsError('ERR_INVALID_ARG', `Row ${r}: softPromptSlots must be given for every row or none, one per token`);
    }
    if (softSlots) softSlots.set(f.softPromptSlots!, r * t);
    if ((f.entityPositions !== undefined) !== (entities !== undefined) || (f.entityPositions && !f.entityPositions.every((p) => Number.isInteger(p) && p >= 0 && p < n))) {
      throw new RootsError('ERR_INVALID_ARG', `Row ${r}: entityPositions must be given for every row or none, two token indices inside the row`);
    }
    if (entities) { entities[2 * r] = f.entityPositions![0]; entities[2 * r + 1] = f.entityPositions![1]; }
    const base = r * t;
    if (f.inputIds instanceof Int32Array) inputIds.set(f.inputIds, base); else for (let i = 0; i < n; i++) inputIds[base + i] = f.inputIds[i];
    attentionMask.fill(1, base, base + n);
    if (f.tokenTypeIds) {
      if (f.tokenTypeIds.length !== n) throw new RootsError('ERR_INVALID_ARG', `Row ${r}: tokenTypeIds has ${f.tokenTypeIds.length} entries for ${n} tokens`);
      for (let i = 0; i < n; i++) tokenTypeIds[base + i] = f.tokenTypeIds[i];
    }
    if (kind === 'token') {
      if (f.labels!.length !== n) throw new RootsError('ERR_INVALID_ARG', `Row ${r}: labels has ${f.labels!.length} entries for ${n} tokens`);
      if (f.labels instanceof Int32Array) labels!.set(f.labels, base); else for (let i = 0; i < n; i++) labels![base + i] = f.labels![i];
    } else if (kind === 'sequence') {
      labels![r] = f.label!;
    } else if (kind === 'multi') {
      const width = options.numLabels!;
      for (const id of f.labelIds!) {
        if (!Number.isInteger(id) || id < 0 || id >= width) throw new RootsError('ERR_INVALID_ARG', `Row ${r}: label id ${describe(id)} is outside [0, ${width})`);
        labelsFloat![r * width + id] = 1;
      }
    }
    if (slotLabels) {
      const s = f.slotLabels!;
      if (s.length !== n) throw new RootsError('ERR_INVALID_ARG', `Row ${r}: slotLabels has ${s.length} entries for ${n} tokens`);
      for (let i = 0; i < n; i++) slotLabels[base + i] = s[i];
    }
  }
  return batch;
}
