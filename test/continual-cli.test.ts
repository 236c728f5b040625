// roots train --continual-from as a user runs it: a first task saved with its Fisher (--save-fisher),
// a second task with new entity types trained onto it with every method at once (EWC + replay + LwF
// + L2-SP), the head grown with the old labels first, online EWC's file for the next task, the
// earlier model untouched; and the bad inputs the issue names, each one clear line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { oneLineError, roots, tmp } from './helpers.js';
import { generateCorpus, toConll } from '../lib/demo/corpus.js';
import { buildVocab } from '../lib/demo/vocab.js';
import { readSafetensorsIndex } from '../lib/weights/index.js';

const d = tmp('roots-continual-cli-');
test.after(() => d.cleanup());
const corpus = generateCorpus({ train: 160, dev: 30, test: 10, seed: 4 });
/** Keeps only `types`' tags (the others become O), as class-incremental NER does. */
const only = (sents: typeof corpus.train, types: string[]) => sents.map((s) => ({ ...s, tags: s.tags.map((t) => (types.includes(t.replace(/^[BI]-/, '')) ? t : 'O')) }));
const f = (n: string) => join(d.dir, n);
writeFileSync(f('a.conll'), toConll(only(corpus.train, ['PER', 'LOC'])));
writeFileSync(f('b.conll'), toConll(only(corpus.train, ['ORG'])));
writeFileSync(f('b-dev.conll'), toConll(only(corpus.dev, ['ORG'])));
writeFileSync(f('vocab.txt'), buildVocab(corpus.train.map((s) => s.tokens), { size: 400 }).join('\n') + '\n');
writeFileSync(f('vocab2.txt'), buildVocab(corpus.train.map((s) => s.tokens), { size: 300 }).join('\n') + '\n');
const tiny = ['--hidden', '16', '--layers', '1', '--heads', '2', '--intermediate', '32', '--max-position', '64', '--cased'];
const fast = ['--max-steps', '4', '--batch-size', '16', '--progress', 'none', '--precision', 'fp32', '--fisher-samples', '20'];
const hash = (dir: string) => Object.fromEntries(readdirSync(dir).filter((n) => n.endsWith('.safetensors') || n.endsWith('.json')).map((n) => [n, createHash('sha256').update(readFileSync(join(dir, n))).digest('hex')]));

test('roots train --continual-from: a new entity type onto a trained model with EWC, replay, LwF and L2-SP', async () => {
  assert.equal(roots('init', '--vocab', f('vocab.txt'), ...tiny, '--out', f('init')).code, 0);
  const a = roots('train', '--model', f('init'), '--train', f('a.conll'), '--out', f('A'), ...fast, '--save-fisher');
  assert.equal(a.code, 0, a.stderr);
  const fileA = await readSafetensorsIndex(f('A/continual.safetensors'));
  assert.equal(fileA.metadata.tasks, '1');
  const before = hash(f('A'));
  const labelsA: string[] = Object.values(JSON.parse(readFileSync(f('A/config.json'), 'utf8')).id2label);
  assert.ok(!labelsA.some((l) => l.endsWith('ORG')));

  const b = roots('train', '--continual-from', f('A'), '--method', 'ewc,replay,lwf,l2sp', '--replay-data', f('a.conll'), '--replay-size', '40',
    '--ewc-lambda', '100', '--train', f('b.conll'), '--dev', f('b-dev.conll'), '--out', f('B'), ...fast, '--json');
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stderr, /Added 2 labels to the head of .*A \(B-ORG, I-ORG\)/);
  assert.match(b.stderr, /EWC: the Fisher of 1 earlier task from/);
  const summary = JSON.parse(b.stdout);
  assert.deepEqual(summary.labels, [...labelsA, 'B-ORG', 'I-ORG'], 'the old labels keep their ids');
  const fileB = await readSafetensorsIndex(f('B/continual.safetensors'));
  assert.equal(fileB.metadata.tasks, '2', 'online EWC: the chain goes on');
  assert.deepEqual(fileB.index.get('fisher.classifier.weight')!.shape, [labelsA.length + 2, 16]);
  assert.deepEqual(hash(f('A')), before, 'the earlier model is untouched');

  // A third task onto B reads B's Fisher (two tasks) without any old data.
  const c = roots('train', '--continual-from', f('B'), '--method', 'ewc', '--train', f('a.conll'), '--out', f('C'), ...fast);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stderr, /EWC: the Fisher of 2 earlier tasks/);
  assert.equal((await readSafetensorsIndex(f('C/continual.safetensors'))).metadata.tasks, '3');
});

test('roots train --continual-from: bad input is one clear line and leaves the earlier model as it was', async () => {
  const before = hash(f('A'));
  oneLineError(roots('train', '--continual-from', f('A'), '--train', f('b.conll'), '--out', f('A')), /--out .* is the --continual-from model: the earlier model is never overwritten/);
  oneLineError(roots('train', '--continual-from', f('A'), '--method', 'ewc,magic', '--train', f('b.conll'), '--out', f('X')), /"magic" is not one of ewc, replay, lwf, l2sp/);
  oneLineError(roots('train', '--continual-from', f('A'), '--method', 'replay', '--train', f('b.conll'), '--out', f('X')), /--method replay needs --replay-data/);
  oneLineError(roots('train', '--model', f('init'), '--ewc-lambda', '5', '--train', f('b.conll'), '--out', f('X')), /--ewc-lambda needs --continual-from/);
  // A replay file of another task: a text-classification TSV, and a CoNLL file of other entity types.
  writeFileSync(f('sst.tsv'), 'sentence\tlabel\na fine film\t1\na dull film\t0\n');
  const r1 = roots('train', '--continual-from', f('A'), '--method', 'replay', '--replay-data', f('sst.tsv'), '--train', f('b.conll'), '--out', f('X'));
  assert.equal(r1.code, 1);
  assert.match(r1.stderr, /--replay-data: .*sst\.tsv: format tsv does not hold tagged sentences/);
  writeFileSync(f('misc.conll'), 'Reuters B-MISC\nsaid O\n\n');
  oneLineError(roots('train', '--continual-from', f('A'), '--method', 'replay', '--replay-data', f('misc.conll'), '--train', f('b.conll'), '--out', f('X')),
    /--replay-data .*misc\.conll: labels MISC are not the --continual-from model's \(.*\); is it another task's data\?/);
  // A model whose vocabulary differs.
  assert.equal(roots('init', '--vocab', f('vocab2.txt'), ...tiny, '--out', f('init2')).code, 0);
  oneLineError(roots('train', '--continual-from', f('A'), '--model', f('init2'), '--train', f('b.conll'), '--out', f('X')), /--continual-from .* has another vocabulary \(\d+ tokens\) than --model's tokenizer/);
  // EWC without a Fisher, and with the Fisher of another model.
  oneLineError(roots('train', '--continual-from', f('init'), '--train', f('b.conll'), '--out', f('X')), /--continual-from .*init is not a trained model \(no model\.safetensors/);
  const a3 = roots('init', '--vocab', f('vocab.txt'), '--hidden', '32', '--layers', '1', '--heads', '2', '--intermediate', '32', '--max-position', '64', '--cased', '--out', f('init3'));
  assert.equal(a3.code, 0);
  assert.equal(roots('train', '--model', f('init3'), '--train', f('a.conll'), '--out', f('A3'), ...fast).code, 0);
  oneLineError(roots('train', '--continual-from', f('A3'), '--method', 'ewc', '--train', f('b.conll'), '--out', f('X')), /--method ewc: .*A3 has no continual\.safetensors \(train it with --save-fisher\), so the Fisher needs the old task's data: --fisher-data/);
  copyFileSync(f('A/continual.safetensors'), f('A3/continual.safetensors'));
  const bad = roots('train', '--continual-from', f('A3'), '--method', 'ewc', '--train', f('b.conll'), '--out', f('X'));
  assert.equal(bad.code, 1);
  const last = bad.stderr.trim().split('\n').at(-1)!;
  assert.match(last, /^roots: error: .*A3\/continual\.safetensors does not match the model's parameters: fisher\.bert\.embeddings\.word_embeddings\.weight has shape \[400,16\], the model \[400,32\];.* It belongs to another model/);
  assert.deepEqual(hash(f('A')), before);
});
