/**
 * Label expansion: a trained token or sequence head grows new rows for new labels (new entity
 * types, new intents) while every old row, and so every old label's logit, stays bit-identical.
 * The old labels keep their ids; the new ones are appended; id2label / label2id are extended; the
 * engine's EWC / L2-SP state comes along.
 */
import { RootsError } from '../errors.js';
import type { BertPreTrainedModel, ModelClass } from '../models/bert.js';
import { labelsOf, withLabels } from '../models/config.js';

/** The head's weight and bias per head type (intent-slots: the intent head; slots use expandLabels' `slot` option). */
const HEAD_PARAMS: Record<string, [string, string]> = {
  token: ['classifier.weight', 'classifier.bias'],
  sequence: ['classifier.weight', 'classifier.bias'],
  'intent-slots': ['intent_classifier.weight', 'intent_classifier.bias'],
};

/**
 * The label list after expansion: `labels` may be the old list with new labels after it, or any list
 * whose members are old or new; old labels keep their ids and order, new ones follow in the order
 * given. A list that puts an old label at another id (a rename or a reorder) is refused when
 * `strict` (a full list was given).
 */
export function expandedLabels(old: readonly string[], labels: readonly string[], options: { strict?: boolean } = {}): string[] {
  if (options.strict) {
    for (let i = 0; i < Math.min(old.length, labels.length); i++) {
      if (labels[i] !== old[i]) {
        throw new RootsError('ERR_CONFIG', `label expansion would rename label ${i}: the model calls it ${JSON.stringify(old[i])}, the new list ${JSON.stringify(labels[i])}. The old labels must keep their ids: list them first, in the model's order (${old.join(', ')}), then the new ones`);
      }
    }
    if (labels.length < old.length) throw new RootsError('ERR_CONFIG', `label expansion would drop labels ${old.slice(labels.length).join(', ')}; a head only grows`);
  }
  const have = new Set(old);
  const out = [...old];
  for (const l of labels) if (!have.has(l)) { have.add(l); out.push(l); }
  return out;
}

/**
 * A new model of the same class whose head also has `labels`' new entries: every parameter copied,
 * the old rows of the head bit-identical, the new rows initialised as a fresh head (HF's
 * _init_weights, seeded). The given model is left as it was (dispose it when done).
 */
export function expandLabels<T extends BertPreTrainedModel>(model: T, labels: readonly string[], options: { seed?: number; strict?: boolean } = {}): T {
  const params = HEAD_PARAMS[model.head];
  if (!params) throw new RootsError('ERR_INVALID_ARG', `label expansion needs a token, sequence or intent-slots head, not ${model.head}`);
  const old = labelsOf(model.config);
  if (!old) throw new RootsError('ERR_CONFIG', 'the model has no id2label to expand');
  const next = expandedLabels(old, labels, options);
  const Cls = model.constructor as unknown as ModelClass<T> & { fromConfig(c: unknown, o: unknown): T };
  const grown = Cls.fromConfig(withLabels(model.config, next), { seed: options.seed ?? 42 });
  try {
    if (grown.precision !== model.precision) grown.setPrecision(model.precision);
    const [w, b] = params;
    for (const p of model.parameters()) {
      const values = model.getParameter(p.name);
      if (p.name === w || p.name === b) {
        const fresh = grown.getParameter(p.name);
        fresh.set(values, 0);  // rows 0..L_old-1 (row-major [L, H]; the bias [L])
        grown.setParameter(p.name, fresh);
      } else {
        grown.setParameter(p.name, values);
      }
    }
    // EWC's Fisher and anchor and L2-SP's start carry over (the new rows: zero Fisher, anchored where they start).
    const state = model.continual('state');
    for (const which of ['fisher', 'anchor', 'start'] as const) {
      if (!state[which]) continue;
      for (const p of model.parameters()) {
        const v = model.continual('get', which, p.name);
        const full = which === 'fisher' ? new Float32Array(grown.getParameter(p.name).length) : grown.getParameter(p.name);
        full.set(v, 0);
        grown.continual('set', which, p.name, full);
      }
    }
    grown.freeze({ patterns: model.parameters().filter((p) => !p.trainable).map((p) => `^${p.name.replace(/\./g, '\\.')}$`) });
  } catch (e) {
    grown.dispose();
    throw e;
  }
  return grown;
}
