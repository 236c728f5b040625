/**
 * `roots vocab` on the Brown Corpus: training time and peak memory, against Hugging Face's
 * WordPieceTrainer (the `tokenizers` Python package, when ROOTS_HF_PYTHON or python3 has it) on the
 * same file and options, in interleaved rounds; then subwords per word on the CoNLL-2003 training
 * text with the Brown vocabulary and with bert-base-cased's.
 *
 *   node --import tsx bench/vocab.bench.ts [--rounds 3] [--vocab-size 30000]
 *
 * Reads ../shared/data in place (ROOTS_SHARED_DATA to override).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tokenizer, parseVocab } from '../lib/tokenizer/index.js';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const data = process.env.ROOTS_SHARED_DATA ?? join(root, '..', 'shared', 'data');
const brown = join(data, 'corpora', 'brown', 'brown.txt');
const conll = join(data, 'ner', 'conll2003', 'eng.train');
const bertCased = join(data, 'vocab', 'bert-base-cased', 'vocab.txt');
const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i === -1 ? dflt : Number(process.argv[i + 1]);
};
const rounds = arg('--rounds', 3);
const vocabSize = arg('--vocab-size', 30000);
const out = mkdtempSync(join(tmpdir(), 'roots-vocab-bench-'));

function timed(cmd: string, args: string[]): { seconds: number; rssMiB: number } {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', cmd, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  const [s, kb] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { seconds: s, rssMiB: kb / 1024 };
}

const hfPython = [process.env.ROOTS_HF_PYTHON, 'python3'].filter((x): x is string => !!x)
  .find((exe) => spawnSync(exe, ['-c', 'import tokenizers'], { encoding: 'utf8' }).status === 0);
const hfScript = `
import sys
from tokenizers import Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import WordPiece
from tokenizers.trainers import WordPieceTrainer
t = Tokenizer(WordPiece(unk_token="[UNK]"))
t.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False)
t.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
t.train([sys.argv[1]], WordPieceTrainer(vocab_size=int(sys.argv[2]), min_frequency=2, limit_alphabet=1000,
        special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], show_progress=False))
t.model.save(sys.argv[3])`;

const cli = join(root, 'lib', 'cli', 'index.ts');
const rootsArgs = ['--import', 'tsx', '--input-type=module', '-e',
  `const { main } = await import(${JSON.stringify(cli)}); await main(['node', 'roots', ...process.argv.slice(1)]);`,
  'vocab', brown, '--output', join(out, 'roots'), '--vocab-size', String(vocabSize), '--no-lowercase'];
const ours: number[] = [];
const theirs: number[] = [];
let oursRss = 0;
let theirsRss = 0;
for (let r = 0; r < rounds; r++) {
  const a = timed(process.execPath, rootsArgs);
  ours.push(a.seconds);
  oursRss = Math.max(oursRss, a.rssMiB);
  if (hfPython) {
    const b = timed(hfPython, ['-c', hfScript, brown, String(vocabSize), out]);
    theirs.push(b.seconds);
    theirsRss = Math.max(theirsRss, b.rssMiB);
  }
}
const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
console.log(`roots vocab on Brown (${(readFileSync(brown).length / 1e6).toFixed(1)} MB), cased, vocab ${vocabSize}, ${rounds} interleaved rounds (wall time of the whole process):`);
console.log(`  roots:                 median ${median(ours).toFixed(2)} s, min ${Math.min(...ours).toFixed(2)} s, peak RSS ${oursRss.toFixed(0)} MiB`);
if (hfPython) console.log(`  HF tokenizers (Rust):  median ${median(theirs).toFixed(2)} s, min ${Math.min(...theirs).toFixed(2)} s, peak RSS ${theirsRss.toFixed(0)} MiB`);
else console.log('  HF tokenizers: no Python with the tokenizers package (set ROOTS_HF_PYTHON)');

// Subwords per word on CoNLL-2003's training text (its tokens are the words).
const words = readFileSync(conll, 'utf8').split('\n').map((l) => l.split(' ')[0]).filter((w) => w && w !== '-DOCSTART-');
const vocabs: [string, string[]][] = [['Brown, roots vocab', parseVocab(readFileSync(join(out, 'roots', 'vocab.txt'), 'utf8'))]];
if (hfPython) vocabs.push(['Brown, HF WordPieceTrainer', parseVocab(readFileSync(join(out, 'vocab.txt'), 'utf8'))]);
vocabs.push(['bert-base-cased', parseVocab(readFileSync(bertCased, 'utf8'))]);
console.log(`\nSubwords per word on CoNLL-2003 eng.train (${words.length} words):`);
for (const [name, vocab] of vocabs) {
  const tok = Tokenizer.fromVocab(vocab, { do_lower_case: false });
  let pieces = 0;
  let unk = 0;
  let split = 0;
  for (const w of words) {
    const t = tok.tokenize(w);
    pieces += t.length;
    if (t.length > 1) split++;
    if (t.includes('[UNK]')) unk++;
  }
  console.log(`  ${name.padEnd(28)} vocab ${String(vocab.length).padStart(5)}: ${(pieces / words.length).toFixed(3)} pieces/word, ${(100 * split / words.length).toFixed(1)}% of words split, ${unk} [UNK]`);
}
rmSync(out, { recursive: true, force: true });
