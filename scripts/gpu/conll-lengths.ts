// Writes scripts/gpu/conll2003-train-lengths.json: the token length ([CLS] + word pieces + [SEP],
// windows of at most 128 tokens) of every feature roots makes from CoNLL-2003 eng.train with the
// bert-base-cased vocabulary. Only the lengths leave ../shared/data (no text): the GPU machine has
// no copy of the data, and the benchmark's CoNLL row needs only the length distribution (the ids
// are random there).
//
//   node --import tsx scripts/gpu/conll-lengths.ts          (ROOTS_SHARED_DATA overrides ../shared/data)
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '../../lib/tokenizer/index.js';
import { readConll } from '../../lib/data/readers.js';
import { tokenClassificationFeatures } from '../../lib/data/align.js';

const root = join(import.meta.dirname, '..', '..');
const shared = process.env.ROOTS_SHARED_DATA ?? join(root, '..', 'shared', 'data');
const maxLength = 128;
const tokenizer = await Tokenizer.fromPretrained(join(shared, 'vocab', 'bert-base-cased'), { doLowerCase: false });
const sentences = await readConll(join(shared, 'ner', 'conll2003', 'eng.train'), { tagColumn: -1 });
const features = tokenClassificationFeatures(tokenizer, sentences, undefined, { maxLength });
const lengths = features.map((f) => f.inputIds.length);
const mean = lengths.reduce((a, b) => a + b, 0) / lengths.length;
const out = {
  source: 'CoNLL-2003 eng.train (../shared/data/ner/conll2003), tokenized by roots with vocab/bert-base-cased (cased), maxLength 128',
  generator: 'scripts/gpu/conll-lengths.ts',
  sentences: sentences.length,
  features: lengths.length,
  meanLength: +mean.toFixed(2),
  maxLength: Math.max(...lengths),
  lengths,
};
// Into .device/ (git-ignored, carried to the GPU machine): derived from a dataset we may not redistribute.
mkdirSync(join(import.meta.dirname, '..', '..', '.device'), { recursive: true });
writeFileSync(join(import.meta.dirname, '..', '..', '.device', 'conll2003-train-lengths.json'), JSON.stringify(out) + '\n');
console.log(`${sentences.length} sentences, ${lengths.length} features, mean length ${mean.toFixed(1)}, max ${out.maxLength}`);
