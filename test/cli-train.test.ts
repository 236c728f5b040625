// One `roots train` for every task as a user meets it: flags of another task named with the tasks
// that take them, --max-length beyond the model's positions, an --out folder in use by another
// run (refused, naming it) or left locked by a killed one (taken over), --group-by-length; and
// `roots predict --encoding`, `roots score` on a file of tokens and tags.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { buildProgram } from '../lib/cli/index.js';
import { runTrain, type TrainCommandOptions } from '../lib/cli/train.js';
import { generateCorpus, toConll } from '../lib/demo/corpus.js';
import { buildVocab } from '../lib/demo/vocab.js';
import { BertForTokenClassification } from '../lib/models/bert.js';
import { Tokenizer } from '../lib/tokenizer/index.js';
import { oneLineError, roots, tmp } from './helpers.js';
import { exited, lockHolder } from './lock-holder.js';

const d = tmp('roots-cli-train-');
const corpus = generateCorpus({ train: 60, dev: 10, test: 0, seed: 4 });
const files = { train: join(d.dir, 'train.conll'), dev: join(d.dir, 'dev.conll'), vocab: join(d.dir, 'vocab.txt') };
writeFileSync(files.train, toConll(corpus.train));
writeFileSync(files.dev, toConll(corpus.dev));
writeFileSync(files.vocab, buildVocab(corpus.train.map((s) => s.tokens), { size: 400 }).join('\n') + '\n');
const init = join(d.dir, 'init');
const trained = join(d.dir, 'trained');
const quiet = { out: () => {}, err: () => {} };

test.before(async () => {
  const r = roots('init', '--vocab', files.vocab, '--hidden', '32', '--layers', '1', '--heads', '2', '--intermediate', '64', '--max-position', '64', '--cased', '--out', init);
  assert.equal(r.code, 0, r.stderr);
  // A folder with weights (random ones: what is under test is the reading, not the predictions).
  const tokenizer = await Tokenizer.fromPretrained(init);
  const model = await BertForTokenClassification.fromPretrained(init, { labels: ['O', 'B-PER', 'I-PER'], log: null });
  await model.save(trained, { tokenizer });
  model.dispose();
});
test.after(() => d.cleanup());

test("a flag of another task: one line naming the tasks that take it", () => {
  const out = join(d.dir, 'x');
  const train = ['train', '--model', init, '--train', files.train, '--out', out];
  oneLineError(roots(...train, '--slot-loss-weight', '2'), /^roots: error: --slot-loss-weight is for --task intent-slots, not for --task ner$/);
  oneLineError(roots(...train, '--task', 'token-classification', '--class-weights', 'auto'), /^roots: error: --class-weights is for --task text-classification and intent-slots, not for --task ner$/);
  oneLineError(roots(...train, '--task', 'text-classification', '--tag-column', '1'), /^roots: error: --tag-column is for --task ner, not for --task text-classification$/);
  oneLineError(roots('eval', '--model', trained, '--data', files.dev, '--threshold', '0.3'), /^roots: error: --threshold is for text-classification models, not for a ner model$/);
  oneLineError(roots('predict', '--model', trained, '--text', 'Hello', '--top-k', '2'),
    /^roots: error: --top-k is for question-answering, relation-classification, text-classification and masked-LM models \(--model .*trained is a ner model\)$/);
  oneLineError(roots('predict', '--model', trained, '--text', 'Hello', '--threshold', '0.5'),
    /^roots: error: --threshold is for text-classification models \(--model .*trained is a ner model\)$/);
  assert.ok(!existsSync(out), 'no --out folder left behind by runs that never started');
});

test('--max-length beyond the model\'s positions names the flag and config.json\'s field', () => {
  oneLineError(roots('train', '--model', init, '--train', files.train, '--out', join(d.dir, 'long'), '--max-length', '100', '--progress', 'none'),
    /^roots: error: --max-length 100 exceeds the 64 positions of .*init \(config\.json's max_position_embeddings\)$/);
});

test('--out in use by a live run: one line naming its pid, host and lock; the lock of a killed run is taken over with a notice', async () => {
  const out = join(d.dir, 'busy');
  const holder = await lockHolder(out);
  try {
    const r = roots('train', '--model', init, '--train', files.train, '--out', out, '--max-steps', '2', '--progress', 'none');
    oneLineError(r, new RegExp(`^roots: error: --out ${out} is in use by another training run \\(pid ${holder.pid} on host ${hostname()}, started [^;]+; ` +
      `lock ${out}/roots-train\\.lock\\): wait for it to end, or train into another folder \\(delete the lock if no such run exists\\)$`));
    assert.ok(existsSync(join(out, 'roots-train.lock')), 'the holder keeps its lock');
  } finally {
    holder.kill('SIGKILL');
    await exited(holder);
  }
  // The holder died holding the lock: the next run takes it over, says so, and goes on (here to the
  // data, which is not a CoNLL file).
  const r = roots('train', '--model', init, '--train', files.vocab, '--out', out);
  assert.equal(r.code, 1, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 2, r.stderr);
  assert.match(lines[0], new RegExp(`^Took over the lock of --out ${out}: its run \\(pid ${holder.pid} on host ${hostname()}, started .*\\) is no longer running$`));
  assert.match(lines[1], /^roots: error: .*vocab\.txt:\d+: expected at least 2 columns/);
  assert.ok(!existsSync(join(out, 'roots-train.lock')) && !existsSync(join(out, 'roots-train.lock.json')), 'released on the way out');
});

test('--group-by-length / --no-group-by-length: parsed, and passed to the Trainer as `groupByLength` (default off)', async () => {
  const program = buildProgram();
  const seen: unknown[] = [];
  program.commands.find((c) => c.name() === 'train')!.action((o: TrainCommandOptions) => { seen.push(o.groupByLength); });
  for (const flag of [[], ['--group-by-length'], ['--no-group-by-length']]) await program.parseAsync(['node', 'roots', 'train', ...flag]);
  assert.deepEqual(seen, [undefined, true, false]);
  for (const [groupByLength, expected] of [[undefined, false], [true, true], [false, false]] as const) {
    let args: unknown;
    await assert.rejects(runTrain({ model: init, train: files.train, out: join(d.dir, 'gbl'), groupByLength, progress: 'none' }, quiet, {
      onTrainer: (t) => { args = t.args.groupByLength; throw new Error('enough'); },
    }), /^Error: enough$/);
    assert.equal(args, expected, `groupByLength ${groupByLength}`);
  }
});

test('roots predict --encoding latin1 reads a Latin-1 --input file (without it: an error naming the flag)', () => {
  const input = join(d.dir, 'latin1.txt');
  writeFileSync(input, Buffer.from('Zoë visited Zürich\n', 'latin1'));
  oneLineError(roots('predict', '--model', trained, '--input', input), /latin1\.txt:1: invalid UTF-8 .*--encoding latin1/);
  const r = roots('predict', '--model', trained, '--input', input, '--encoding', 'latin1', '--json', '--precision', 'fp32');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).text, 'Zoë visited Zürich');
  oneLineError(roots('predict', '--model', trained, '--input', input, '--encoding', 'utf-16'), /'--encoding <name>' argument 'utf-16' is invalid\. expected one of utf-8, utf8, latin1/);
});

test('roots score on tokens and tags (2 columns, the first not tags) refuses; gold and predicted tags alone still score', () => {
  const tokensTags = join(d.dir, 'tokens-tags.txt');
  writeFileSync(tokensTags, 'John B-PER\nSmith I-PER\nlives O\nin O\nParis B-LOC\n');
  oneLineError(roots('score', tokensTags), /^roots: error: .*tokens-tags\.txt:1: 2 columns, and the first, "John", is not a tag: conlleval input is "token \.\.\. gold-tag predicted-tag"/);
  const goldPred = join(d.dir, 'gold-pred.txt');
  writeFileSync(goldPred, 'B-PER B-PER\nI-PER I-PER\nO O\nO O\nB-LOC O\n');
  const ok = roots('score', goldPred);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^processed 5 tokens with 2 phrases; found: 1 phrases; correct: 1\./);
});
