#!/usr/bin/env node
// The test command (`npm test`): runs every test/*.test.ts with node:test through tsx.
// Files run one at a time (the native tests use both cores; running them side by side only adds
// noise). Pass file names or substrings to run a subset: `npm test -- metrics tokenizer`.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findTorchPython } from './find-python.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const filters = process.argv.slice(2);
const files = readdirSync(join(root, 'test'))
  .filter((f) => f.endsWith('.test.ts'))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort()
  .map((f) => join('test', f));
if (files.length === 0) { console.error(`no test files match ${filters.join(' ')}`); process.exit(1); }

// Under CI every CPU test runs: a missing torch Python (or missing shared data, test/helpers.ts) fails
// the run instead of skipping the tests that need it. Only GPU tests may skip.
const inCI = !!process.env.CI && !/^(0|false)$/i.test(process.env.CI);
const env = { ...process.env };
if (!env.ROOTS_PYTHON) {
  const py = findTorchPython();
  if (py) env.ROOTS_PYTHON = py.exe;
  else if (inCI) {
    console.error('error: no Python with torch found (tried ROOTS_PYTHON, /usr/bin/python3, python3, python); CI runs the parity tests, so install'
      + ' python3-torch (scripts/setup-system.sh) or set ROOTS_PYTHON');
    process.exit(1);
  } else console.warn('warning: no Python with torch found; parity tests will be skipped (set ROOTS_PYTHON)');
}
const r = spawnSync(process.execPath,
  ['--expose-gc', '--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files],
  { cwd: root, stdio: 'inherit', env });
process.exit(r.status ?? 1);
