/**
 * Loading a PEFT adapter folder with its base: the one path behind `roots eval/predict --adapter`
 * (lib/cli/adapter.ts) and pipelines given an adapter folder (lib/pipelines/source.ts). The folder
 * `roots train --peft` writes holds the adapter (PEFT's two files), the tokenizer and a config.json
 * with the task's head and labels; the base's weights come from the folder adapter_config.json's
 * base_model_name_or_path names (PEFT's AutoPeftModel way) or from the caller.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RootsError } from '../errors.js';
import type { BertPreTrainedModel, Device, FromPretrainedOptions, Precision } from '../models/bert.js';
import type { BertConfig } from '../models/config.js';
import { ADAPTER_CONFIG_FILE } from './files.js';

/** Where the weights and the adapter come from, and the config.json that names the task. */
export interface AdapterSource {
  modelDir: string;
  adapterDir: string | null;
  config: BertConfig;
  /** Load the adapter even when its adapter_config.json names another base (--adapter-any-base). */
  ignoreBaseModel?: boolean;
}

/** Whether `dir` holds full model weights. */
export function hasWeights(dir: string): boolean {
  return ['model.safetensors', 'pytorch_model.bin'].some((f) => existsSync(join(dir, f)));
}

/** Whether `dir` is an adapter folder without a model of its own (adapter_config.json, no weights). */
export function isAdapterOnlyFolder(dir: string): boolean {
  return existsSync(join(dir, ADAPTER_CONFIG_FILE)) && !hasWeights(dir);
}

/** The base_model_name_or_path an adapter folder names, or null. */
export async function adapterBase(dir: string): Promise<string | null> {
  const path = join(dir, ADAPTER_CONFIG_FILE);
  if (!existsSync(path)) return null;
  try {
    const cfg = JSON.parse(await readFile(path, 'utf8')) as { base_model_name_or_path?: unknown };
    return typeof cfg.base_model_name_or_path === 'string' && cfg.base_model_name_or_path ? cfg.base_model_name_or_path : null;
  } catch (e) {
    throw new RootsError('ERR_PARSE', `${path}: not valid JSON: ${(e as Error).message}`);
  }
}

/** The folder whose config.json names the head and labels: the adapter's when it has one (the trained task's), else the base's. */
export function configDirOf(modelDir: string, adapterDir: string | null): string {
  return adapterDir !== null && existsSync(join(adapterDir, 'config.json')) ? adapterDir : modelDir;
}

/** Where the tokenizer is: the adapter folder when it holds one (roots train --peft saves it), else the base's. */
export function tokenizerDir(src: AdapterSource): string {
  const a = src.adapterDir;
  return a !== null && (existsSync(join(a, 'tokenizer.json')) || existsSync(join(a, 'vocab.txt'))) ? a : src.modelDir;
}

/**
 * Loads the base with the task's head and labels, then the adapter, set as the model's adapter.
 * `labels` name the two folders in errors (the CLI passes its flags).
 */
export async function loadWithAdapter<T extends BertPreTrainedModel>(
  Class: { fromPretrained(dir: string, o: FromPretrainedOptions): Promise<T> }, src: AdapterSource,
  options: { device?: Device; precision?: Precision }, labels = { model: 'the base', adapter: 'the adapter' },
): Promise<T> {
  const c = src.config;
  const head = Object.fromEntries(Object.entries({ id2label: c.id2label, label2id: c.label2id, slot_id2label: c.slot_id2label, problem_type: c.problem_type, architectures: c.architectures })
    .filter(([, v]) => v !== undefined));
  // The head may differ from the base's (a pretrained encoder, or other labels): the adapter must bring it.
  const model = await Class.fromPretrained(src.modelDir, { ...options, config: src.adapterDir ? head : {}, ignoreMismatchedSizes: src.adapterDir !== null, log: null });
  if (src.adapterDir === null) return model;
  try {
    const name = await model.loadAdapter(src.adapterDir, { ignoreBaseModel: src.ignoreBaseModel });
    model.setAdapter(name);
    const own = new Set(model.adapterParameters(name).map((p) => p.name));
    const r = model.loadReport;
    const lacking = [...r.missingKeys, ...r.mismatchedKeys.map((m) => m.key)].filter((k) => !own.has(k));
    if (lacking.length) {
      throw new RootsError('ERR_CHECKPOINT', `${labels.adapter} ${src.adapterDir} does not hold ${lacking.slice(0, 4).join(', ')}, and ${labels.model} ${src.modelDir} has ${r.mismatchedKeys.length ? 'other shapes for them' : 'none'}: the adapter was trained on another base or without modules_to_save for its head`);
    }
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}
