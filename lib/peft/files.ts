/**
 * PEFT's adapter folder: adapter_config.json and adapter_model.safetensors with PEFT's tensor names
 * (peft/utils/save_and_load.py): `base_model.model.<module>.lora_A.weight`, `...ia3_l`, saved head
 * copies as `base_model.model.classifier.weight`; prefix tuning as `prompt_embeddings` [P, 2·L·H] (the
 * prefix encoder's output) and `base_model.classifier.weight`. Written with temporary names and
 * renamed; read with every name and shape checked before any tensor is copied.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { RootsError } from '../errors.js';
import { call, callSync, type NativeModel, type NativeTensorEntry } from '../native.js';
import { atomicPath, writeFileAtomic } from '../util/atomic-write.js';
import { readSafetensorsIndex } from '../weights/index.js';
import { type AdapterOptions, type ModelShape, optionsFromPeftConfig, resolveAdapter } from './config.js';

export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';

/** One adapter of a model: its options and the PEFT config it saves. */
export interface AdapterRecord {
  name: string;
  options: AdapterOptions;
  peftConfig: Record<string, unknown>;
}

/** Writes adapter_config.json and adapter_model.safetensors for adapter `rec` into `dir`. */
export async function saveAdapterFiles(nm: NativeModel, rec: AdapterRecord, dir: string, baseModel: string | null): Promise<void> {
  await mkdir(dir, { recursive: true });
  await atomicPath(join(dir, ADAPTER_WEIGHTS_FILE), (tmp) => call(() => nm.save(tmp, `adapter:${rec.name}`, { format: 'pt' })));
  const cfg = { ...rec.peftConfig, base_model_name_or_path: baseModel, peft_version: rec.peftConfig.peft_version ?? null, library: 'roots-nlp' };
  await writeFileAtomic(join(dir, ADAPTER_CONFIG_FILE), JSON.stringify(cfg, null, 2) + '\n');
}

/** Our parameter name for a tensor name in PEFT's file. */
function paramName(key: string): string {
  if (key === 'prompt_embeddings') return 'prompt_encoder.embedding.weight';
  if (key.startsWith('base_model.model.')) return key.slice('base_model.model.'.length);
  if (key.startsWith('base_model.')) return key.slice('base_model.'.length);
  return key;
}

function sameBase(a: string, b: string): boolean {
  const norm = (s: string) => s.replace(/[\\/]+$/, '');
  return norm(a) === norm(b) || resolve(norm(a)) === resolve(norm(b)) || basename(norm(a)) === basename(norm(b));
}

export interface LoadAdapterOptions {
  /** The name it gets in the model (default 'default', PEFT's). */
  name?: string;
  /** Load even when adapter_config.json names another base model (default false: refuse). */
  ignoreBaseModel?: boolean;
}

/**
 * Reads a PEFT adapter folder into the model as adapter `name`: the config is resolved against the
 * model, then every tensor of the file must be a parameter of the adapter with its shape, and every
 * parameter must be in the file. On any failure the adapter is removed again: the model is as it was.
 */
export async function loadAdapterFiles(nm: NativeModel, shape: ModelShape, dir: string, name: string,
  baseModel: string | null, options: LoadAdapterOptions = {}): Promise<AdapterRecord> {
  const cfgPath = join(dir, ADAPTER_CONFIG_FILE), wPath = join(dir, ADAPTER_WEIGHTS_FILE);
  if (!existsSync(cfgPath)) throw new RootsError('ERR_IO', `${dir}: no ${ADAPTER_CONFIG_FILE} (is it a PEFT adapter folder? --adapter DIR)`);
  if (!existsSync(wPath)) {
    const bin = existsSync(join(dir, 'adapter_model.bin')) ? ' (it has adapter_model.bin: re-save it with safe_serialization=True)' : '';
    throw new RootsError('ERR_IO', `${dir}: no ${ADAPTER_WEIGHTS_FILE}${bin}`);
  }
  let peftConfig: Record<string, unknown>;
  try {
    peftConfig = JSON.parse(await readFile(cfgPath, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new RootsError('ERR_PARSE', `${cfgPath}: not valid JSON: ${(e as Error).message}`);
  }
  const base = peftConfig.base_model_name_or_path;
  if (typeof base === 'string' && base && baseModel && !sameBase(base, baseModel) && !options.ignoreBaseModel) {
    throw new RootsError('ERR_CHECKPOINT', `${cfgPath}: the adapter was made for base model "${base}", this model is "${baseModel}" (pass ignoreBaseModel / --adapter-any-base if they are the same weights)`);
  }
  const opts = optionsFromPeftConfig(peftConfig, cfgPath);
  if (opts.type === 'prefix') {
    for (const [field, ours] of [['num_layers', shape.numLayers], ['token_dim', shape.hiddenSize], ['num_attention_heads', shape.numHeads]] as const) {
      if (peftConfig[field] !== undefined && peftConfig[field] !== ours) throw new RootsError('ERR_CHECKPOINT', `${cfgPath}: ${field} is ${peftConfig[field]}, this model has ${ours} (an adapter for another base)`);
    }
  }
  const { index } = await readSafetensorsIndex(wPath);
  // The head copies are what the file holds besides the adapter's own tensors.
  const ownTensor = (n: string) => /\.(lora_[AB]\.weight|ia3_l)$/.test(n) || n.startsWith('prompt_encoder.');
  const baseParams = new Map(shape.parameters.map((p) => [p.name, p.shape]));
  const saved: string[] = [];
  for (const key of index.keys()) {
    const n = paramName(key);
    if (ownTensor(n)) continue;
    if (!baseParams.has(n)) throw new RootsError('ERR_CHECKPOINT', `${wPath}: "${key}" is neither an adapter tensor nor a parameter of this model (an adapter for another architecture?)`);
    saved.push(n);
  }
  const resolved = resolveAdapter({ ...opts, modulesToSave: [] }, shape);
  resolved.native.saved = opts.type === 'bitfit' ? saved : [...new Set([...resolved.native.saved, ...saved])];
  callSync(() => nm.adapter('add', name, resolved.native));
  try {
    const params = new Map(callSync(() => nm.adapter('parameters', name)).map((p) => [p.name, p.shape]));
    const entries: NativeTensorEntry[] = [];
    const seen = new Set<string>();
    for (const [key, rec] of index) {
      const n = paramName(key);
      const want = params.get(n);
      if (!want) throw new RootsError('ERR_CHECKPOINT', `${wPath}: "${key}" has no place in a ${opts.type} adapter with this config (its target_modules do not name it)`);
      const got = rec.shape;
      const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);
      // PEFT's [P, 2LH] prompt_embeddings is our prefix embedding as it is; everything else has our shape exactly.
      if (got.length !== want.length || got.some((d, i) => d !== want[i])) {
        if (!(n === 'prompt_encoder.embedding.weight' && numel(got) === numel(want))) {
          throw new RootsError('ERR_CHECKPOINT', `${wPath}: "${key}" has shape [${got}], this model needs [${want}] (an adapter made for another base model)`);
        }
      }
      if (!['F32', 'F16', 'BF16', 'F64'].includes(rec.dtype)) throw new RootsError('ERR_CHECKPOINT', `${wPath}: "${key}" has dtype ${rec.dtype}, expected a floating-point type`);
      seen.add(n);
      entries.push({ target: `adapter:${name}/${n}`, dtype: rec.dtype, shape: want, begin: rec.begin, end: rec.end });
    }
    const missing = [...params.keys()].filter((n) => !seen.has(n));
    if (missing.length) throw new RootsError('ERR_CHECKPOINT', `${wPath}: missing ${missing.length} adapter tensors: ${missing.slice(0, 4).join(', ')}${missing.length > 4 ? ' ...' : ''}`);
    await call(() => nm.loadSafetensors(wPath, entries));
  } catch (e) {
    callSync(() => nm.adapter('remove', name));
    throw e;
  }
  return { name, options: opts, peftConfig };
}
