/**
 * The only file that loads the native addon. It declares the addon's complete typed interface
 * (`NativeBinding`) and turns load failures into a "possible solutions" message matched to the
 * cause, as sharp does. Nothing else imports the `.node` file.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RootsError, TorchError, type RootsErrorCode } from './errors.js';
import type { Batch } from './batch.js';
import type { BertConfig } from './models/config.js';
import type { ResolvedOptimizerOptions } from './models/optimizer.js';

export interface NativeInfo {
  torchVersion: string;
  torchVersionMajor: number;
  torchVersionMinor: number;
  builtWithCuda: boolean;
  cudaAvailable: boolean;
  cudaDevices: { index: number; name: string; totalMemory: number; computeCapability: string; bf16: boolean }[];
  /** cudaMemory() has counters (built with the CUDA headers). */
  cudaMemoryStats: boolean;
  mkldnn: boolean;
  mkl: boolean;
  openmp: boolean;
  numThreads: number;
  numInteropThreads: number;
  parallelInfo: string;
  buildConfig: string;
  napiVersion: number;
}

/** The heads the native model builds: BertModel and the BertFor* classes. */
export type NativeHead = 'base' | 'token' | 'sequence' | 'mlm' | 'qa' | 'intent-slots';

/** What the native model takes besides the normalised config.json (which does not hold these). */
export interface NativeModelOptions {
  head: NativeHead;
  /** Seed of the fresh initialisation. */
  seed: number;
  /** 'cpu', 'cuda' or 'cuda:N' (resolved). */
  device: string;
}

export interface NativeForwardResult {
  logits: Float32Array;
  dims: number[];
  logits2?: Float32Array;
  dims2?: number[];
  loss?: number;
}

/** Every value required: the defaults are resolved once, by resolveOptimizerOptions (lib/models/optimizer.ts). */
export interface NativeStepOptions extends ResolvedOptimizerOptions {
  /** Seeds the dropout masks of the step. */
  rngSeed: number;
}

export interface NativeStepResult {
  loss: number;
  gradNorm: number;
  skipped: boolean;
  tokens: number;
  step: number;
}

export interface NativeTensorEntry {
  target: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/** An adapter as the engine builds it (lib/peft/config.ts resolves it: defaults, matched targets). */
export interface NativeAdapterConfig {
  type: 'lora' | 'ia3' | 'prefix' | 'bitfit';
  seed: number;
  /** Parameters (HF names) the adapter trains a copy of: modules_to_save, BitFit's biases. */
  saved: string[];
  r?: number;
  scaling?: number;
  dropout?: number;
  /** LoRA / (IA)³: module names (bert.encoder.layer.0.attention.self.query ...). */
  targets?: string[];
  /** (IA)³: targets whose input is scaled. */
  feedforward?: string[];
  numVirtualTokens?: number;
  prefixProjection?: boolean;
  encoderHiddenSize?: number;
}

export interface NativeAdapterInfo { name: string; type: string; numParameters: number; merged: boolean; step: number }

/** model.adapter(op, ...): the adapter registry of native/adapters.h (all synchronous, small). */
export interface NativeAdapterOps {
  (op: 'add', name: string, config: NativeAdapterConfig): void;
  (op: 'remove' | 'merge' | 'unmerge', name: string): void;
  /** The adapter the next forward/trainStep uses ('' = the base); training: only its parameters get gradients. */
  (op: 'use', name: string, training: boolean): void;
  (op: 'active'): string;
  (op: 'list'): NativeAdapterInfo[];
  (op: 'parameters', name: string): { name: string; shape: number[] }[];
  (op: 'get' | 'grad', name: string, param: string): Float32Array;
  (op: 'set', name: string, param: string, values: Float32Array): void;
}

export interface NativeModel {
  adapter: NativeAdapterOps;
  /** The Batch as it is: the addon reads its own field names and checks every value. */
  forward(batch: Batch): Promise<NativeForwardResult>;
  trainStep(batches: Batch[], options: NativeStepOptions): Promise<NativeStepResult>;
  parameterInfo(): { name: string; shape: number[]; trainable: boolean }[];
  getParameter(name: string): Float32Array;
  setParameter(name: string, values: Float32Array): void;
  getGradient(name: string): Float32Array;
  initWeights(seed: number, names?: string[]): void;
  setFrozen(patterns: string[]): string[];
  setPrecision(precision: 'fp32' | 'bf16'): void;
  loadSafetensors(path: string, entries: NativeTensorEntry[]): Promise<void>;
  /** 'adapter:<name>': PEFT's adapter_model.safetensors of that adapter. */
  save(path: string, what: 'model' | 'optimizer' | `adapter:${string}`, metadata?: Record<string, string>): Promise<void>;
  dispose(): void;
  readonly disposed: boolean;
  readonly busy: boolean;
  readonly numParameters: number;
  optimizerStep: number;
  readonly device: string;
  /** 'one-pass', 'per-tensor' or 'fused-cuda' (ROOTS_ADAMW, read at construction). */
  readonly adamwKernel: string;
}

/** c10::Error, RootsException (ERR_CONFIG), std::exception, and a type that derives from neither. */
export type NativeExceptionKind = 'torch' | 'roots' | 'std' | 'unknown';

export interface NativeSelfTest {
  spin(ms: number): Promise<number>;
  throwTorch(): number;
  /** Throws a C++ exception of this kind synchronously (tests of the catch ladder). */
  throw(kind: NativeExceptionKind): never;
  /** The same inside a job on the torch thread. */
  failAsync(kind: NativeExceptionKind): Promise<void>;
  sum(): number;
  dropout(values: Float32Array, p: number, seed: number): Float32Array;
  dispose(): void;
  readonly disposed: boolean;
  readonly busy: boolean;
}

/** The CUDA caching allocator's counters for one device, in bytes (peaks since the last reset). */
export interface NativeCudaMemory {
  allocated: number;
  peakAllocated: number;
  reserved: number;
  peakReserved: number;
}

export interface NativeBinding {
  info(): NativeInfo;
  /** null without CUDA, or in a build without the CUDA headers. */
  cudaMemory(device?: number): NativeCudaMemory | null;
  resetCudaPeakMemory(device?: number): void;
  /** Waits for the work queued on a CUDA device; a no-op without CUDA. */
  cudaSynchronize(device?: number): void;
  setNumThreads(n: number): void;
  /** This environment's (thread's) objects still holding native memory, and its unfinished jobs. */
  liveObjects(): { models: number; selfTests: number; jobs: number };
  /** V8's running total of the external memory reported to this thread's isolate (bytes). */
  externalMemory(): number;
  /** `config`: the normalised config.json (lib/models/config.ts), read under its own names. */
  Model: new (config: BertConfig, options: NativeModelOptions) => NativeModel;
  SelfTest: new (size?: number) => NativeSelfTest;
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const candidates = [
  process.env.ROOTS_NATIVE_PATH,
  join(root, 'build', 'Release', 'roots_native.node'),
  join(root, 'build', 'Debug', 'roots_native.node'),
].filter((p): p is string => Boolean(p));

function possibleSolutions(err: Error, path: string | undefined): string {
  const msg = err.message;
  const lines = [`roots-nlp could not load its native addon${path ? ` (${path})` : ''}:`, `  ${msg.split('\n')[0]}`, 'Possible solutions:'];
  if (!path) {
    lines.push('- The addon was not built. Run `npm run build:native` (needs LibTorch and cmake; see README "LibTorch").');
    lines.push('- If `npm install` printed "LibTorch was not found": `sudo apt-get install libtorch-dev`, or set LIBTORCH=/path/to/libtorch, or LIBTORCH_USE_PYTORCH=1 with a Python that has torch, then `npm run build:native`.');
  } else if (/libtorch_cuda|libc10_cuda|libcudart|libcublas|libnvrtc/.test(msg)) {
    lines.push('- The addon was built against a CUDA LibTorch whose CUDA libraries are not found at run time: add the CUDA and LibTorch lib folders to LD_LIBRARY_PATH, or rebuild against a CPU LibTorch.');
  } else if (/lib(torch|c10|torch_cpu)[^ ]*\.so/.test(msg)) {
    lines.push('- LibTorch\'s shared libraries are not found: the LibTorch the addon was built against has moved or was removed. Reinstall it, or rebuild with `npm run build:native`.');
  } else if (/undefined symbol/.test(msg)) {
    lines.push('- The addon and LibTorch disagree on the C++ ABI or version (undefined symbol). Rebuild against the LibTorch you run with: `npm run build:native`. For a PyTorch wheel, use LIBTORCH_USE_PYTORCH=1 so the ABI flag is taken from it.');
  } else if (/NODE_MODULE_VERSION|napi/i.test(msg)) {
    lines.push(`- The addon was built for another Node.js. This is Node ${process.versions.node}; rebuild with \`npm run build:native\`. roots-nlp needs Node >= 20.17.`);
  } else {
    lines.push('- Rebuild the addon: `npm run build:native`, and check `node scripts/find-libtorch.mjs`.');
  }
  return lines.join('\n');
}

let cached: NativeBinding | undefined;

/** Loads the addon once; throws RootsError('ERR_NATIVE_LOAD') with a "possible solutions" list. */
export function native(): NativeBinding {
  if (cached) return cached;
  const path = candidates.find((p) => existsSync(p));
  if (!path) throw new RootsError('ERR_NATIVE_LOAD', possibleSolutions(new Error('roots_native.node not found'), undefined));
  try {
    const require = createRequire(import.meta.url);
    cached = require(path) as NativeBinding;
  } catch (e) {
    throw new RootsError('ERR_NATIVE_LOAD', possibleSolutions(e as Error, path), { cause: e });
  }
  return cached;
}

const KNOWN_CODES = new Set<string>(['ERR_INVALID_ARG', 'ERR_DISPOSED', 'ERR_BUSY', 'ERR_TORCH', 'ERR_NATIVE',
  'ERR_CHECKPOINT', 'ERR_IO', 'ERR_CONFIG', 'ERR_UNSUPPORTED', 'ERR_PARSE', 'ERR_TRAINING']);

/**
 * Re-throws an error from the addon as a RootsError (TorchError for torch's own errors). Called
 * from the awaiting function, so the new error's stack is the caller's, not the worker's.
 */
export function translateError(e: unknown): never {
  if (e instanceof RootsError) throw e;
  const err = e as Error & { code?: string };
  if (err && typeof err.code === 'string' && KNOWN_CODES.has(err.code)) {
    if (err.code === 'ERR_TORCH') throw new TorchError(err.message, { cause: e });
    throw new RootsError(err.code as RootsErrorCode, err.message, { cause: e });
  }
  throw e;
}

/** Runs a native call (sync or async) and translates its errors. */
export async function call<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    translateError(e);
  }
}

/** The synchronous variant of `call`. */
export function callSync<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    translateError(e);
  }
}
