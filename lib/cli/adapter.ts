/**
 * `--adapter DIR` for roots eval, predict and merge, and `--peft` for roots train: a PEFT adapter
 * folder on a base model. The folder `roots train --peft` writes holds the adapter (PEFT's files), the
 * tokenizer, and a config.json with the task's head and labels; the base's weights come from --model.
 * Given an adapter folder as --model (PEFT's AutoPeftModel way), its base_model_name_or_path is the base.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { RootsError } from '../errors.js';
import type { BertPreTrainedModel, Device, FromPretrainedOptions, Precision } from '../models/bert.js';
import { readConfig } from '../models/config.js';
import type { AdapterOptions } from '../peft/config.js';
import { ADAPTER_CONFIG_FILE } from '../peft/files.js';
import { type AdapterSource, adapterBase, configDirOf, hasWeights, loadWithAdapter as loadFromAdapterSource } from '../peft/load.js';
import { type CliIO, parsers, resolveModelDir } from './common.js';

export type { AdapterSource } from '../peft/load.js';
export { tokenizerDir } from '../peft/load.js';

/** `--adapter-any-base` of roots eval, predict and merge. */
export const ADAPTER_ANY_BASE_HELP = 'load --adapter even when its adapter_config.json names another base model (base_model_name_or_path) than --model: for the same weights under another name or path; the shapes must still fit';

/** Resolves --model and --adapter (either may be the adapter folder roots train --peft wrote); anyBase: --adapter-any-base. */
export async function resolveAdapterSource(model: string | undefined, adapter: string | undefined, io: CliIO, anyBase = false): Promise<AdapterSource> {
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
  return { modelDir, adapterDir, config: await readConfig(configDirOf(modelDir, adapterDir)), ignoreBaseModel: anyBase };
}

/** Loads the base with the task's head and labels, then the adapter (errors name --model and --adapter). */
export function loadWithAdapter<T extends BertPreTrainedModel>(
  Class: { fromPretrained(dir: string, o: FromPretrainedOptions): Promise<T> }, src: AdapterSource,
  options: { device: Device; precision: Precision },
): Promise<T> {
  return loadFromAdapterSource(Class, src, options, { model: '--model', adapter: '--adapter' });
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
