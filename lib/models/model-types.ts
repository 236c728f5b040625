/**
 * The types of the BERT model API (lib/models/bert.ts): devices, precisions, load and step options and
 * results, adapters, and the ready-made freezing strategies.
 */
import { RootsError } from '../errors.js';
import type { NativeDistill, NativeHead } from '../native.js';
import type { HubOptions } from '../hub/cache.js';
import type { BertConfig } from './config.js';
import type { OptimizerOptions } from './optimizer.js';

export type Head = NativeHead;
export type Device = 'cpu' | 'cuda' | `cuda:${number}` | 'auto';
/**
 * The matrix products: fp32; bf16 autocast; int8 (CPU inference: the encoder's linear layers
 * dynamically quantised, lib/models/quantize.ts); 'auto' (options only): bf16 where the hardware runs
 * it natively, else fp32.
 */
export type Precision = 'fp32' | 'bf16' | 'int8' | 'auto';
/** The precisions a model trains in. */
export type TrainPrecision = 'fp32' | 'bf16';

/** With the Hub options (`revision`, `cacheDir`, `localFilesOnly`, `token`, ...) for a Hub id in place of a folder. */
export interface FromPretrainedOptions extends HubOptions {
  /** Label names for a classification head (overrides config.json's id2label). */
  labels?: readonly string[];
  /** Slot label names (intent-slots). */
  slotLabels?: readonly string[];
  device?: Device;
  /** 'auto': an int8 folder (roots quantize) stays int8, else bf16 where the device runs it natively, else fp32. 'int8' quantizes on load. */
  precision?: Precision;
  /** Seed of the fresh initialisation (weights the checkpoint lacks). */
  seed?: number;
  /** A head whose shape disagrees with the checkpoint (another label set) is initialised fresh instead of failing. */
  ignoreMismatchedSizes?: boolean;
  problemType?: BertConfig['problem_type'];
  /** Config fields to override (dropout, ...). */
  config?: Partial<BertConfig>;
  /** Where to print load notices (missing heads etc.); default console.warn; null for silence. */
  log?: ((msg: string) => void) | null;
}

export interface LoadReport {
  source: string | null;
  missingKeys: string[];
  unexpectedKeys: string[];
  mismatchedKeys: { key: string; checkpoint: number[]; model: number[] }[];
}

export interface ModelOutput {
  /** token/mlm: [B, T, L] (mlm with labels: [N, V] at the N labelled positions, row-major); sequence/intent: [B, L]; qa: start logits [B, T] */
  logits: Float32Array;
  dims: number[];
  /** qa: end logits [B, T]; intent-slots: slot logits [B, T, S]; base: pooled output [B, H] */
  logits2?: Float32Array;
  dims2?: number[];
  loss?: number;
}

/** The step's optimizer options (Hugging Face's defaults, lib/models/optimizer.ts) and its seed. */
export interface TrainStepOptions extends OptimizerOptions {
  /** Seeds the dropout masks of this step (default 0; the Trainer passes seed + step, so resumed runs match). */
  rngSeed?: number;
  /** The adapter this step trains (only its parameters change); default the model's (setAdapter); null: the base. */
  adapter?: string | null;
  /** LwF (lib/continual): the previous model's logits per batch, distilled into the first `labels` outputs. */
  distill?: NativeDistill;
}

/** Which adapter a forward pass uses: default the model's (setAdapter); null: the base alone. */
export interface ForwardOptions { adapter?: string | null }

/** An adapter loaded in a model (lib/peft). */
export interface AdapterInfo { name: string; type: string; numParameters: number; merged: boolean; step: number }

export interface StepResult { loss: number; gradNorm: number; skipped: boolean; tokens: number; step: number }

/** Ready-made freezing strategies (regexes on Hugging Face parameter names). */
export type FreezeStrategy = 'none' | 'embeddings' | 'encoder' | 'all-but-head' | 'bitfit' | { bottomLayers: number } | { patterns: string[] };

export function freezePatterns(s: FreezeStrategy, numLayers: number): string[] {
  if (s === 'none') return [];
  if (s === 'embeddings') return ['^bert\\.embeddings\\.'];
  if (s === 'encoder' || s === 'all-but-head') return ['^bert\\.'];
  if (s === 'bitfit') return ['^bert\\.(?!.*\\.bias$)'];  // biases and the head train
  if ('bottomLayers' in s) {
    const k = s.bottomLayers;
    if (!Number.isInteger(k) || k < 0 || k > numLayers) throw new RootsError('ERR_INVALID_ARG', `Expected bottomLayers in [0, ${numLayers}] but received ${k}`);
    if (k === 0) return [];
    return ['^bert\\.embeddings\\.', `^bert\\.encoder\\.layer\\.(${Array.from({ length: k }, (_, i) => i).join('|')})\\.`];
  }
  return s.patterns;
}
