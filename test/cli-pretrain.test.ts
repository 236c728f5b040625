// `roots pretrain` as a user meets it: vocab → init → pretrain (checkpoints, resume, results.json,
// a BertForMaskedLM folder) → predict (fill-mask) and eval (loss, perplexity, masked-token accuracy)
// → fine-tuning with the MLM head dropped, said in words → continued pretraining of that folder;
// each bad input the issue lists is one error line, with nothing left in --out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { trainingArgs } from '../lib/cli/train.js';
import { generateCorpus, toConll } from '../lib/demo/corpus.js';
import { oneLineError, roots, tmp } from './helpers.js';

const d = tmp('roots-cli-pretrain-');
const c = generateCorpus({ train: 300, dev: 40, seed: 8 });
const text = (s: { tokens: string[] }[]) => s.map((x) => x.tokens.join(' ')).join('\n') + '\n';
const files = {
  train: join(d.dir, 'train.txt'), heldout: join(d.dir, 'heldout.txt'), gz: join(d.dir, 'more.txt.gz'), conll: join(d.dir, 'ner.conll'),
  empty: join(d.dir, 'empty.txt'), binary: join(d.dir, 'binary.dat'), latin1: join(d.dir, 'latin1.txt'), short: join(d.dir, 'short.txt'),
};
writeFileSync(files.train, text(c.train.slice(0, 250)));
writeFileSync(files.gz, gzipSync(text(c.train.slice(250))));
writeFileSync(files.heldout, text(c.dev));
writeFileSync(files.conll, toConll(c.train.slice(0, 30)));
writeFileSync(files.empty, '\n\n');
writeFileSync(files.binary, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x00, 0x00, 0x00, 0x41]));
writeFileSync(files.latin1, Buffer.from('caf\xe9 au lait\n', 'latin1'));
writeFileSync(files.short, 'three words here\n');
const vocab = join(d.dir, 'vocab');
const init = join(d.dir, 'init');
const out = join(d.dir, 'pretrained');
const common = ['--max-length', '32', '--batch-size', '8', '--precision', 'fp32', '--progress', 'none', '--seed', '3'];

test.before(() => {
  let r = roots('vocab', files.train, files.gz, '-o', vocab, '--vocab-size', '300');
  assert.equal(r.code, 0, r.stderr);
  r = roots('init', '--vocab', join(vocab, 'vocab.txt'), '--hidden', '32', '--layers', '1', '--heads', '2', '--intermediate', '64', '--max-position', '64', '--lowercase', '--out', init);
  assert.equal(r.code, 0, r.stderr);
});
test.after(() => d.cleanup());

test('pretrain from scratch: a BertForMaskedLM folder, checkpoints, results.json; resume continues; predict and eval read it', () => {
  const args = ['pretrain', '--model', init, '--train', files.train, '--train', files.gz, '--eval', files.heldout, '--out', out, ...common, '--eval-steps', '3', '--save-steps', '3', '--lr', '2e-3'];
  let r = roots(...args, '--max-steps', '6', '--json');
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  assert.equal(summary.task, 'mlm');
  assert.equal(summary.result.globalStep, 6);
  assert.equal(summary.corpus.files, 2, 'two --train flags, one of them gzip');
  assert.equal(summary.corpus.cacheBuilt, true);
  assert.equal(summary.blockSize, 32);
  assert.equal(summary.mlmProbability, 0.15);
  assert.equal(summary.evalMlmProbability, 0.15, 'the held-out text is masked at the training rate by default');
  assert.equal(summary.eval.perplexity, Math.exp(summary.eval.loss));
  assert.ok(summary.eval.accuracy >= 0 && summary.eval.accuracy <= 1);
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')), summary);
  for (const f of ['config.json', 'model.safetensors', 'vocab.txt', 'tokenizer.json', 'report.html', 'trainer_log.jsonl', 'checkpoint-6']) assert.ok(existsSync(join(out, f)), f);
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).architectures, ['BertForMaskedLM']);

  // The same command again: the Trainer's rule for a folder with checkpoints; --resume continues.
  oneLineError(roots(...args, '--max-steps', '6'), /already holds checkpoints \(checkpoint-3, checkpoint-6\): resume from them .*--resume.*--overwrite/);
  r = roots(...args, '--max-steps', '9', '--resume', '--json');
  assert.equal(r.code, 0, r.stderr);
  const resumed = JSON.parse(r.stdout);
  assert.equal(resumed.result.globalStep, 9);
  assert.equal(resumed.corpus.cacheBuilt, false, 'the token cache is reused');
  assert.ok(existsSync(join(out, 'checkpoint-9')));

  // Fill-mask: --top-k proposals per mask, best first, in Transformers' shape.
  r = roots('predict', '--model', out, '--text', 'the [MASK] of the city', '--text', 'a [MASK] and a [MASK]', '--top-k', '3', '--json');
  assert.equal(r.code, 0, r.stderr);
  const [one, two] = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(one.predictions.length, 3);
  for (const p of one.predictions) assert.deepEqual(Object.keys(p).sort(), ['score', 'sequence', 'token', 'token_str']);
  assert.ok(one.predictions[0].score >= one.predictions[1].score && one.predictions[1].score >= one.predictions[2].score);
  assert.equal(two.predictions.length, 2, 'one list per mask');
  r = roots('predict', '--model', out, '--text', 'the [MASK] of the city');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^the \[MASK\] of the city\n( {2}\d\.\d{4} .*\n){5}$/);

  // Eval with the pretraining's seed and block size masks the same tokens (whatever the batch
  // size): the numbers of the final evaluation.
  r = roots('eval', '--model', out, '--data', files.heldout, '--max-length', '32', '--seed', '3', '--batch-size', '5', '--precision', 'fp32', '--json');
  assert.equal(r.code, 0, r.stderr);
  const ev = JSON.parse(r.stdout);
  assert.equal(ev.task, 'mlm');
  assert.ok(Math.abs(ev.metrics.loss - resumed.eval.loss) < 1e-6, `${ev.metrics.loss} vs ${resumed.eval.loss}`);
  assert.equal(ev.metrics.accuracy, resumed.eval.accuracy);
  assert.equal(ev.metrics.perplexity, Math.exp(ev.metrics.loss));
  oneLineError(roots('eval', '--model', out, '--data', files.heldout, '--strict', 'IOB2'), /^roots: error: --strict is not for masked-LM models/);
});

test('fine-tuning a pretrained folder drops the MLM head, in words; continued pretraining of the result gets a fresh head', () => {
  assert.ok(existsSync(join(out, 'model.safetensors')), 'runs after the pretraining test');
  const ner = join(d.dir, 'ner');
  let r = roots('train', '--task', 'ner', '--model', out, '--train', files.conll, '--out', ner, '--max-steps', '2', '--progress', 'none', '--precision', 'fp32');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /the masked-LM head \(cls\.predictions\.\*\) is not used by BertForTokenClassification; the encoder is kept/);
  r = roots('pretrain', '--model', ner, '--train', files.train, '--out', join(d.dir, 'continued'), ...common, '--max-steps', '2');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /has no masked-LM head \(cls\.predictions\.\*\): it starts fresh; the encoder is kept/);
  assert.match(r.stderr, /classifier\.weight, classifier\.bias/, 'the token head is reported unused');
});

test('bad input: one error line naming the file, line or flag, and no --out folder left behind', () => {
  const bad = join(d.dir, 'bad-out');
  const run = (...a: string[]) => roots('pretrain', '--model', init, '--out', bad, ...common, ...a);
  const cases: [string[], RegExp][] = [
    [['--train', files.empty], /empty\.txt\) has no text: every file is empty or blank/],
    [['--train', files.binary], /binary\.dat:1: NUL byte .*binary file/],
    [['--train', files.latin1], /latin1\.txt:1: invalid UTF-8/],
    [['--train', files.short], /--train .*short\.txt: The corpus has \d+ tokens, fewer than one block of 30 .*--max-length/],
    [['--train', files.train, '--eval', files.latin1], /latin1\.txt:1: invalid UTF-8/],
    [['--train', files.train, '--mlm-probability', '1'], /--mlm-probability: expected a number in \(0, 1\) but got "1"/],
    [['--train', files.train, '--mlm-probability', '0'], /--mlm-probability: expected a number in \(0, 1\) but got "0"/],
    [['--train', files.train, '--eval', files.train, '--eval-mlm-probability', '1.5'], /--eval-mlm-probability: expected a number in \(0, 1\) but got "1\.5"/],
    [['--train', files.train, '--adam-beta2', '2'], /--adam-beta2/],
    [['--train', join(d.dir, 'nope.txt')], /--train .*nope\.txt: no such file or folder/],
    [['--train', files.train, '--max-length', '100'], /--max-length 100 exceeds the 64 positions/],
  ];
  for (const [a, re] of cases) {
    oneLineError(run(...a), re);
    assert.ok(!existsSync(bad), `nothing left in --out after ${a.join(' ')}`);
  }
  oneLineError(roots('vocab', files.train, '-o', join(d.dir, 'tiny-vocab'), '--vocab-size', '4'), /vocabSize 4 leaves no room beyond the 5 special tokens .*--vocab-size/);
  assert.ok(!existsSync(join(d.dir, 'tiny-vocab')));
});

test('--adam-beta1, --adam-beta2 and --adam-epsilon reach the Trainer; without them its defaults stand', () => {
  const d0 = { hasDev: false, maxLength: 32 };
  const a = trainingArgs({ adamBeta2: 0.98, adamEpsilon: 1e-6 }, d0);
  assert.deepEqual(a.adamBetas, [0.9, 0.98]);
  assert.equal(a.adamEpsilon, 1e-6);
  assert.deepEqual(trainingArgs({ adamBeta1: 0.8 }, d0).adamBetas, [0.8, 0.999]);
  const none = trainingArgs({}, d0);
  assert.ok(!('adamBetas' in none) && !('adamEpsilon' in none));
});
