/** A LibTorch found by findLibTorch. */
export interface LibTorchInfo {
  source: 'LIBTORCH' | 'LIBTORCH_USE_PYTORCH' | 'system';
  /** The LibTorch root (an unpacked zip, a wheel's torch/ folder, /usr). */
  root: string;
  /** The folder holding libtorch.so, libc10.so, libtorch_cpu.so. */
  libDir: string;
  /** The folder of TorchConfig.cmake. */
  cmakeDir: string;
  /** CMAKE_PREFIX_PATH for the build (the root first). */
  prefix: string;
  /** "2.13.0", or "unknown" when the headers are not installed. */
  version: string;
  cxx11abi: boolean;
  cuda: boolean;
}
export class LibTorchNotFound extends Error {}
export function readVersion(includeDirs: string[]): string;
export function findLibTorch(env?: NodeJS.ProcessEnv): LibTorchInfo;
export function flavourOf(t: Pick<LibTorchInfo, 'version' | 'cxx11abi' | 'cuda'>): string;
