// MLM batches: masking statistics against the binomial, whole-word groups, packing without loss or
// duplication, exact mid-epoch resume, bad options.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArrayTokenSource, Masker, MlmBatches, batchRng, mlmVocab, type MlmBatch, type MlmVocab } from '../lib/data/mlm.js';
import { Tokenizer } from '../lib/tokenizer/index.js';
import { IGNORE_INDEX } from '../lib/batch.js';
import { Rng } from '../lib/data/rng.js';

// A vocabulary: 0 [PAD] 1 [UNK] 2 [CLS] 3 [SEP] 4 [MASK], 5..499 word starts, 500..999 `##` pieces.
const V = 1000;
const continuation = new Uint8Array(V);
continuation.fill(1, 500);
const vocab: MlmVocab = { padTokenId: 0, clsTokenId: 2, sepTokenId: 3, maskTokenId: 4, vocabSize: V, specialIds: [0, 1, 2, 3, 4], continuation };
const SPECIAL = new Set([0, 1, 2, 3, 4]);

/** `n` ids: words of 1-4 pieces, with [SEP]/[UNK] now and then. */
function stream(n: number, seed = 1): Int32Array {
  const rng = new Rng(seed);
  const out = new Int32Array(n);
  let i = 0;
  while (i < n) {
    if (rng.next() < 0.03) { out[i++] = rng.next() < 0.5 ? 3 : 1; continue; }
    out[i++] = 5 + rng.nextInt(495);
    const pieces = rng.nextInt(4);
    for (let k = 0; k < pieces && i < n; k++) out[i++] = 500 + rng.nextInt(500);
  }
  return out;
}

/** |x - p| within z standard deviations of a binomial proportion over n trials. */
function assertProportion(x: number, n: number, p: number, what: string, z = 5): void {
  const sd = Math.sqrt(p * (1 - p) / n);
  assert.ok(Math.abs(x / n - p) <= z * sd, `${what}: ${(x / n).toFixed(5)} vs ${p} (n ${n}, ${z} sd = ${(z * sd).toFixed(5)})`);
}

test('masking: 15% of the non-special tokens chosen; of those 80% [MASK], 10% random, 10% kept; specials never touched', () => {
  const masker = new Masker(vocab);
  const original = stream(400_000);
  const ids = original.slice();
  const labels = new Int32Array(ids.length);
  masker.mask(ids, labels, 0, ids.length, new Rng(7));
  let nonSpecial = 0, chosen = 0, masked = 0, random = 0, kept = 0;
  for (let i = 0; i < ids.length; i++) {
    if (SPECIAL.has(original[i])) {
      assert.equal(labels[i], IGNORE_INDEX, `special token at ${i} chosen`);
      assert.equal(ids[i], original[i], `special token at ${i} changed`);
      continue;
    }
    nonSpecial++;
    if (labels[i] === IGNORE_INDEX) { assert.equal(ids[i], original[i]); continue; }
    chosen++;
    assert.equal(labels[i], original[i], 'the label is the original id');
    if (ids[i] === 4) masked++;
    else if (ids[i] === original[i]) kept++;
    else { random++; assert.ok(!SPECIAL.has(ids[i]), 'a random replacement is never special'); }
  }
  assertProportion(chosen, nonSpecial, 0.15, 'chosen');
  assertProportion(masked, chosen, 0.8, '[MASK]');
  // A random draw equals the original with probability 1/995: it then counts as kept.
  const c = V - SPECIAL.size;
  assertProportion(random, chosen, 0.1 * (1 - 1 / c), 'random');
  assertProportion(kept, chosen, 0.1 + 0.1 / c, 'kept');
});

test('whole-word masking: all pieces of a word together, mlmProbability of the words', () => {
  const masker = new Masker(vocab, { wholeWordMask: true, mlmProbability: 0.2 });
  const original = stream(300_000, 3);
  const ids = original.slice();
  const labels = new Int32Array(ids.length);
  masker.mask(ids, labels, 0, ids.length, new Rng(11));
  let words = 0, chosenWords = 0, chosenTokens = 0, tokens = 0;
  let state: boolean | null = null;
  for (let i = 0; i < ids.length; i++) {
    const id = original[i];
    if (SPECIAL.has(id)) { assert.equal(labels[i], IGNORE_INDEX); state = null; continue; }
    const isChosen = labels[i] !== IGNORE_INDEX;
    tokens++;
    if (isChosen) chosenTokens++;
    if (continuation[id] && state !== null) {
      assert.equal(isChosen, state, `piece ${i} of a word split between masked and unmasked`);
    } else {
      words++;
      if (isChosen) chosenWords++;
      state = isChosen;
    }
  }
  assertProportion(chosenWords, words, 0.2, 'words chosen');
  assert.ok(Math.abs(chosenTokens / tokens - 0.2) < 0.01, `tokens chosen ${chosenTokens / tokens}`);
});

function original(batch: MlmBatch, r: number): number[] {
  const t = batch.seqLen;
  const out: number[] = [];
  for (let i = r * t; i < (r + 1) * t; i++) out.push(batch.labels[i] !== IGNORE_INDEX ? batch.labels[i] : batch.inputIds[i]);
  return out;
}

async function epoch(batches: MlmBatches): Promise<MlmBatch[]> {
  const out: MlmBatch[] = [];
  for await (const b of batches) out.push(b);
  return out;
}

test('packing: [CLS] block [SEP] rows of exactly seqLen; an epoch loses and duplicates no token', async () => {
  const ids = stream(10_007, 5);
  const seqLen = 34;
  const body = seqLen - 2;
  for (const keepLastBlock of [false, true]) {
    const batches = new MlmBatches(new ArrayTokenSource(ids), vocab, { batchSize: 8, seqLen, seed: 3, keepLastBlock });
    const full = Math.floor(ids.length / body);
    assert.equal(batches.blocks, full + (keepLastBlock ? 1 : 0));
    const seen = new Map<number, number[]>();
    for (const b of await epoch(batches)) {
      assert.equal(b.seqLen, seqLen);
      for (let r = 0; r < b.batchSize; r++) {
        const row = original(b, r);
        const block = b.blocks[r];
        assert.ok(!seen.has(block), `block ${block} twice in an epoch`);
        const n = Math.min(body, ids.length - block * body);
        assert.equal(row[0], 2);
        assert.equal(row[n + 1], 3);
        assert.deepEqual(row.slice(n + 2), new Array(seqLen - n - 2).fill(0), 'padding only after a partial block');
        const mask = Array.from(b.attentionMask.subarray(r * seqLen, (r + 1) * seqLen));
        assert.deepEqual(mask, [...new Array(n + 2).fill(1), ...new Array(seqLen - n - 2).fill(0)]);
        seen.set(block, row.slice(1, n + 1));
      }
    }
    const rebuilt = [...seen.keys()].sort((a, b) => a - b).flatMap((k) => seen.get(k)!);
    const expected = Array.from(keepLastBlock ? ids : ids.subarray(0, full * body));
    assert.deepEqual(rebuilt, expected);
  }
});

test('resume mid-epoch: the same batches (order and masks) as an uninterrupted run; new masks and order each epoch', async () => {
  const ids = stream(20_000, 9);
  const opts = { batchSize: 4, seqLen: 50, seed: 17, wholeWordMask: true };
  const a = new MlmBatches(new ArrayTokenSource(ids), vocab, opts);
  const e0 = await epoch(a);
  const e1 = await epoch(a);
  assert.equal(a.state().epoch, 1);
  const b = new MlmBatches(new ArrayTokenSource(ids), vocab, opts);
  b.restore({ seed: 17, epoch: 1, position: 7 });
  const rest = await epoch(b);
  assert.equal(rest.length, e1.length - 7);
  rest.forEach((x, i) => {
    assert.deepEqual(x.inputIds, e1[i + 7].inputIds);
    assert.deepEqual(x.labels, e1[i + 7].labels);
    assert.deepEqual(x.blocks, e1[i + 7].blocks);
  });
  assert.notDeepEqual(e0[0].blocks, e1[0].blocks, 'a new block order each epoch');
  // Same block in two epochs: masked differently (dynamic masking).
  const block = e0[0].blocks[0];
  const where = e1.flatMap((x) => Array.from(x.blocks, (bl, r) => ({ x, r, bl }))).find((y) => y.bl === block)!;
  assert.deepEqual(original(where.x, where.r), original(e0[0], 0));
  assert.notDeepEqual(where.x.labels.subarray(where.r * 50, (where.r + 1) * 50), e0[0].labels.subarray(0, 50));
  // An unshuffled source (evaluation) masks the same way every epoch.
  const ev = new MlmBatches(new ArrayTokenSource(ids), vocab, { ...opts, shuffle: false });
  const first = await ev.batch(0, 2);
  assert.deepEqual(Array.from(first.blocks), [8, 9, 10, 11]);
  assert.deepEqual((await ev.batch(0, 2)).labels, first.labels);
  assert.notDeepEqual(batchRng(1, 0, 0).state(), batchRng(1, 0, 1).state());
});

test('bad options: mlmProbability outside (0, 1), a corpus shorter than one block, a bad state', () => {
  const src = new ArrayTokenSource(stream(100));
  for (const p of [0, 1, -0.1, 1.5, NaN]) {
    assert.throws(() => new MlmBatches(src, vocab, { batchSize: 2, seqLen: 16, mlmProbability: p }), /mlmProbability in \(0, 1\) \(--mlm-probability\)/);
  }
  assert.throws(() => new MlmBatches(src, vocab, { batchSize: 2, seqLen: 200 }), /100 tokens, fewer than one block of 198.*--max-length/);
  assert.equal(new MlmBatches(src, vocab, { batchSize: 2, seqLen: 200, keepLastBlock: true }).blocks, 1);
  assert.throws(() => new MlmBatches(src, vocab, { batchSize: 2, seqLen: 2 }), /seqLen >= 3/);
  const ok = new MlmBatches(src, vocab, { batchSize: 2, seqLen: 16 });
  assert.throws(() => ok.restore({ seed: 1, epoch: 0, position: 0 }), /seed 1 but these batches have seed 42/);
  assert.throws(() => ok.restore({ seed: 42, epoch: 0, position: 99 }), /past the 4 batches/);
});

test('mlmVocab of a BERT tokenizer: special ids and ## pieces', () => {
  const tok = Tokenizer.fromVocab(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'hug', '##s', 'a', '##a']);
  const v = mlmVocab(tok);
  assert.deepEqual([v.padTokenId, v.clsTokenId, v.sepTokenId, v.maskTokenId, v.vocabSize], [0, 2, 3, 4, 9]);
  assert.deepEqual(Array.from(v.continuation!), [0, 0, 0, 0, 0, 0, 1, 0, 1]);
  assert.throws(() => mlmVocab(Tokenizer.fromVocab(['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'a'])), /no \[MASK\] token/);
});
