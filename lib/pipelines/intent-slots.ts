/**
 * The intent + slots pipeline: an utterance in, its intent and its slots (with character offsets
 * into the input) out.
 *
 * ```ts
 * const nlu = await pipeline('intent-slots', 'out/snips');
 * await nlu('play the song little robin redbreast');
 * // { intent: { label: 'PlayMusic', score: 0.98 },
 * //   slots: [{ entity: 'music_item', word: 'song', start: 9, end: 13, score: 0.97 },
 * //           { entity: 'track', word: 'little robin redbreast', start: 14, end: 36, score: 0.91 }] }
 * await nlu(['a batch', 'of utterances']);   // one result per utterance
 * ```
 *
 * The text is split into words on whitespace, as the seq.in files the model was trained on are;
 * each word takes the slot tag of its first subword (the one that was trained), and consecutive
 * words form a slot as seqeval reads BIO tags (a `B-` tag or a change of type starts a new one).
 * A slot's score is the mean over its words of the probability of their tags; `word` is
 * `text.slice(start, end)`. Utterances longer than the window are truncated (the words past it
 * get no slot).
 */
import { RootsError, describe, expectPositiveInt } from '../errors.js';
import { BertForIntentAndSlots, type BertPreTrainedModel, type Device, type Precision } from '../models/bert.js';
import { labelsOf } from '../models/config.js';
import { getEntities } from '../metrics/seqeval.js';
import { forwardFeatures } from '../tasks/forward.js';
import { intentSlotFeatures } from '../tasks/intent-slots.js';
import { softmax } from '../tasks/text-classification.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { loadPipelineModel, makePipeline, type PipelineSource } from './source.js';
import type { LabelScore } from './text-classification.js';
import type { HubOptions } from '../hub/cache.js';

export interface Slot {
  /** The slot type (the tag without `B-`/`I-`). */
  entity: string;
  /** `text.slice(start, end)` */
  word: string;
  start: number;
  end: number;
  score: number;
}

export interface IntentSlotsResult {
  intent: LabelScore;
  slots: Slot[];
}

export interface IntentSlotsPipelineOptions extends HubOptions {
  device?: Device;
  precision?: Precision;
  /** Utterances per forward pass (default 16). */
  batchSize?: number;
  /** Longest input in tokens, [CLS]/[SEP] included (default: min(512, max_position_embeddings)). */
  maxLength?: number;
}

/** A callable intent + slots pipeline. */
export interface IntentSlotsPipeline {
  (text: string): Promise<IntentSlotsResult>;
  (texts: readonly string[]): Promise<IntentSlotsResult[]>;
  readonly task: 'intent-slots';
  readonly model: BertPreTrainedModel;
  readonly tokenizer: Tokenizer;
  readonly intents: readonly string[];
  readonly slotLabels: readonly string[];
  /** Word-level tags of an utterance (whitespace words), for inspection and tests. */
  tags(text: string): Promise<{ intent: string; words: string[]; tags: string[] }>;
  dispose(): void;
  [Symbol.dispose](): void;
}

interface Word { text: string; start: number; end: number }

function splitWords(text: string): Word[] {
  const out: Word[] = [];
  for (const m of text.matchAll(/\S+/g)) out.push({ text: m[0], start: m.index!, end: m.index! + m[0].length });
  return out;
}

export async function intentSlotsPipeline(source: PipelineSource, options: IntentSlotsPipelineOptions = {}): Promise<IntentSlotsPipeline> {
  const batchSize = expectPositiveInt('batchSize', options.batchSize ?? 16);
  const loaded = await loadPipelineModel(source, BertForIntentAndSlots, 'a trained intent-slots model (BertForIntentAndSlots)', options,
    { task: 'intent-slots', needs: 'a BertForIntentAndSlots' });
  const { model, tokenizer } = loaded;
  const intents = model.labels!;
  const slotLabels = labelsOf(model.config, 'slot_id2label')!;
  const maxLength = expectPositiveInt('maxLength', options.maxLength ?? Math.min(512, model.config.max_position_embeddings));
  const outside = Math.max(0, slotLabels.indexOf('O'));

  /** Per utterance: the intent scores, and each word's tag id and probability (-1: not seen). */
  const run = async (texts: readonly string[]) => {
    const words = texts.map((t, i) => {
      if (typeof t !== 'string') throw new RootsError('ERR_INVALID_ARG', `Expected a string for text ${i} but received ${describe(t)}`);
      return splitWords(t);
    });
    const features = intentSlotFeatures(tokenizer, words.map((w) => ({ tokens: w.map((x) => x.text), tags: [] })), undefined, { maxLength });
    const outputs = await forwardFeatures(model, features, { batchSize, padTokenId: tokenizer.padTokenId ?? 0 });
    const S = slotLabels.length;
    return features.map((f, i) => {
      const tagIds = new Int32Array(words[i].length).fill(outside);
      const probs = new Float64Array(words[i].length).fill(-1);
      const rows = outputs.logits2![i];
      for (let p = 0; p < f.wordIds.length; p++) {
        const w = f.wordIds[p];
        if (w < 0 || (p > 0 && f.wordIds[p - 1] === w)) continue;
        const s = softmax(rows.subarray(p * S, (p + 1) * S));
        let best = 0;
        for (let c = 1; c < S; c++) if (s[c] > s[best]) best = c;
        tagIds[w] = best;
        probs[w] = s[best];
      }
      return { intent: softmax(outputs.logits[i]), words: words[i], tagIds, probs };
    });
  };

  const resultOf = (text: string, r: Awaited<ReturnType<typeof run>>[number]): IntentSlotsResult => {
    let best = 0;
    for (let c = 1; c < r.intent.length; c++) if (r.intent[c] > r.intent[best]) best = c;
    const tags = Array.from(r.tagIds, (id) => slotLabels[id]);
    const slots = getEntities(tags).map((e) => {
      let score = 0;
      for (let w = e.start; w < e.end; w++) score += Math.max(0, r.probs[w]);
      const start = r.words[e.start].start;
      const end = r.words[e.end - 1].end;
      return { entity: e.type, word: text.slice(start, end), start, end, score: score / (e.end - e.start) };
    });
    return { intent: { label: intents[best], score: r.intent[best] }, slots };
  };

  const call = async (input: string | readonly string[]) => {
    const single = typeof input === 'string';
    if (!single && !Array.isArray(input)) throw new RootsError('ERR_INVALID_ARG', `Expected a string or an array of strings but received ${describe(input)}`);
    const texts = single ? [input as string] : (input as readonly string[]);
    const runs = await run(texts);
    const out = runs.map((r, i) => resultOf(texts[i], r));
    return single ? out[0] : out;
  };
  const tags = async (text: string) => {
    const [r] = await run([text]);
    const res = resultOf(text, r);
    return { intent: res.intent.label, words: r.words.map((w) => w.text), tags: Array.from(r.tagIds, (id) => slotLabels[id]) };
  };
  return makePipeline<IntentSlotsPipeline>('intent-slots', loaded, call, { intents, slotLabels, tags });
}
