#!/usr/bin/env node
// Writes the text of the TRAINING splits of the shared datasets as a pretraining corpus, one
// sentence per line (never their dev or test splits): CoNLL-2003 eng.train, WNUT-17 train, SST-2
// train, TREC train, SNIPS train, SemEval-2010 Task 8 train (entity markers removed). The Brown Corpus
// is read in place by `roots pretrain` and is not copied. The output goes where you say (never into the
// repository: the data stays under ../shared/data).
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
mkdirSync(out, { recursive: true });
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

const parts = {
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
  writeFileSync(join(out, name), sentences.join('\n') + '\n');
  lines += sentences.length;
  console.log(`${join(out, name)}: ${sentences.length} sentences`);
}
console.log(`${lines} sentences in ${Object.keys(parts).length} files; add ${join(data, 'corpora/brown/brown.txt')} to --train`);
