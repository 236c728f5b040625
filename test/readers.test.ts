// Readers and tag schemes, on the real corpora in ../shared/data (read in place, never copied;
// ROOTS_SHARED_DATA overrides the folder) and on small files written to a temp folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import fc from 'fast-check';
import {
  readConll, parseConll, readTaggedJsonl, readTextJsonl, readDelimited, readTrec, readIntentSlots, decodeText,
  readTaggedData, readIntentSlotData, readTextData, chunkTagProblem, tagsToSpans, spansToTags, convertTags, detectScheme, TAG_SCHEMES, type TaggedSentence, type Span, type TagScheme,
} from '../lib/data/index.js';
import type { RootsError } from '../lib/errors.js';
import { requireSharedData } from './helpers.js';

const DATA = process.env.ROOTS_SHARED_DATA ? pathToFileURL(process.env.ROOTS_SHARED_DATA.replace(/\/?$/, '/')) : new URL('../../shared/data/', import.meta.url);
const data = (p: string): string => fileURLToPath(new URL(p, DATA));
const skip = requireSharedData('ner/conll2003/eng.train', 'ner/conll2003/eng.testa', 'ner/wnut17', 'textcls/sst2', 'textcls/trec', 'intent/snips/train');

const tmp = await mkdtemp(join(tmpdir(), 'roots-readers-'));
test.after(() => rm(tmp, { recursive: true, force: true }));
async function file(name: string, content: string | Uint8Array): Promise<string> {
  const path = join(tmp, name);
  await writeFile(path, content);
  return path;
}

/** Sentences, tokens, entities (spans) and entities per type. */
function counts(sentences: TaggedSentence[]): { sentences: number; tokens: number; entities: number; types: Record<string, number> } {
  const types: Record<string, number> = {};
  let tokens = 0;
  let entities = 0;
  for (const s of sentences) {
    tokens += s.tokens.length;
    for (const span of tagsToSpans(s.tags)) { entities++; types[span.type] = (types[span.type] ?? 0) + 1; }
  }
  return { sentences: sentences.length, tokens, entities, types };
}

// Figures: sentence and token counts are those of the CoNLL-2003 paper (Tjong Kim Sang & De Meulder
// 2003, Table 1, without the -DOCSTART- pseudo-sentences), entity counts its Table 2; PROVENANCE.md
// gives the -DOCSTART- lines (945/215/230, the first of each file missing, so 946/216/231 documents).
test('CoNLL-2003: four columns, IOB1, -DOCSTART- boundaries, paper counts', { skip }, async () => {
  const expected = {
    'eng.train': { sentences: 14041, tokens: 203621, entities: 23499, types: { LOC: 7140, MISC: 3438, ORG: 6321, PER: 6600 }, documents: 946 },
    'eng.testa': { sentences: 3250, tokens: 51362, entities: 5942, types: { LOC: 1837, MISC: 922, ORG: 1341, PER: 1842 }, documents: 216 },
    'eng.testb': { sentences: 3453, tokens: 46435, entities: 5648, types: { LOC: 1668, MISC: 702, ORG: 1661, PER: 1617 }, documents: 231 },
  };
  for (const [name, want] of Object.entries(expected)) {
    const sentences = await readConll(data(`ner/conll2003/${name}`));
    const { documents, ...rest } = want;
    assert.deepEqual(counts(sentences), rest, name);
    assert.equal(new Set(sentences.map((s) => s.document)).size, documents, name);
    assert.equal(sentences.at(-1)!.document, documents - 1);
    assert.equal(detectScheme(sentences.map((s) => s.tags)), 'IOB1', name);
  }
  const train = await readConll(data('ner/conll2003/eng.train'));
  assert.deepEqual(train[0], {
    tokens: ['EU', 'rejects', 'German', 'call', 'to', 'boycott', 'British', 'lamb', '.'],
    tags: ['I-ORG', 'O', 'I-MISC', 'O', 'O', 'O', 'I-MISC', 'O', 'O'],
    document: 0,
    line: 1,
  });
  // Another column: the POS tags (column 1)
  const pos = await readConll(data('ner/conll2003/eng.testa'), { tagColumn: 1 });
  assert.deepEqual([pos[0].tokens[0], pos[0].tags[0]], ['CRICKET', 'NNP']);
});

// WNUT-17 figures: PROVENANCE.md (train separators: 1000 empty lines + 2394 TAB-only lines = 3394
// sentences); sentence/token/entity counts as published for the shared task (3,394 / 1,009 / 1,287
// sentences; 1,975 / 836 / 1,079 entities), recounted independently with a Python script.
test('WNUT-17: TAB-only separator lines, IOB2, the annotated test file', { skip }, async () => {
  const train = await readConll(data('ner/wnut17/wnut17train.conll'));
  assert.deepEqual(counts(train), {
    sentences: 1000 + 2394, tokens: 62730, entities: 1975,
    types: { corporation: 221, 'creative-work': 140, group: 264, location: 548, person: 660, product: 142 },
  });
  assert.ok(train.every((s) => s.tokens.every((t) => t.trim() !== '')), 'no whitespace token from the TAB-only lines');
  const dev = await readConll(data('ner/wnut17/emerging.dev.conll'));
  assert.deepEqual([dev.length, counts(dev).tokens, counts(dev).entities], [1009, 15733, 836]);
  const test = await readConll(data('ner/wnut17/emerging.test.annotated'));
  assert.deepEqual(counts(test), {
    sentences: 1287, tokens: 23394, entities: 1079,
    types: { corporation: 66, 'creative-work': 142, group: 165, location: 150, person: 429, product: 127 },
  });
  for (const s of [train, dev, test]) assert.equal(detectScheme(s.map((x) => x.tags)), 'IOB2');
  // emerging.test.conll carries comma-joined multi-annotator tags: same tokens, different tags
  const raw = await readConll(data('ner/wnut17/emerging.test.conll'));
  assert.deepEqual(raw.map((s) => s.tokens), test.map((s) => s.tokens));
  assert.ok(raw.some((s) => s.tags.includes('B-corporation,B-person,B-location')));
  assert.ok(test.every((s) => s.tags.every((t) => !t.includes(','))));
});

test('SST-2: header picks the columns (label first, CRLF), GLUE counts from PROVENANCE.md', { skip }, async () => {
  const train = await readDelimited(data('textcls/sst2/train.tsv'));
  assert.equal(train.length, 67349);
  assert.equal(train.filter((e) => e.label === '1').length, 37569);
  assert.equal(train.filter((e) => e.label === '0').length, 29780);
  assert.deepEqual(train[0], { text: 'hide new secretions from the parental units', label: '0', line: 2 });
  assert.ok(train.every((e) => !e.text.includes('\r')));
  const dev = await readDelimited(data('textcls/sst2/dev.tsv')); // header "label<TAB>content"
  assert.equal(dev.length, 872);
  const testSplit = await readDelimited(data('textcls/sst2/test.tsv'));
  assert.equal(testSplit.length, 1821);
  assert.ok(testSplit[1].text.includes('crème brûlée'), 'UTF-8 text read intact');
  await assert.rejects(readDelimited(data('textcls/sst2/dev.tsv'), { textColumn: 'sentence' }),
    (e: RootsError) => e.code === 'ERR_PARSE' && /dev.tsv:1: the header has columns \[label, content\] but no text column "sentence"/.test(e.message));
});

test('TREC: Latin-1 file fails as UTF-8 with a clear hint, reads with encoding latin1', { skip }, async () => {
  await assert.rejects(readTrec(data('textcls/trec/TREC.train.all')), (e: RootsError) =>
    e.code === 'ERR_PARSE' && /TREC.train.all:66: invalid UTF-8 at byte \d+ .*bytes f0 .*encoding: 'latin1'/.test(e.message));
  const train = await readTrec(data('textcls/trec/TREC.train.all'), { encoding: 'latin1' });
  assert.equal(train.length, 5452);
  assert.equal(train[65].text, 'Which city has the oldest relationship as a sister\u00f0city with Los Angeles ?');
  assert.deepEqual(train[0], { text: 'How did serfdom develop in and then leave Russia ?', label: 'DESC', line: 1 });
  assert.deepEqual(new Set(train.map((e) => e.label)), new Set(['DESC', 'ENTY', 'ABBR', 'HUM', 'LOC', 'NUM']));
  const test = await readTrec(data('textcls/trec/TREC.test.all'));
  assert.equal(test.length, 500);
  await assert.rejects(readTrec(data('textcls/trec/TREC.test.all'), { labels: 'fine' }), /numeric \(coarse\) labels only/);
});

test('TREC: COARSE:fine format', async () => {
  const path = await file('trec.txt', 'DESC:manner How did serfdom develop ?\nHUM:ind Who was Galileo ?\n');
  assert.deepEqual(await readTrec(path), [
    { text: 'How did serfdom develop ?', label: 'DESC', line: 1 },
    { text: 'Who was Galileo ?', label: 'HUM', line: 2 },
  ]);
  assert.deepEqual((await readTrec(path, { labels: 'fine' })).map((e) => e.label), ['DESC:manner', 'HUM:ind']);
  const bad = await file('trec-bad.txt', 'DESC:manner ok ?\nno label here\n');
  await assert.rejects(readTrec(bad), /trec-bad.txt:2: expected "COARSE:fine question" or "N question" but found "no label here"/);
});

test('SNIPS: seq.in / seq.out / label folders, line-aligned, labels as listed in the folder', { skip }, async () => {
  const intents = readFileSync(data('intent/snips/intent_label.txt'), 'utf8').trim().split('\n').filter((l) => l !== 'UNK');
  const slots = new Set(readFileSync(data('intent/snips/slot_label.txt'), 'utf8').trim().split('\n').filter((l) => l !== 'PAD' && l !== 'UNK'));
  const sizes = { train: 13084, dev: 700, test: 700 }; // Goo et al. 2018 splits
  for (const [split, n] of Object.entries(sizes)) {
    const examples = await readIntentSlots(data(`intent/snips/${split}`));
    assert.equal(examples.length, n, split);
    assert.deepEqual([...new Set(examples.map((e) => e.intent))].sort(), [...intents].sort(), split);
    for (const e of examples) {
      assert.equal(e.tags.length, e.tokens.length);
      for (const t of e.tags) assert.ok(slots.has(t), `${split}:${e.line}: tag ${t} not in slot_label.txt`);
    }
    assert.equal(detectScheme(examples.map((e) => e.tags)), 'IOB2');
  }
  const train = await readIntentSlots(data('intent/snips/train'));
  assert.deepEqual(train[1].tokens, ['add', 'step', 'to', 'me', 'to', 'the', '50', 'clásicos', 'playlist']);
  assert.equal(train[1].intent, 'AddToPlaylist');
});

test('intent-slot folders: misaligned files are errors naming both', async () => {
  const dir = join(tmp, 'slots');
  await mkdir(dir);
  await writeFile(join(dir, 'seq.in'), 'play some jazz\nbook a table\n');
  await writeFile(join(dir, 'seq.out'), 'O O B-genre\nO O\n');
  await assert.rejects(readIntentSlots(dir), /seq.out:2: 2 tags for the 3 words of .*seq.in:2/);
  await writeFile(join(dir, 'seq.out'), 'O O B-genre\nO O B-thing\n');
  const ok = await readIntentSlots(dir);
  assert.equal(ok[0].intent, undefined); // no label file
  await writeFile(join(dir, 'label'), 'PlayMusic\n');
  await assert.rejects(readIntentSlots(dir), /label has 1 lines but .*seq.in has 2/);
});

test('CoNLL: columns, separators of whitespace, strictness, clear errors', async () => {
  const text = '-DOCSTART- -X- O O\n\nJohn NNP B-PER\nlives VBZ O\n \t \nin IN O\nParis NNP B-LOC\n\n-DOCSTART- -X- O O\nHi UH O\n';
  assert.deepEqual(parseConll(text), [
    { tokens: ['John', 'lives'], tags: ['B-PER', 'O'], document: 0, line: 3 },
    { tokens: ['in', 'Paris'], tags: ['O', 'B-LOC'], document: 0, line: 6 },
    { tokens: ['Hi'], tags: ['O'], document: 1, line: 10 },
  ]);
  assert.deepEqual(parseConll('New York\tB-LOC\n', {}).map((s) => s.tokens), [['New York']]); // TAB lines keep spaces in tokens
  assert.deepEqual(parseConll('a x A\nb y B\n', { tokenColumn: 1, tagColumn: 0 })[0], { tokens: ['x', 'y'], tags: ['a', 'b'], document: 0, line: 1 });
  assert.deepEqual(parseConll('a\nb\n', { tagColumn: null })[0].tags, []);
  assert.throws(() => parseConll('John NNP B-PER\nlives O\n', { source: 'x.conll' }), (e: RootsError) =>
    e.code === 'ERR_PARSE' && e.message === 'x.conll:2: expected 3 columns like line 1 but found 2: "lives O" ' +
    '(a token with a space in it? Separate the columns with TABs; the API reads ragged lines with { strictColumns: false }, the CLI has no flag for it)');
  assert.throws(() => parseConll('John\n', { source: 'x.conll' }), /x.conll:1: expected at least 2 columns/);
  assert.throws(() => parseConll('a b\n', { tagColumn: 5, strictColumns: false, source: 'y' }), /y:1: expected at least 6 columns \(token column 0, tag column 5\) but found 2/);
  const path = await file('latin.conll', Buffer.from('Z\u00fcrich B-LOC\n', 'latin1'));
  await assert.rejects(readConll(path), /latin.conll:1: invalid UTF-8 at byte 1 \(column 2, bytes fc/);
  assert.deepEqual((await readConll(path, { encoding: 'latin1' }))[0].tokens, ['Zürich']);
  await assert.rejects(readConll(join(tmp, 'missing.conll')), (e: RootsError) => e.code === 'ERR_IO' && /missing.conll: no such file/.test(e.message));
});

test('UTF-8 detection: BOM dropped, overlong and truncated sequences rejected', () => {
  assert.equal(decodeText(new Uint8Array([0xef, 0xbb, 0xbf, 0x61]), 'f'), 'a');
  assert.throws(() => decodeText(new Uint8Array([0x61, 0x0a, 0xc0, 0x80]), 'f'), /f:2: invalid UTF-8 at byte 2 \(column 1/);
  assert.throws(() => decodeText(new Uint8Array([0x61, 0xe2, 0x82]), 'f'), /f:1: invalid UTF-8 at byte 1/);
  assert.throws(() => decodeText(new Uint8Array([0xed, 0xa0, 0x80]), 'f'), /byte 0/); // a UTF-16 surrogate
  assert.equal(decodeText(new TextEncoder().encode('Zürich 🙂'), 'f'), 'Zürich 🙂');
});

test('JSONL: tokens/tags, text/label, text_a/text_b, multi-label, integer labels, errors', async () => {
  const tagged = await file('ner.jsonl', '{"tokens": ["John", "lives"], "tags": ["B-PER", "O"]}\n\n{"tokens": ["x"], "ner_tags": [0]}\n');
  assert.deepEqual(await readTaggedJsonl(tagged, { tagNames: ['O', 'B-PER'] }), [
    { tokens: ['John', 'lives'], tags: ['B-PER', 'O'], line: 1 },
    { tokens: ['x'], tags: ['O'], line: 3 },
  ]);
  const texts = await file('cls.jsonl', [
    '{"text": "good film", "label": "pos"}',
    '{"text_a": "A man sleeps.", "text_b": "A person rests.", "label": 0}',
    '{"text": "sports and politics", "label": ["sports", "politics"]}',
  ].join('\n'));
  assert.deepEqual(await readTextJsonl(texts), [
    { text: 'good film', label: 'pos', line: 1 },
    { text: 'A man sleeps.', textPair: 'A person rests.', label: '0', line: 2 },
    { text: 'sports and politics', label: ['sports', 'politics'], line: 3 },
  ]);
  const bad = await file('bad.jsonl', '{"text": "ok", "label": 1}\n{"text": "oops", label: 1}\n');
  await assert.rejects(readTextJsonl(bad), (e: RootsError) => e.code === 'ERR_PARSE' && /bad.jsonl:2: invalid JSON/.test(e.message));
  const mismatch = await file('mismatch.jsonl', '{"tokens": ["a", "b"], "tags": ["O"]}\n');
  await assert.rejects(readTaggedJsonl(mismatch), /mismatch.jsonl:1: "tokens" has 2 tokens but "tags" has 1 tags/);
  const noText = await file('notext.jsonl', '{"review": "x", "label": 1}\n');
  await assert.rejects(readTextJsonl(noText), /notext.jsonl:1: expected a string field \(one of text, text_a, sentence, sentence1\) but found keys review, label/);
  const noLabel = await file('nolabel.jsonl', '{"text": "x"}\n');
  await assert.rejects(readTextJsonl(noLabel), /nolabel.jsonl:1: no "label" field/);
  assert.deepEqual(await readTextJsonl(noLabel, { requireLabel: false }), [{ text: 'x', line: 1 }]);
});

test('CSV/TSV: quoted fields with delimiters, doubled quotes and newlines; column options; errors', async () => {
  const csv = await file('pairs.csv', 'id,sentence1,sentence2,label\r\n1,"Hello, world","He said ""hi""",yes\r\n2,"two\nlines",plain,no\r\n');
  assert.deepEqual(await readDelimited(csv, { textPairColumn: 'sentence2' }), [
    { text: 'Hello, world', textPair: 'He said "hi"', label: 'yes', line: 2 },
    { text: 'two\nlines', textPair: 'plain', label: 'no', line: 3 },
  ]);
  const multi = await file('multi.tsv', 'text\ttopics\nfoo\ta, b\n');
  assert.deepEqual(await readDelimited(multi, { labelColumn: 'topics', labelSeparator: ',' }), [{ text: 'foo', label: ['a', 'b'], line: 2 }]);
  assert.deepEqual(await readDelimited(multi, { labelColumn: null }), [{ text: 'foo', line: 2 }]);
  const short = await file('short.tsv', 'sentence\tlabel\nok\t1\nmissing label\n');
  await assert.rejects(readDelimited(short), /short.tsv:3: expected 2 fields like the header but found 1/);
  const unclosed = await file('unclosed.csv', 'text,label\n"never closed,1\n');
  await assert.rejects(readDelimited(unclosed), /unclosed.csv:2: quoted field never closed/);
  const empty = await file('empty.tsv', '');
  await assert.rejects(readDelimited(empty), /empty.tsv: empty file/);
});

// ---------------------------------------------------------------------------------------------
// Tag schemes
// ---------------------------------------------------------------------------------------------

test('tag schemes: hand-checked conversions', () => {
  const iob1 = ['I-PER', 'I-PER', 'B-PER', 'O', 'I-LOC', 'I-ORG', 'I-ORG'];
  const spans: Span[] = [{ type: 'PER', start: 0, end: 2 }, { type: 'PER', start: 2, end: 3 }, { type: 'LOC', start: 4, end: 5 }, { type: 'ORG', start: 5, end: 7 }];
  assert.deepEqual(tagsToSpans(iob1), spans);
  assert.deepEqual(convertTags(iob1, 'IOB2'), ['B-PER', 'I-PER', 'B-PER', 'O', 'B-LOC', 'B-ORG', 'I-ORG']);
  assert.deepEqual(convertTags(iob1, 'IOE1'), ['I-PER', 'E-PER', 'I-PER', 'O', 'I-LOC', 'I-ORG', 'I-ORG']);
  assert.deepEqual(convertTags(iob1, 'IOE2'), ['I-PER', 'E-PER', 'E-PER', 'O', 'E-LOC', 'I-ORG', 'E-ORG']);
  assert.deepEqual(convertTags(iob1, 'IOBES'), ['B-PER', 'E-PER', 'S-PER', 'O', 'S-LOC', 'B-ORG', 'E-ORG']);
  assert.deepEqual(convertTags(iob1, 'BILOU'), ['B-PER', 'L-PER', 'U-PER', 'O', 'U-LOC', 'B-ORG', 'L-ORG']);
  assert.deepEqual(convertTags(convertTags(iob1, 'BILOU'), 'IOB1'), iob1);
  // ill-formed IOB2 (I- after O) reads as conlleval does: a chunk starts there
  assert.deepEqual(tagsToSpans(['O', 'I-X', 'I-X', 'B-Y']), [{ type: 'X', start: 1, end: 3 }, { type: 'Y', start: 3, end: 4 }]);
  assert.deepEqual(tagsToSpans(['B', 'I', 'O']), [{ type: '', start: 0, end: 2 }]);
  assert.throws(() => tagsToSpans(['O', 'X-PER']), /at position 1 but found "X-PER"/);
  assert.throws(() => spansToTags([{ type: 'A', start: 0, end: 2 }, { type: 'B', start: 1, end: 3 }], 3, 'IOB2'), /overlap/);
  assert.equal(detectScheme([['O', 'O']]), null);
  assert.equal(detectScheme([['B-X', 'E-X', 'S-Y']]), 'IOBES');
  assert.equal(detectScheme([['U-X', 'B-Y', 'L-Y']]), 'BILOU');
  assert.equal(detectScheme([['I-X', 'E-X', 'O']]), 'IOE2');
  assert.equal(detectScheme([['I-X', 'E-X', 'I-X', 'O']]), 'IOE1');
});

test('tag schemes: every scheme round-trips the spans of CoNLL-2003 train', { skip }, async () => {
  const train = await readConll(data('ner/conll2003/eng.train'));
  for (const scheme of TAG_SCHEMES) {
    for (const s of train) assert.deepEqual(tagsToSpans(convertTags(s.tags, scheme)), tagsToSpans(s.tags));
    assert.equal(detectScheme(train.slice(0, 2000).map((s) => convertTags(s.tags, scheme))), scheme);
  }
  // The file is IOB1, except two chunks that open with B- after O ("Atlanta Games",
  // "Urdu-speaking Moslems"): canonical IOB1 writes I- there.
  const irregular = train.filter((s) => convertTags(s.tags, 'IOB1').join() !== s.tags.join());
  assert.deepEqual(irregular.map((s) => s.line), [152414, 175430]);
});

test('tag schemes: random spans survive spans → tags → spans in every scheme', () => {
  const spansArb = fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.constantFrom('A', 'B'), fc.integer({ min: 1, max: 4 })), { maxLength: 8 }).map((parts) => {
    const spans: Span[] = [];
    let pos = 0;
    for (const [gap, type, len] of parts) { spans.push({ type, start: pos + gap, end: pos + gap + len }); pos += gap + len; }
    return { spans, length: pos + 2 };
  });
  fc.assert(fc.property(spansArb, fc.constantFrom<TagScheme>(...TAG_SCHEMES), ({ spans, length }, scheme) => {
    assert.deepEqual(tagsToSpans(spansToTags(spans, length, scheme)), spans);
  }), { numRuns: 2000 });
});

// ---------------------------------------------------------------------------------------------
// Bad input, as a new user would give it: each message names the file and line, what was
// expected, and both the CLI flag and the API option that fix it.
// ---------------------------------------------------------------------------------------------

test('NER tags: a bare B- and a non-chunk tag are refused with file, line, column and the --tag-column hint', async () => {
  const bare = await file('bare.conll', 'John B-PER\nlives O\n\nParis B-\n');
  await assert.rejects(readTaggedData(bare), (e: RootsError) => {
    assert.equal(e.code, 'ERR_PARSE');
    assert.equal(e.message, `${bare}:4: the tag of token "Paris", read from column -1 (the last): "B-" has no entity type after "B-" (expected e.g. B-PER); ` +
      'if column -1 (the last) does not hold the tags, choose the tag column with --tag-column N (API: { tagColumn: N }; columns count from 0, negative from the end)');
    return true;
  });
  const foo = await file('foo.conll', 'John NNP B-PER\nlives VBZ O\nin IN O\nParis NNP X-FOO\n');
  await assert.rejects(readTaggedData(foo), (e: RootsError) => e.message ===
    `${foo}:4: the tag of token "Paris", read from column -1 (the last): "X-FOO" is not a chunk tag (expected O, or B-, I-, E-, S-, L- or U- and a type, e.g. B-PER); ` +
    'if column -1 (the last) does not hold the tags, choose the tag column with --tag-column N (API: { tagColumn: N }; columns count from 0, negative from the end)');
  // the tag column pointing at the POS tags: every tag is wrong, and the message says so
  await assert.rejects(readTaggedData(foo, { tagColumn: 1 }), (e: RootsError) => e.message.startsWith(
    `${foo}:1: the tag of token "John", read from column 1: "NNP" is not a chunk tag`) && e.message.includes('; 4 of the 4 tags are not chunk tags; if column 1 does not hold the tags, choose the tag column with --tag-column N'));
  assert.deepEqual((await readTaggedData(foo, { tagColumn: 2, format: 'conll' }).catch((err: Error) => err.message)), `${foo}:4: the tag of token "Paris", read from column 2: "X-FOO" is not a chunk tag (expected O, or B-, I-, E-, S-, L- or U- and a type, e.g. B-PER); ` +
    'if column 2 does not hold the tags, choose the tag column with --tag-column N (API: { tagColumn: N }; columns count from 0, negative from the end)');
  const jsonl = await file('bare.jsonl', '{"tokens": ["John"], "tags": ["B-PER"]}\n{"tokens": ["in", "Paris"], "tags": ["O", "I-"]}\n');
  await assert.rejects(readTaggedData(jsonl), (e: RootsError) => e.message ===
    `${jsonl}:2 tags[1]: the tag of token "Paris", read from the "tags" field (or "ner_tags"): "I-" has no entity type after "I-" (expected e.g. I-PER)`);
  const dir = join(tmp, 'slots-bad');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'seq.in'), 'fly to boston\n');
  await writeFile(join(dir, 'seq.out'), 'O O B-\n');
  await assert.rejects(readIntentSlotData(dir), (e: RootsError) => e.message ===
    `${join(dir, 'seq.out')}:1 word 3: the tag of token "boston", read from seq.out: "B-" has no entity type after "B-" (expected e.g. B-PER)`);
  // what is accepted: O, prefixes alone (untyped chunks), every scheme's prefixes with a type
  for (const ok of ['O', 'B', 'I', 'B-PER', 'I-creative-work', 'E-X', 'S-X', 'L-X', 'U-X', 'B-fromloc.city_name']) assert.equal(chunkTagProblem(ok), null, ok);
  for (const bad of ['B-', 'X-FOO', 'PER', 'o', '', '-PER']) assert.notEqual(chunkTagProblem(bad), null, bad);
});

test('JSONL: a null label says it is null and what was expected', async () => {
  const nul = await file('null.jsonl', '{"text": "fine", "label": "pos"}\n{"text": "x", "label": null}\n');
  await assert.rejects(readTextJsonl(nul), (e: RootsError) => e.code === 'ERR_PARSE' && e.message ===
    `${nul}:2: "label" is null; expected a class name (a string), a class id (an integer) or an array of them (multi-label). ` +
    'Drop the unlabelled records, or read them with the API option { requireLabel: false }');
  assert.deepEqual(await readTextJsonl(nul, { requireLabel: false }), [{ text: 'fine', label: 'pos', line: 1 }, { text: 'x', line: 2 }]);
  const missing = await file('missing.jsonl', '{"text": "x", "class": "pos"}\n');
  await assert.rejects(readTextData(missing), (e: RootsError) => e.message ===
    `${missing}:1: no "label" field (keys: text, class); name the label field with --label-column NAME (API: { labelField: NAME }), or read unlabelled data with the API option { requireLabel: false }`);
  const noText = await file('notext2.jsonl', '{"review": "x", "label": 1}\n');
  await assert.rejects(readTextJsonl(noText), (e: RootsError) => e.message.endsWith('; name the field with --text-column NAME (API: { textField: NAME })'));
});

test('encodings: UTF-16 is named as such with the iconv command; Latin-1 is suggested only for Latin-1-like bytes', async () => {
  const text = 'sentence\tlabel\nZürich is nice\t1\n';
  const le = await file('utf16le.tsv', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]));
  const be = Buffer.from(text, 'utf16le').swap16();
  const beBom = await file('utf16be.tsv', Buffer.concat([Buffer.from([0xfe, 0xff]), be]));
  const leNoBom = await file('utf16le-nobom.tsv', Buffer.from(text, 'utf16le'));
  for (const encoding of ['utf-8', 'latin1'] as const) {
    await assert.rejects(readDelimited(le, { encoding }), (e: RootsError) => e.code === 'ERR_PARSE' && e.message ===
      `${le}: the file is UTF-16 (little-endian; byte-order mark FF FE), which the readers do not read: convert it to UTF-8, e.g. iconv -f UTF-16 -t UTF-8 ${le} > ${le}.utf8`);
  }
  await assert.rejects(readDelimited(beBom), (e: RootsError) => e.message.startsWith(`${beBom}: the file is UTF-16 (big-endian; byte-order mark FE FF)`));
  await assert.rejects(readTextData(leNoBom), (e: RootsError) => e.message ===
    `${leNoBom}: the file is UTF-16 (little-endian; a NUL byte before or after every ASCII character), which the readers do not read: ` +
    `convert it to UTF-8, e.g. iconv -f UTF-16LE -t UTF-8 ${leNoBom} > ${leNoBom}.utf8`);
  // a path that needs quoting is quoted in the command; big-endian without a BOM is detected too
  assert.throws(() => decodeText(Buffer.from('x y z', 'utf16le').swap16(), "it's here.tsv"), (e: RootsError) => e.message ===
    "it's here.tsv: the file is UTF-16 (big-endian; a NUL byte before or after every ASCII character), which the readers do not read: " +
    "convert it to UTF-8, e.g. iconv -f UTF-16BE -t UTF-8 'it'\\''s here.tsv' > 'it'\\''s here.tsv.utf8'");
  // invalid UTF-8 with NUL bytes is not called Latin-1
  assert.throws(() => decodeText(new Uint8Array([0x61, 0x62, 0x63, 0x64, 0x00, 0x01, 0x02, 0x03, 0xff, 0x0a]), 'bin'), (e: RootsError) =>
    e.message === 'bin:1: invalid UTF-8 at byte 8 (column 9, bytes ff 0a). The file has NUL bytes (the first at byte 4): it is binary or in an encoding other than UTF-8, UTF-16 and Latin-1; convert it to UTF-8');
  // Latin-1 bytes: the hint names the flag and the API option
  const latin = await file('latin.tsv', Buffer.from('sentence\tlabel\nZ\u00fcrich\t1\n', 'latin1'));
  await assert.rejects(readDelimited(latin), (e: RootsError) => e.message ===
    `${latin}:2: invalid UTF-8 at byte 16 (column 2, bytes fc 72 69 63). The file is probably Latin-1 or Windows-1252: pass --encoding latin1 (API: { encoding: 'latin1' }) to read it as ISO-8859-1`);
});

test('reader hints name the CLI flag and the API option', async () => {
  const tsv = await file('cols.tsv', 'review\tstars\ngood\t5\n');
  await assert.rejects(readDelimited(tsv), (e: RootsError) => e.message ===
    `${tsv}:1: the header has columns [review, stars] but no text column (tried sentence, text, content, sentence1, text_a); choose it with --text-column NAME (API: { textColumn: NAME })`);
  await assert.rejects(readDelimited(tsv, { textColumn: 'review' }), (e: RootsError) => e.message ===
    `${tsv}:1: the header has columns [review, stars] but no label column (tried label); choose it with --label-column NAME (API: { labelColumn: NAME })`);
  await assert.rejects(readDelimited(tsv, { textColumn: 'review', labelColumn: 'stars', textPairColumn: 'other' }), (e: RootsError) =>
    e.message.endsWith('no pair column "other"; choose it with --text-pair-column NAME (API: { textPairColumn: NAME })'));
  const quoted = await file('quoted.tsv', 'sentence\tlabel\n"a\tb"\t1\n');
  await assert.rejects(readDelimited(quoted), (e: RootsError) => e.message ===
    `${quoted}:2: expected 2 fields like the header but found 3 (a quoted field with the delimiter or a newline in it? --format csv reads quoted fields; API: { quote: '"' })`);
  assert.throws(() => parseConll('John\n', { source: 'one.conll' }), (e: RootsError) => e.message ===
    'one.conll:1: expected at least 2 columns (token column 0, tag column -1) but found 1: "John" (choose the columns with --token-column N and --tag-column N; API: { tokenColumn: N, tagColumn: N })');
});
