// Shared test helpers: where the shared data lives, the Python reference (and the skip-or-fail rule for
// both), small safetensors I/O, tolerances.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
/** ../shared/data from the repo (read in place, never copied); ROOTS_SHARED_DATA overrides. */
export const sharedData = process.env.ROOTS_SHARED_DATA ?? join(repoRoot, '..', 'shared', 'data');

/** The Python with torch that scripts/run-tests.mjs found (ROOTS_PYTHON), or null. */
export const python: string | null = process.env.ROOTS_PYTHON ?? null;

/** Under CI (`CI` set, and not `0` or `false`) every CPU test must run: what it needs is installed. */
export function inCI(): boolean {
  return !!process.env.CI && !/^(0|false)$/i.test(process.env.CI);
}

/**
 * A `skip` value for node:test: false when the test can run, else the reason. Under CI a missing
 * prerequisite is an error instead (thrown when the test file loads), so CI cannot pass by skipping.
 */
function skipUnless(missing: string | null): false | string {
  if (missing === null) return false;
  if (inCI()) throw new Error(`${missing}; CI (CI=${process.env.CI}) runs every CPU test, so this is a failure, not a skip`);
  return missing;
}

/**
 * `{ skip: requireSharedData('ner/conll2003/eng.train') }`: the test reads these files of the shared data
 * (paths relative to `sharedData`, or absolute). Skips locally with the reason when one is missing;
 * fails under CI.
 */
export function requireSharedData(...paths: string[]): false | string {
  const missing = paths.map((p) => resolve(sharedData, p)).find((p) => !existsSync(p));
  return skipUnless(missing === undefined ? null : `shared data not found: ${missing} (set ROOTS_SHARED_DATA to the folder holding ner/, textcls/, vocab/ ...)`);
}

/** `{ skip: requireTorchPython() }`: the test compares against PyTorch. Skips locally without one; fails under CI. */
export function requireTorchPython(): false | string {
  return skipUnless(python ? null : 'no Python with torch (run through `npm test`, which finds one, or set ROOTS_PYTHON)');
}

/**
 * The Python for the live cross-checks against Hugging Face's packages (Transformers, tokenizers, PEFT,
 * huggingface_hub). ROOTS_HF_PYTHON when set, never skipped then: a Python that lacks `modules` fails
 * the test instead of hiding it (CI sets it wherever its 2.x venv exists). Otherwise a `python3` that
 * imports `modules`; else `skip` says why.
 */
export function liveHfPython(modules: string): { exe: string | null; skip: false | string } {
  const set = process.env.ROOTS_HF_PYTHON;
  if (set) return { exe: set, skip: false };
  if (spawnSync('python3', ['-c', `import ${modules}`], { encoding: 'utf8' }).status === 0) return { exe: 'python3', skip: false };
  return { exe: null, skip: `no Python with ${modules} (set ROOTS_HF_PYTHON)` };
}

export function tmp(prefix = 'roots-test-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function runPython(script: string, args: string[]): void {
  if (!python) throw new Error('no python with torch (set ROOTS_PYTHON)');
  const r = spawnSync(python, [join(repoRoot, 'scripts', script), ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${script} failed:\n${r.stderr}`);
}

type Arr = Int32Array | Float32Array;
export function writeSafetensors(path: string, tensors: Record<string, { data: Arr; shape: number[] }>): void {
  const header: Record<string, unknown> = {};
  const blobs: Buffer[] = [];
  let off = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const b = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    header[name] = { dtype: t.data instanceof Int32Array ? 'I32' : 'F32', shape: t.shape, data_offsets: [off, off + b.length] };
    blobs.push(b);
    off += b.length;
  }
  let h = JSON.stringify(header);
  while (h.length % 8) h += ' ';
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  writeFileSync(path, Buffer.concat([len, Buffer.from(h), ...blobs]));
}

export function readSafetensorsF32(path: string): Map<string, { data: Float32Array; shape: number[] }> {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.toString('utf8', 8, 8 + n));
  const out = new Map<string, { data: Float32Array; shape: number[] }>();
  for (const [k, v] of Object.entries(header) as [string, { dtype: string; shape: number[]; data_offsets: [number, number] }][]) {
    if (k === '__metadata__') continue;
    const [b, e] = v.data_offsets;
    const slice = buf.subarray(8 + n + b, 8 + n + e);
    out.set(k, { data: new Float32Array(slice.buffer.slice(slice.byteOffset, slice.byteOffset + slice.byteLength)), shape: v.shape });
  }
  return out;
}

/** max |a - b| / max |b| (0 when both are zero). */
export function maxRelError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return den === 0 ? num : num / den;
}

/** A seeded PRNG for test data (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const cliEntry = pathToFileURL(join(repoRoot, 'lib', 'cli', 'index.ts')).href;

/** Runs `roots ...args` in a child process (the TypeScript sources through tsx). */
export function roots(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const script = `const { main } = await import(${JSON.stringify(cliEntry)}); await main(['node', 'roots', ...process.argv.slice(1)]);`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, ...args], {
    cwd: repoRoot, encoding: 'utf8', env: { ...process.env, ROOTS_DEBUG: '' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Exit code 1 and exactly one line on stderr: `roots: error: ...` matching `re`. */
export function oneLineError(r: ReturnType<typeof roots>, re: RegExp): void {
  assert.equal(r.code, 1, `exit code (stderr: ${r.stderr})`);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('(node:'));
  assert.equal(lines.length, 1, `one line of error, got:\n${r.stderr}`);
  assert.match(lines[0], /^roots: error: /);
  assert.match(lines[0], re);
}

/**
 * Runs `fn` with environment variables set, then restores them: the native side reads ROOTS_* kernel
 * choices when a model is constructed, so tests compare two models made under two settings.
 */
export function withEnv<T>(vars: Record<string, string>, fn: () => T): T {
  const old = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try { return fn(); } finally {
    for (const [k, v] of Object.entries(old)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
}
