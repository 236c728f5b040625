// Question-answering data: windows and targets checked by hand (answer in the second window, across a
// window edge, in no window), decoding back to the exact characters of the context, the readers'
// errors (an answer not at its answer_start, bad fields, doubled ids), and the batches' targets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collate } from '../lib/data/collate.js';
import { qaFeatures } from '../lib/data/squad-features.js';
import { parseSquadJson, parseSquadJsonl, type QaExample } from '../lib/data/squad.js';
import { decodeAnswers } from '../lib/tasks/question-answering.js';
import { decodeSpans } from '../lib/pipelines/question-answering.js';
import { Tokenizer } from '../lib/tokenizer/index.js';

const WORDS = Array.from({ length: 20 }, (_, i) => `w${i}`);
const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'q', 'play', '##ing', 'cafe', ...WORDS];
const tokenizer = Tokenizer.fromVocab(VOCAB);
const CONTEXT = WORDS.join(' ');  // one token per word: token t starts at character CONTEXT.indexOf(`w${t}`)
const at = (t: number) => CONTEXT.indexOf(`w${t} `) >= 0 ? CONTEXT.indexOf(`w${t} `) : CONTEXT.indexOf(`w${t}`);
function example(first: number, last: number, id = 'x'): QaExample {
  const text = WORDS.slice(first, last + 1).join(' ');
  return { id, question: 'q', context: CONTEXT, answers: [{ text, start: at(first) }] };
}

test('windows: room = maxLength - question - 3 context tokens, consecutive windows share docStride of them', () => {
  // maxLength 12, a 1-token question: 8 context tokens a window, a new one every 8 - 3 = 5 tokens.
  const { features } = qaFeatures(tokenizer, [example(9, 11)], { maxLength: 12, docStride: 3 });
  assert.deepEqual(features.map((f) => [f.window, f.contextStart, f.contextEnd, f.inputIds.length]), [[0, 3, 11, 12], [1, 3, 11, 12], [2, 3, 11, 12], [3, 3, 8, 9]]);
  const tokens = (f: (typeof features)[number]) => tokenizer.convertIdsToTokens(f.inputIds).join(' ');
  assert.equal(tokens(features[0]), '[CLS] q [SEP] w0 w1 w2 w3 w4 w5 w6 w7 [SEP]');
  assert.equal(tokens(features[1]), '[CLS] q [SEP] w5 w6 w7 w8 w9 w10 w11 w12 [SEP]');
  assert.equal(tokens(features[3]), '[CLS] q [SEP] w15 w16 w17 w18 w19 [SEP]');
  assert.deepEqual([...features[1].tokenTypeIds], [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
  assert.deepEqual([...features[1].offsets.slice(0, 4)], [at(5), at(5) + 2, at(6), at(6) + 2]);
});

test('targets: the answer in the second window; a window without the whole answer points at [CLS]', () => {
  const { features } = qaFeatures(tokenizer, [example(9, 11)], { maxLength: 12, docStride: 3, training: true });
  // w9..w11 lie in window 1 ([w5, w12]) only: tokens 3 + (9 - 5) and 3 + (11 - 5); window 2 starts at w10.
  assert.deepEqual(features.map((f) => [f.startPosition, f.endPosition]), [[0, 0], [7, 9], [0, 0], [0, 0]]);
});

test('targets: an answer across a window edge is taken from the window that holds all of it', () => {
  // w6..w8 crosses the end of window 0 (w0..w7); window 1 (w5..w12) holds it at 3 + 1 .. 3 + 3.
  const { features, unreachable } = qaFeatures(tokenizer, [example(6, 8)], { maxLength: 12, docStride: 3, training: true });
  assert.deepEqual(features.map((f) => [f.startPosition, f.endPosition]), [[0, 0], [4, 6], [0, 0], [0, 0]]);
  assert.deepEqual(unreachable, []);
  // Without overlap no window holds it: the example is left out and reported, never taught "no answer".
  const none = qaFeatures(tokenizer, [example(6, 9, 'edge'), example(1, 2, 'ok')], { maxLength: 12, docStride: 0, training: true });
  assert.deepEqual(none.unreachable, ['edge']);
  assert.deepEqual(none.features.map((f) => [f.example, f.startPosition, f.endPosition]), [[1, 4, 5], [1, 0, 0], [1, 0, 0]]);
});

test('targets: answers that start or end inside a word take the tokens around those characters', () => {
  const ex: QaExample = { id: 'p', question: 'q', context: 'w1 playing w2', answers: [{ text: 'ing', start: 7 }] };
  const [f] = qaFeatures(tokenizer, [ex], { maxLength: 16, docStride: 2, training: true }).features;
  assert.deepEqual(tokenizer.convertIdsToTokens(f.inputIds.slice(3, 7)), ['w1', 'play', '##ing', 'w2']);
  assert.deepEqual([f.startPosition, f.endPosition], [5, 5]);
});

test('a question too long for the window is an error naming the flags', () => {
  const ex: QaExample = { ...example(1, 1), question: 'q q q q q q q q', line: 7 };
  assert.throws(() => qaFeatures(tokenizer, [ex], { maxLength: 16, docStride: 5 }),
    /Question x \(line 7\) has 8 tokens: with --max-length 16 a window has room for 5 context tokens, which must be more than --doc-stride 5; raise --max-length or lower --doc-stride/);
});

test('decoding maps tokens back to the exact characters of the context, merged across windows', () => {
  const context = 'Le  Café   w3 Playing\tw5';
  const ex: QaExample = { id: 'c', question: 'q', context, answers: [] };
  const { features } = qaFeatures(tokenizer, [ex], { maxLength: 8, docStride: 2 });
  assert.equal(features.length, 2);  // "le" is [UNK]: tokens [UNK] cafe w3 play ##ing w5, 4 a window
  const logits = (f: (typeof features)[number], best: number) => Float32Array.from(f.inputIds, (_, t) => (t === best ? 5 : 0));
  // Window 1 (w3 play ##ing w5): start at "play", end at "##ing" scores 10; window 0's best ("Café") 7.5.
  const starts = [logits(features[0], 4), logits(features[1], 4)];
  const ends = [logits(features[0], 4).map((v) => v / 2), logits(features[1], 5)];
  const [best] = decodeAnswers([ex], features, starts, ends, { nBest: 3, maxAnswerLength: 5 });
  assert.equal(best[0].text, 'Playing');
  assert.equal(context.slice(best[0].start, best[0].end), 'Playing');
  assert.equal(best[0].score, 10);
  // An answer over several words keeps the context's own spacing and case.
  const wide = decodeAnswers([ex], [features[0]], [logits(features[0], 4)], [logits(features[0], 6)], { maxAnswerLength: 5 })[0][0];
  assert.equal(wide.text, 'Café   w3 Play');
  // --max-answer-length: the span of 3 tokens is not allowed at 2.
  assert.notEqual(decodeAnswers([ex], [features[0]], [logits(features[0], 4)], [logits(features[0], 6)], { maxAnswerLength: 2 })[0][0].text, 'Café   w3 Play');
});

test('the pipeline decoding widens a span inside a word to the whole word (align to words)', () => {
  const context = 'w1 playing w2';
  const ex: QaExample = { id: 'p', question: 'q', context, answers: [] };
  const { features } = qaFeatures(tokenizer, [ex], { maxLength: 16, docStride: 2 });
  const onIng = Float32Array.from(features[0].inputIds, (_, t) => (t === 5 ? 8 : 0));  // "##ing"
  const o = { topK: 2, maxAnswerLength: 15, handleImpossibleAnswer: false, alignToWords: true };
  const [a] = decodeSpans(context, features, [onIng], [onIng], o);
  assert.deepEqual([a.answer, a.start, a.end], ['playing', 3, 10]);
  const [b] = decodeSpans(context, features, [onIng], [onIng], { ...o, alignToWords: false });
  assert.deepEqual([b.answer, b.start, b.end], ['ing', 7, 10]);
  // Scores are start x end probabilities over [CLS] and the context tokens.
  const p = Math.exp(8) / (Math.exp(8) + 4);  // [CLS], w1, play, w2 at 0; ##ing at 8
  assert.ok(Math.abs(a.score - p * p) < 1e-12);
});

test('SQuAD JSON: several gold answers, code-point answer_start, errors with the field path', () => {
  const squad = (qas: unknown[], context = 'The cat 😺 sat on the mat.') => JSON.stringify({ version: '1.1', data: [{ title: 'T', paragraphs: [{ context, qas }] }] }, null, 1);
  const [ex] = parseSquadJson(squad([{ id: 'a', question: 'Where?', answers: [{ text: 'the mat', answer_start: 17 }, { text: 'mat', answer_start: 21 }] }]), 'f.json');
  // answer_start counts code points (😺 is one); the example holds UTF-16 offsets.
  assert.deepEqual(ex.answers, [{ text: 'the mat', start: 18 }, { text: 'mat', start: 22 }]);
  assert.equal(ex.title, 'T');
  assert.equal(ex.line, 11);
  assert.throws(() => parseSquadJson(squad([{ id: 'a', question: 'Where?', answers: [{ text: 'the mat', answer_start: 12 }] }]), 'f.json'),
    /^RootsError: f\.json:\d+: data\[0\]\.paragraphs\[0\]\.qas\[0\]\.answers\[0\]: the answer "the mat" is not in the context at answer_start 12 \(the context has "t on th" there; the text occurs at 17\); fix answer_start or the answer text$/);
  // The offset a message suggests counts code points, as answer_start does (😺 is one; 17 is right above).
  assert.throws(() => parseSquadJson(squad([{ id: 'a', question: 'Q', answers: [{ text: 'mat', answer_start: 40 }] }]), 'f.json'),
    /answer_start 40 \(the context has only 25 characters; the text occurs at 21\)/);
  assert.throws(() => parseSquadJson(squad([{ id: 'a', question: 'Q', answers: [{ text: 'dog', answer_start: 0 }] }]), 'f.json'), /the text does not occur in the context/);
  assert.throws(() => parseSquadJson(squad([{ id: 'a', question: 'Q', answers: [{ text: 'cat', answer_start: '4' }] }]), 'f.json'), /qas\[0\]\.answers\[0\]\.answer_start: expected a non-negative integer but found "4"/);
  assert.throws(() => parseSquadJson(squad([{ id: 'a', question: 'Q', answers: [] }]), 'f.json'), /qas\[0\]\.answers: the question has no answer/);
  assert.throws(() => parseSquadJson(squad([{ id: 'a', question: 'Q', is_impossible: true, answers: [] }]), 'f.json'), /SQuAD 2\.0\) are not supported/);
  const twice = [{ id: 'a', question: 'Q', answers: [{ text: 'cat', answer_start: 4 }] }, { id: 'a', question: 'R', answers: [{ text: 'cat', answer_start: 4 }] }];
  assert.throws(() => parseSquadJson(squad(twice), 'f.json'), /qas\[1\]\.id: question id "a" was already used by data\[0\]\.paragraphs\[0\]\.qas\[0\]/);
  assert.throws(() => parseSquadJson('{"data": [', 'f.json'), /^RootsError: f\.json(:1)?: invalid JSON/);
  assert.throws(() => parseSquadJson('[1]', 'f.json'), /expected SQuAD's \{"version", "data": \[articles\]\} but found an array/);
});

test('JSONL: Hugging Face datasets\' answers layout or a list, errors with the line', () => {
  const lines = [
    JSON.stringify({ id: 'a', question: 'Who?', context: 'Ann met Bob.', answers: { text: ['Bob', 'Bob.'], answer_start: [8, 8] } }),
    '',
    JSON.stringify({ question: 'Who met?', context: 'Ann met Bob.', answers: [{ text: 'Ann', answer_start: 0 }] }),
  ].join('\n');
  const ex = parseSquadJsonl(lines, 'q.jsonl');
  assert.deepEqual(ex.map((e) => [e.id, e.line, e.answers.map((a) => a.text)]), [['a', 1, ['Bob', 'Bob.']], ['3', 3, ['Ann']]]);
  assert.throws(() => parseSquadJsonl(JSON.stringify({ id: 'a', question: 'Who?', context: 'Ann met Bob.', answers: { text: ['Bob'], answer_start: [7] } }), 'q.jsonl'),
    /^RootsError: q\.jsonl:1: field answers\[0\]: the answer "Bob" is not in the context at answer_start 7/);
  assert.throws(() => parseSquadJsonl(JSON.stringify({ id: 'a', question: 'Who?', context: 'Ann', answers: { text: ['Ann'] } }), 'q.jsonl'), /q\.jsonl:1: field answers\.answer_start: expected one answer_start per answer text \(1\)/);
  assert.equal(parseSquadJsonl(JSON.stringify({ id: 'a', question: 'Who?', context: 'Ann' }), 'q.jsonl', { requireAnswers: false })[0].answers.length, 0);
});

test('collate: QA targets become startPositions / endPositions', () => {
  const { features } = qaFeatures(tokenizer, [example(9, 11), example(1, 2)], { maxLength: 12, docStride: 3, training: true });
  const b = collate(features.slice(0, 5), { padTokenId: 0 });
  assert.deepEqual([...b.startPositions!], [0, 7, 0, 0, 4]);
  assert.deepEqual([...b.endPositions!], [0, 9, 0, 0, 5]);
  assert.throws(() => collate([features[0], { inputIds: features[1].inputIds }], { padTokenId: 0 }), /QA features need startPosition and endPosition in every row or in none/);
});
