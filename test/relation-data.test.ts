// Relation data and markers: the SemEval-2010 Task 8 and JSONL readers (the real files when the
// shared data is there), bad input (missing or doubled markers, overlapping or crossing spans) as
// errors naming file and line, marker insertion, the window kept around the entities, typed markers,
// and the pipeline's two input forms agreeing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { parseMarkedText, parseRelationJsonl, parseSemEval, readRelations } from '../lib/data/semeval.js';
import { BertForRelationClassification } from '../lib/models/bert.js';
import { relationPipeline } from '../lib/pipelines/relation.js';
import { encodeMarked, entityTypes, insertMarkers, markerVocabulary, withMarkerTokens } from '../lib/tasks/relation-markers.js';
import { withEntityMarkers } from '../lib/tasks/relation.js';
import { Tokenizer } from '../lib/tokenizer/index.js';
import { requireSharedData, sharedData } from './helpers.js';

const SEMEVAL = 'relation/semeval2010_task8';
const sample = [
  '1\t"The system as described above has its greatest application in an arrayed <e1>configuration</e1> of antenna <e2>elements</e2>."',
  'Component-Whole(e2,e1)', 'Comment: Not a collection: there is structure here, organisation.', '',
  '2\t"The <e1>child</e1> was carefully wrapped and bound into the <e2>cradle</e2> by means of a cord."', 'Other', 'Comment:', '',
].join('\n');

test('SemEval format: ids, plain text, spans and relations', () => {
  const [a, b] = parseSemEval(sample, 'train.txt');
  assert.equal(a.id, '1');
  assert.equal(a.relation, 'Component-Whole(e2,e1)');
  assert.equal(a.text.slice(a.e1.start, a.e1.end), 'configuration');
  assert.equal(a.text.slice(a.e2.start, a.e2.end), 'elements');
  assert.ok(!a.text.includes('<e'), 'markers removed from the text');
  assert.equal(b.relation, 'Other');
  assert.equal(b.line, 5);
  // The test file without answers: sentence lines only.
  const unlabelled = parseSemEval('8001\t"The <e1>a</e1> b <e2>c</e2>."\n8002\t"<e2>x</e2> and <e1>y</e1>"\n', 'test.txt');
  assert.deepEqual(unlabelled.map((e) => [e.id, e.relation, e.e1, e.e2]), [['8001', undefined, { start: 4, end: 5 }, { start: 8, end: 9 }], ['8002', undefined, { start: 6, end: 7 }, { start: 0, end: 1 }]]);
});

test('the real SemEval-2010 Task 8 files: 8,000 and 2,717 examples, 19 relations, every span its entity', { skip: requireSharedData(`${SEMEVAL}/TRAIN_FILE.TXT`) }, async () => {
  const train = await readRelations(join(sharedData, SEMEVAL, 'TRAIN_FILE.TXT'));
  const test_ = await readRelations(join(sharedData, SEMEVAL, 'TEST_FILE_FULL.TXT'));
  assert.equal(train.length, 8000);
  assert.equal(test_.length, 2717);
  assert.equal(new Set(train.map((e) => e.relation)).size, 19);
  assert.deepEqual([test_[0].id, test_.at(-1)!.id], ['8001', '10717']);
  for (const e of [...train, ...test_]) assert.ok(e.e1.end <= e.e2.start || e.e2.end <= e.e1.start);
});

test('bad input: missing, doubled, misordered and overlapping markers; bad spans; each names file and line', () => {
  const one = (marked: string) => parseSemEval(`7\t"${marked}"\nOther\n`, 'x.txt');
  assert.throws(() => one('The <e1>cat</e1> sat.'), /x\.txt line 1: the marker <e2> is missing/);
  assert.throws(() => one('<e1>a</e1> <e1>b</e1> <e2>c</e2>'), /x\.txt line 1: the marker <e1> occurs more than once/);
  assert.throws(() => one('</e1>a<e1> <e2>c</e2>'), /<\/e1> comes before <e1>/);
  assert.throws(() => one('<e1>a <e2>b</e1> c</e2>'), /the entities overlap/);
  assert.throws(() => one('<e1>a <e2>b</e2></e1>'), /the entities overlap/);
  assert.throws(() => one('<e1></e1> <e2>c</e2>'), /entity 1 is empty/);
  assert.throws(() => one('<e1>a</e1> [E2]c[/E2]'), /mixes <e1> markers with \[E2\]/);
  assert.throws(() => parseSemEval('7 The cat\nOther\n', 'x.txt'), /x\.txt line 1: expected ID<TAB>"sentence/);
  assert.throws(() => parseSemEval('7\t"<e1>a</e1> <e2>b</e2>"\n7\t"<e1>a</e1> <e2>b</e2>"\n', 'x.txt'), /line 2: the id 7 occurs twice/);
  const jsonl = (o: unknown) => parseRelationJsonl(`${JSON.stringify({ text: 'Paris is in France.', relation: 'located_in', ...(o as object) })}\n`, 'r.jsonl');
  assert.throws(() => jsonl({ e1: [0, 5], e2: [3, 8] }), /r\.jsonl line 1: the entity spans overlap \(e1 = \[0, 5\] "Paris", e2 = \[3, 8\] "is is"\)/);
  assert.throws(() => jsonl({ e1: [0, 5], e2: [12, 40] }), /r\.jsonl line 1: e2 = \[12, 40\] is not a non-empty span of the text/);
  assert.throws(() => jsonl({ e1: [0, 5] }), /has e1 but no e2/);
  assert.throws(() => jsonl({ e1: 'Paris', e2: [12, 18] }), /expected e1 as \[start, end\]/);
  assert.throws(() => jsonl({}), /r\.jsonl line 1: no entity markers/);
  const some = `${JSON.stringify({ text: 'a b', e1: [0, 1], e2: [2, 3], relation: 'r' })}\n${JSON.stringify({ id: 'q', text: 'a b', e1: [0, 1], e2: [2, 3] })}\n`;
  assert.throws(() => parseRelationJsonl(some, 'r.jsonl'), /^RootsError: r\.jsonl line 2: example q has no "relation", but others do$/);
  const ok = jsonl({ e1: { start: 0, end: 5, type: 'LOC' }, e2: [12, 18] })[0];
  assert.deepEqual([ok.e1, ok.e2, ok.relation], [{ start: 0, end: 5, type: 'LOC' }, { start: 12, end: 18 }, 'located_in']);
  const marked = parseRelationJsonl('{"id": 3, "text": "[E1]Paris[/E1] is in [E2]France[/E2]."}\n', 'r.jsonl')[0];
  assert.deepEqual([marked.id, marked.text, marked.e1, marked.e2], ['3', 'Paris is in France.', { start: 0, end: 5 }, { start: 12, end: 18 }]);
});

const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'paris', 'is', 'in', 'france', 'the', 'capital', 'of', 'a', 'city', '.'];
const base = () => Tokenizer.fromVocab(vocab, { do_lower_case: true });

test('markers: inserted at the spans (touching spans close first), encoded as single tokens', () => {
  assert.equal(insertMarkers('ab', { start: 0, end: 1 }, { start: 1, end: 2 }, false), '[E1]a[/E1][E2]b[/E2]');
  assert.equal(insertMarkers('ab', { start: 1, end: 2 }, { start: 0, end: 1 }, false), '[E2]a[/E2][E1]b[/E1]');
  const tok = withMarkerTokens(base(), markerVocabulary());
  assert.equal(tok.vocabSize, vocab.length + 4);
  assert.equal(withMarkerTokens(tok, markerVocabulary()), tok, 'a tokenizer that has them is kept');
  const ex = parseMarkedText('<e2>Paris</e2> is the capital of <e1>France</e1>.');
  const enc = encodeMarked(tok, ex, { maxLength: 32, typed: false, where: 'x' });
  assert.deepEqual(tok.convertIdsToTokens(enc.inputIds), ['[CLS]', '[E2]', 'paris', '[/E2]', 'is', 'the', 'capital', 'of', '[E1]', 'france', '[/E1]', '.', '[SEP]']);
  assert.deepEqual(enc.entityPositions, [8, 1]);
  assert.throws(() => encodeMarked(tok, { text: 'a [E1] city', e1: { start: 0, end: 1 }, e2: { start: 7, end: 11 } }, { maxLength: 32, typed: false, where: 'example 4' }),
    /example 4: the text itself contains the marker \[E1\]/);
  assert.throws(() => encodeMarked(base(), ex, { maxLength: 32, typed: false, where: 'x' }), /the tokenizer has no \[E1\] token/);
});

test('a long text keeps a window centred on the entities; entities further apart than the window are an error', () => {
  const tok = withMarkerTokens(base(), markerVocabulary());
  const filler = (n: number) => Array(n).fill('a city').join(' ');
  const text = `${filler(10)} Paris is in France ${filler(10)}`;
  const p = text.indexOf('Paris'), f = text.indexOf('France');
  const enc = encodeMarked(tok, { text, e1: { start: p, end: p + 5 }, e2: { start: f, end: f + 6 } }, { maxLength: 16, typed: false, where: 'x' });
  const tokens = tok.convertIdsToTokens(enc.inputIds);
  assert.equal(tokens.length, 16);
  assert.deepEqual([tokens[0], tokens[15]], ['[CLS]', '[SEP]']);
  // 20 filler tokens each side; the 8 tokens [E1] paris [/E1] is in [E2] france [/E2] centred in 14: 3 before, 3 after.
  assert.deepEqual(tokens.slice(1, 15), ['city', 'a', 'city', '[E1]', 'paris', '[/E1]', 'is', 'in', '[E2]', 'france', '[/E2]', 'a', 'city', 'a']);
  assert.deepEqual(enc.entityPositions, [4, 9]);
  const far = `Paris ${filler(20)} France`;
  assert.throws(() => encodeMarked(tok, { text: far, e1: { start: 0, end: 5 }, e2: { start: far.length - 6, end: far.length } }, { maxLength: 16, typed: false, where: 'example 9' }),
    /example 9: the two entities with their markers span 46 tokens, more than the 14 a window of --max-length 16 holds; raise --max-length/);
});

test('typed markers: one set per entity type, each a token; an entity without a type is an error', () => {
  const examples = [
    { text: 'Paris is in France.', e1: { start: 0, end: 5, type: 'CITY' }, e2: { start: 12, end: 18, type: 'COUNTRY' } },
  ];
  const types = entityTypes(examples);
  assert.deepEqual(types, ['CITY', 'COUNTRY']);
  const tok = withMarkerTokens(base(), markerVocabulary(types));
  assert.equal(tok.vocabSize, vocab.length + 8);
  const enc = encodeMarked(tok, examples[0], { maxLength: 32, typed: true, where: 'x' });
  assert.deepEqual(tok.convertIdsToTokens(enc.inputIds), ['[CLS]', '[E1:CITY]', 'paris', '[/E1:CITY]', 'is', 'in', '[E2:COUNTRY]', 'france', '[/E2:COUNTRY]', '.', '[SEP]']);
  assert.throws(() => entityTypes([{ text: 'ab', e1: { start: 0, end: 1 }, e2: { start: 1, end: 2 }, line: 3 }]), /^RootsError: example 1 \(line 3\): typed markers need an entity type for every entity, but e1 has none/);
  assert.throws(() => encodeMarked(tok, { ...examples[0], e2: { start: 12, end: 18, type: 'PLANET' } }, { maxLength: 32, typed: true, where: 'x' }),
    /no \[E2:PLANET\] token \(entity type "PLANET" was not in the training data\)/);
});

test('pipeline: spans, <e1> marks and [E1] marks give the same logits; topK; bad input', async () => {
  const m = BertForRelationClassification.fromConfig({
    vocab_size: vocab.length, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32, max_position_embeddings: 32,
  }, { labels: ['located_in(e1,e2)', 'located_in(e2,e1)', 'Other'] });
  const { model, tokenizer } = withEntityMarkers(m, base());
  const re = await relationPipeline({ model, tokenizer });
  try {
    const [a, b, c] = await re.logits([
      { text: 'Paris is in France.', e1: [0, 5], e2: [12, 18] }, '<e1>Paris</e1> is in <e2>France</e2>.', '[E1]Paris[/E1] is in [E2]France[/E2].',
    ]);
    assert.deepEqual(a, b);
    assert.deepEqual(a, c);
    const best = await re('<e1>Paris</e1> is in <e2>France</e2>.');
    assert.ok(!Array.isArray(best) && model.labels!.includes(best.relation) && best.score > 0 && best.score <= 1);
    const all = await re('<e1>Paris</e1> is in <e2>France</e2>.', { topK: null }) as { score: number }[];
    assert.equal(all.length, 3);
    assert.ok(Math.abs(all.reduce((s, r) => s + r.score, 0) - 1) < 1e-9);
    await assert.rejects(re('<e1>Paris</e1> is in France.'), /input 0: the marker <e2> is missing/);
    await assert.rejects(re({ text: 'Paris is in France.', e1: [0, 5], e2: [2, 8] }), /input 0: the entity spans overlap/);
  } finally {
    re.dispose();
    model.dispose();
  }
});
