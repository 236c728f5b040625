// The conlleval format and `roots score`: the stored conlleval.pl output of the seqeval sample is
// reproduced exactly, and bad input fails with a one-line message naming file and line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { conllevalSummary, parseConll, runScore, scoreConll, type ScoreJson } from '../lib/metrics/conlleval.js';
import { registerScore } from '../lib/cli/score.js';
import { RootsError } from '../lib/errors.js';
import { requireSharedData } from './helpers.js';

// Shared data is read in place: <repo>/../shared/data, or $ROOTS_SHARED_DATA.
const DATA_ROOT = process.env.ROOTS_SHARED_DATA
  ? pathToFileURL(process.env.ROOTS_SHARED_DATA.replace(/\/?$/, '/'))
  : new URL('../../shared/data/', import.meta.url);
const SAMPLE_DIR = new URL('eval/conlleval-sample/', DATA_ROOT);
const SAMPLE = fileURLToPath(new URL('ground_truth.txt', SAMPLE_DIR));
const SAMPLE_OUTPUT = fileURLToPath(new URL('ground_truth.conlleval_output.txt', SAMPLE_DIR));
const skipSample = requireSharedData(SAMPLE, SAMPLE_OUTPUT);

const lines = (text: string) => text.replace(/\s+$/, '').split('\n').map((l) => l.replace(/\s+$/, ''));

const tmp = mkdtempSync(join(tmpdir(), 'roots-score-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
let fileCounter = 0;
function tempFile(text: string): string {
  const file = join(tmp, `input-${fileCounter++}.txt`);
  writeFileSync(file, text);
  return file;
}

/** Runs `roots score ...args` through commander; returns stdout, stderr and the exit code. */
async function cli(args: string[]): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  let stdout = '', stderr = '';
  const program = new Command('roots');
  program.exitOverride();
  program.configureOutput({ writeOut: (s) => { stdout += s; }, writeErr: (s) => { stderr += s; } });
  registerScore(program, { stdout: (s) => { stdout += s; } });
  try {
    await program.parseAsync(['score', ...args], { from: 'user' });
    return { stdout, stderr, exitCode: 0 };
  } catch (err) {
    if (err instanceof CommanderError) return { stdout, stderr, exitCode: err.exitCode };
    throw err;
  }
}

const fails = (code: string, pattern: RegExp) => (err: unknown) => {
  assert.ok(err instanceof RootsError, `expected a RootsError, got ${String(err)}`);
  assert.equal(err.code, code);
  assert.match(err.message, pattern);
  return true;
};

test('reproduces the stored conlleval.pl output of the seqeval sample', { skip: skipSample }, async () => {
  const expected = readFileSync(SAMPLE_OUTPUT, 'utf8');
  assert.deepEqual(lines(await runScore(SAMPLE)), lines(expected));
  const run = await cli([SAMPLE]);
  assert.equal(run.exitCode, 0);
  assert.equal(run.stderr, '');
  assert.deepEqual(lines(run.stdout), lines(expected));
});

test('--json gives the same numbers as data', { skip: skipSample }, async () => {
  const run = await cli([SAMPLE, '--json']);
  assert.equal(run.exitCode, 0);
  const j = JSON.parse(run.stdout) as ScoreJson;
  assert.deepEqual([j.mode, j.scheme, j.tokens, j.gold, j.predicted, j.correct], ['default', null, 961, 459, 539, 371]);
  assert.equal(j.precision, 371 / 539);
  assert.equal(j.recall, 371 / 459);
  assert.equal(j.accuracy, j.correctTokens / 961);
  assert.equal(Math.round(10000 * j.accuracy), 8408);
  assert.deepEqual(j.types.map((t) => [t.type, t.predicted]), [['ADJP', 1], ['ADVP', 11], ['NP', 317], ['PP', 107], ['SBAR', 3], ['VP', 100]]);
  const np = j.types.find((t) => t.type === 'NP')!;
  assert.equal(Math.round(10000 * np.precision), 6498);
});

test('--scheme IOB2 scores the sample in strict mode', { skip: skipSample }, async () => {
  // Cross-checked against seqeval's strict IOB2 algorithm: gold entities are well formed (459),
  // predictions starting with I- are dropped (539 -> 455 found, 322 correct).
  const run = await cli([SAMPLE, '--scheme', 'iob2']);
  assert.equal(run.exitCode, 0);
  const out = lines(run.stdout);
  assert.equal(out[0], 'processed 961 tokens with 459 phrases; found: 455 phrases; correct: 322.');
  assert.equal(out[1], 'accuracy:  84.08%; precision:  70.77%; recall:  70.15%; FB1:  70.46');
  assert.equal(out[2], '             ADJP: precision:   0.00%; recall:   0.00%; FB1:   0.00  0');
  assert.equal(out[4], '               NP: precision:  63.86%; recall:  60.69%; FB1:  62.23  249');
});

test('a small file scored by hand', () => {
  // Gold:  PER[0,2) LOC[3,4) | ORG[0,1)          Predicted: PER[0,2) ORG[3,4) | ORG[0,2)
  // 3 gold phrases, 3 found, 1 correct (PER). Tokens 7, tags equal on 5 (all but "Paris", "Inc").
  const text = [
    'John NNP B-PER B-PER',
    'Smith NNP I-PER I-PER',
    'in IN O O',
    'Paris NNP B-LOC B-ORG',
    '',
    'Acme NNP B-ORG B-ORG',
    'Inc NNP O I-ORG',
    'rose VBD O O',
    '',
  ].join('\n');
  const s = scoreConll(text);
  assert.deepEqual([s.tokens, s.correctTokens, s.gold, s.predicted, s.correct], [7, 5, 3, 3, 1]);
  // LOC: 0 found / 1 gold; ORG: 2 found, 0 correct, 1 gold; PER: 1/1/1.
  assert.equal(conllevalSummary(s), [
    'processed 7 tokens with 3 phrases; found: 3 phrases; correct: 1.',
    'accuracy:  71.43%; precision:  33.33%; recall:  33.33%; FB1:  33.33',
    '              LOC: precision:   0.00%; recall:   0.00%; FB1:   0.00  0',
    '              ORG: precision:   0.00%; recall:   0.00%; FB1:   0.00  2',
    '              PER: precision: 100.00%; recall: 100.00%; FB1: 100.00  1',
    '',
  ].join('\n'));
});

test('sentence boundaries: blank lines, -DOCSTART- and -X- lines; CRLF; trailing spaces', () => {
  // Without the boundaries, B-PER I-PER would be one entity; with them they are two.
  const text = '-DOCSTART- -X- O O\r\n\r\na B-PER B-PER\r\n-DOCSTART- -X- O O\r\nb I-PER I-PER  \r\n-X- O O\nc B-LOC O\n\n\n';
  const data = parseConll(text);
  assert.deepEqual(data.yTrue, [['B-PER'], ['I-PER'], ['B-LOC']]);
  assert.deepEqual(data.yPred, [['B-PER'], ['I-PER'], ['O']]);
  assert.deepEqual(data.tokens, [['a'], ['b'], ['c']]);
  assert.deepEqual(data.lines, [3, 5, 7]);
  const s = scoreConll(text);
  assert.deepEqual([s.tokens, s.gold, s.predicted, s.correct], [3, 3, 2, 2]);
});

test('-d sets the column delimiter (tokens may then contain spaces)', async () => {
  const tab = tempFile('New York\tNNP\tB-LOC\tB-LOC\nis\tVBZ\tO\tO\n');
  const run = await cli([tab, '-d', '\t']);
  assert.equal(run.exitCode, 0);
  assert.equal(lines(run.stdout)[0], 'processed 2 tokens with 1 phrases; found: 1 phrases; correct: 1.');
  const comma = tempFile('a,B-X,B-X\nb,I-X,O\n');
  const r2 = await cli([comma, '--delimiter', ',', '--json']);
  const j = JSON.parse(r2.stdout) as ScoreJson;
  assert.deepEqual([j.tokens, j.gold, j.predicted, j.correct], [2, 1, 1, 0]);
});

test('two columns are enough (gold and predicted only)', async () => {
  const out = await runScore(tempFile('B-X B-X\nO O\n'));
  assert.equal(lines(out)[0], 'processed 2 tokens with 1 phrases; found: 1 phrases; correct: 1.');
});

test('bad input: clear errors with file and line', async () => {
  const oneColumn = tempFile('a B-X B-X\nb\n');
  await assert.rejects(runScore(oneColumn), fails('ERR_PARSE', new RegExp(`${oneColumn}:2: expected at least 2 columns .* found 1`)));
  const ragged = tempFile('a NN B-X B-X\n\nb B-X B-X\n');
  await assert.rejects(runScore(ragged), fails('ERR_PARSE', /:3: expected 4 columns like line 1 but found 3/));
  await assert.rejects(runScore(tempFile('')), fails('ERR_PARSE', /no tokens found/));
  await assert.rejects(runScore(tempFile('\n\n-DOCSTART- -X- O O\n')), fails('ERR_PARSE', /no tokens found/));
  await assert.rejects(runScore(join(tmp, 'missing.txt')), fails('ERR_IO', /Cannot read .*missing\.txt/));
  await assert.rejects(runScore(tempFile('a B-X B-X\n'), { scheme: 'BIO' }), fails('ERR_INVALID_ARG', /Unknown tagging scheme "BIO": expected one of IOB1, IOB2, IOE1, IOE2, IOBES, BILOU/));
  const iobes = tempFile('a B-X B-X\nb E-X I-X\n');
  await assert.rejects(runScore(iobes, { scheme: 'IOB2' }), fails('ERR_PARSE', /:2: invalid gold tag "E-X": scheme IOB2 allows the prefixes I, O, B/));
  assert.throws(() => parseConll('a b c', { delimiter: '' }), fails('ERR_INVALID_ARG', /delimiter/));
});

test('CLI errors are one line, "roots: error: ...", with a non-zero exit code', async () => {
  const cases: [string[], RegExp][] = [
    [[join(tmp, 'missing.txt')], /^roots: error: Cannot read .*missing\.txt/],
    [[tempFile('a\n')], /^roots: error: .*:1: expected at least 2 columns/],
    [[tempFile('')], /^roots: error: .*no tokens found/],
    [[tempFile('a B-X B-X\n'), '--scheme', 'nope'], /^roots: error: Unknown tagging scheme "nope"/],
  ];
  for (const [args, pattern] of cases) {
    const run = await cli(args);
    assert.notEqual(run.exitCode, 0, args.join(' '));
    assert.equal(run.stdout, '');
    assert.match(run.stderr, pattern);
    assert.equal(run.stderr.trimEnd().split('\n').length, 1, `one line: ${JSON.stringify(run.stderr)}`);
  }
});

test('the score command declares its options', () => {
  const program = new Command('roots');
  registerScore(program);
  const score = program.commands.find((c) => c.name() === 'score');
  assert.ok(score);
  assert.deepEqual(score.options.map((o) => o.long).sort(), ['--delimiter', '--json', '--scheme']);
  assert.equal(score.options.find((o) => o.long === '--delimiter')!.short, '-d');
});
