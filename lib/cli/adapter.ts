/**
 * `--adapter DIR` for roots eval, predict and merge, and `--peft` for roots train: a PEFT adapter
 * folder on a base model. The folder `roots train --peft` writes holds the adapter (PEFT's files), the
 * tokenizer, and a config.json with the task's head and labels; the base's weights come from --model.
 * Given an adapter folder as --model (PEFT's AutoPeftModel way), its base_model_name_or_path is the base.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RootsError } from '../errors.js';
import type { BertPreTrainedModel, Device, FromPretrainedOptions, Precision } from '../models/bert.js';
import { type BertConfig, readConfig } from '../models/config.js';
import type { AdapterOptions } from '../peft/config.js';
import { ADAPTER_CONFIG_FILE } from '../peft/files.js';
import { type CliIO, parsers, resolveModelDir } from './common.js';

/** Where the weights and the adapter come from, and the config.json that names the task. */
export interface AdapterSource {
  modelDir: string;
  adapterDir: string | null;
  config: BertConfig;
}

function hasWeights(dir: string): boolean {
  return ['model.safetensors', 'pytorch_model.bin'].some((f) => existsSync(join(dir, f)));
}

/** The base_model_name_or_path an adapter folder names, or null. */
async function adapterBase(dir: string): Promise<string | null> {
  const path = join(dir, ADAPTER_CONFIG_FILE);
  if (!existsSync(path)) return null;
  try {
    const cfg = JSON.parse(await readFile(path, 'utf8')) as { base_model_name_or_path?: unknown };
    return typeof cfg.base_model_name_or_path === 'string' && cfg.base_model_name_or_path ? cfg.base_model_name_or_path : null;
  } catch (e) {
    throw new RootsError('ERR_PARSE', `${path}: not valid JSON: ${(e as Error).message}`);
  }
}

/** Resolves --model and --adapter (either may be the adapter folder roots train --peft wrote). */
export async function resolveAdapterSource(model: string | undefined, adapter: string | undefined, io: CliIO): Promise<AdapterSource> {
  let adapterDir = adapter === undefined ? null : await resolveModelDir('--adapter', adapter, io, 'adapter');
  if (model === undefined && adapterDir !== null) model = (await adapterBase(adapterDir)) ?? undefined;
  let modelDir = await resolveModelDir('--model', model, io);
  if (adapterDir === null && existsSync(join(modelDir, ADAPTER_CONFIG_FILE)) && !hasWeights(modelDir)) {
    // An adapter folder given as the model: its base is the one it names.
    const base = await adapterBase(modelDir);
    if (!base) throw new RootsError('ERR_INVALID_ARG', `--model ${modelDir} is an adapter folder whose adapter_config.json names no base model: give the base with --model and this folder with --adapter`);
    adapterDir = modelDir;
    modelDir = await resolveModelDir('--model', base, io);
  }
  if (adapterDir !== null && !existsSync(join(adapterDir, ADAPTER_CONFIG_FILE))) {
    throw new RootsError('ERR_IO', `--adapter ${adapterDir}: no ${ADAPTER_CONFIG_FILE} (a PEFT adapter folder, as roots train --peft writes)`);
  }
  // The head and labels: the adapter folder's config.json when it has one (the trained task's), else the base's.
  const configDir = adapterDir !== null && existsSync(join(adapterDir, 'config.json')) ? adapterDir : modelDir;
  return { modelDir, adapterDir, config: await readConfig(configDir) };
}

/** Where the tokenizer is: the adapter folder when it holds one (roots train --peft saves it), else the base's. */
export function tokenizerDir(src: AdapterSource): string {
  const a = src.adapterDir;
  return a !== null && (existsSync(join(a, 'tokenizer.json')) || existsSync(join(a, 'vocab.txt'))) ? a : src.modelDir;
}

/** Loads the base with the task's head and labels, then the adapter, set as the model's adapter. */
export async function loadWithAdapter<T extends BertPreTrainedModel>(
  Class: { fromPretrained(dir: string, o: FromPretrainedOptions): Promise<T> }, src: AdapterSource,
  options: { device: Device; precision: Precision },
): Promise<T> {
  const c = src.config;
  const head = Object.fromEntries(Object.entries({ id2label: c.id2label, label2id: c.label2id, slot_id2label: c.slot_id2label, problem_type: c.problem_type, architectures: c.architectures })
    .filter(([, v]) => v !== undefined));
  // The head may differ from the base's (a pretrained encoder, or other labels): the adapter must bring it.
  const model = await Class.fromPretrained(src.modelDir, { ...options, config: src.adapterDir ? head : {}, ignoreMismatchedSizes: src.adapterDir !== null, log: null });
  if (src.adapterDir === null) return model;
  try {
    const name = await model.loadAdapter(src.adapterDir);
    model.setAdapter(name);
    const own = new Set(model.adapterParameters(name).map((p) => p.name));
    const r = model.loadReport;
    const lacking = [...r.missingKeys, ...r.mismatchedKeys.map((m) => m.key)].filter((k) => !own.has(k));
    if (lacking.length) {
      throw new RootsError('ERR_CHECKPOINT', `--adapter ${src.adapterDir} does not hold ${lacking.slice(0, 4).join(', ')}, and --model ${src.modelDir} has ${r.mismatchedKeys.length ? 'other shapes for them' : 'none'}: the adapter was trained on another base or without modules_to_save for its head`);
    }
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/** `roots train --peft ...` flags. */
export interface PeftFlags {
  peft?: 'lora' | 'prefix' | 'ia3' | 'bitfit';
  loraR?: number;
  loraAlpha?: number;
  loraDropout?: number;
  loraTargets?: string;
  ia3Targets?: string;
  ia3Feedforward?: string;
  prefixTokens?: number;
  prefixProjection?: boolean;
  prefixHidden?: number;
}

export const PEFT_SPECS = [
  { key: 'peft', flags: '--peft <type>', help: 'parameter-efficient tuning: lora, prefix, ia3 or bitfit; the base stays frozen and --out receives the adapter (PEFT\'s adapter_config.json + adapter_model.safetensors; a few MB) with the tokenizer and config.json', parse: parsers.choice(['lora', 'prefix', 'ia3', 'bitfit'] as const) },
  { key: 'loraR', flags: '--lora-r <n>', help: 'LoRA rank (default 8)', parse: parsers.positiveInt },
  { key: 'loraAlpha', flags: '--lora-alpha <a>', help: 'LoRA alpha; updates are scaled by alpha/r (default 8)', parse: parsers.number(0) },
  { key: 'loraDropout', flags: '--lora-dropout <p>', help: 'LoRA dropout (default 0)', parse: parsers.number(0, 1) },
  { key: 'loraTargets', flags: '--lora-targets <list>', help: 'LoRA target modules, comma-separated (query, key, value, attention.output.dense, intermediate.dense, output.dense; default query,value)', parse: parsers.string },
  { key: 'ia3Targets', flags: '--ia3-targets <list>', help: '(IA)3 target modules (default key,value,output.dense)', parse: parsers.string },
  { key: 'ia3Feedforward', flags: '--ia3-feedforward <list>', help: '(IA)3 targets whose input is scaled (default output.dense)', parse: parsers.string },
  { key: 'prefixTokens', flags: '--prefix-tokens <n>', help: 'prefix tuning: virtual tokens per layer (default 20)', parse: parsers.positiveInt },
  { key: 'prefixProjection', flags: '--prefix-projection', help: 'prefix tuning: reparameterise through an MLP (P-tuning v2)', parse: parsers.boolean },
  { key: 'prefixHidden', flags: '--prefix-hidden <n>', help: 'prefix tuning: the MLP\'s width (default hidden size)', parse: parsers.positiveInt },
] as const;

const list = (s: string | undefined) => (s === undefined ? undefined : s.split(',').map((x) => x.trim()).filter(Boolean));

/** The adapter options `--peft` and its flags describe (undefined without --peft); flags of another type are errors. */
export function peftOptions(o: PeftFlags & { freeze?: string; seed?: number }): AdapterOptions | undefined {
  const owners: Record<string, (keyof PeftFlags)[]> = {
    lora: ['loraR', 'loraAlpha', 'loraDropout', 'loraTargets'], ia3: ['ia3Targets', 'ia3Feedforward'], prefix: ['prefixTokens', 'prefixProjection', 'prefixHidden'], bitfit: [],
  };
  for (const [type, keys] of Object.entries(owners)) {
    const k = keys.find((x) => o[x] !== undefined);
    if (k && o.peft !== type) throw new RootsError('ERR_INVALID_ARG', `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is for --peft ${type}${o.peft ? ` (this run has --peft ${o.peft})` : ''}`);
  }
  if (o.peft === undefined) return undefined;
  if (o.freeze !== undefined && o.freeze !== 'none') throw new RootsError('ERR_INVALID_ARG', `--freeze ${o.freeze} and --peft ${o.peft} do not go together: with --peft the whole base is frozen`);
  const seed = o.seed;
  switch (o.peft) {
    case 'lora': return { type: 'lora', r: o.loraR, alpha: o.loraAlpha, dropout: o.loraDropout, targetModules: list(o.loraTargets), seed };
    case 'ia3': return { type: 'ia3', targetModules: list(o.ia3Targets), feedforwardModules: list(o.ia3Feedforward), seed };
    case 'prefix': return { type: 'prefix', numVirtualTokens: o.prefixTokens, prefixProjection: o.prefixProjection, encoderHiddenSize: o.prefixHidden, seed };
    default: return { type: 'bitfit', seed };
  }
}
