/**
 * Label vocabularies: the ordered class names of a task, with the `id2label` / `label2id` maps of
 * Hugging Face's config.json.
 */
import { RootsError, describe } from '../errors.js';

/** `id2label` and `label2id` as HF's config.json writes them (`{"0": "O"}`, `{"O": 0}`). */
export interface LabelConfig {
  id2label: Record<string, string>;
  label2id: Record<string, number>;
}

const PREFIX_ORDER: Record<string, number> = { B: 0, I: 1, E: 2, S: 3, L: 4, U: 5 };

/** Sorts tags by entity type, then prefix (B, I, E, S, L, U): B-LOC, I-LOC, B-MISC, I-MISC, ... */
function compareTags(a: string, b: string): number {
  const da = a.indexOf('-');
  const db = b.indexOf('-');
  const ta = da < 0 ? a : a.slice(da + 1);
  const tb = db < 0 ? b : b.slice(db + 1);
  if (ta !== tb) return ta < tb ? -1 : 1;
  const pa = PREFIX_ORDER[da < 0 ? '' : a.slice(0, da)] ?? 9;
  const pb = PREFIX_ORDER[db < 0 ? '' : b.slice(0, db)] ?? 9;
  return pa - pb || (a < b ? -1 : a > b ? 1 : 0);
}

/** Sorts class names: numerically when they are all integers ("2" before "10"), else by string. */
function compareLabels(a: string, b: string, numeric: boolean): number {
  if (numeric) return Number(a) - Number(b);
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * An ordered set of labels: id ↔ name.
 *
 * ```ts
 * const vocab = LabelVocab.fromTags(train.map((s) => s.tags));   // O, B-LOC, I-LOC, B-MISC, ...
 * config.id2label = vocab.toConfig().id2label;
 * ```
 */
export class LabelVocab {
  /** Labels in id order. */
  readonly labels: readonly string[];
  readonly #ids: Map<string, number>;

  /** Labels in the given order (id = position). Duplicates and non-strings are errors. */
  constructor(labels: Iterable<string>) {
    const list = [...labels];
    const ids = new Map<string, number>();
    list.forEach((label, i) => {
      if (typeof label !== 'string' || label === '') throw new RootsError('ERR_INVALID_ARG', `Expected a non-empty string for label ${i} but received ${describe(label)}`);
      if (ids.has(label)) throw new RootsError('ERR_INVALID_ARG', `Label ${JSON.stringify(label)} appears twice (ids ${ids.get(label)} and ${i})`);
      ids.set(label, i);
    });
    this.labels = Object.freeze(list);
    this.#ids = ids;
  }

  /**
   * The tag set of token classification data: `O` first (id 0, as HF's NER models have it), then
   * the other tags sorted by entity type and prefix.
   */
  static fromTags(sentences: Iterable<readonly string[]>): LabelVocab {
    const seen = new Set<string>();
    for (const tags of sentences) for (const t of tags) seen.add(t);
    const rest = [...seen].filter((t) => t !== 'O').sort(compareTags);
    return new LabelVocab(seen.has('O') ? ['O', ...rest] : rest);
  }

  /**
   * The classes of sequence classification data (labels or label arrays for multi-label), sorted:
   * numerically when all are integers, else by string.
   */
  static fromLabels(labels: Iterable<string | readonly string[] | undefined>): LabelVocab {
    const seen = new Set<string>();
    for (const l of labels) {
      if (l === undefined) continue;
      if (typeof l === 'string') seen.add(l); else for (const x of l) seen.add(x);
    }
    const list = [...seen];
    const numeric = list.length > 0 && list.every((l) => /^-?\d+$/.test(l));
    return new LabelVocab(list.sort((a, b) => compareLabels(a, b, numeric)));
  }

  /** Reads `id2label` (preferred) or `label2id` of an HF config.json object. */
  static fromConfig(config: { id2label?: Record<string, string>; label2id?: Record<string, number> }): LabelVocab {
    if (config?.id2label && typeof config.id2label === 'object') {
      const entries = Object.entries(config.id2label);
      const labels = new Array<string>(entries.length);
      for (const [key, label] of entries) {
        const id = Number(key);
        if (!Number.isInteger(id) || id < 0 || id >= entries.length || labels[id] !== undefined) {
          throw new RootsError('ERR_CONFIG', `id2label must map the ids 0..${entries.length - 1} once each, but has key ${JSON.stringify(key)}`);
        }
        labels[id] = label;
      }
      return new LabelVocab(labels);
    }
    if (config?.label2id && typeof config.label2id === 'object') {
      const entries = Object.entries(config.label2id);
      const labels = new Array<string>(entries.length);
      for (const [label, id] of entries) {
        if (!Number.isInteger(id) || id < 0 || id >= entries.length || labels[id] !== undefined) {
          throw new RootsError('ERR_CONFIG', `label2id must map to the ids 0..${entries.length - 1} once each, but maps ${JSON.stringify(label)} to ${describe(id)}`);
        }
        labels[id] = label;
      }
      return new LabelVocab(labels);
    }
    throw new RootsError('ERR_CONFIG', 'Expected a config with id2label or label2id');
  }

  /** Number of labels. */
  get size(): number {
    return this.labels.length;
  }

  /** Whether `label` is in the vocabulary. */
  has(label: string): boolean {
    return this.#ids.has(label);
  }

  /** The id of a label; an unknown label is an error naming the known ones. */
  id(label: string): number {
    const id = this.#ids.get(label);
    if (id === undefined) {
      const known = this.labels.length > 20 ? `${this.labels.slice(0, 20).join(', ')}, ...` : this.labels.join(', ');
      throw new RootsError('ERR_INVALID_ARG', `Unknown label ${describe(label)} (the ${this.labels.length} labels are: ${known})`);
    }
    return id;
  }

  /** The id of a label, or undefined when unknown. */
  get(label: string): number | undefined {
    return this.#ids.get(label);
  }

  /** The label of an id. */
  label(id: number): string {
    const label = this.labels[id];
    if (label === undefined) throw new RootsError('ERR_INVALID_ARG', `Expected a label id in [0, ${this.labels.length - 1}] but received ${describe(id)}`);
    return label;
  }

  /** `id2label` / `label2id` for HF's config.json. */
  toConfig(): LabelConfig {
    const id2label: Record<string, string> = {};
    const label2id: Record<string, number> = {};
    this.labels.forEach((label, i) => {
      id2label[String(i)] = label;
      // defineProperty keeps a label such as "__proto__" an ordinary key
      Object.defineProperty(label2id, label, { value: i, enumerable: true, writable: true, configurable: true });
    });
    return { id2label, label2id };
  }

  /** The labels in id order (what `JSON.stringify` writes). */
  toJSON(): string[] {
    return [...this.labels];
  }
}
