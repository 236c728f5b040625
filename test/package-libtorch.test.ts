// Which LibTorch the addon runs on: the one it was built for, every library from one folder (a
// libc10 from Debian's /usr/lib beside a wheel's libtorch aborts at load), and the version that
// scripts/find-libtorch.mjs reads from either header layout. CI's LibTorch 2.x leg sets
// ROOTS_EXPECT_TORCH=2.13 (scripts/ci-torch2.sh), so a build that silently fell back to 1.13 fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readVersion } from '../scripts/find-libtorch.mjs';
import { native } from '../lib/native.js';
import { tmp } from './helpers.js';

test('the addon runs on one LibTorch: libc10, libtorch_cpu and libtorch mapped from one folder', () => {
  const info = native().info();
  const expected = process.env.ROOTS_EXPECT_TORCH;
  if (expected) assert.ok(info.torchVersion.startsWith(`${expected}.`), `LibTorch ${info.torchVersion}, expected ${expected}.x`);
  const libs = new Set(readFileSync('/proc/self/maps', 'utf8').split('\n').map((l) => l.split(/\s+/).pop() ?? '')
    .filter((p) => /\/lib(c10|torch|torch_cpu)\.so(\.[\d.]+)?$/.test(p)));
  assert.equal(libs.size, 3, `three LibTorch libraries mapped: ${[...libs].join(', ')}`);
  assert.equal(new Set([...libs].map((p) => dirname(p))).size, 1, `all from one folder: ${[...libs].join(', ')}`);
});

test('find-libtorch reads the version from torch/version.h (1.x) and torch/headeronly/version.h (2.10+)', () => {
  const { dir, cleanup } = tmp('roots-version-');
  try {
    const old = join(dir, 'old'), cur = join(dir, 'new');
    mkdirSync(join(old, 'torch/csrc/api/include/torch'), { recursive: true });
    writeFileSync(join(old, 'torch/csrc/api/include/torch/version.h'), '#define TORCH_VERSION_MAJOR 1\n#define TORCH_VERSION_MINOR 13\n#define TORCH_VERSION_PATCH 1\n');
    mkdirSync(join(cur, 'torch/csrc/api/include/torch'), { recursive: true });
    mkdirSync(join(cur, 'torch/headeronly'), { recursive: true });
    writeFileSync(join(cur, 'torch/csrc/api/include/torch/version.h'), '#include <torch/headeronly/version.h>\n');
    writeFileSync(join(cur, 'torch/headeronly/version.h'), '#define TORCH_VERSION_MAJOR 2\n#define TORCH_VERSION_MINOR 13\n#define TORCH_VERSION_PATCH 0\n#define TORCH_VERSION_ABI_TAG 0\n');
    assert.equal(readVersion([old]), '1.13.1');
    assert.equal(readVersion([cur]), '2.13.0');
    assert.equal(readVersion([join(dir, 'none')]), 'unknown');
  } finally {
    cleanup();
  }
});
