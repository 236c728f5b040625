// The WordPiece vocabulary trainer and `roots vocab`, against Hugging Face's WordPieceTrainer:
// the committed fixture (test/fixtures/wordpiece, made by scripts/gen-wordpiece-fixture.py) always,
// and a live run of the `tokenizers` Python package when one is available (ROOTS_HF_PYTHON, or a
// python3 that imports tokenizers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { WordPieceTrainer, trainWordPiece, saveVocabulary } from '../lib/tokenizer/wordpiece-trainer.js';
import { Tokenizer } from '../lib/tokenizer/index.js';
import { RootsError } from '../lib/errors.js';
import { oneLineError, repoRoot, roots, tmp, liveHfPython } from './helpers.js';

const FIXTURE = join(repoRoot, 'test', 'fixtures', 'wordpiece');
const CORPUS = join(FIXTURE, 'corpus.txt');

interface FixtureConfig {
  normalizer: { lowercase: boolean; strip_accents: boolean | null };
  trainer: { vocab_size: number; min_frequency: number; limit_alphabet?: number };
  vocab: string[];
}
const fixture = JSON.parse(readFileSync(join(FIXTURE, 'hf-vocab.json'), 'utf8')) as { configs: Record<string, FixtureConfig> };

async function ours(cfg: FixtureConfig, corpus = CORPUS, continuationOrder = cfg.vocab): Promise<string[]> {
  const r = await trainWordPiece(corpus, {
    vocabSize: cfg.trainer.vocab_size, minFrequency: cfg.trainer.min_frequency, limitAlphabet: cfg.trainer.limit_alphabet ?? null,
    lowercase: cfg.normalizer.lowercase, stripAccents: cfg.normalizer.strip_accents, continuationOrder,
  });
  return r.vocab;
}

function firstDifference(a: string[], b: string[]): string {
  const i = a.findIndex((t, k) => t !== b[k]);
  return i === -1 ? `lengths ${a.length} and ${b.length}` : `id ${i}: ours ${JSON.stringify(a[i])}, HF ${JSON.stringify(b[i])}`;
}

for (const [name, cfg] of Object.entries(fixture.configs)) {
  test(`reproduces HF's WordPieceTrainer id for id (${name}, fixture)`, async () => {
    const vocab = await ours(cfg);
    assert.ok(vocab.length > 500, 'the fixture learns merges');
    assert.deepEqual(vocab, cfg.vocab, firstDifference(vocab, cfg.vocab));
  });
}

test('without HF\'s ##c order: the same special tokens and alphabet, a vocabulary of the same size', async () => {
  const cfg = fixture.configs['uncased-cut-800'];
  const vocab = await ours(cfg, CORPUS, []);
  const alphabetEnd = cfg.vocab.findIndex((t) => t.startsWith('##'));
  assert.deepEqual(vocab.slice(0, alphabetEnd), cfg.vocab.slice(0, alphabetEnd));
  assert.equal(vocab.length, 800);
  // Ties are broken by id, so the sets differ a little; most of the vocabulary is shared.
  const hf = new Set(cfg.vocab);
  assert.ok(vocab.filter((t) => hf.has(t)).length > 0.9 * vocab.length);
});

test('merges by hand on a tiny corpus: most frequent pair first, ties to the smaller ids, ## kept on continuations', () => {
  const t = new WordPieceTrainer({ vocabSize: 100, minFrequency: 2, specialTokens: ['[UNK]'], lowercase: false });
  for (let i = 0; i < 3; i++) t.feed('hug hugs');
  t.feed('pug');
  // alphabet g h p s u; words: h ##u ##g (x3), h ##u ##g ##s (x3), p ##u ##g (x1)
  // pairs: (##u,##g) 7, (h,##u) 6, (##g,##s) 3, (p,##u) 1 -> ##ug; then (h,##ug) 6 -> hug; then (hug,##s) 3 -> hugs
  // (p,##ug) has count 1 < minFrequency 2: training stops.
  assert.deepEqual(t.train(), ['[UNK]', 'g', 'h', 'p', 's', 'u', '##u', '##g', '##s', '##ug', 'hug', 'hugs']);
});

test('BERT normalization and pre-tokenization of the training text', () => {
  const t = new WordPieceTrainer({ vocabSize: 100 });
  t.feed('Héllo,\u0000 WORLD!\t東京 naïve');
  assert.deepEqual([...t.words.keys()], ['hello', ',', 'world', '!', '東', '京', 'naive']);
  const cased = new WordPieceTrainer({ vocabSize: 100, lowercase: false });
  cased.feed('Héllo (x)');
  assert.deepEqual([...cased.words.keys()], ['Héllo', '(', 'x', ')']);
});

test('tokenizer files load in roots (through @huggingface/tokenizers) and encode with the learned pieces', async () => {
  const cfg = fixture.configs.uncased;
  const r = await trainWordPiece(CORPUS, { vocabSize: cfg.trainer.vocab_size, minFrequency: 2, limitAlphabet: null, modelMaxLength: 128 });
  const t = tmp();
  try {
    const written = await saveVocabulary(join(t.dir, 'out'), r.tokenizer);
    assert.deepEqual(written.map((p) => p.slice(p.lastIndexOf('/') + 1)), ['special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json', 'vocab.txt']);
    assert.deepEqual(readFileSync(join(t.dir, 'out', 'vocab.txt'), 'utf8').split('\n').slice(0, -1), r.vocab);
    const loaded = await Tokenizer.fromPretrained(join(t.dir, 'out'));
    assert.equal(loaded.vocabSize, r.vocab.length);
    assert.equal(loaded.modelMaxLength, 128);
    const fromVocabTxt = Tokenizer.fromVocab(r.vocab, { do_lower_case: true });
    const text = readFileSync(CORPUS, 'utf8').split('\n').slice(0, 50).join(' ');
    const enc = loaded.encode(text);
    assert.deepEqual(enc.ids, fromVocabTxt.encode(text).ids);
    assert.equal(enc.tokens[0], '[CLS]');
    assert.ok(!enc.ids.includes(loaded.unkTokenId), 'every character of the training text is in the alphabet');
    assert.ok(enc.tokens.some((tok) => tok.startsWith('##')));
    // Only the final files are in the output folder; the temporary one is gone.
    assert.deepEqual(readdirSync(t.dir), ['out']);
  } finally {
    t.cleanup();
  }
});

test('streams .gz input and folders; the same vocabulary as the plain file', async () => {
  const cfg = fixture.configs['uncased-cut-800'];
  const t = tmp();
  try {
    writeFileSync(join(t.dir, 'corpus.txt.gz'), gzipSync(readFileSync(CORPUS)));
    assert.deepEqual(await ours(cfg, join(t.dir, 'corpus.txt.gz')), cfg.vocab);
    assert.deepEqual(await ours(cfg, t.dir), cfg.vocab);
  } finally {
    t.cleanup();
  }
});

test('bad options and input: clear errors', async () => {
  assert.throws(() => new WordPieceTrainer({ vocabSize: 5 }), /vocabSize 5 leaves no room beyond the 5 special tokens.*--vocab-size/);
  assert.throws(() => new WordPieceTrainer({ minFrequency: -1 }), /non-negative integer for minFrequency/);
  const t = tmp();
  try {
    writeFileSync(join(t.dir, 'empty.txt'), '\n  \n');
    await assert.rejects(trainWordPiece(join(t.dir, 'empty.txt')), (e: unknown) => e instanceof RootsError && /empty\.txt.*has no words/.test(e.message));
    writeFileSync(join(t.dir, 'bin.dat'), Buffer.from([0x68, 0x69, 0x0a, 0x00, 0x01, 0x02]));
    await assert.rejects(trainWordPiece(join(t.dir, 'bin.dat')), /bin\.dat:2: NUL byte.*binary file/);
    writeFileSync(join(t.dir, 'latin1.txt'), Buffer.from('ok\nok\ncaf\xe9\n', 'latin1'));
    await assert.rejects(trainWordPiece(join(t.dir, 'latin1.txt')), /latin1\.txt:3: invalid UTF-8 near byte 4/);
    await assert.rejects(trainWordPiece(join(t.dir, 'nothing-*.txt')), /nothing-\*\.txt: no files match/);
  } finally {
    t.cleanup();
  }
});

test('roots vocab: writes the tokenizer files; bad input is one line naming the file or flag, nothing written', () => {
  const t = tmp();
  try {
    const out = join(t.dir, 'vocab');
    const r = roots('vocab', CORPUS, '--output', out, '--vocab-size', '800', '--limit-alphabet', '1000');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^800 tokens written to .*vocab\.txt/);
    assert.deepEqual(readFileSync(join(out, 'vocab.txt'), 'utf8').split('\n').slice(0, 5), ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
    const cfg = JSON.parse(readFileSync(join(out, 'tokenizer_config.json'), 'utf8'));
    assert.equal(cfg.do_lower_case, true);
    assert.equal(cfg.tokenizer_class, 'BertTokenizer');

    const bad = join(t.dir, 'bad');
    writeFileSync(join(t.dir, 'empty.txt'), '');
    oneLineError(roots('vocab', join(t.dir, 'empty.txt'), '-o', bad), /empty\.txt.*has no words/);
    oneLineError(roots('vocab', CORPUS, '-o', bad, '--vocab-size', '3'), /vocabSize 3 leaves no room.*--vocab-size/);
    oneLineError(roots('vocab', CORPUS, '-o', bad, '--vocab-size', 'many'), /--vocab-size.*positive integer/);
    oneLineError(roots('vocab', CORPUS, '-o', bad, '--special-tokens', '[PAD],[MASK]'), /--special-tokens must include \[UNK\]/);
    writeFileSync(join(t.dir, 'long.txt'), 'a'.repeat(5000) + '\n');
    oneLineError(roots('vocab', join(t.dir, 'long.txt'), '-o', bad, '--max-line-bytes', '1000'), /long\.txt:1: the line is longer than 1000 bytes.*--max-line-bytes/);
    assert.equal(existsSync(bad), false, 'nothing written on failure');
    assert.deepEqual(readdirSync(t.dir).filter((n) => n.startsWith('.')), [], 'no temporary folder left');
  } finally {
    t.cleanup();
  }
});

// ---------------------------------------------------------------------------------------------
// Live comparison with the `tokenizers` and `transformers` Python packages
// ---------------------------------------------------------------------------------------------

const { exe: hfPython, skip: noHf } = liveHfPython('tokenizers');

test('live: the fixture generator reproduces the committed corpus, and our trainer matches a fresh HF run', { skip: noHf }, async () => {
  const t = tmp();
  try {
    const g = spawnSync(hfPython!, [join(repoRoot, 'scripts', 'gen-wordpiece-fixture.py'), t.dir], { encoding: 'utf8' });
    assert.equal(g.status, 0, g.stderr);
    assert.equal(readFileSync(join(t.dir, 'corpus.txt'), 'utf8'), readFileSync(CORPUS, 'utf8'));
    const fresh = JSON.parse(readFileSync(join(t.dir, 'hf-vocab.json'), 'utf8')) as { configs: Record<string, FixtureConfig> };
    for (const [name, cfg] of Object.entries(fresh.configs)) {
      const vocab = await ours(cfg);
      assert.deepEqual(vocab, cfg.vocab, `${name}: ${firstDifference(vocab, cfg.vocab)}`);
    }
  } finally {
    t.cleanup();
  }
});

test('live: BertTokenizerFast loads the written folder and encodes as roots does', { skip: noHf }, async (ctx) => {
  const probe = spawnSync(hfPython!, ['-c', 'import transformers'], { encoding: 'utf8' });
  if (probe.status !== 0) { ctx.skip('transformers is not installed in that Python'); return; }
  const t = tmp();
  try {
    for (const lowercase of [true, false]) {
      const r = await trainWordPiece(CORPUS, { vocabSize: 1200, lowercase });
      const dir = join(t.dir, String(lowercase));
      await saveVocabulary(dir, r.tokenizer);
      const texts = [...readFileSync(CORPUS, 'utf8').split('\n').slice(0, 40), 'Ångström visited 東京 (naïve e-mail) ZZZ qqq ÿ'];
      const script = 'import json,sys\nfrom transformers import BertTokenizerFast\nt=BertTokenizerFast.from_pretrained(sys.argv[1])\nprint(json.dumps([t(x)["input_ids"] for x in json.load(open(sys.argv[2]))]))';
      writeFileSync(join(t.dir, 'texts.json'), JSON.stringify(texts));
      const p = spawnSync(hfPython!, ['-c', script, dir, join(t.dir, 'texts.json')], { encoding: 'utf8' });
      assert.equal(p.status, 0, p.stderr);
      const hfIds = JSON.parse(p.stdout) as number[][];
      const loaded = await Tokenizer.fromPretrained(dir);
      texts.forEach((x, i) => { assert.deepEqual(loaded.encode(x).ids, hfIds[i], `lowercase ${lowercase}, text ${i}: ${x}`); });
    }
  } finally {
    t.cleanup();
  }
});
