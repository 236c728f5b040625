// The fill-mask pipeline: a tiny BertForMaskedLM trained here until the answers are known; output
// format, order, several masks, batches, decoding of `sequence`; and, when a Python with torch and
// transformers is available (ROOTS_HF_PYTHON), the same folder through Transformers' pipeline.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BertForMaskedLM, BertForTokenClassification } from '../lib/models/bert.js';
import { Tokenizer } from '../lib/tokenizer/index.js';
import { pipeline } from '../lib/pipelines/index.js';
import { IGNORE_INDEX, type Batch } from '../lib/batch.js';
import type { FillMaskResult } from '../lib/pipelines/fill-mask.js';
import { repoRoot, tmp, liveHfPython } from './helpers.js';

const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'the', 'a', 'cat', 'dog', 'sat', 'ran', 'on', 'mat', 'far', '##s', '.'];
const tokenizer = Tokenizer.fromVocab(VOCAB, { model_max_length: 16 });
// "the cat sat" / "a dog ran": the middle word follows from the first, the last from the middle.
const SENTENCES = ['the cat sat .', 'a dog ran .', 'the cats sat .', 'a dog ran far .'];

async function trainedModel(): Promise<BertForMaskedLM> {
  const model = BertForMaskedLM.fromConfig({
    vocab_size: VOCAB.length, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64,
    max_position_embeddings: 16, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0,
  }, { seed: 5 });
  // Every batch: each sentence with each of its words masked in turn.
  const rows: { ids: number[]; labels: number[] }[] = [];
  for (const s of SENTENCES) {
    const ids = tokenizer.encode(s).ids;
    for (let k = 1; k < ids.length - 1; k++) {
      const input = ids.slice();
      input[k] = 4;
      rows.push({ ids: input, labels: ids.map((id, j) => (j === k ? id : IGNORE_INDEX)) });
    }
  }
  const t = Math.max(...rows.map((r) => r.ids.length));
  const batch: Batch = {
    batchSize: rows.length, seqLen: t,
    inputIds: Int32Array.from(rows.flatMap((r) => [...r.ids, ...new Array(t - r.ids.length).fill(0)])),
    attentionMask: Int32Array.from(rows.flatMap((r) => [...r.ids.map(() => 1), ...new Array(t - r.ids.length).fill(0)])),
    tokenTypeIds: new Int32Array(rows.length * t),
    labels: Int32Array.from(rows.flatMap((r) => [...r.labels, ...new Array(t - r.ids.length).fill(IGNORE_INDEX)])),
  };
  // Train until the answers the tests rely on are clear (the model is deterministic: same seed, same steps).
  const probe = (text: string): { ids: number[]; pos: number } => { const ids = tokenizer.encode(text).ids; return { ids, pos: ids.indexOf(4) }; };
  const probes = [[probe('the [MASK] sat .'), 7], [probe('a dog [MASK] .'), 10], [probe('a [MASK] ran .'), 8]] as const;
  const learned = async (): Promise<boolean> => {
    for (const [{ ids, pos }, want] of probes) {
      const out = await model.forward({ batchSize: 1, seqLen: ids.length, inputIds: Int32Array.from(ids), attentionMask: new Int32Array(ids.length).fill(1), tokenTypeIds: new Int32Array(ids.length) });
      const row = out.logits.subarray(pos * VOCAB.length, (pos + 1) * VOCAB.length);
      const max = Math.max(...row);
      const p = 1 / row.reduce((sum, x) => sum + Math.exp(x - max), 0);
      if (row.indexOf(max) !== want || p < 0.6) return false;
    }
    return true;
  };
  for (let s = 0; s < 400 && !(s % 10 === 0 && s > 0 && await learned()); s++) await model.trainStep(batch, { learningRate: 3e-3, rngSeed: s });
  return model;
}

const model = await trainedModel();
after(() => model.dispose());

function checkShape(results: FillMaskResult[], k: number): void {
  assert.equal(results.length, k);
  for (const r of results) {
    assert.deepEqual(Object.keys(r), ['score', 'token', 'token_str', 'sequence']);
    assert.ok(r.score > 0 && r.score <= 1);
    assert.equal(r.token_str, tokenizer.decode([r.token]));
  }
  for (let i = 1; i < results.length; i++) assert.ok(results[i - 1].score >= results[i].score, 'best first');
}

test('one mask: the learned answer first, top 5 by default, scores a softmax over the vocabulary', async () => {
  const fill = await pipeline('fill-mask', { model, tokenizer });
  const out = await fill('the [MASK] sat .') as FillMaskResult[];
  checkShape(out, 5);
  assert.equal(out[0].token_str, 'cat');
  assert.equal(out[0].sequence, 'the cat sat.');
  assert.ok(out[0].score > 0.5, `score ${out[0].score}`);
  const all = await fill('a dog [MASK] .', { topK: 100 }) as FillMaskResult[];
  checkShape(all, VOCAB.length);
  assert.equal(all[0].token_str, 'ran');
  assert.ok(Math.abs(all.reduce((s, r) => s + r.score, 0) - 1) < 1e-6, 'all scores sum to 1');
  assert.deepEqual(new Set(all.map((r) => r.token)).size, VOCAB.length);
});

test('a ## piece: token_str keeps ##, sequence joins it to the word before', async () => {
  const fill = await pipeline('fill-mask', { model, tokenizer }, { topK: 16 });
  const out = await fill('the cat [MASK] sat .') as FillMaskResult[];
  const s = out.find((r) => r.token_str === '##s')!;
  assert.ok(s, 'the ## piece is among all proposals');
  assert.equal(s.sequence, 'the cats sat.');
  assert.equal(out.find((r) => r.token_str === '[CLS]')!.sequence, 'the cat sat.', 'special tokens are skipped in the single-mask sequence');
});

test('several masks: a list per mask, the other masks kept in each sequence; a batch of texts', async () => {
  const fill = await pipeline('fill-mask', { model, tokenizer });
  const out = await fill('a [MASK] [MASK] .', { topK: 2 }) as FillMaskResult[][];
  assert.equal(out.length, 2);
  checkShape(out[0], 2);
  checkShape(out[1], 2);
  assert.equal(out[0][0].token_str, 'dog');
  assert.equal(out[0][0].sequence, '[CLS] a dog [MASK]. [SEP]');
  assert.equal(out[1][0].sequence, `[CLS] a [MASK] ${out[1][0].token_str}. [SEP]`);
  const batch = await fill(['the [MASK] sat .', 'a dog [MASK] .', 'the [MASK] [MASK] .'], { topK: 3 });
  assert.equal(batch.length, 3);
  // Batched with longer texts (padding): the same proposals, scores equal to float rounding.
  const alone = await fill('the [MASK] sat .', { topK: 3 }) as FillMaskResult[];
  (batch[0] as FillMaskResult[]).forEach((r, k) => {
    assert.deepEqual({ ...r, score: 0 }, { ...alone[k], score: 0 });
    assert.ok(Math.abs(r.score - alone[k].score) < 1e-6);
  });
  assert.equal((batch[1] as FillMaskResult[])[0].token_str, 'ran');
  assert.equal((batch[2] as FillMaskResult[][]).length, 2);
});

test('bad input: no mask, too long, a wrong head, bad topK', async () => {
  const fill = await pipeline('fill-mask', { model, tokenizer });
  await assert.rejects(fill('the cat sat .'), /No mask token \(\[MASK\]\) found in text 0/);
  await assert.rejects(fill('the [MASK] ' + 'cat '.repeat(20)), /more than maxLength 16/);
  await assert.rejects(fill('the [MASK] sat', { topK: 0 }), /positive integer for topK/);
  const token = BertForTokenClassification.fromConfig({ vocab_size: VOCAB.length, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 1, intermediate_size: 8, max_position_embeddings: 16 }, { labels: ['O', 'X'] });
  try {
    await assert.rejects(pipeline('fill-mask', { model: token, tokenizer }), /needs a masked-language model, not a model with the token head/);
  } finally {
    token.dispose();
  }
});

// A Transformers BertForPreTraining checkpoint (scripts/gen-bert-pretraining-fixture.py): loads
// into BertForMaskedLM with the next-sentence head and pooler reported unused (as Transformers
// reports them), the same MLM logits, and the same fill-mask output as Transformers' pipeline.
const PRETRAINING = join(repoRoot, 'test', 'fixtures', 'bert-pretraining');

test('a Transformers BertForPreTraining checkpoint: BertForMaskedLM loads it (NSP weights unused), logits and fill-mask as Transformers', async () => {
  const expected = JSON.parse(readFileSync(join(PRETRAINING, 'expected.json'), 'utf8'));
  const logs: string[] = [];
  const mlm = await BertForMaskedLM.fromPretrained(PRETRAINING, { log: (m) => logs.push(m) });
  try {
    assert.deepEqual([...mlm.loadReport.unexpectedKeys].sort(), expected.unexpected_keys);
    assert.deepEqual(mlm.loadReport.missingKeys, expected.missing_keys);
    assert.match(logs.join('\n'), /4 weights .* were not used: .*cls\.seq_relationship\.bias/);
    const ids: number[][] = expected.input_ids;
    const t = ids[0].length;
    const out = await mlm.forward({
      batchSize: ids.length, seqLen: t, inputIds: Int32Array.from(ids.flat()), attentionMask: new Int32Array(ids.length * t).fill(1), tokenTypeIds: new Int32Array(ids.length * t),
    });
    assert.equal(out.logits.length, expected.logits.length);
    let worst = 0;
    out.logits.forEach((x, i) => { worst = Math.max(worst, Math.abs(x - expected.logits[i])); });
    assert.ok(worst < 1e-4, `max |logit difference| ${worst}`);
  } finally {
    mlm.dispose();
  }
  const fill = await pipeline('fill-mask', PRETRAINING);
  try {
    const ours = await fill(expected.fill_mask.texts, { topK: expected.fill_mask.top_k });
    const flat = (x: unknown): FillMaskResult[] => (x as unknown[]).flat(2) as FillMaskResult[];
    const a = flat(ours);
    const b = flat(expected.fill_mask.results);
    assert.deepEqual(a.map((r) => ({ ...r, score: 0 })), b.map((r) => ({ ...r, score: 0 })));
    a.forEach((r, i) => { assert.ok(Math.abs(r.score - b[i].score) < 1e-5, `score ${r.score} vs ${b[i].score}`); });
    assert.ok(a.some((r) => r.token_str === '##ing' && r.sequence.includes('doging')), 'a ## proposal joins its word');
  } finally {
    fill.dispose();
  }
});

const { exe: hfPython, skip: noHf } = liveHfPython('torch, transformers');

test('live: Transformers\' fill-mask pipeline on the saved folder gives the same proposals', { skip: noHf }, async () => {
  const t = tmp();
  try {
    const dir = join(t.dir, 'mlm');
    await model.save(dir, { tokenizer });
    const fill = await pipeline('fill-mask', dir);
    const texts = ['the [MASK] sat .', 'a [MASK] [MASK] .', 'the cat [MASK] sat .'];
    const ours = await fill(texts, { topK: 4 });
    fill.dispose();
    writeFileSync(join(t.dir, 'texts.json'), JSON.stringify(texts));
    const script = 'import json,sys\nfrom transformers import pipeline\np=pipeline("fill-mask", model=sys.argv[1], device="cpu")\nprint(json.dumps([p(x, top_k=4) for x in json.load(open(sys.argv[2]))]))';
    const r = spawnSync(hfPython!, ['-c', script, dir, join(t.dir, 'texts.json')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const theirs = JSON.parse(r.stdout.trim().split('\n').pop()!) as (FillMaskResult[] | FillMaskResult[][])[];
    const flat = (x: FillMaskResult[] | FillMaskResult[][]): FillMaskResult[] => (Array.isArray(x[0]) ? (x as FillMaskResult[][]).flat() : (x as FillMaskResult[]));
    theirs.forEach((h, i) => {
      const a = flat(ours[i]);
      const b = flat(h);
      assert.equal(a.length, b.length);
      a.forEach((x, k) => {
        assert.equal(x.token, b[k].token, `text ${i} proposal ${k}`);
        assert.equal(x.token_str, b[k].token_str);
        assert.equal(x.sequence, b[k].sequence);
        assert.ok(Math.abs(x.score - b[k].score) < 1e-5, `score ${x.score} vs ${b[k].score}`);
      });
    });
  } finally {
    t.cleanup();
  }
});
