// Joint intent detection and slot filling (BertForIntentAndSlots) end to end on SNIPS (read in
// place): features, the summed loss and its slot weight, scoring (intent accuracy, seqeval slot F1,
// sentence-level exact match), training from a fresh start, saving and reloading as one model
// folder with identical predictions, and the intent-slots pipeline's character offsets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readIntentSlotData } from '../lib/data/formats.js';
import { LabelVocab } from '../lib/data/labels.js';
import { collate } from '../lib/data/collate.js';
import { IGNORE_INDEX } from '../lib/batch.js';
import { RootsError } from '../lib/errors.js';
import { BertForIntentAndSlots } from '../lib/models/bert.js';
import { pipeline } from '../lib/pipelines/index.js';
import { IntentSlotsTask, evaluateIntentSlots, intentSlotFeatures, type IntentSlotsDetails } from '../lib/tasks/intent-slots.js';
import { Tokenizer } from '../lib/tokenizer/index.js';
import { LOG_FILE, Trainer } from '../lib/trainer/trainer.js';
import { tmp } from './helpers.js';
import { SNIPS, firstLast, needSnips, strided, tinyIntentSlotsModel, trainLosses, uncasedTokenizer } from './textcls-fixtures.js';

const isRootsError = (code: string, re: RegExp) => (e: unknown) => e instanceof RootsError && e.code === code && re.test(e.message);
const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'play', 'some', 'jazz', 'by', 'miles', 'da', '##vis'];

test('features: slot tags on the first subword of each word, the intent on the row; unknown labels ignored outside training', () => {
  const tokenizer = Tokenizer.fromVocab(VOCAB, { do_lower_case: true });
  const intents = new LabelVocab(['AddToPlaylist', 'PlayMusic']);
  const slots = new LabelVocab(['O', 'B-artist', 'I-artist', 'B-music_item']);
  const ex = { tokens: ['play', 'jazz', 'by', 'miles', 'davis'], tags: ['O', 'B-music_item', 'O', 'B-artist', 'I-artist'], intent: 'PlayMusic' };
  const [f] = intentSlotFeatures(tokenizer, [ex], { intents, slots }, { maxLength: 16, strict: true });
  assert.deepEqual(Array.from(f.inputIds), [2, 4, 6, 7, 8, 9, 10, 3]);
  assert.deepEqual(Array.from(f.wordIds), [-1, 0, 1, 2, 3, 4, 4, -1]);
  assert.deepEqual(Array.from(f.slotLabels!), [-100, 0, 3, 0, 1, 2, -100, -100]);
  assert.equal(f.label, 1);
  // Truncated to the window: the words past it have no token (and will be predicted O).
  const [short] = intentSlotFeatures(tokenizer, [ex], { intents, slots }, { maxLength: 5 });
  assert.deepEqual(Array.from(short.inputIds), [2, 4, 6, 7, 3]);
  // Labels the model lacks: an error in training, ignored (-100) in evaluation.
  const odd = { ...ex, intent: 'GetWeather', tags: ['O', 'B-genre', 'O', 'B-artist', 'I-artist'] };
  assert.throws(() => intentSlotFeatures(tokenizer, [odd], { intents, slots }, { maxLength: 16, strict: true }), isRootsError('ERR_INVALID_ARG', /intent "GetWeather" is not in the label set/));
  const [g] = intentSlotFeatures(tokenizer, [odd], { intents, slots }, { maxLength: 16 });
  assert.equal(g.label, IGNORE_INDEX);
  assert.deepEqual(Array.from(g.slotLabels!), [-100, 0, -100, 0, 1, 2, -100, -100]);
  // Collated: intents in labels [B], slots in slotLabels [B * T] (-100 on padding).
  const batch = collate([f, short], { padTokenId: 0 });
  assert.deepEqual(Array.from(batch.labels!), [1, 1]);
  assert.equal(batch.slotLabels!.length, 2 * 8);
  assert.deepEqual(Array.from(batch.slotLabels!.subarray(8)), [-100, 0, 3, 0, -100, -100, -100, -100]);
  assert.throws(() => collate([f, { inputIds: Int32Array.from([2, 3]), label: 0 }], { padTokenId: 0 }), isRootsError('ERR_INVALID_ARG', /row 0 has slotLabels, row 1 lacks them/));
});

test('the loss is intent + slot_loss_weight * slots (config.json\'s slot_loss_weight)', async () => {
  const tokenizer = Tokenizer.fromVocab(VOCAB, { do_lower_case: true });
  const intents = ['AddToPlaylist', 'PlayMusic'];
  const slots = ['O', 'B-artist', 'I-artist', 'B-music_item'];
  const feats = intentSlotFeatures(tokenizer, [
    { tokens: ['play', 'jazz'], tags: ['O', 'B-music_item'], intent: 'PlayMusic' },
    { tokens: ['play', 'miles', 'davis'], tags: ['O', 'B-artist', 'I-artist'], intent: 'AddToPlaylist' },
  ], { intents: new LabelVocab(intents), slots: new LabelVocab(slots) }, { maxLength: 16 });
  const batch = collate(feats, { padTokenId: 0 });
  const cfg = { vocab_size: VOCAB.length, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 16 };
  const losses: number[] = [];
  for (const w of [0, 1, 2.5]) {
    const m = BertForIntentAndSlots.fromConfig({ ...cfg, slot_loss_weight: w }, { labels: intents, slotLabels: slots, seed: 5, log: null });
    losses.push((await m.forward(batch)).loss!);
    m.dispose();
  }
  const [intentOnly, both, weighted] = losses;
  const slotLoss = both - intentOnly;
  assert.ok(slotLoss > 0.5, `slot loss ${slotLoss}`);
  assert.ok(Math.abs(weighted - (intentOnly + 2.5 * slotLoss)) < 1e-5, `${weighted} vs ${intentOnly} + 2.5 * ${slotLoss}`);
});

test('scoring: intent accuracy, seqeval slot F1, exact match (intent and every tag right)', () => {
  const intents = new LabelVocab(['A', 'B']);
  const slots = new LabelVocab(['O', 'B-x', 'I-x']);
  const tokenizer = Tokenizer.fromVocab(VOCAB, { do_lower_case: true });
  const examples = [
    { tokens: ['play', 'jazz'], tags: ['O', 'B-x'], intent: 'A' },
    { tokens: ['play', 'jazz'], tags: ['B-x', 'I-x'], intent: 'A' },
    { tokens: ['play', 'jazz'], tags: ['O', 'O'], intent: 'B' },
  ];
  const ctx = { tokenizer, labels: intents, labels2: slots, maxLength: 16 };
  const task = new IntentSlotsTask();
  const features = task.features(examples, ctx);
  // Per token (CLS, play, jazz, SEP) slot logits; intent logits per utterance.
  const tok = (...rows: number[][]) => Float32Array.from(rows.flat());
  const outputs = {
    logits: [[5, 0], [5, 0], [5, 0]].map((r) => Float32Array.from(r)), numLabels: 2,
    logits2: [
      tok([9, 0, 0], [9, 0, 0], [0, 9, 0], [9, 0, 0]),   // O B-x: right, intent right -> exact
      tok([9, 0, 0], [0, 9, 0], [0, 0, 9], [9, 0, 0]),   // B-x I-x: right, intent right -> exact
      tok([9, 0, 0], [9, 0, 0], [0, 9, 0], [9, 0, 0]),   // O B-x: a wrong slot, wrong intent
    ],
    numLabels2: 3, loss: 1.25,
  };
  const ev = task.score(examples, features, outputs, ctx);
  assert.equal(ev.metrics.intent_accuracy, 2 / 3);
  assert.equal(ev.metrics.exact_match, 2 / 3);
  assert.equal(ev.metrics.slot_precision, 2 / 3);
  assert.equal(ev.metrics.slot_recall, 1);
  assert.equal(ev.metrics.slot_f1, 0.8);
  assert.equal(ev.metrics.loss, 1.25);
  const d = ev.details as IntentSlotsDetails;
  assert.deepEqual(d.intents, ['A', 'A', 'A']);
  assert.deepEqual(d.slots, [['O', 'B-x'], ['B-x', 'I-x'], ['O', 'B-x']]);
  assert.match(ev.report!, /^Intents\n[\s\S]*Slots\n[\s\S]* x [\s\S]*micro avg[\s\S]*exact match 0\.6667 \(3 utterances\)\n$/);
});

test('SNIPS: train from scratch, dev metrics, save and reload as one folder with identical predictions; the pipeline', { skip: needSnips }, async (t) => {
  const d = tmp('roots-snips-');
  try {
    const train = strided(await readIntentSlotData(join(SNIPS, 'train')), 2500);
    const dev = strided(await readIntentSlotData(join(SNIPS, 'dev')), 350);   // the dev file is sorted by intent
    const task = new IntentSlotsTask();
    const intents = task.labelsOf([...train, ...dev]);
    const slots = task.slotLabelsOf([...train, ...dev]);
    assert.deepEqual(intents, ['AddToPlaylist', 'BookRestaurant', 'GetWeather', 'PlayMusic', 'RateBook', 'SearchCreativeWork', 'SearchScreeningEvent']);
    assert.equal(slots[0], 'O');
    const tokenizer = await uncasedTokenizer(64);
    const model = tinyIntentSlotsModel(tokenizer, intents, slots, { config: { slot_loss_weight: 1.5 } });
    const out = join(d.dir, 'run');
    const trainer = new Trainer({
      model, tokenizer, train, eval: dev, task: 'intent-slots',
      args: { outputDir: out, maxSteps: 200, batchSize: 32, learningRate: 3e-3, warmupRatio: 0.1, weightDecay: 0.01, evalSteps: 100, loggingSteps: 20, progress: 'none' },
    });
    assert.equal(trainer.args.metricForBestModel, 'exact_match');
    const result = await trainer.train();
    assert.equal(result.globalStep, 200);
    const [first, last] = firstLast(trainLosses(join(out, LOG_FILE)));
    const ev = await trainer.evaluate();
    t.diagnostic(`SNIPS train loss ${first.toFixed(3)} -> ${last.toFixed(3)}; dev ${JSON.stringify(ev.metrics)}`);
    assert.ok(last < first * 0.6, `loss ${first} -> ${last}`);
    assert.deepEqual(Object.keys(ev.metrics).sort(), ['exact_match', 'intent_accuracy', 'loss', 'slot_f1', 'slot_precision', 'slot_recall']);
    assert.ok(ev.metrics.intent_accuracy > 0.5, `intent accuracy ${ev.metrics.intent_accuracy}`);
    assert.ok(ev.metrics.slot_f1 > 0.2, `slot F1 ${ev.metrics.slot_f1}`);
    // Exact match is the share of utterances with the intent and every slot tag right.
    const det = ev.details as IntentSlotsDetails;
    const exact = dev.filter((u, i) => det.intents[i] === u.intent && u.tags.every((tag, w) => det.slots[i][w] === tag)).length / dev.length;
    assert.equal(ev.metrics.exact_match, exact);
    assert.ok(ev.metrics.exact_match <= ev.metrics.intent_accuracy);

    // One folder: both label sets and the loss weight in config.json, every weight in the file.
    const saved = join(d.dir, 'final');
    await trainer.saveModel(saved);
    const reloaded = await BertForIntentAndSlots.fromPretrained(saved, { log: null });
    assert.deepEqual(reloaded.loadReport.missingKeys, []);
    assert.deepEqual(reloaded.labels, intents);
    assert.equal(reloaded.config.slot_loss_weight, 1.5);
    assert.deepEqual(reloaded.savedConfig().architectures, ['BertForIntentAndSlots']);
    const evReloaded = await evaluateIntentSlots(reloaded, await Tokenizer.fromPretrained(saved), dev, { maxLength: 64, batchSize: 64 });
    assert.deepEqual(evReloaded.details.intents, det.intents);
    assert.deepEqual(evReloaded.details.slots, det.slots);
    assert.deepEqual(evReloaded.metrics, ev.metrics);

    // The pipeline: the same tags as the evaluation, offsets into the raw text.
    const inMemory = await pipeline('intent-slots', { model, tokenizer }, { maxLength: 64 });
    const fromDisk = await pipeline('intent-slots', saved, { maxLength: 64 });
    const texts = dev.slice(0, 12).map((u) => u.tokens.join(' '));
    texts.push('  Play   the song Little Robin Redbreast  ', 'book a table for 4 people in Paris tomorrow', '');
    const a = await inMemory(texts);
    assert.deepEqual(await fromDisk(texts), a, 'the saved model predicts what the in-memory model predicts');
    for (let i = 0; i < 12; i++) {
      const tags = await fromDisk.tags(texts[i]);
      assert.deepEqual(tags.tags, det.slots[i]);
      assert.equal(tags.intent, det.intents[i]);
      assert.equal(a[i].intent.label, det.intents[i]);
    }
    for (const [k, r] of a.entries()) {
      assert.ok(intents.includes(r.intent.label) && r.intent.score > 0 && r.intent.score <= 1);
      for (const s of r.slots) {
        assert.equal(texts[k].slice(s.start, s.end), s.word);
        assert.ok(!/^\s|\s$/.test(s.word) && s.score > 0 && s.score <= 1, JSON.stringify(s));
        assert.ok(slots.includes(`B-${s.entity}`) || slots.includes(`I-${s.entity}`), `${s.entity} is a slot type, without its B-/I- prefix`);
      }
    }
    assert.deepEqual(a.at(-1)!.slots, []);
    assert.ok(a.slice(0, 14).some((r) => r.slots.length > 0));
    t.diagnostic(JSON.stringify(a[12]));
    const single = await inMemory(texts[3]);   // alone: other padding, the same result up to rounding
    assert.equal(single.intent.label, a[3].intent.label);
    assert.ok(Math.abs(single.intent.score - a[3].intent.score) < 1e-5);
    assert.deepEqual(single.slots.map((s) => [s.entity, s.start, s.end]), a[3].slots.map((s) => [s.entity, s.start, s.end]));
    inMemory.dispose();
    fromDisk.dispose();
    reloaded.dispose();
    model.dispose();
  } finally {
    d.cleanup();
  }
});
