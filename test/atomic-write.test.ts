// The one atomic-write helper: a reader sees the old file or the new one, and a failed write leaves
// no temporary file behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { atomicPath, writeFileAtomic, writeFileAtomicSync } from '../lib/util/atomic-write.js';

const dir = await mkdtemp(join(tmpdir(), 'roots-atomic-'));
test.after(() => rm(dir, { recursive: true, force: true }));

test('writeFileAtomic creates and replaces a file, leaving nothing else in the folder', async () => {
  const path = join(dir, 'a.json');
  await writeFileAtomic(path, '{"v":1}\n');
  assert.equal(await readFile(path, 'utf8'), '{"v":1}\n');
  await writeFileAtomic(path, new TextEncoder().encode('{"v":2}\n'), { fsync: false });
  assert.equal(await readFile(path, 'utf8'), '{"v":2}\n');
  assert.deepEqual(await readdir(dir), ['a.json']);
});

test('atomicPath: the writer gets a hidden temporary name in the same folder, committed on success', async () => {
  const path = join(dir, 'model.safetensors');
  let seen = '';
  const result = await atomicPath(path, async (tmp) => {
    seen = tmp;
    await writeFile(tmp, 'weights');
    return 42;
  });
  assert.equal(result, 42);
  assert.match(seen, new RegExp(`^${dir}/\\.model\\.safetensors\\.tmp-${process.pid}-\\d+$`));
  assert.equal(await readFile(path, 'utf8'), 'weights');
  await rm(path);
});

test('a failed write removes the temporary file and leaves the old target as it was', async () => {
  const path = join(dir, 'keep.txt');
  await writeFile(path, 'old');
  await assert.rejects(atomicPath(path, async (tmp) => {
    await writeFile(tmp, 'half');
    throw new Error('disk full');
  }), /disk full/);
  assert.equal(await readFile(path, 'utf8'), 'old');
  await assert.rejects(writeFileAtomic(join(dir, 'no-such-folder', 'x.txt'), 'x'), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
  assert.throws(() => writeFileAtomicSync(join(dir, 'no-such-folder', 'x.txt'), 'x'), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
  assert.deepEqual((await readdir(dir)).sort(), ['a.json', 'keep.txt']);
});

test('writeFileAtomicSync replaces a file', () => {
  const path = join(dir, 'log.jsonl');
  writeFileAtomicSync(path, 'one\n');
  writeFileAtomicSync(path, 'two\n');
  assert.equal(readFileSync(path, 'utf8'), 'two\n');
  assert.ok(!readdirSync(dir).some((n) => n.includes('.tmp-')));
});
