#!/usr/bin/env node
// npm's install script, and `npx roots build` (bin/roots.js) with --build-from-source.
// In an installed package with prebuilt binaries: nothing to do when one fits the LibTorch found
// (lib/native.ts picks it at load time); else a build from source (scripts/build-native.mjs).
// `npm install --build-from-source`, ROOTS_BUILD_FROM_SOURCE=1, or a git checkout always build.
// npm 11 may not run a dependency's install script at all (it asks first), so nothing here is needed
// for a prebuilt binary to work: the load-time message names `npx roots build` where one is missing.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LibTorchNotFound, findLibTorch, flavourOf } from './find-libtorch.mjs';
import { choosePrebuilt, listPrebuilds, mismatch } from './prebuilt.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const env = process.env;
if (env.ROOTS_SKIP_NATIVE_BUILD === '1') { console.log('roots: skipping the native build (ROOTS_SKIP_NATIVE_BUILD=1)'); process.exit(0); }
const force = process.argv.includes('--build-from-source') || env.npm_config_build_from_source === 'true'
  || env.ROOTS_BUILD_FROM_SOURCE === '1' || existsSync(join(root, '.git'));

if (!force && listPrebuilds(root).length > 0) {
  let torch;
  try {
    torch = findLibTorch();
  } catch (e) {
    if (!(e instanceof LibTorchNotFound)) throw e;
    // Not an install failure: the package is installed, and the first load says what to do.
    console.warn(`roots: ${e.message}\nroots: once LibTorch is there, roots-nlp uses its prebuilt binary if one fits, else run \`npx roots build\`.`);
    process.exit(0);
  }
  const p = choosePrebuilt(root, torch);
  const why = p?.record ? mismatch(p.record, torch, p.file) : 'no record beside it';
  if (p && !why) {
    console.log(`roots: using the prebuilt binary for LibTorch ${torch.version} (${p.flavour}); no build needed`);
    process.exit(0);
  }
  const have = listPrebuilds(root).map((x) => x.flavour).join(', ');
  console.log(`roots: no usable prebuilt binary for LibTorch ${torch.version} (${flavourOf(torch)}${p ? `: ${why}` : `; this package has ${have}`}); building from source`);
}
const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-native.mjs')], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
