// Entity offsets around invisible characters: the Tokenizer's offsets through the aggregation of the
// ner pipeline (`none` and `simple`, where entity spans are token spans), so that
// `text.slice(start, end)` is exactly the entity's text for zero-width and format characters
// (U+200B, U+200D, U+202C, U+00AD, U+FEFF, U+2060) at word edges and inside words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tokenizer } from '../lib/tokenizer/index.js';
import { aggregateEntities, type EntityGroup, type PreEntity, type TokenEntity } from '../lib/pipelines/aggregation.js';
import { preEntities as pipelinePreEntities } from '../lib/pipelines/ner.js';

const LABELS = ['O', 'B-LOC', 'I-LOC'];
const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'i', 'love', 'new', 'york', 'and', 'paris', 'zu', '##rich', '.'];
const INVISIBLE = ['\u200b', '\u200d', '\u202c', '\u00ad', '\ufeff', '\u2060'];

/** Pre-entities as the ner pipeline builds them, with scores that tag `entities` (lowercased words) as LOC. */
function preEntities(tok: Tokenizer, text: string, entities: string[][]): PreEntity[] {
  const e = tok.encode(text, null, { addSpecialTokens: false, returnOffsets: true });
  const words: string[] = [];
  e.tokens.forEach((t, i) => { words[e.wordIds[i]!] = (words[e.wordIds[i]!] ?? '') + t.replace(/^##/, ''); });
  return e.tokens.map((token, i) => {
    const w = e.wordIds[i]!;
    const first = i === 0 || e.wordIds[i - 1] !== w;
    const entity = entities.find((ent) => ent.includes(words[w]));
    const label = entity === undefined ? 0 : first && words[w] === entity[0] ? 1 : 2;
    const scores = LABELS.map((_, k) => (k === label ? 0.9 : 0.05));
    const [start, end] = e.offsets![i];
    return { word: token, scores, start, end, index: i + 1, isSubword: token.startsWith('##') };
  });
}

test("aggregation 'none' and 'simple': entity spans slice out exactly the entity, invisible characters outside", () => {
  const tok = Tokenizer.fromVocab(VOCAB);
  for (const c of INVISIBLE) {
    const name = `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
    // at word edges (before, after, both), next to punctuation, and inside words
    const text = `I love ${c}New${c} ${c}York${c} and ${c}Pa${c}ris${c}. Zu${c}rich${c}`;
    const pre = preEntities(tok, text, [['new', 'york'], ['paris'], ['zurich']]);
    const none = aggregateEntities(pre, 'none', LABELS) as TokenEntity[];
    assert.deepEqual(none.map((e) => [e.word, text.slice(e.start, e.end)]), [
      ['new', 'New'], ['york', 'York'], ['paris', `Pa${c}ris`], ['zu', 'Zu'], ['##rich', 'rich'],
    ], name);
    const simple = aggregateEntities(pre, 'simple', LABELS) as EntityGroup[];
    assert.deepEqual(simple.map((g) => [g.entity_group, g.word, text.slice(g.start, g.end)]), [
      ['LOC', 'new york', `New${c} ${c}York`], ['LOC', 'paris', `Pa${c}ris`], ['LOC', 'zurich', `Zu${c}rich`],
    ], name);
    // the first and last characters of every entity are visible
    for (const g of simple) {
      assert.doesNotMatch(text[g.start], /\p{Cf}/u, name);
      assert.doesNotMatch(text[g.end - 1], /\p{Cf}/u, name);
    }
  }
});

test('ner pipeline: a whole word holding a soft hyphen or combining accent is not a continuation of the word before', () => {
  const tok = Tokenizer.fromVocab([...VOCAB, 'cooperation']);
  for (const inside of ['\u00ad', '\u200b']) {
    const text = `new co${inside}operation in zurich`;
    const e = tok.encode(text, null, { addSpecialTokens: false, returnOffsets: true });
    const pre = pipelinePreEntities({ text, ids: e.ids, tokens: e.tokens, offsets: e.offsets! }, new Float32Array(e.ids.length * 3), 3, tok.unkTokenId);
    assert.deepEqual(pre.map((p) => [p.word, p.isSubword, text.slice(p.start, p.end)]), [
      ['new', false, 'new'], ['cooperation', false, `co${inside}operation`], ['in', false, 'in'], ['zu', false, 'zu'], ['##rich', true, 'rich'],
    ], `U+${inside.codePointAt(0)!.toString(16)}`);
  }
});
