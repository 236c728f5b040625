// Continual learning without a reference process: the accuracy-matrix metrics against values
// computed by hand, the replay buffer's reservoir sampling statistics, and label expansion (old
// rows, old logits and so old predictions bit-identical before training; renames refused).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Batch } from '../lib/batch.js';
import { BertForSequenceClassification, BertForTokenClassification } from '../lib/models/bert.js';
import { ReplayBuffer, continualMetrics, expandLabels, expandedLabels, mixReplay } from '../lib/continual/index.js';

test('accuracy-matrix metrics: average accuracy, backward transfer, forgetting (by hand)', () => {
  // Task 0 peaks after task 1 (0.95): forgetting measures from the peak, backward transfer from the diagonal.
  const R = [[0.9, 0.1, 0.0], [0.95, 0.8, 0.2], [0.5, 0.6, 0.85]];
  const m = continualMetrics(R);
  const close = (a: number | null, b: number) => assert.ok(a !== null && Math.abs(a - b) < 1e-12, `${a} vs ${b}`);
  close(m.averageAccuracy, (0.5 + 0.6 + 0.85) / 3);
  close(m.backwardTransfer, ((0.5 - 0.9) + (0.6 - 0.8)) / 2);   // -0.3
  close(m.forgetting, ((0.95 - 0.5) + (0.8 - 0.6)) / 2);          // 0.325
  assert.equal(m.newestTask, 0.85);
  assert.deepEqual(m.averageAfterEach.map((v) => Math.round(v * 1e9) / 1e9), [0.9, 0.875, 0.65]);
  const one = continualMetrics([[0.7]]);
  assert.equal(one.backwardTransfer, null);
  assert.equal(one.forgetting, null);
  // Above the diagonal (tasks not seen yet) may be null; on and below must be numbers.
  assert.equal(continualMetrics([[0.9, null], [0.4, 0.8]]).forgetting, 0.5);
  assert.throws(() => continualMetrics([[0.9, 0.1], [0.4]]), /row 1 has 1 entries, expected 2/);
  assert.throws(() => continualMetrics([[0.9, 0.1], [Number.NaN, 0.8]]), /R\[1\]\[0\] must be a finite number/);
});

test('replay buffer: reservoir sampling keeps every example with probability capacity / seen', () => {
  const N = 100, K = 10, runs = 2000;
  const hits = new Array<number>(N).fill(0);
  for (let s = 0; s < runs; s++) {
    const buf = new ReplayBuffer<number>(K, { seed: s }).addAll(Array.from({ length: N }, (_, i) => i));
    assert.equal(buf.size, K);
    assert.equal(new Set(buf.items()).size, K, 'no example twice');
    for (const i of buf.items()) hits[i]++;
  }
  // Each count is Binomial(2000, 0.1): mean 200, sd 13.4. Within 5 sd everywhere, and the early
  // and late halves of the stream equally represented (Algorithm R has no recency bias).
  for (const [i, h] of hits.entries()) assert.ok(Math.abs(h - 200) < 67, `example ${i} kept ${h} times of ${runs}`);
  const first = hits.slice(0, 50).reduce((a, b) => a + b, 0), second = hits.slice(50).reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(first - second) < 5 * Math.sqrt(runs * K * 0.5), `first half ${first}, second half ${second}`);
  // Fewer examples than room: all kept, in order.
  assert.deepEqual(new ReplayBuffer<number>(10).addAll([1, 2, 3]).items(), [1, 2, 3]);
  assert.throws(() => new ReplayBuffer(0), /positive integer for the replay buffer's capacity \(--replay-size\)/);

  const buf = new ReplayBuffer<string>(20, { seed: 1 }).addAll(Array.from({ length: 50 }, (_, i) => `old${i}`));
  const mixed = mixReplay(['a', 'b', 'c', 'd'], buf, { ratio: 1.5, seed: 3 });
  assert.equal(mixed.length, 4 + 6);
  assert.deepEqual(mixed.slice(0, 4), ['a', 'b', 'c', 'd']);
  assert.ok(mixed.slice(4).every((e) => buf.items().includes(e)));
  assert.equal(mixReplay(['a'], buf, { size: 100 }).length, 21, 'capped at the buffer');
});

function batch(B: number, T: number): Batch {
  const ids = Int32Array.from({ length: B * T }, (_, i) => 1 + ((i * 7) % 40));
  return { batchSize: B, seqLen: T, inputIds: ids, attentionMask: new Int32Array(B * T).fill(1), tokenTypeIds: new Int32Array(B * T) };
}
const cfg = { vocab_size: 50, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32, max_position_embeddings: 16 };

for (const head of ['token', 'sequence'] as const) {
  test(`label expansion keeps the old rows and the old labels' logits bit-identical: ${head} head`, async () => {
    const Cls = head === 'token' ? BertForTokenClassification : BertForSequenceClassification;
    const old = head === 'token' ? ['O', 'B-PER', 'I-PER'] : ['neg', 'pos'];
    const model = Cls.fromConfig(cfg, { labels: old, seed: 1 });
    // Train a step so the head is not at its initialisation.
    const b = batch(2, 6);
    const train = { ...b, labels: head === 'token' ? Int32Array.from({ length: 12 }, (_, i) => i % 3) : Int32Array.from([0, 1]) };
    await model.trainStep(train, { learningRate: 1e-2 });
    const added = head === 'token' ? ['B-ORG', 'I-ORG'] : ['neutral'];
    const grown = expandLabels(model, [...old, ...added], { strict: true, seed: 5 });
    try {
      assert.deepEqual(grown.labels, [...old, ...added]);
      assert.deepEqual(grown.config.label2id, Object.fromEntries([...old, ...added].map((l, i) => [l, i])));
      for (const p of model.parameters()) {
        const a = model.getParameter(p.name), g = grown.getParameter(p.name);
        assert.deepEqual(g.subarray(0, a.length), a, `${p.name}: old values bit-identical`);
      }
      const L = old.length, L2 = L + added.length;
      const w = grown.getParameter('classifier.weight').subarray(L * cfg.hidden_size);
      assert.ok(w.some((v) => v !== 0), 'the new rows are initialised');
      const before = await model.forward(b), after = await grown.forward(b);
      const rows = before.logits.length / L;
      for (let r = 0; r < rows; r++) {
        const o = before.logits.subarray(r * L, (r + 1) * L), n = after.logits.subarray(r * L2, r * L2 + L);
        assert.deepEqual(n, o, `row ${r}: the old labels' logits bit-identical`);
      }
      // Merely listing new labels (old ones anywhere) also works; renaming or dropping does not.
      assert.deepEqual(expandedLabels(old, [added[0], old[1]]), [...old, added[0]]);
      assert.throws(() => expandLabels(model, [old[1], old[0], ...added], { strict: true }), (e: Error & { code?: string }) =>
        e.code === 'ERR_CONFIG' && new RegExp(`would rename label 0: the model calls it "${old[0]}", the new list "${old[1]}"`).test(e.message));
      assert.throws(() => expandLabels(model, old.slice(0, 1), { strict: true }), /would drop labels/);
      assert.deepEqual(model.labels, old, 'the earlier model is untouched');
    } finally {
      grown.dispose();
      model.dispose();
    }
  });
}

test('Trainer continual options: L2-SP pulls toward the starting weights; the penalties are off after train()', async () => {
  const { generateCorpus } = await import('../lib/demo/corpus.js');
  const { buildVocab } = await import('../lib/demo/vocab.js');
  const { Tokenizer } = await import('../lib/tokenizer/index.js');
  const { Trainer } = await import('../lib/trainer/trainer.js');
  const corpus = generateCorpus({ train: 48, dev: 0, test: 0, seed: 2 });
  const tokenizer = Tokenizer.fromVocab(buildVocab(corpus.train.map((s) => s.tokens), { size: 200 }));
  const labels = [...new Set(corpus.train.flatMap((s) => s.tags))].sort();
  const distance: number[] = [];
  for (const alpha of [0, 50]) {
    const model = BertForTokenClassification.fromConfig({ ...cfg, vocab_size: tokenizer.vocabSize, max_position_embeddings: 64 }, { labels, seed: 1 });
    try {
      const start = model.parameters().map((p) => model.getParameter(p.name));
      const args = { maxSteps: 6, batchSize: 8, learningRate: 5e-3, progress: 'none' as const, evalStrategy: 'no' as const, saveStrategy: 'no' as const };
      await new Trainer({ model, tokenizer, train: corpus.train, task: 'ner', args, continual: alpha ? { l2sp: { alpha } } : undefined }).train();
      let d = 0;
      model.parameters().forEach((p, i) => { const v = model.getParameter(p.name); for (let k = 0; k < v.length; k++) d += (v[k] - start[i][k]) ** 2; });
      distance.push(Math.sqrt(d));
      assert.equal(model.continual('state').l2spAlpha, 0, 'train() turns the penalty off when it ends');
    } finally {
      model.dispose();
    }
  }
  assert.ok(distance[1] < 0.9 * distance[0], `L2-SP kept the weights nearer their start: ${distance[1]} vs ${distance[0]}`);
  // EWC without a Fisher in the model is refused where the options enter.
  const model = BertForTokenClassification.fromConfig({ ...cfg, vocab_size: tokenizer.vocabSize }, { labels, seed: 1 });
  try {
    assert.throws(() => new Trainer({ model, tokenizer, train: corpus.train, task: 'ner', continual: { ewc: { lambda: 1 } } }), /EWC needs the old task's Fisher and anchor in the model/);
  } finally {
    model.dispose();
  }
});
