// Prebuilt binaries of the addon, one per platform and LibTorch flavour, in node-gyp-build's layout:
//   prebuilds/linux-x64/roots-nlp.torch2_13-cxx11-cpu.napi.glibc.node   the addon
//   prebuilds/linux-x64/roots-nlp.torch2_13-cxx11-cpu.napi.glibc.json   what it was built against
// node-gyp-build finds the platform folder and matches its tags (napi, glibc/musl); the flavour tag is
// ours (node-gyp-build ignores tags it does not know), chosen by the LibTorch found at load time.
// Every build (scripts/build-native.mjs) writes the same record beside roots_native.node, so a build
// from source is checked the same way. Used by lib/native.ts (loading), scripts/install.mjs and
// scripts/prebuild.mjs (packing); no TypeScript so that the install script runs before any compile.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { flavourOf } from './find-libtorch.mjs';

const require = createRequire(import.meta.url);
const ngb = require('node-gyp-build');

export function sha256(file) {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** The record a build writes beside its .node (see recordBuild in build-native.mjs). */
export function readRecord(nodeFile) {
  const f = nodeFile.replace(/\.node$/, '.json');
  if (!existsSync(f)) return null;
  return JSON.parse(readFileSync(f, 'utf8'));
}

/** The file name of a prebuilt binary of this flavour (no extension). */
export function prebuiltName(flavour) {
  return `roots-nlp.${flavour}.napi.glibc`;
}

/** Every prebuilt binary for this platform and arch: [{ file, flavour, record }], via node-gyp-build's matching. */
export function listPrebuilds(pkgRoot, platform = process.platform, arch = process.arch) {
  const dir = join(pkgRoot, 'prebuilds');
  if (!existsSync(dir)) return [];
  const tuple = readdirSync(dir).map(ngb.parseTuple).filter(ngb.matchTuple(platform, arch)).sort(ngb.compareTuples)[0];
  if (!tuple) return [];
  const folder = join(dir, tuple.name);
  return readdirSync(folder)
    .map(ngb.parseTags)
    .filter(ngb.matchTags('node', process.versions.modules))
    .map((tags) => {
      const file = join(folder, tags.file);
      const flavour = tags.file.split('.').find((t) => /^torch\d+_\d+-/.test(t)) ?? null;
      return { file, flavour, record: readRecord(file) };
    })
    .filter((p) => p.flavour);
}

/** The prebuilt binary for a LibTorch (findLibTorch's answer), or null. */
export function choosePrebuilt(pkgRoot, torch) {
  const want = flavourOf(torch);
  return listPrebuilds(pkgRoot).find((p) => p.flavour === want) ?? null;
}

/** The libraries every addon needs from LibTorch (what the dynamic loader would look for). */
const NEEDED = ['libc10', 'libtorch_cpu', 'libtorch'];

/**
 * Why this binary cannot run with this LibTorch, as one line, or null when it can. Checked before
 * dlopen, so that a mismatch is a message and not a crash in the dynamic loader.
 */
export function mismatch(record, torch, file) {
  if (record.sha256 && sha256(file) !== record.sha256) {
    return `${file} is corrupt (its SHA-256 differs from the one recorded when it was built)`;
  }
  const missing = NEEDED.filter((lib) => !existsSync(torch.libDir) || !readdirSync(torch.libDir).some((f) => f === `${lib}.so` || f.startsWith(`${lib}.so.`)));
  if (missing.length > 0) return `the LibTorch at ${torch.libDir} is incomplete: no ${missing.map((l) => `${l}.so`).join(', ')}`;
  if (record.flavour !== flavourOf(torch)) {
    return `${file} was built for LibTorch ${record.torchVersion} (${describe(record)}), but the LibTorch found (${torch.source}, ${torch.libDir}) is ${torch.version} (${describe(torch)})`;
  }
  return null;
}

function describe(t) {
  return `${t.cxx11abi ? 'C++11 ABI' : 'pre-C++11 ABI'}, ${t.cuda ? 'CUDA' : 'CPU only'}`;
}

/** How to get a LibTorch of a flavour: the fix a mismatch message names. */
export function howToGet(flavour) {
  const m = flavour.match(/^torch(\d+)_(\d+)-(cxx11|precxx11)-(cpu|cuda)$/);
  if (!m) return '';
  const [, major, minor, , dev] = m;
  if (major === '1' && minor === '13') return 'Debian 12\'s LibTorch: `sudo apt-get install libtorch-dev` (and unset LIBTORCH, LIBTORCH_USE_PYTORCH)';
  const index = dev === 'cpu' ? ' --index-url https://download.pytorch.org/whl/cpu' : '';
  return `the PyTorch ${major}.${minor} wheel: \`pip install "torch==${major}.${minor}.*"${index}\`, then run with LIBTORCH_USE_PYTORCH=1 (PYTHON=<that python> if it is not python3)`;
}

/** Why a binary built here cannot load any more (its LibTorch moved or went), or null. */
export function builtMismatch(record) {
  const missing = NEEDED.filter((lib) => !existsSync(record.libDir) || !readdirSync(record.libDir).some((f) => f === `${lib}.so` || f.startsWith(`${lib}.so.`)));
  if (missing.length === 0) return null;
  return `it was built against the LibTorch ${record.torchVersion} in ${record.libDir}, which no longer has ${missing.map((l) => `${l}.so`).join(', ')}`;
}

/**
 * The path to dlopen a prebuilt binary from, for a LibTorch in `libDir`. Where that is the folder it
 * was built against, the binary itself; else a copy in a cache folder beside a `libtorch` link to
 * libDir, which the binary's RUNPATH ($ORIGIN/libtorch first) finds before anything else. The copy
 * is made in a fresh folder and renamed into place, so a half-made one is never used.
 */
export function stagePrebuilt(p, libDir, cacheRoot) {
  if (p.record.libDir === libDir) return p.file;
  const key = createHash('sha256').update(`${p.record.sha256}\n${libDir}`).digest('hex').slice(0, 16);
  const dir = join(cacheRoot, `${p.flavour}-${key}`);
  const file = join(dir, 'roots_native.node');
  if (existsSync(file) && existsSync(join(dir, 'libtorch'))) return file;
  mkdirSync(cacheRoot, { recursive: true });
  const tmp = mkdtempSync(join(cacheRoot, '.staging-'));
  copyFileSync(p.file, join(tmp, 'roots_native.node'));
  symlinkSync(libDir, join(tmp, 'libtorch'));
  try {
    renameSync(tmp, dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(file)) throw e;   // another process staged it first: use theirs
  }
  return file;
}
