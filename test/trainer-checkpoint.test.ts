// Checkpoints are complete or absent: a failed or killed write never leaves a partial
// checkpoint-<step> where a good one was; rotation keeps the best and the newest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  TRAINER_STATE_FILE, cleanStaleCheckpoints, latestCheckpoint, listCheckpoints, rotateCheckpoints, writeCheckpoint,
} from '../lib/trainer/checkpoint.js';
import { repoRoot, tmp } from './helpers.js';

/** A writer that puts `files` into the checkpoint folder. */
const writer = (files: Record<string, string>) => async (dir: string) => {
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
};
const complete = (tag: string) => ({ 'model.safetensors': `weights ${tag}`, 'optimizer.safetensors': `moments ${tag}`, [TRAINER_STATE_FILE]: JSON.stringify({ tag }) });

test('a checkpoint appears complete, in one rename', async () => {
  const d = tmp();
  try {
    const path = await writeCheckpoint(d.dir, 10, writer(complete('a')));
    assert.equal(path, join(d.dir, 'checkpoint-10'));
    assert.deepEqual(readdirSync(path).sort(), ['model.safetensors', 'optimizer.safetensors', TRAINER_STATE_FILE].sort());
    assert.deepEqual(readdirSync(d.dir), ['checkpoint-10'], 'no temporary folder left');
    assert.deepEqual(await latestCheckpoint(d.dir), { step: 10, path });
  } finally { d.cleanup(); }
});

test('a write that fails leaves no checkpoint and keeps the good one it would have replaced', async () => {
  const d = tmp();
  try {
    await writeCheckpoint(d.dir, 10, writer(complete('good')));
    const failing = async (dir: string) => {
      await writeFile(join(dir, 'model.safetensors'), 'half of the new weights');
      throw new Error('disk full');
    };
    await assert.rejects(writeCheckpoint(d.dir, 10, failing), /disk full/);
    await assert.rejects(writeCheckpoint(d.dir, 20, failing), /disk full/);
    assert.deepEqual(readdirSync(d.dir), ['checkpoint-10']);
    assert.equal(readFileSync(join(d.dir, 'checkpoint-10', 'model.safetensors'), 'utf8'), 'weights good');
    // A writer that forgets the trainer state does not produce a checkpoint either.
    await assert.rejects(writeCheckpoint(d.dir, 30, writer({ 'model.safetensors': 'x' })), /did not write trainer_state\.json/);
    assert.deepEqual(readdirSync(d.dir), ['checkpoint-10']);
    // Replacing a checkpoint of the same step swaps it whole.
    await writeCheckpoint(d.dir, 10, writer(complete('new')));
    assert.equal(readFileSync(join(d.dir, 'checkpoint-10', 'model.safetensors'), 'utf8'), 'weights new');
    assert.deepEqual(readdirSync(d.dir), ['checkpoint-10']);
  } finally { d.cleanup(); }
});

test('a process killed in the middle of a checkpoint write leaves the previous checkpoint as the newest', async () => {
  const d = tmp();
  try {
    await writeCheckpoint(d.dir, 10, writer(complete('good')));
    const mod = pathToFileURL(join(repoRoot, 'lib', 'trainer', 'checkpoint.ts')).href;
    const script = `
      import { writeFile } from 'node:fs/promises';
      import { join } from 'node:path';
      const { writeCheckpoint } = await import(${JSON.stringify(mod)});
      await writeCheckpoint(${JSON.stringify(d.dir)}, 20, async (dir) => {
        await writeFile(join(dir, 'model.safetensors'), 'partial');
        process.kill(process.pid, 'SIGKILL');
        await new Promise(() => {});
      });`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot, encoding: 'utf8' });
    assert.equal(r.signal, 'SIGKILL', r.stderr);
    const left = readdirSync(d.dir);
    assert.ok(left.some((n) => n.startsWith('.tmp-checkpoint-20-')), `the killed write left its temporary folder: ${left}`);
    assert.ok(!left.includes('checkpoint-20'));
    assert.deepEqual((await listCheckpoints(d.dir)).map((c) => c.step), [10], 'only complete checkpoints are listed');
    await cleanStaleCheckpoints(d.dir);
    assert.deepEqual(readdirSync(d.dir), ['checkpoint-10']);
  } finally { d.cleanup(); }
});

test('an interrupted replacement is rolled back by the next run', async () => {
  const d = tmp();
  try {
    // What a crash between the two renames of a replacement leaves: the old folder set aside.
    mkdirSync(join(d.dir, '.old-checkpoint-10-123-1'));
    writeFileSync(join(d.dir, '.old-checkpoint-10-123-1', TRAINER_STATE_FILE), '{}');
    mkdirSync(join(d.dir, 'checkpoint-5'));   // no trainer_state.json: incomplete, never listed
    assert.deepEqual(await listCheckpoints(d.dir), []);
    await cleanStaleCheckpoints(d.dir);
    assert.ok(existsSync(join(d.dir, 'checkpoint-10', TRAINER_STATE_FILE)));
    assert.deepEqual((await listCheckpoints(d.dir)).map((c) => c.step), [10]);
  } finally { d.cleanup(); }
});

test('rotation keeps at most N checkpoints, never the best or the newest', async () => {
  const d = tmp();
  try {
    for (const s of [2, 4, 6, 8, 10]) await writeCheckpoint(d.dir, s, writer(complete(String(s))));
    const deleted = await rotateCheckpoints(d.dir, 2, [join(d.dir, 'checkpoint-4')]);
    assert.deepEqual(deleted.map((p) => p.split('/').pop()), ['checkpoint-2', 'checkpoint-6', 'checkpoint-8']);
    assert.deepEqual((await listCheckpoints(d.dir)).map((c) => c.step), [4, 10]);
    await rotateCheckpoints(d.dir, 1, [join(d.dir, 'checkpoint-4')]);
    assert.deepEqual((await listCheckpoints(d.dir)).map((c) => c.step), [4, 10], 'best and newest survive even a limit of 1');
    assert.ok(readdirSync(d.dir).every((n) => n.startsWith('checkpoint-')), 'no deletion leftovers');
  } finally { d.cleanup(); }
});
