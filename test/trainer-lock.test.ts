// One training run per output folder: a live holder (in another process or this one) is refused
// with its pid, host and lock file named; a holder that died, or another host's lock that went
// unrefreshed, is taken over with a notice; two Trainers started at once into one folder: one runs,
// the other fails at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { RootsError } from '../lib/errors.js';
import { LOCK_NAME, LOCK_OWNER_FILE, lockOutputDir } from '../lib/trainer/lock.js';
import { Trainer, type TrainResult } from '../lib/trainer/trainer.js';
import { corpusFixture, tinyModel } from './ner-fixtures.js';
import { tmp } from './helpers.js';
import { exited, lockHolder as holder } from './lock-holder.js';

function isBusy(re: RegExp) {
  return (e: unknown) => e instanceof RootsError && e.code === 'ERR_BUSY' && re.test(e.message);
}

/** Runs `fn` with a fresh temporary folder and `out`, a folder path inside it (not created). */
async function inTmp(fn: (out: string, dir: string) => Promise<void>): Promise<void> {
  const d = tmp();
  try {
    await fn(join(d.dir, 'run'), d.dir);
  } finally { d.cleanup(); }
}

/** Locks `out`, which must take over a stale lock: the one notice it logs must match `re`. */
async function takeOver(out: string, options: { label?: string; staleMs?: number }, re: RegExp): Promise<void> {
  const notices: string[] = [];
  const lock = await lockOutputDir(out, { ...options, log: (m) => notices.push(m) });
  assert.equal(notices.length, 1, notices.join('\n'));
  assert.match(notices[0], re);
  assert.equal(JSON.parse(readFileSync(join(out, LOCK_OWNER_FILE), 'utf8')).pid, process.pid, 'the lock names its new holder');
  await lock.release();
}

test('a live holder in another process: refused, naming its pid, host and the lock file; free again once it releases', () => inTmp(async (out) => {
  const p = await holder(out);
  const owner = JSON.parse(readFileSync(join(out, LOCK_OWNER_FILE), 'utf8'));
  assert.deepEqual([owner.pid, owner.host], [p.pid, hostname()]);
  const re = new RegExp(`^--out x is in use by another training run \\(pid ${p.pid} on host ${hostname()}, started ${owner.started}; lock ${out}/${LOCK_NAME}\\): wait for it to end, or train into another folder`);
  await assert.rejects(lockOutputDir(out, { label: '--out x' }), isBusy(re));
  p.stdin!.end();
  assert.equal(await exited(p), 0);
  assert.ok(!existsSync(join(out, LOCK_NAME)) && !existsSync(join(out, LOCK_OWNER_FILE)), 'the holder removed its lock');
  const lock = await lockOutputDir(out);
  await lock.release();
}));

test('a holder that was killed: its lock is taken over at once, with a notice', () => inTmp(async (out) => {
  const p = await holder(out);
  p.kill('SIGKILL');
  await exited(p);
  assert.ok(existsSync(join(out, LOCK_NAME)), 'SIGKILL leaves the lock behind');
  await takeOver(out, { label: '--out x' }, new RegExp(`^Took over the lock of --out x: its run \\(pid ${p.pid} on host ${hostname()}, started .*\\) is no longer running$`));
}));

test('another host: its lock holds while refreshed, and is taken over once it has not been for staleMs', () => inTmp(async (out) => {
  mkdirSync(join(out, LOCK_NAME), { recursive: true });
  writeFileSync(join(out, LOCK_OWNER_FILE), JSON.stringify({ pid: 4242, host: 'elsewhere', started: '2026-11-30T00:00:00.000Z' }));
  // A live process of another host cannot be asked; only the mtime tells.
  await assert.rejects(lockOutputDir(out, { staleMs: 60_000 }), isBusy(/\(pid 4242 on host elsewhere, started 2026-11-30T00:00:00\.000Z; lock .*\): wait for it to end, or train into another folder$/));
  const old = new Date(Date.now() - 120_000);
  utimesSync(join(out, LOCK_NAME), old, old);
  await takeOver(out, { staleMs: 60_000 }, /its run \(pid 4242 on host elsewhere, .*\) has not refreshed it for 1[12]\d s$/);
}));

test('in one process: a second lock on the folder is refused; release is idempotent; a folder the lock created goes when empty', () => inTmp(async (out, dir) => {
  const lock = await lockOutputDir(out);
  assert.ok(existsSync(join(out, LOCK_NAME)));
  await assert.rejects(lockOutputDir(join(dir, '.', 'run')), isBusy(/^.*run is in use by another training run of this process \(lock .*run\/roots-train\.lock\): wait for its train\(\) to end, or train into another folder$/));
  await lock.release();
  await lock.release();
  assert.ok(!existsSync(out), 'the empty folder it created is gone');
  mkdirSync(out);
  writeFileSync(join(out, 'keep.txt'), 'x');
  const again = await lockOutputDir(out);
  await again.release();
  assert.ok(existsSync(join(out, 'keep.txt')), 'a folder that existed stays');
}));

test('two Trainers started at once into one outputDir: one trains, the other fails at once; the lock goes with the run', async () => {
  const f = corpusFixture({ train: 32, dev: 8, test: 0 }, 4);
  const d = tmp();
  const models = [tinyModel(f, 1), tinyModel(f, 2)];
  try {
    const out = join(d.dir, 'run');
    const args = { outputDir: out, maxSteps: 3, batchSize: 8, evalSteps: 3, progress: 'none' as const };
    const trainers = models.map((model) => new Trainer({ model, tokenizer: f.tokenizer, train: f.train, eval: f.dev, args }));
    const results = await Promise.allSettled(trainers.map((t) => t.train()));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(failed.length, 1, 'exactly one of the two runs');
    assert.ok(isBusy(/is in use by another training run/)(failed[0].reason), String(failed[0].reason));
    const done = results.find((r): r is PromiseFulfilledResult<TrainResult> => r.status === 'fulfilled')!;
    assert.equal(done.value.globalStep, 3);
    assert.ok(!existsSync(join(out, LOCK_NAME)) && !existsSync(join(out, LOCK_OWNER_FILE)), 'released when train() ends');
    // A lock for another folder is a mistake the Trainer names.
    const other = await lockOutputDir(join(d.dir, 'other'));
    assert.throws(() => new Trainer({ model: models[0], tokenizer: f.tokenizer, train: f.train, args, lock: other }),
      (e: unknown) => e instanceof RootsError && /options\.lock locks .*other, not args\.outputDir .*run/.test(e.message));
    await other.release();
  } finally {
    for (const m of models) m.dispose();
    d.cleanup();
  }
});
