import type { LibTorchInfo } from './find-libtorch.mjs';

/** What a build recorded beside its roots_native.node (prebuilt ones also carry sha256). */
export interface BuildRecord {
  flavour: string;
  torchVersion: string;
  cxx11abi: boolean;
  cuda: boolean;
  libDir: string;
  source: string;
  platform: string;
  arch: string;
  napiVersion: number;
  sha256?: string;
}
export interface Prebuilt {
  file: string;
  flavour: string;
  record: BuildRecord | null;
}
export function sha256(file: string): string;
export function readRecord(nodeFile: string): BuildRecord | null;
export function prebuiltName(flavour: string): string;
export function listPrebuilds(pkgRoot: string, platform?: string, arch?: string): Prebuilt[];
export function choosePrebuilt(pkgRoot: string, torch: LibTorchInfo): Prebuilt | null;
export function mismatch(record: BuildRecord, torch: LibTorchInfo, file: string): string | null;
export function howToGet(flavour: string): string;
export function builtMismatch(record: BuildRecord): string | null;
export function stagePrebuilt(p: Prebuilt & { record: BuildRecord }, libDir: string, cacheRoot: string): string;
