// The test harness's rule for prerequisites (test/helpers.ts): a test that needs the shared data or a
// Python with torch skips locally with the reason, and fails under CI (CI=true), so CI cannot pass
// by skipping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot, requireSharedData, sharedData } from './helpers.js';

function withCI<T>(value: string | undefined, fn: () => T): T {
  const saved = process.env.CI;
  if (value === undefined) delete process.env.CI;
  else process.env.CI = value;
  try {
    return fn();
  } finally {
    if (saved === undefined) delete process.env.CI;
    else process.env.CI = saved;
  }
}

test('requireSharedData: false when the files exist, the reason locally, an error under CI', () => {
  const present = join(repoRoot, 'package.json');
  const missing = 'no/such/dataset.txt';
  assert.equal(withCI(undefined, () => requireSharedData(present)), false);
  assert.equal(withCI('true', () => requireSharedData(present)), false);
  const reason = withCI(undefined, () => requireSharedData(present, missing));
  assert.equal(reason, `shared data not found: ${join(sharedData, missing)} (set ROOTS_SHARED_DATA to the folder holding ner/, textcls/, vocab/ ...)`);
  assert.equal(withCI('false', () => requireSharedData(missing)), reason, 'CI=false is not CI');
  assert.equal(withCI('0', () => requireSharedData(missing)), reason, 'CI=0 is not CI');
  for (const ci of ['true', '1']) {
    assert.throws(() => withCI(ci, () => requireSharedData(present, missing)), {
      message: `${reason}; CI (CI=${ci}) runs every CPU test, so this is a failure, not a skip`,
    });
  }
});

test('requireTorchPython: skips without ROOTS_PYTHON locally, fails under CI', () => {
  const helpers = pathToFileURL(join(repoRoot, 'test', 'helpers.ts')).href;
  const script = `const h = await import(${JSON.stringify(helpers)}); console.log(JSON.stringify(h.requireTorchPython()));`;
  const run = (env: Record<string, string>) => {
    const { ROOTS_PYTHON: _, CI: __, ...rest } = process.env;
    return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot, encoding: 'utf8', env: { ...rest, ...env } });
  };
  const local = run({});
  assert.equal(local.status, 0, local.stderr);
  assert.equal(JSON.parse(local.stdout), 'no Python with torch (run through `npm test`, which finds one, or set ROOTS_PYTHON)');
  const ci = run({ CI: 'true' });
  assert.notEqual(ci.status, 0);
  assert.match(ci.stderr, /no Python with torch .*; CI \(CI=true\) runs every CPU test, so this is a failure, not a skip/);
  const found = run({ ROOTS_PYTHON: '/usr/bin/python3', CI: 'true' });
  assert.equal(found.status, 0, found.stderr);
  assert.equal(JSON.parse(found.stdout), false);
});
