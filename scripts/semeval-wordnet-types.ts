/**
 * SemEval-2010 Task 8 with entity types, for typed entity markers (`--typed-markers`): each
 * nominal gets the WordNet lexicographer file (supersense) of its first noun sense, e.g.
 * `<e1>author</e1>` -> PERSON, `<e2>disassembler</e2>` -> ARTIFACT. SemEval's nominals carry no
 * types of their own; WordNet's 26 noun supersenses are the coarse types available offline (Debian's
 * wordnet-base, /usr/share/wordnet). The lookup: the whole nominal (words joined by `_`), then its
 * last word (the head of an English noun phrase), each lower-cased and reduced to a base form as
 * WordNet's morphy does for nouns (noun.exc, then the detachment rules); UNKNOWN when none is a
 * noun in WordNet. The relation labels are never looked at, so the types leak nothing.
 *
 *   node --import tsx scripts/semeval-wordnet-types.ts TRAIN_FILE.TXT OUT.jsonl [--wordnet DIR]
 *
 * Writes JSONL that `roots train --task relation-classification --typed-markers` reads:
 * `{"id", "text", "e1": {"start", "end", "type"}, "e2": {...}, "relation"}` (written to a temporary
 * file and renamed); prints how many nominals got each type.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readRelations } from '../lib/data/semeval.js';
import { writeFileAtomic } from '../lib/util/atomic-write.js';

const args = process.argv.slice(2);
const at = args.indexOf('--wordnet');
const dir = at >= 0 ? args.splice(at, 2)[1] : '/usr/share/wordnet';
const [input, out] = args;
if (!input || !out) {
  console.error('usage: node --import tsx scripts/semeval-wordnet-types.ts SEMEVAL_FILE OUT.jsonl [--wordnet DIR]');
  process.exit(1);
}
if (!existsSync(join(dir, 'index.noun'))) {
  console.error(`${dir}/index.noun not found: install WordNet's data (Debian: apt-get install wordnet-base) or give --wordnet DIR`);
  process.exit(1);
}

// lexnames(5WN): the noun lexicographer files are numbers 03-28.
const LEXNAMES = ['Tops', 'act', 'animal', 'artifact', 'attribute', 'body', 'cognition', 'communication', 'event', 'feeling',
  'food', 'group', 'location', 'motive', 'object', 'person', 'phenomenon', 'plant', 'possession', 'process', 'quantity',
  'relation', 'shape', 'state', 'substance', 'time'];

// index.noun: `lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt synset_offset...`, first sense first.
const firstSense = new Map<string, number>();
for (const line of readFileSync(join(dir, 'index.noun'), 'latin1').split('\n')) {
  if (line === '' || line.startsWith(' ')) continue;
  const f = line.split(' ');
  const pointers = Number(f[3]);
  firstSense.set(f[0], Number(f[4 + pointers + 2]));
}
const dataNoun = readFileSync(join(dir, 'data.noun'));
const exceptions = new Map<string, string>();
for (const line of readFileSync(join(dir, 'noun.exc'), 'latin1').split('\n')) {
  const [inflected, base] = line.split(' ');
  if (base) exceptions.set(inflected, base);
}
const DETACH: [string, string][] = [['s', ''], ['ses', 's'], ['xes', 'x'], ['zes', 'z'], ['ches', 'ch'], ['shes', 'sh'], ['men', 'man'], ['ies', 'y']];

/** The supersense of a noun's first sense (data.noun at the synset's byte offset: `offset lex_filenum ...`). */
function supersense(lemma: string): string | undefined {
  const candidates = [lemma, exceptions.get(lemma), ...DETACH.filter(([suffix]) => lemma.endsWith(suffix)).map(([suffix, base]) => lemma.slice(0, -suffix.length) + base)];
  for (const c of candidates) {
    const offset = c ? firstSense.get(c) : undefined;
    if (offset === undefined) continue;
    const lexFile = Number(dataNoun.subarray(offset, offset + 40).toString('latin1').split(' ')[1]);
    return LEXNAMES[lexFile - 3]?.toUpperCase();
  }
  return undefined;
}

function typeOf(nominal: string): string {
  const words = nominal.toLowerCase().split(/\s+/).filter(Boolean);
  return supersense(words.join('_')) ?? supersense(words.at(-1) ?? '') ?? 'UNKNOWN';
}

const examples = await readRelations(input, { format: 'semeval' });
const counts = new Map<string, number>();
const lines = examples.map((ex) => {
  const [t1, t2] = [ex.e1, ex.e2].map((s) => typeOf(ex.text.slice(s.start, s.end)));
  for (const t of [t1, t2]) counts.set(t, (counts.get(t) ?? 0) + 1);
  return JSON.stringify({ id: ex.id, text: ex.text, e1: { ...ex.e1, type: t1 }, e2: { ...ex.e2, type: t2 }, relation: ex.relation });
});
await writeFileAtomic(out, `${lines.join('\n')}\n`);
console.log(`${out}: ${examples.length} examples; nominal types: ${[...counts].sort((a, b) => b[1] - a[1]).map(([t, n]) => `${t} ${n}`).join(', ')}`);
