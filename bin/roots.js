#!/usr/bin/env node
// The `roots` CLI. Runs the compiled TypeScript (dist/, built by `npm install` / `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/index.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  console.error('roots: error: dist/ is missing; run `npm run build` (or `npm install`) first');
  process.exit(1);
}
const { main } = await import(entry.href);
await main(process.argv);
