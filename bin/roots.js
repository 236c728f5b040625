#!/usr/bin/env node
// The `roots` CLI. Runs the compiled TypeScript (dist/, built by `npm install` / `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// `roots build`: builds the native addon from source (scripts/install.mjs), before anything loads it;
// the way to a binary where no prebuilt one fits, or where npm did not run the install script.
if (process.argv[2] === 'build') {
  const { spawnSync } = await import('node:child_process');
  const script = fileURLToPath(new URL('../scripts/install.mjs', import.meta.url));
  process.exit(spawnSync(process.execPath, [script, '--build-from-source'], { stdio: 'inherit' }).status ?? 1);
}

const entry = new URL('../dist/cli/index.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  console.error('roots: error: dist/ is missing; run `npm run build` (or `npm install`) first');
  process.exit(1);
}
const { main } = await import(entry.href);
await main(process.argv);
