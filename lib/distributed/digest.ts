/**
 * What every data-parallel rank must agree on before training: a hash of the training arguments,
 * the model config and the encoded training set (ProcessGroup.checkSame compares it with rank 0's).
 */
import { createHash } from 'node:crypto';
import type { Feature } from '../data/features.js';

/** A sha256 over `settings` (JSON) and every feature's ids and targets. */
export function trainingDigest(settings: unknown, features: readonly Feature[]): string {
  const h = createHash('sha256');
  h.update(JSON.stringify(settings));
  for (const f of features) {
    h.update(new Uint8Array(Int32Array.from(f.inputIds).buffer));
    if (f.labels) h.update(new Uint8Array(Int32Array.from(f.labels).buffer));
    h.update(JSON.stringify([f.label ?? null, f.labelIds ?? null, f.slotLabels ? Array.from(f.slotLabels) : null, f.tokenTypeIds ? Array.from(f.tokenTypeIds) : null,
      f.maskPosition ?? null, f.startPosition ?? null, f.endPosition ?? null, f.entityPositions ?? null]));
  }
  return h.digest('hex');
}
