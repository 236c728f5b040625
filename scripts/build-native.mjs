#!/usr/bin/env node
// Builds the native addon with cmake-js against the LibTorch that scripts/find-libtorch.mjs finds.
// Incremental: the build folder is kept, so changing one C++ file recompiles one file (the LibTorch
// headers sit in a precompiled header). ROOTS_SKIP_NATIVE_BUILD=1 skips it (TS-only work).
// ROOTS_BUILD_DEBUG=1 builds with debug info. ROOTS_BUILD_DIR=<folder> builds into another folder than
// build/ (a second LibTorch beside the first: `LIBTORCH_USE_PYTORCH=1 ROOTS_BUILD_DIR=build-torch2`; load
// it with ROOTS_NATIVE_PATH=build-torch2/Release/roots_native.node).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus } from 'node:os';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { findLibTorch, flavourOf } from './find-libtorch.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
if (process.env.ROOTS_SKIP_NATIVE_BUILD === '1') { console.log('roots: skipping the native build (ROOTS_SKIP_NATIVE_BUILD=1)'); process.exit(0); }

let torch;
try { torch = findLibTorch(); }
catch (e) { console.error(`\nroots: ${e.message}\n`); process.exit(1); }
console.log(`roots: building against LibTorch ${torch.version} (${torch.source}, ${torch.cuda ? 'CUDA' : 'CPU only'}) at ${torch.root}`);

const require = createRequire(import.meta.url);
const cmakeJs = join(dirname(require.resolve('cmake-js/package.json')), 'bin/cmake-js');
const out = resolve(root, process.env.ROOTS_BUILD_DIR || 'build');
// A build folder configured for another LibTorch keeps that one's library paths in its CMake cache
// (find_library results are cached): forget them, so the LibTorch found now is the one linked.
const cache = join(out, 'CMakeCache.txt');
const cachedTorch = existsSync(cache) && (readFileSync(cache, 'utf8').match(/^Torch_DIR:PATH=(.*)$/m) || [])[1];
if (cachedTorch && resolve(cachedTorch) !== resolve(torch.cmakeDir)) {
  console.log(`roots: ${out} was configured for the LibTorch in ${cachedTorch}; reconfiguring for ${torch.cmakeDir}`);
  rmSync(cache);
}
const args = [cmakeJs, 'build', '--directory', root, '--out', out,
  '--parallel', String(Math.max(1, cpus().length)),
  `--CDCMAKE_PREFIX_PATH=${torch.prefix}`];
if (process.env.ROOTS_BUILD_DEBUG === '1') args.push('--debug');
if (torch.cuda) args.push('--CDROOTS_LIBTORCH_CUDA=ON');
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.error('\nroots: the native build failed. If the error mentions LibTorch headers or libraries, check the LibTorch install:');
  console.error('  node scripts/find-libtorch.mjs    prints what was found');
  process.exit(r.status ?? 1);
}
// What this binary was built against, beside it: lib/native.ts checks it against the LibTorch found
// before loading, and scripts/prebuild.mjs packs it with the binary.
const node = join(out, process.env.ROOTS_BUILD_DEBUG === '1' ? 'Debug' : 'Release', 'roots_native.node');
const record = {
  flavour: flavourOf(torch), torchVersion: torch.version, cxx11abi: torch.cxx11abi, cuda: torch.cuda,
  libDir: torch.libDir, source: torch.source, platform: process.platform, arch: process.arch, napiVersion: 8,
};
const recordFile = node.replace(/\.node$/, '.json');
writeFileSync(`${recordFile}.tmp`, `${JSON.stringify(record, null, 2)}\n`);
renameSync(`${recordFile}.tmp`, recordFile);
console.log(`roots: built ${node} (${record.flavour})`);

