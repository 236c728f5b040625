/**
 * The only file that loads the native addon. It declares the addon's complete typed interface
 * (`NativeBinding`) and turns load failures into a "possible solutions" message matched to the
 * cause, as sharp does. Nothing else imports the `.node` file.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RootsError, TorchError, type RootsErrorCode } from './errors.js';
import type { Batch } from './batch.js';
import type { BertConfig } from './models/config.js';
import type { ResolvedOptimizerOptions } from './models/optimizer.js';
import { findLibTorch, flavourOf, LibTorchNotFound, type LibTorchInfo } from '../scripts/find-libtorch.mjs';
import { builtMismatch, choosePrebuilt, howToGet, listPrebuilds, mismatch, readRecord, stagePrebuilt } from '../scripts/prebuilt.mjs';

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
  /** int8 inference's quantized engines, preferred first (x86, fbgemm, onednn, qnnpack; native/quantize.h). */
  quantizedEngines: string[];
}

/** The heads the native model builds: BertModel and the BertFor* classes. */
export type NativeHead = 'base' | 'token' | 'sequence' | 'mlm' | 'qa' | 'intent-slots' | 'relation';

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
  /** LwF (native/continual.h): the previous model's logits per batch ([B, T, labels] or [B, labels]). */
  distill?: NativeDistill;
}

export interface NativeDistill { logits: Float32Array[]; labels: number; temperature: number; weight: number }

/** model.continual(op, ...): EWC / L2-SP state of native/continual.h ('fisher' is async; the rest small). */
export interface NativeContinualOps {
  (op: 'configure', options: { ewcLambda: number; l2spAlpha: number }): void;
  (op: 'snapshot' | 'clear', which: 'anchor' | 'start' | 'fisher'): void;
  /** fisher = gamma * fisher + the mean squared gradient accumulated; anchor = the current weights. */
  (op: 'consolidate', gamma: number): void;
  /** Accumulates squared gradients of each batch's mean loss (eval mode); resolves to the batches so far. */
  (op: 'fisher', batches: Batch[]): Promise<number>;
  (op: 'get', which: 'fisher' | 'anchor' | 'start', name: string): Float32Array;
  (op: 'set', which: 'fisher' | 'anchor' | 'start', name: string, values: Float32Array): void;
  (op: 'state'): { ewcLambda: number; l2spAlpha: number; fisher: boolean; anchor: boolean; start: boolean; fisherBatches: number };
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

/** new ProcessGroup(options) (native/distributed.cc): validated in lib/distributed/env.ts. */
export interface NativeProcessGroupOptions {
  masterAddr: string; masterPort: number; rank: number; worldSize: number; timeoutMs: number; backend: 'gloo' | 'nccl'; device: string;
}

/** A c10d process group: connect() is the TCPStore rendezvous; every call waits at most timeoutMs. */
export interface NativeProcessGroup {
  connect(): Promise<void>;
  /** The element-wise sum over the ranks. */
  allreduce(values: Float64Array): Promise<Float64Array>;
  storeSet(key: string, value: string): Promise<void>;
  /** Waits (up to the timeout) for a rank to set `key`. */
  storeGet(key: string): Promise<string>;
  readonly rank: number;
  readonly worldSize: number;
  readonly connected: boolean;
  dispose(): void;
  readonly disposed: boolean;
  readonly busy: boolean;
}

/** model.distributed(op, ...): the gradient all-reduce of native/distributed.h. */
export interface NativeDistributedOps {
  (op: 'attach', group: NativeProcessGroup, options: { bucketBytes: number; overlap: boolean }): void;
  (op: 'detach'): void;
  /** duringBackward: buckets of the last step started before its backward pass ended (hooks). */
  (op: 'info'): { attached: boolean; buckets?: number; bucketBytes?: number; duringBackward?: number; hooks?: boolean };
  /** Rank 0's weights (the groups that train) to every rank. */
  (op: 'broadcast', group: NativeProcessGroup): Promise<void>;
}

/** An int8 module of a quantized checkpoint (lib/models/quantize.ts): HF module name, weight (I8) and scale (F32) entries. */
export interface NativeQuantizeModule {
  module: string;
  weight: { dtype: string; shape: number[]; begin: number; end: number };
  scale: { dtype: string; shape: number[]; begin: number; end: number };
}

/** model.quantize(op, ...): int8 inference (native/quantize.h). */
export interface NativeQuantizeOps {
  (op: 'dynamic', engine?: string): Promise<{ engine: string; modules: number }>;
  (op: 'load', path: string, modules: NativeQuantizeModule[], engine?: string): Promise<{ engine: string; modules: number }>;
  (op: 'info'): { engine: string; modules: number } | null;
  (op: 'off'): void;
}

export interface NativeModel {
  adapter: NativeAdapterOps;
  quantize: NativeQuantizeOps;
  continual: NativeContinualOps;
  distributed: NativeDistributedOps;
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
  /** The fused bias + GELU kernel on x [rows, bias.length] and its backward for dy (fp32 or bf16 inside). */
  biasGelu(x: Float32Array, bias: Float32Array, dy: Float32Array, bf16: boolean): { y: Float32Array; dx: Float32Array; dbias: Float32Array };
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
  ProcessGroup: new (options: NativeProcessGroupOptions) => NativeProcessGroup;
  /** Whether this build can train across processes (c10d with Gloo's headers), and with NCCL. */
  distributedInfo(): { c10d: boolean; gloo: boolean; nccl: boolean };
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The command that builds the addon from source in an installed package (bin/roots.js runs scripts/install.mjs). */
const BUILD = '`npx roots build` (needs cmake, a C++ compiler and the LibTorch headers)';

function loadError(lines: string[], cause?: unknown): RootsError {
  return new RootsError('ERR_NATIVE_LOAD', ['roots-nlp could not load its native addon:', ...lines].join('\n'), cause ? { cause } : undefined);
}

/**
 * Which binary to load, checked against the LibTorch it will run with before anything is dlopen'ed:
 * ROOTS_NATIVE_PATH, else a build from source (build/Release, build/Debug), else the prebuilt binary
 * (prebuilds/, scripts/prebuilt.mjs) of the flavour of the LibTorch found now (scripts/find-libtorch.mjs:
 * LIBTORCH, LIBTORCH_USE_PYTORCH=1, or the system's).
 */
function locate(): string {
  const explicit = process.env.ROOTS_NATIVE_PATH;
  if (explicit && !existsSync(explicit)) throw loadError([`  ROOTS_NATIVE_PATH=${explicit} does not exist.`, 'Possible solutions:', '- Unset ROOTS_NATIVE_PATH, or point it at a roots_native.node (build/Release/roots_native.node after `npm run build:native`).']);
  const built = [explicit, join(root, 'build', 'Release', 'roots_native.node'), join(root, 'build', 'Debug', 'roots_native.node')]
    .find((p): p is string => Boolean(p) && existsSync(p as string));
  if (built) {
    const record = readRecord(built);
    const why = record && builtMismatch(record);
    if (why) throw loadError([`  ${built}: ${why}.`, 'Possible solutions:', `- Reinstall that LibTorch, or rebuild against the one you have: \`npm run build:native\` in a checkout, ${BUILD} in an installed package.`]);
    return built;
  }
  let torch: LibTorchInfo;
  try {
    torch = findLibTorch();
  } catch (e) {
    if (!(e instanceof LibTorchNotFound)) throw e;
    const have = listPrebuilds(root).map((p) => p.flavour);
    throw loadError([`  ${(e as Error).message.split('\n')[0]}`, 'Possible solutions:', ...(e as Error).message.split('\n').slice(1).map((l) => `- ${l.trim()}`),
      have.length > 0 ? `- This package has prebuilt binaries for: ${have.join(', ')}. With any other LibTorch, build from source: ${BUILD}.` : `- Then build the addon: ${BUILD}.`], e);
  }
  const flavour = flavourOf(torch);
  const found = `LibTorch ${torch.version} (${torch.cxx11abi ? 'C++11 ABI' : 'pre-C++11 ABI'}, ${torch.cuda ? 'CUDA' : 'CPU only'}; ${torch.source}, ${torch.libDir})`;
  const prebuilt = choosePrebuilt(root, torch);
  if (!prebuilt?.record) {
    const have = listPrebuilds(root).map((p) => p.flavour);
    throw loadError([`  no binary for the ${found}: none was built from source, and ${have.length > 0 ? `the prebuilt ones are for ${have.join(', ')} only` : 'this package has no prebuilt ones'} (wanted ${flavour}).`,
      'Possible solutions:', `- Build it for this LibTorch: ${BUILD}.`, ...have.map((f) => `- Or use a LibTorch the prebuilt binary ${f} fits: ${howToGet(f)}.`)]);
  }
  const record = prebuilt.record;
  const why = mismatch(record, torch, prebuilt.file);
  if (why) throw loadError([`  ${why}.`, 'Possible solutions:', `- Reinstall roots-nlp (a corrupt file), or build from source: ${BUILD}.`, `- It needs ${howToGet(record.flavour)}.`]);
  const cache = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'roots-nlp', 'native');
  try {
    return stagePrebuilt({ ...prebuilt, record }, torch.libDir, cache);
  } catch (e) {
    throw loadError([`  could not stage ${prebuilt.file} for ${torch.libDir} in ${cache}: ${(e as Error).message}`, 'Possible solutions:', '- Make that folder writable, or set XDG_CACHE_HOME to a writable one.'], e);
  }
}

function possibleSolutions(err: Error, path: string): string {
  const msg = err.message;
  const lines = [`roots-nlp could not load its native addon (${path}):`, `  ${msg.split('\n')[0]}`, 'Possible solutions:'];
  if (/libtorch_cuda|libc10_cuda|libcudart|libcublas|libnvrtc|libcuda\.so/.test(msg)) {
    lines.push('- The addon was built against a CUDA LibTorch whose CUDA libraries are not found at run time: add the CUDA and LibTorch lib folders to LD_LIBRARY_PATH, or use a CPU LibTorch (its prebuilt binary, or a build from source).');
  } else if (/lib(torch|c10|torch_cpu)[^ ]*\.so/.test(msg)) {
    lines.push(`- LibTorch's shared libraries are not found: the LibTorch the addon was built against has moved or was removed. Reinstall it, or rebuild: \`npm run build:native\` in a checkout, ${BUILD} in an installed package.`);
  } else if (/undefined symbol/.test(msg)) {
    lines.push('- The addon and LibTorch disagree on the C++ ABI or version (undefined symbol). Rebuild against the LibTorch you run with: `npm run build:native`. For a PyTorch wheel, use LIBTORCH_USE_PYTORCH=1 so the ABI flag is taken from it.');
  } else if (/NODE_MODULE_VERSION|napi/i.test(msg)) {
    lines.push(`- The addon was built for another Node.js. This is Node ${process.versions.node}; rebuild with \`npm run build:native\`. roots-nlp needs Node >= 20.17.`);
  } else if (/invalid ELF header|file too short|not an ELF/i.test(msg)) {
    lines.push(`- The file is not a valid shared library (a corrupt or truncated download): reinstall roots-nlp, or build from source: ${BUILD}.`);
  } else {
    lines.push(`- Rebuild the addon: \`npm run build:native\` (${BUILD} in an installed package), and check \`node scripts/find-libtorch.mjs\`.`);
  }
  return lines.join('\n');
}

let cached: NativeBinding | undefined;

/** Loads the addon once; throws RootsError('ERR_NATIVE_LOAD') with a "possible solutions" list. */
export function native(): NativeBinding {
  if (cached) return cached;
  const path = locate();
  try {
    const require = createRequire(import.meta.url);
    cached = require(path) as NativeBinding;
  } catch (e) {
    throw new RootsError('ERR_NATIVE_LOAD', possibleSolutions(e as Error, path), { cause: e });
  }
  return cached;
}

const KNOWN_CODES = new Set<string>(['ERR_INVALID_ARG', 'ERR_DISPOSED', 'ERR_BUSY', 'ERR_TORCH', 'ERR_NATIVE',
  'ERR_CHECKPOINT', 'ERR_IO', 'ERR_CONFIG', 'ERR_UNSUPPORTED', 'ERR_PARSE', 'ERR_TRAINING', 'ERR_DISTRIBUTED']);

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
