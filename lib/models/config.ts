/**
 * Hugging Face's BertConfig as a plain object (the config.json contract), with its defaults, and
 * validation with messages that name the file and field.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RootsError } from '../errors.js';

/** The BertConfig fields that shape the computation (shared with the native model's config). */
export interface BertArchitecture {
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: string;
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  classifier_dropout?: number | null;
  max_position_embeddings: number;
  type_vocab_size: number;
  layer_norm_eps: number;
  initializer_range: number;
  pad_token_id: number;
}

export interface BertConfig extends BertArchitecture {
  model_type?: 'bert';
  architectures?: string[];
  position_embedding_type?: string;
  problem_type?: 'single_label_classification' | 'multi_label_classification' | 'regression' | null;
  id2label?: Record<string, string>;
  label2id?: Record<string, number>;
  num_labels?: number;
  /** roots: the second label set of a joint intent + slot model (the slots). */
  slot_id2label?: Record<string, string>;
  slot_loss_weight?: number;
  /** roots: what a relation head classifies (native/relation.h): the two entity-start markers, or [CLS]. */
  relation_pooling?: 'entity-start' | 'cls';
  /** roots: per-class loss weights for imbalanced data (pos_weight for multi-label). */
  class_weights?: number[];
  [key: string]: unknown;
}

/** BertConfig's defaults in Transformers (bert-base-uncased sizes). */
export const BERT_DEFAULTS: BertConfig = {
  model_type: 'bert',
  vocab_size: 30522,
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 3072,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  classifier_dropout: null,
  max_position_embeddings: 512,
  type_vocab_size: 2,
  layer_norm_eps: 1e-12,
  initializer_range: 0.02,
  pad_token_id: 0,
  position_embedding_type: 'absolute',
};

const PROBLEM_TYPES: readonly string[] = ['single_label_classification', 'multi_label_classification', 'regression'];

const INT_FIELDS = ['vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size',
  'max_position_embeddings', 'type_vocab_size'] as const;

/** Fills defaults and checks every field that shapes the computation. `where` names the source. */
export function normalizeConfig(raw: Partial<BertConfig>, where = 'config'): BertConfig {
  const c = { ...BERT_DEFAULTS, ...raw } as BertConfig;
  if (raw.model_type && raw.model_type !== 'bert') {
    throw new RootsError('ERR_CONFIG', `${where}: model_type is "${raw.model_type}" but roots-nlp implements "bert"`);
  }
  for (const k of INT_FIELDS) {
    const v = c[k];
    if (!Number.isInteger(v) || (v as number) <= 0) throw new RootsError('ERR_CONFIG', `${where}: expected a positive integer for ${k} but found ${JSON.stringify(v)}`);
  }
  if (c.hidden_size % c.num_attention_heads !== 0) {
    throw new RootsError('ERR_CONFIG', `${where}: hidden_size (${c.hidden_size}) must be a multiple of num_attention_heads (${c.num_attention_heads})`);
  }
  for (const k of ['hidden_dropout_prob', 'attention_probs_dropout_prob'] as const) {
    const v = c[k];
    if (typeof v !== 'number' || v < 0 || v >= 1) throw new RootsError('ERR_CONFIG', `${where}: expected a number in [0, 1) for ${k} but found ${JSON.stringify(v)}`);
  }
  if (c.position_embedding_type && c.position_embedding_type !== 'absolute') {
    throw new RootsError('ERR_CONFIG', `${where}: position_embedding_type "${c.position_embedding_type}" is not supported (only "absolute")`);
  }
  if (c.classifier_dropout !== undefined && c.classifier_dropout !== null && (typeof c.classifier_dropout !== 'number' || c.classifier_dropout < 0 || c.classifier_dropout >= 1)) {
    throw new RootsError('ERR_CONFIG', `${where}: expected null or a number in [0, 1) for classifier_dropout but found ${JSON.stringify(c.classifier_dropout)}`);
  }
  for (const k of ['layer_norm_eps', 'initializer_range'] as const) {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new RootsError('ERR_CONFIG', `${where}: expected a positive number for ${k} but found ${JSON.stringify(v)}`);
  }
  if (c.pad_token_id !== null && !Number.isInteger(c.pad_token_id)) {
    throw new RootsError('ERR_CONFIG', `${where}: expected an integer (or null) for pad_token_id but found ${JSON.stringify(c.pad_token_id)}`);
  }
  if (typeof c.hidden_act !== 'string') throw new RootsError('ERR_CONFIG', `${where}: expected a string for hidden_act but found ${JSON.stringify(c.hidden_act)}`);
  if (c.problem_type !== undefined && c.problem_type !== null && !PROBLEM_TYPES.includes(c.problem_type)) {
    throw new RootsError('ERR_CONFIG', `${where}: problem_type ${JSON.stringify(c.problem_type)} is not one of ${PROBLEM_TYPES.map((p) => `"${p}"`).join(', ')} (or null)`);
  }
  if (c.class_weights !== undefined && c.class_weights !== null &&
      (!Array.isArray(c.class_weights) || c.class_weights.some((w) => typeof w !== 'number' || !Number.isFinite(w) || w < 0))) {
    throw new RootsError('ERR_CONFIG', `${where}: class_weights must be an array of non-negative numbers (one per label) but found ${JSON.stringify(c.class_weights)}`);
  }
  if (c.slot_loss_weight !== undefined && (typeof c.slot_loss_weight !== 'number' || !Number.isFinite(c.slot_loss_weight) || c.slot_loss_weight < 0)) {
    throw new RootsError('ERR_CONFIG', `${where}: expected a non-negative number for slot_loss_weight but found ${JSON.stringify(c.slot_loss_weight)}`);
  }
  if (c.relation_pooling !== undefined && c.relation_pooling !== 'entity-start' && c.relation_pooling !== 'cls') {
    throw new RootsError('ERR_CONFIG', `${where}: relation_pooling ${JSON.stringify(c.relation_pooling)} is not "entity-start" or "cls"`);
  }
  if (c.id2label) {
    const n = Object.keys(c.id2label).length;
    for (let i = 0; i < n; i++) {
      if (!(String(i) in c.id2label)) throw new RootsError('ERR_CONFIG', `${where}: id2label must have keys "0".."${n - 1}" (missing "${i}")`);
    }
  }
  return c;
}

/** Reads `dir/config.json` (Hugging Face layout). */
export async function readConfig(dir: string): Promise<BertConfig> {
  const path = join(dir, 'config.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new RootsError('ERR_IO', `cannot read ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file (a model folder needs config.json)' : (e as Error).message}`);
  }
  let raw: Partial<BertConfig>;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new RootsError('ERR_CONFIG', `${path}: not valid JSON (${(e as Error).message})`);
  }
  return normalizeConfig(raw, path);
}

/** The labels of a config in id order, from id2label (or LABEL_0.. when only num_labels is set). */
export function labelsOf(c: BertConfig, key: 'id2label' | 'slot_id2label' = 'id2label'): string[] | undefined {
  const m = c[key] as Record<string, string> | undefined;
  if (!m) return c.num_labels && key === 'id2label' ? Array.from({ length: c.num_labels }, (_, i) => `LABEL_${i}`) : undefined;
  return Object.keys(m).map(Number).sort((a, b) => a - b).map((i) => m[String(i)]);
}

/** Writes id2label / label2id in Hugging Face's form. */
export function withLabels(c: BertConfig, labels: readonly string[], key: 'id2label' | 'slot_id2label' = 'id2label'): BertConfig {
  const id2label: Record<string, string> = {};
  const label2id: Record<string, number> = {};
  labels.forEach((l, i) => { id2label[String(i)] = l; label2id[l] = i; });
  if (new Set(labels).size !== labels.length) throw new RootsError('ERR_CONFIG', `duplicate labels in ${JSON.stringify(labels)}`);
  if (key === 'slot_id2label') return { ...c, slot_id2label: id2label };
  return { ...c, id2label, label2id, num_labels: labels.length };
}
