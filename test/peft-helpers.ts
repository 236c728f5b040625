// Shared by the adapter tests: a tiny config, batches, and moving adapter weights off their initial values.
import type { Batch } from '../lib/batch.js';
import type { BertPreTrainedModel } from '../lib/models/bert.js';

export const base = {
  vocab_size: 40, hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 32,
  max_position_embeddings: 40, type_vocab_size: 2, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, initializer_range: 0.2,
};

export function makeBatch(r: () => number, B: number, T: number, head: 'sequence' | 'token', nLabels: number): Batch {
  const ids = new Int32Array(B * T), mask = new Int32Array(B * T), tt = new Int32Array(B * T), tok = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    const len = b === 0 ? T : Math.max(2, Math.floor(T * (0.4 + 0.5 * r())));
    for (let t = 0; t < T; t++) {
      const i = b * T + t;
      ids[i] = t < len ? 1 + Math.floor(r() * (base.vocab_size - 1)) : 0;
      mask[i] = t < len ? 1 : 0;
      tt[i] = t < len && t >= len / 2 ? 1 : 0;
      tok[i] = t >= len || r() < 0.2 ? -100 : Math.floor(r() * nLabels);
    }
  }
  const labels = head === 'sequence' ? Int32Array.from({ length: B }, () => Math.floor(r() * nLabels)) : tok;
  return { batchSize: B, seqLen: T, inputIds: ids, attentionMask: mask, tokenTypeIds: tt, labels };
}

/** Moves every adapter parameter away from its initial value (LoRA's B is zero: no gradient for A otherwise). */
export function perturb(model: BertPreTrainedModel, name: string, r: () => number): void {
  for (const p of model.adapterParameters(name)) {
    const v = model.getAdapterParameter(name, p.name);
    const isIa3 = p.name.endsWith('ia3_l');
    for (let i = 0; i < v.length; i++) v[i] = isIa3 ? 1 + 0.5 * (r() - 0.5) : v[i] + 0.3 * (r() - 0.5);
    model.setAdapterParameter(name, p.name, v);
  }
}

