/** What this installation can do: versions, devices, precision support, threads. */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expectPositiveInt } from './errors.js';
import { callSync, native } from './native.js';

export interface RootsInfo {
  version: string;
  node: string;
  torch: { version: string; cuda: boolean; mkldnn: boolean; openmp: boolean; mkl: boolean };
  cuda: { available: boolean; devices: { index: number; name: string; memoryGiB: number; computeCapability: string; bf16: boolean }[] };
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
    torch: { version: n.torchVersion, cuda: n.builtWithCuda, mkldnn: n.mkldnn, openmp: n.openmp, mkl: n.mkl },
    cuda: { available: n.cudaAvailable, devices },
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

export function formatInfo(i: RootsInfo): string {
  const yes = (b: boolean) => (b ? 'yes' : 'no');
  const lines = [
    `roots-nlp ${i.version} (Node ${i.node})`,
    `LibTorch   ${i.torch.version}${i.torch.cuda ? ' with CUDA' : ', CPU only'}; oneDNN ${yes(i.torch.mkldnn)}, OpenMP ${yes(i.torch.openmp)}, MKL ${yes(i.torch.mkl)}`,
    `CPU        ${i.cpu.model}, ${i.cpu.logicalCores} logical cores; AVX-512 ${yes(i.cpu.avx512)}, bf16 ${yes(i.cpu.bf16)}, AMX ${yes(i.cpu.amx)}`,
    `threads    ${i.threads.intraOp} intra-op, ${i.threads.interOp} inter-op`,
    `CUDA       ${i.cuda.available ? i.cuda.devices.map((d) => `[${d.index}] ${d.name} (${d.memoryGiB} GiB, sm ${d.computeCapability})`).join(', ') : 'not available'}`,
    `bf16       ${i.bf16 ? 'supported (use --precision bf16)' : 'not supported here'}`,
  ];
  return lines.join('\n');
}
