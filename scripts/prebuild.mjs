#!/usr/bin/env node
// Packs the addon builds of this checkout as prebuilt binaries (scripts/prebuilt.mjs has the layout):
// every build folder given (default: build/ and build-*/) that holds Release/roots_native.node and the
// record build-native.mjs wrote beside it. Runs as `prepack`, so `npm pack` / `npm publish` ship what
// was built here: build each LibTorch flavour first (ROOTS_BUILD_DIR=build-<name> for the second one).
// prebuilds/ is emptied first, so a tarball never carries a binary from an older build.
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prebuiltName, readRecord, sha256 } from './prebuilt.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dirs = process.argv.length > 2 ? process.argv.slice(2)
  : readdirSync(root).filter((d) => d === 'build' || d.startsWith('build-')).map((d) => join(root, d));
const out = join(root, 'prebuilds');
rmSync(out, { recursive: true, force: true });
const seen = new Map();
for (const d of dirs) {
  const node = join(d, 'Release', 'roots_native.node');
  if (!existsSync(node)) continue;
  const record = readRecord(node);
  if (!record) {
    console.error(`roots prebuild: ${relative(root, node)} has no record beside it (roots_native.json); rebuild it with \`npm run build:native\``);
    process.exit(1);
  }
  if (seen.has(record.flavour)) {
    console.error(`roots prebuild: ${relative(root, d)} and ${relative(root, seen.get(record.flavour))} are both ${record.flavour}; pack one`);
    process.exit(1);
  }
  seen.set(record.flavour, d);
  const folder = join(out, `${record.platform}-${record.arch}`);
  mkdirSync(folder, { recursive: true });
  const base = join(folder, prebuiltName(record.flavour));
  copyFileSync(node, `${base}.node.tmp`);
  renameSync(`${base}.node.tmp`, `${base}.node`);
  writeFileSync(`${base}.json.tmp`, `${JSON.stringify({ ...record, sha256: sha256(`${base}.node`) }, null, 2)}\n`);
  renameSync(`${base}.json.tmp`, `${base}.json`);
  console.log(`roots prebuild: ${relative(root, base)}.node (LibTorch ${record.torchVersion}, from ${relative(root, d)})`);
}
if (seen.size === 0) {
  console.error('roots prebuild: no addon build with a record found (build/Release/roots_native.node); run `npm run build:native` first');
  process.exit(1);
}
