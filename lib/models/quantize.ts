/**
 * int8 inference on CPU (native/quantize.h): dynamic quantisation of the encoder's linear layers as
 * PyTorch's `quantize_dynamic` with `per_channel_dynamic_qconfig` does it (int8 weights with one
 * symmetric scale per output channel, activations quantised per call), run by the quantized engine
 * of this LibTorch. This file owns the checkpoint format of a quantized folder and the precision
 * choice ('auto').
 *
 * A quantized folder is a Hugging Face folder whose config.json carries
 * `quantization_config: { quant_method: 'roots_dynamic_int8', ... }` and whose model.safetensors
 * holds, for each quantized module (`bert.encoder.layer.N.attention.self.query`, ...), its weight as
 * I8 `<module>.weight` [out, in] and F32 `<module>.weight_scale` [out] (weight = int8 x scale, zero
 * points 0); every other tensor is F32 under its usual name.
 */
import { RootsError } from '../errors.js';
import type { NativeQuantizeModule } from '../native.js';
import { info } from '../info.js';
import type { TensorIndex } from '../weights/index.js';

export const QUANT_METHOD = 'roots_dynamic_int8';

/** What a quantized folder's config.json says about its weights (written by `roots quantize`). */
export interface QuantizationConfig {
  quant_method: typeof QUANT_METHOD;
  bits: 8;
  weights: 'int8, symmetric, one scale per output channel';
  activations: 'uint8, dynamic (range of each call)';
  /** The quantized linear layers (regex on module names); everything else is fp32. */
  modules: string;
}

export const QUANTIZATION_CONFIG: QuantizationConfig = {
  quant_method: QUANT_METHOD,
  bits: 8,
  weights: 'int8, symmetric, one scale per output channel',
  activations: 'uint8, dynamic (range of each call)',
  modules: String.raw`^bert\.encoder\.layer\.\d+\.(attention\.self\.(query|key|value)|attention\.output\.dense|intermediate\.dense|output\.dense)$`,
};

/** Options of `model.quantize()` and of `precision: 'int8'`. */
export interface QuantizeOptions {
  /** The quantized engine ('x86', 'fbgemm', 'onednn', 'qnnpack'); default ROOTS_QENGINE, else the first of quantizedEngines(). */
  engine?: string;
}

export interface QuantizeInfo { engine: string; modules: number }

/** The quantized engines this LibTorch has, preferred first (x86, fbgemm, onednn, qnnpack). */
export function quantizedEngines(): string[] {
  return info().torch.quantizedEngines;
}

/**
 * Whether config.json describes a quantized folder; a `quantization_config` of another method
 * (bitsandbytes, GPTQ, ...) is refused by name rather than loaded as if it were fp32.
 */
export function isQuantizedConfig(config: Record<string, unknown>, where: string): boolean {
  const q = config.quantization_config as { quant_method?: unknown } | undefined;
  if (q === undefined || q === null) return false;
  if (typeof q !== 'object' || q.quant_method !== QUANT_METHOD) {
    throw new RootsError('ERR_CONFIG', `${where}: quantization_config.quant_method is ${JSON.stringify(q.quant_method)}; roots loads only its own int8 format ('${QUANT_METHOD}', written by \`roots quantize\`)`);
  }
  return true;
}

/**
 * The int8 modules of a quantized checkpoint's index: each `<module>.weight` of dtype I8 with its
 * `<module>.weight_scale`. `keys` lists the index entries they use (the fp32 loader skips them).
 */
export function quantizedModules(index: TensorIndex, path: string): { modules: NativeQuantizeModule[]; keys: Set<string> } {
  const modules: NativeQuantizeModule[] = [];
  const keys = new Set<string>();
  const re = new RegExp(QUANTIZATION_CONFIG.modules);
  for (const [key, rec] of index) {
    if (rec.dtype !== 'I8') continue;
    const module = key.replace(/\.weight$/, '');
    if (!key.endsWith('.weight') || !re.test(module)) {
      throw new RootsError('ERR_CHECKPOINT', `${path}: "${key}" is int8 but is not the weight of a quantized linear layer (${QUANTIZATION_CONFIG.modules})`);
    }
    const scale = index.get(`${key}_scale`);
    if (scale?.dtype !== 'F32') throw new RootsError('ERR_CHECKPOINT', `${path}: the int8 "${key}" has no F32 "${key}_scale" beside it`);
    modules.push({ module, weight: rec, scale });
    keys.add(key).add(`${key}_scale`);
  }
  return { modules, keys };
}

/**
 * 'auto' → bf16 where this machine runs it natively (a CUDA device of compute capability >= 8 for
 * a CUDA model; AVX512-BF16 or AMX and oneDNN for a CPU model), else fp32. Never int8: it changes
 * the numbers (the accuracy change is measured in bench/results/2026-11-30-int8.md), so it is asked for by name.
 */
export function resolveAutoPrecision(device: string): 'fp32' | 'bf16' {
  const i = info();
  if (device.startsWith('cuda')) return i.cuda.devices.some((d) => d.bf16) ? 'bf16' : 'fp32';
  return i.cpu.bf16 && i.torch.mkldnn ? 'bf16' : 'fp32';
}
