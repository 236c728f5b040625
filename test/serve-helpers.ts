// Shared by the serving tests and bench: a folder of tiny trained-shape models (random weights, saved
// as real model folders), one per served task, and a LoRA adapter over the classifier.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  BertForIntentAndSlots, BertForMaskedLM, BertForQuestionAnswering, BertForRelationClassification, BertForSequenceClassification,
  BertForTokenClassification, type BertPreTrainedModel,
} from '../lib/models/bert.js';
import { withEntityMarkers } from '../lib/tasks/relation.js';
import { Tokenizer } from '../lib/tokenizer/index.js';

export const SERVE_VOCAB = [
  '[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'angela', 'merkel', 'visited', 'paris', 'play', 'some', 'jazz', 'by', 'miles',
  'da', '##vis', 'a', 'great', 'movie', 'the', 'is', 'of', 'france', 'capital', 'bad', 'and', 'in', 'berlin', '.', ',',
];

const TINY = { hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32, max_position_embeddings: 64, initializer_range: 0.5 };

export const NER_LABELS = ['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC'];

/** Deterministic numbers in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export const RELATION_LABELS = ['Cause-Effect(e1,e2)', 'Cause-Effect(e2,e1)', 'Entity-Destination(e1,e2)', 'Other'];
/** The prompt (template and verbalizer) of the `prompt` folder, as `roots train --task prompt-classification` saves it. */
export const PROMPT = { prompt_template: '{text} the movie is [MASK] .', prompt_verbalizer: { positive: ['great'], negative: ['bad'] } };

/**
 * Writes `ner`, `cls`, `slots`, `mlm`, `qa`, `rel` (a relation model with its entity markers), `prompt`
 * (a masked-LM with a saved prompt: zero-shot-classification) (model folders) and `cls-lora` (a LoRA
 * adapter folder over `cls`, its B moved off zero so it changes the answers) under `dir`; returns the
 * tokenizer (without the relation markers).
 */
export async function writeServeModels(dir: string, only?: readonly string[]): Promise<Tokenizer> {
  const tokenizer = Tokenizer.fromVocab(SERVE_VOCAB, { do_lower_case: true });
  const cfg = { ...TINY, vocab_size: SERVE_VOCAB.length };
  const want = (n: string) => !only || only.includes(n);
  const save = async (name: string, model: BertPreTrainedModel, tok = tokenizer) => {
    mkdirSync(join(dir, name), { recursive: true });
    try { await model.save(join(dir, name), { tokenizer: tok }); } finally { model.dispose(); }
  };
  if (want('rel')) {
    const marked = withEntityMarkers(BertForRelationClassification.fromConfig(cfg, { labels: RELATION_LABELS, seed: 9, log: null }), tokenizer, { seed: 10 });
    await save('rel', marked.model, marked.tokenizer);
  }
  if (want('prompt')) await save('prompt', BertForMaskedLM.fromConfig({ ...cfg, ...PROMPT }, { seed: 11, log: null }));
  if (want('ner')) await save('ner', BertForTokenClassification.fromConfig(cfg, { labels: NER_LABELS, seed: 3, log: null }));
  if (want('cls') || want('cls-lora')) await save('cls', BertForSequenceClassification.fromConfig(cfg, { labels: ['neg', 'pos'], seed: 4, log: null }));
  if (want('slots')) {
    await save('slots', BertForIntentAndSlots.fromConfig(cfg, { labels: ['PlayMusic', 'GetWeather'], slotLabels: ['O', 'B-artist', 'I-artist', 'B-genre'], seed: 5, log: null }));
  }
  if (want('mlm')) await save('mlm', BertForMaskedLM.fromConfig(cfg, { seed: 6, log: null }));
  if (want('qa')) await save('qa', BertForQuestionAnswering.fromConfig(cfg, { seed: 8, log: null }));
  if (want('cls-lora')) {
    const base = await BertForSequenceClassification.fromPretrained(join(dir, 'cls'), { log: null });
    base.addAdapter('lora', { type: 'lora', r: 2, targetModules: ['query', 'value'] });
    const r = rng(7);
    for (const p of base.adapterParameters('lora')) {
      const v = base.getAdapterParameter('lora', p.name);
      for (let i = 0; i < v.length; i++) v[i] += 0.8 * (r() - 0.5);
      base.setAdapterParameter('lora', p.name, v);
    }
    base.setAdapter('lora');
    await save('cls-lora', base);
  }
  return tokenizer;
}

/** Sentences from the fixture's vocabulary. */
export const SENTENCES = [
  'angela merkel visited paris .', 'play some jazz by miles davis', 'a great movie', 'the capital of france is paris',
  'a bad movie , a bad movie', 'angela visited berlin and paris', 'miles davis', 'jazz', 'play jazz in berlin',
  'the movie is great', 'merkel', 'paris is the capital of france . angela merkel visited berlin .',
];

/**
 * Deep equality where numbers may differ by `tol` (and nothing else may differ): a batch pads its
 * inputs to one length, which moves the last bits of the logits against a call on the input alone.
 */
export function assertClose(actual: unknown, expected: unknown, tol = 1e-5, path = '$'): void {
  if (typeof expected === 'number') {
    if (typeof actual !== 'number' || !(Math.abs(actual - expected) <= tol)) throw new Error(`${path}: ${actual} vs ${expected} (tolerance ${tol})`);
    return;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) throw new Error(`${path}: ${JSON.stringify(actual)} vs ${JSON.stringify(expected)}`);
    expected.forEach((x, i) => { assertClose(actual[i], x, tol, `${path}[${i}]`); });
    return;
  }
  if (expected && typeof expected === 'object') {
    const ka = Object.keys(actual as object).sort(), ke = Object.keys(expected).sort();
    if (!actual || typeof actual !== 'object' || ka.join() !== ke.join()) throw new Error(`${path}: keys ${ka} vs ${ke}`);
    for (const k of ke) assertClose((actual as Record<string, unknown>)[k], (expected as Record<string, unknown>)[k], tol, `${path}.${k}`);
    return;
  }
  if (actual !== expected) throw new Error(`${path}: ${JSON.stringify(actual)} vs ${JSON.stringify(expected)}`);
}
