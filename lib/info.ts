/** What this installation can do: versions, devices, precision support, threads. */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RootsError, expectPositiveInt } from './errors.js';
import { callSync, native } from './native.js';

export interface RootsInfo {
  version: string;
  node: string;
  torch: { version: string; cuda: boolean; mkldnn: boolean; openmp: boolean; mkl: boolean; quantizedEngines: string[] };
  cuda: {
    available: boolean;
    devices: { index: number; name: string; memoryGiB: number; computeCapability: string; bf16: boolean }[];
    /** {@link cudaMemory} has counters (the addon was built with the CUDA headers). */
    memoryStats: boolean;
  };
  cpu: { model: string; logicalCores: number; bf16: boolean; amx: boolean; avx512: boolean };
  threads: { intraOp: number; interOp: number };
  /** bf16 autocast is worth using: CPU with native bf16 instructions, or a CUDA device of compute capability >= 8. */
  bf16: boolean;
}

function packageVersion(): string {
  const pkg = join(dirname(fileURLToPath(import.meta.url)), '..', 'package.json');
  return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
}

function cpuFlags(): Set<string> {
  try {
    const text = readFileSync('/proc/cpuinfo', 'utf8');
    const line = text.split('\n').find((l) => l.startsWith('flags'));
    return new Set(line ? line.split(':')[1].trim().split(/\s+/) : []);
  } catch {
    return new Set();
  }
}

export function info(): RootsInfo {
  const n = callSync(() => native().info());
  const flags = cpuFlags();
  const cpuBf16 = flags.has('avx512_bf16') || flags.has('amx_bf16');
  const devices = n.cudaDevices.map((d) => ({ index: d.index, name: d.name, memoryGiB: +(d.totalMemory / 2 ** 30).toFixed(1), computeCapability: d.computeCapability, bf16: d.bf16 }));
  return {
    version: packageVersion(),
    node: process.versions.node,
    torch: { version: n.torchVersion, cuda: n.builtWithCuda, mkldnn: n.mkldnn, openmp: n.openmp, mkl: n.mkl, quantizedEngines: n.quantizedEngines },
    cuda: { available: n.cudaAvailable, devices, memoryStats: n.cudaAvailable && n.cudaMemoryStats },
    cpu: { model: cpus()[0]?.model ?? 'unknown', logicalCores: cpus().length, bf16: cpuBf16, amx: flags.has('amx_bf16'), avx512: flags.has('avx512f') },
    threads: { intraOp: n.numThreads, interOp: n.numInteropThreads },
    bf16: n.cudaAvailable ? devices.some((d) => d.bf16) : cpuBf16 && n.mkldnn,
  };
}

/** Sets LibTorch's intra-op thread count (default: every logical processor, or ROOTS_NUM_THREADS). */
export function setNumThreads(n: number): void {
  expectPositiveInt('numThreads', n);
  callSync(() => native().setNumThreads(n));
}

/** GPU memory of the CUDA caching allocator, in bytes; peaks count from the last {@link resetCudaPeakMemory}. */
export interface CudaMemory {
  allocatedBytes: number;
  peakAllocatedBytes: number;
  reservedBytes: number;
  peakReservedBytes: number;
}

/** A CUDA device index from a number or a device string ('cuda' is 0, 'cuda:1' is 1); null for 'cpu'. */
function cudaIndex(device: number | string): number | null {
  if (typeof device === 'number') {
    expectNonNegativeInt(device);
    return device;
  }
  if (device === 'cpu') return null;
  const m = /^cuda(?::(\d+))?$/.exec(device);
  if (!m) throw new RootsError('ERR_INVALID_ARG', `Expected a device index, 'cpu', 'cuda' or 'cuda:N' but received ${JSON.stringify(device)}`);
  return m[1] === undefined ? 0 : Number(m[1]);
}

function expectNonNegativeInt(n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new RootsError('ERR_INVALID_ARG', `Expected a non-negative integer device index but received ${n}`);
}

/**
 * The CUDA caching allocator's memory counters for a device (default 0, or a model's `device`):
 * null on CPU, without CUDA, or in a build without the CUDA headers (`info().cuda.memoryStats`).
 */
export function cudaMemory(device: number | string = 0): CudaMemory | null {
  const i = cudaIndex(device);
  if (i === null) return null;
  const m = callSync(() => native().cudaMemory(i));
  return m && { allocatedBytes: m.allocated, peakAllocatedBytes: m.peakAllocated, reservedBytes: m.reserved, peakReservedBytes: m.peakReserved };
}

/** Restarts the peak counters of {@link cudaMemory} from the current values; a no-op without CUDA. */
export function resetCudaPeakMemory(device: number | string = 0): void {
  const i = cudaIndex(device);
  if (i !== null) callSync(() => native().resetCudaPeakMemory(i));
}

/**
 * Waits until the work queued on a CUDA device has finished (for timing: a model's calls resolve
 * when their results are on the host, but this also covers anything still queued). A no-op on CPU.
 */
export function synchronize(device: number | string = 0): void {
  const i = cudaIndex(device);
  if (i !== null) callSync(() => native().cudaSynchronize(i));
}

export function formatInfo(i: RootsInfo): string {
  const yes = (b: boolean) => (b ? 'yes' : 'no');
  const lines = [
    `roots-nlp ${i.version} (Node ${i.node})`,
    `LibTorch   ${i.torch.version}${i.torch.cuda ? ' with CUDA' : ', CPU only'}; oneDNN ${yes(i.torch.mkldnn)}, OpenMP ${yes(i.torch.openmp)}, MKL ${yes(i.torch.mkl)}`,
    `CPU        ${i.cpu.model}, ${i.cpu.logicalCores} logical cores; AVX-512 ${yes(i.cpu.avx512)}, bf16 ${yes(i.cpu.bf16)}, AMX ${yes(i.cpu.amx)}`,
    `threads    ${i.threads.intraOp} intra-op, ${i.threads.interOp} inter-op`,
    `CUDA       ${i.cuda.available ? i.cuda.devices.map((d) => `[${d.index}] ${d.name} (${d.memoryGiB} GiB, sm ${d.computeCapability})`).join(', ') : 'not available'}`,
    `bf16       ${i.bf16 ? 'supported (use --precision bf16)' : 'not supported here'}`,
    `int8       ${i.torch.quantizedEngines.length ? `quantized engines ${i.torch.quantizedEngines.join(', ')} (roots quantize)` : 'no quantized engine in this LibTorch'}`,
  ];
  return lines.join('\n');
}
