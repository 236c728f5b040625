// Streamed corpora (files, folders, globs, .gz; line and blank-line documents), bad input, bounded
// memory, and the token cache (contents, keying, atomic writes, reads into MLM batches).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readCorpusLines, resolveCorpusFiles, type CorpusLine } from '../lib/data/corpus.js';
import { TokenCache, openTokenCache } from '../lib/data/corpus-cache.js';
import { MlmBatches, corpusBatches, mlmVocab } from '../lib/data/mlm.js';
import { Tokenizer } from '../lib/tokenizer/index.js';
import { RootsError } from '../lib/errors.js';
import { IGNORE_INDEX } from '../lib/batch.js';
import { repoRoot, tmp } from './helpers.js';

const WORDS = ['the', 'cat', 'sat', 'on', 'mat', 'dog', 'ran', 'far', 'away', 'home', '.', ','];
const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...WORDS, '##s', 'un', '##happy'];
const tokenizer = Tokenizer.fromVocab(VOCAB);

async function lines(inputs: string | string[], options = {}): Promise<CorpusLine[]> {
  const out: CorpusLine[] = [];
  for await (const batch of readCorpusLines(await resolveCorpusFiles(inputs), options)) out.push(...batch);
  return out;
}

test('files, folders and globs, .gz, CRLF and a BOM; line and blank-line documents', async () => {
  const t = tmp();
  try {
    mkdirSync(join(t.dir, 'a', 'b'), { recursive: true });
    writeFileSync(join(t.dir, 'a', 'one.txt'), '\ufeffthe cat\r\n\r\nsat on\r\nthe mat\r\n');
    writeFileSync(join(t.dir, 'a', 'b', 'two.txt.gz'), gzipSync('dog ran\nfar\n\n\naway'));
    writeFileSync(join(t.dir, 'a', '.hidden'), 'never read');
    const viaFolder = await lines(join(t.dir, 'a'));
    assert.deepEqual(viaFolder.map((l) => [l.text, l.line, l.docStart]), [
      ['dog ran', 1, true], ['far', 2, true], ['away', 5, true], ['the cat', 1, true], ['sat on', 3, true], ['the mat', 4, true],
    ]);
    const blank = await lines(join(t.dir, 'a'), { documents: 'blank-line' });
    assert.deepEqual(blank.map((l) => l.docStart), [true, false, true, true, true, false]);
    assert.deepEqual((await lines(join(t.dir, '**', '*.gz'))).map((l) => l.text), ['dog ran', 'far', 'away']);
    assert.deepEqual((await lines(join(t.dir, 'a', 'o?e.txt'))).length, 3);
    const files = await resolveCorpusFiles([join(t.dir, 'a'), join(t.dir, 'a', 'one.txt')]);
    assert.equal(files.length, 2, 'de-duplicated');
    await assert.rejects(resolveCorpusFiles(join(t.dir, 'missing.txt')), /--corpus .*missing\.txt: no such file or folder/);
    await assert.rejects(resolveCorpusFiles(join(t.dir, '*.json')), /--corpus .*\*\.json: no files match/);
    await assert.rejects(resolveCorpusFiles([]), /--corpus: expected at least one file/);
  } finally {
    t.cleanup();
  }
});

test('bad input: NUL bytes, invalid UTF-8, an over-long line, a broken .gz: file:line and the flag', async () => {
  const t = tmp();
  try {
    const p = (name: string, data: string | Buffer): string => { writeFileSync(join(t.dir, name), data); return join(t.dir, name); };
    await assert.rejects(lines(p('bin.txt', Buffer.from('ok\nab\u0000c\n', 'latin1'))), /bin\.txt:2: NUL byte at column 3; this looks like a binary file/);
    await assert.rejects(lines(p('bad.txt', Buffer.concat([Buffer.from('fine\nbad '), Buffer.from([0xc3, 0x28]), Buffer.from('\n')]))), /bad\.txt:2: invalid UTF-8 near byte 5 of the line/);
    await assert.rejects(lines(p('long.txt', 'x\n' + 'y'.repeat(3000) + '\n'), { maxLineBytes: 1000 }), (e: unknown) => e instanceof RootsError && /long\.txt:2: the line is longer than 1000 bytes \(maxLineBytes\).*--max-line-bytes/.test(e.message));
    await assert.rejects(lines(p('fake.gz', 'not gzip at all')), /fake\.gz: not a valid gzip file/);
    // A line of a million characters is within the default limit: read as one line.
    const million = await lines(p('million.txt', 'the '.repeat(250_000) + '\nend\n'));
    assert.equal(million[0].text.length, 1_000_000);
    assert.equal(million[1].line, 2);
  } finally {
    t.cleanup();
  }
});

test('memory stays bounded while streaming a file far larger than the read buffer', { timeout: 120_000 }, () => {
  // In a child process, so the measurement is not disturbed by this process's other allocations.
  const t = tmp();
  try {
    const file = join(t.dir, 'big.txt');
    const script = `
      import { writeFileSync, appendFileSync } from 'node:fs';
      import { readCorpusLines, resolveCorpusFiles } from ${JSON.stringify(join(repoRoot, 'lib', 'data', 'corpus.ts'))};
      const file = process.argv[1];
      const line = 'the quick brown fox jumps over the lazy dog and keeps on running far away '.repeat(2) + '\\n';
      const chunk = line.repeat(Math.ceil((4 << 20) / line.length));
      writeFileSync(file, '');
      for (let i = 0; i < 40; i++) appendFileSync(file, chunk);   // 160 MiB, 160x the 1 MiB read buffer
      global.gc();
      const base = process.memoryUsage();
      let peakRss = 0, peakHeap = 0, n = 0, chars = 0, batches = 0, quarterRss = 0;
      for await (const batch of readCorpusLines(await resolveCorpusFiles(file))) {
        for (const l of batch) { n++; chars += l.text.length; }
        // What is retained (after a collection), not what V8 has not yet collected.
        if (++batches % 10 === 0) { global.gc(); const m = process.memoryUsage(); peakRss = Math.max(peakRss, m.rss); peakHeap = Math.max(peakHeap, m.heapUsed + m.external); if (!quarterRss && chars > 40 * 2 ** 20) quarterRss = peakRss; }
      }
      console.log(JSON.stringify({ n, chars, rssGrowth: peakRss - base.rss, lateRssGrowth: peakRss - quarterRss, heapGrowth: peakHeap - base.heapUsed - base.external }));`;
    const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script, file], { cwd: repoRoot, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const m = JSON.parse(r.stdout.trim().split('\n').pop()!) as { n: number; chars: number; rssGrowth: number; lateRssGrowth: number; heapGrowth: number };
    assert.ok(m.chars > 150 * 2 ** 20, `read ${m.chars} characters`);
    // Holding the file would take 160 MiB as bytes and 320 MiB as JS strings; streaming retains a few
    // read buffers and one batch of lines (measured: ~9 MiB of heap, RSS ~47 MiB above the start,
    // reached early and then flat).
    const mib = (x: number): string => `${(x / 2 ** 20).toFixed(1)} MiB`;
    assert.ok(m.heapGrowth < 32 * 2 ** 20, `retained heap grew by ${mib(m.heapGrowth)}`);
    assert.ok(m.rssGrowth < 100 * 2 ** 20, `RSS grew by ${mib(m.rssGrowth)}`);
    assert.ok(m.lateRssGrowth < 24 * 2 ** 20, `RSS grew by ${mib(m.lateRssGrowth)} after the first quarter of the file (total ${mib(m.rssGrowth)})`);
  } finally {
    t.cleanup();
  }
});

test('token cache: documents then [SEP], a document index, Uint16 ids; built once, reused, rebuilt when the corpus or vocabulary changes', async () => {
  const t = tmp();
  try {
    const corpus = join(t.dir, 'corpus.txt');
    writeFileSync(corpus, 'the cats sat\n\nunhappy dog ran\nfar away .\n');
    const cacheDir = join(t.dir, 'cache');
    const files = await resolveCorpusFiles(corpus);
    const first = await openTokenCache(files, tokenizer, { cacheDir });
    assert.equal(first.built, true);
    const c = first.cache;
    const expected = ['the cats sat', 'unhappy dog ran', 'far away .'].flatMap((d) => [...tokenizer.encode(d, null, { addSpecialTokens: false }).ids, 3]);
    assert.equal(c.meta.dtype, 'uint16');
    assert.equal(c.length, expected.length);
    const all = new Int32Array(c.length);
    await c.read(0, c.length, all);
    assert.deepEqual(Array.from(all), expected);
    assert.deepEqual(Array.from(await c.documentStarts()), [0, 5, 10]);
    assert.equal(readFileSync(join(c.dir, 'tokens.bin')).length, expected.length * 2);
    await c.close();

    const again = await openTokenCache(files, tokenizer, { cacheDir });
    assert.equal(again.built, false);
    assert.equal(again.cache.dir, c.dir);
    await again.cache.close();
    // Blank-line documents: a different key.
    const blank = await openTokenCache(files, tokenizer, { cacheDir, documents: 'blank-line' });
    assert.equal(blank.built, true);
    assert.deepEqual(Array.from(await blank.cache.documentStarts()), [0, 5]);
    await blank.cache.close();
    // A changed file (size and mtime): rebuilt.
    writeFileSync(corpus, 'the cat sat\n');
    utimesSync(corpus, new Date(), new Date(Date.now() + 5000));
    const changed = await openTokenCache(await resolveCorpusFiles(corpus), tokenizer, { cacheDir });
    assert.equal(changed.built, true);
    assert.equal(changed.cache.length, 4);
    await changed.cache.close();
    // Another vocabulary: rebuilt.
    const other = await openTokenCache(await resolveCorpusFiles(corpus), Tokenizer.fromVocab([...VOCAB, 'extra']), { cacheDir });
    assert.equal(other.built, true);
    await other.cache.close();
    assert.equal(readdirSync(cacheDir).length, 4);
  } finally {
    t.cleanup();
  }
});

test('token cache: Int32 ids past 65536 tokens of vocabulary', async () => {
  const big = Tokenizer.fromVocab([...VOCAB, ...Array.from({ length: 70_000 }, (_, i) => `w${i}`)]);
  const t = tmp();
  try {
    writeFileSync(join(t.dir, 'c.txt'), 'w69999 the w12\n');
    const { cache } = await openTokenCache(await resolveCorpusFiles(join(t.dir, 'c.txt')), big, { cacheDir: join(t.dir, 'cache') });
    assert.equal(cache.meta.dtype, 'int32');
    const ids = new Int32Array(cache.length);
    await cache.read(0, cache.length, ids);
    assert.deepEqual(Array.from(ids), [big.tokenToId('w69999'), big.tokenToId('the'), big.tokenToId('w12'), 3]);
    await cache.close();
  } finally {
    t.cleanup();
  }
});

test('token cache: an empty corpus or bad input is an error, and nothing is left in the cache folder', async () => {
  const t = tmp();
  try {
    const cacheDir = join(t.dir, 'cache');
    writeFileSync(join(t.dir, 'empty.txt'), '\n \n');
    await assert.rejects(openTokenCache(await resolveCorpusFiles(join(t.dir, 'empty.txt')), tokenizer, { cacheDir }), /empty\.txt\) has no text/);
    writeFileSync(join(t.dir, 'a.txt'), 'the cat\n'.repeat(1000));
    writeFileSync(join(t.dir, 'b.txt'), Buffer.concat([Buffer.from('the dog\n'), Buffer.from([0xff, 0xfe]), Buffer.from('\n')]));
    await assert.rejects(openTokenCache(await resolveCorpusFiles([join(t.dir, 'a.txt'), join(t.dir, 'b.txt')]), tokenizer, { cacheDir }), /b\.txt:2: invalid UTF-8/);
    assert.deepEqual(readdirSync(cacheDir), [], 'no half-written cache');
  } finally {
    t.cleanup();
  }
});

test('MLM batches read from the cache: every token of the corpus in an epoch', async () => {
  const t = tmp();
  try {
    const rng = (i: number): string => WORDS[(i * 7919) % WORDS.length];
    const docs = Array.from({ length: 300 }, (_, d) => Array.from({ length: 3 + (d % 11) }, (_, k) => rng(d * 31 + k)).join(' '));
    writeFileSync(join(t.dir, 'c.txt'), docs.join('\n') + '\n');
    const { cache } = await openTokenCache(await resolveCorpusFiles(join(t.dir, 'c.txt')), tokenizer, { cacheDir: join(t.dir, 'cache') });
    const batches = new MlmBatches(cache, mlmVocab(tokenizer), { batchSize: 5, seqLen: 20, keepLastBlock: true, seed: 1 });
    const got = new Map<number, number[]>();
    for await (const b of batches) {
      for (let r = 0; r < b.batchSize; r++) {
        const row: number[] = [];
        for (let i = r * 20 + 1; i < (r + 1) * 20; i++) {
          if (b.attentionMask[i] === 0) break;
          row.push(b.labels[i] !== IGNORE_INDEX ? b.labels[i] : b.inputIds[i]);
        }
        got.set(b.blocks[r], row.slice(0, -1)); // the closing [SEP]
      }
    }
    const stream = [...got.keys()].sort((a, b) => a - b).flatMap((k) => got.get(k)!);
    const expected = docs.flatMap((d) => [...tokenizer.encode(d, null, { addSpecialTokens: false }).ids, 3]);
    assert.deepEqual(stream, expected);
    await cache.close();
  } finally {
    t.cleanup();
  }
});

test('corpusBatches: files to cache to batches in one call; a corpus shorter than one block is an error naming the flag', async () => {
  const t = tmp();
  try {
    writeFileSync(join(t.dir, 'c.txt'), 'the cat sat on the mat .\n'.repeat(50));
    const { batches, cache, built } = await corpusBatches(join(t.dir, 'c.txt'), tokenizer, { cacheDir: join(t.dir, 'cache'), batchSize: 4, seqLen: 16 });
    assert.equal(built, true);
    assert.equal(batches.blocks, Math.floor(cache.length / 14));
    await cache.close();
    writeFileSync(join(t.dir, 'short.txt'), 'the cat\n');
    await assert.rejects(corpusBatches(join(t.dir, 'short.txt'), tokenizer, { cacheDir: join(t.dir, 'cache'), batchSize: 4, seqLen: 16 }), /3 tokens, fewer than one block of 14.*--max-length/);
  } finally {
    t.cleanup();
  }
});

test('TokenCache.open: a missing or truncated cache is an error naming the folder', async () => {
  const t = tmp();
  try {
    await assert.rejects(TokenCache.open(join(t.dir, 'none')), /No token cache in .*none/);
    writeFileSync(join(t.dir, 'c.txt'), 'the cat sat\n');
    const { cache } = await openTokenCache(await resolveCorpusFiles(join(t.dir, 'c.txt')), tokenizer, { cacheDir: join(t.dir, 'cache') });
    await cache.close();
    truncateSync(join(cache.dir, 'tokens.bin'), 3);
    await assert.rejects(TokenCache.open(cache.dir), /tokens\.bin has 3 bytes, expected 4 tokens; delete the folder to rebuild/);
  } finally {
    t.cleanup();
  }
});
