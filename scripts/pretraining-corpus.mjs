#!/usr/bin/env node
// Writes the text of the TRAINING splits of the shared datasets as a pretraining corpus, one
// sentence per line (never their dev or test splits): CoNLL-2003 eng.train, WNUT-17 train, SST-2
// train, TREC train, SNIPS train, SemEval-2010 Task 8 train (entity markers removed), and the Brown
// Corpus but every 50th sentence, which goes to a held-out file for the MLM evaluation. The output goes
// where you say (never into the repository: the data stays under ../shared/data):
//   OUT/train/*.txt   the training text (give the folder to `roots pretrain --train`)
//   OUT/heldout.txt   held-out Brown sentences (`--eval`)
//
//   node scripts/pretraining-corpus.mjs [--data ../shared/data] --out /tmp/pretrain-text
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { data: { type: 'string' }, out: { type: 'string' } } });
if (!values.out) {
  console.error('usage: node scripts/pretraining-corpus.mjs --out DIR [--data ../shared/data]');
  process.exit(2);
}
const data = resolve(values.data ?? join(import.meta.dirname, '..', '..', 'shared', 'data'));
const out = resolve(values.out);
mkdirSync(join(out, 'train'), { recursive: true });
const read = (p) => readFileSync(join(data, p), 'utf8');

/** CoNLL columns: token first; sentences end at blank lines; -DOCSTART- skipped. */
function conllSentences(text) {
  const sentences = [];
  let cur = [];
  for (const line of text.split(/\r?\n/)) {
    const t = line.trim();
    if (t === '' || t.startsWith('-DOCSTART-')) {
      if (cur.length) sentences.push(cur.join(' '));
      cur = [];
      continue;
    }
    cur.push(t.split(/\s+/)[0]);
  }
  if (cur.length) sentences.push(cur.join(' '));
  return sentences;
}

const brown = read('corpora/brown/brown.txt').split(/\r?\n/).filter((l) => l.trim() !== '');
const parts = {
  'brown-train.txt': brown.filter((_, i) => i % 50 !== 49),
  'conll2003-train.txt': conllSentences(read('ner/conll2003/eng.train')),
  'wnut17-train.txt': conllSentences(read('ner/wnut17/wnut17train.conll')),
  'sst2-train.txt': read('textcls/sst2/train.tsv').split(/\r?\n/).slice(1).map((l) => l.split('\t')[1] ?? '').filter(Boolean),
  'trec-train.txt': read('textcls/trec/TREC.train.all').split(/\r?\n/).map((l) => l.replace(/^\S+\s+/, '').trim()).filter(Boolean),
  'snips-train.txt': read('intent/snips/train/seq.in').split(/\r?\n/).map((l) => l.trim()).filter(Boolean),
  'semeval2010-train.txt': read('relation/semeval2010_task8/TRAIN_FILE.TXT').split(/\r?\n/)
    .map((l) => /^\d+\t"(.*)"\s*$/.exec(l)?.[1]).filter(Boolean).map((s) => s.replace(/<\/?e[12]>/g, '')),
};
let lines = 0;
for (const [name, sentences] of Object.entries(parts)) {
  writeFileSync(join(out, 'train', name), sentences.join('\n') + '\n');
  lines += sentences.length;
  console.log(`${join(out, 'train', name)}: ${sentences.length} sentences`);
}
const heldout = brown.filter((_, i) => i % 50 === 49);
writeFileSync(join(out, 'heldout.txt'), heldout.join('\n') + '\n');
console.log(`${lines} training sentences in ${Object.keys(parts).length} files; ${heldout.length} held-out Brown sentences in ${join(out, 'heldout.txt')}`);
