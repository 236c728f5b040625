// Metrics throughput: scoring one million tags (gold and predicted, CoNLL-like NER data), in the
// default and strict modes, end to end from conlleval text, and flat classification metrics.
// Prints the mean time per run and tags per second. Run: node --import tsx bench/metrics.bench.ts
import { Bench } from 'tinybench';
import { entityScores } from '../lib/metrics/seqeval.js';
import { scoreConll } from '../lib/metrics/conlleval.js';
import { classificationScores, matthewsCorrcoef } from '../lib/metrics/classification.js';

const TAGS = 1_000_000;
const TYPES = ['PER', 'LOC', 'ORG', 'MISC'];

// A deterministic generator (no Math.random, so runs are comparable).
let seed = 0x2545f491;
function rand(): number {
  seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
  return (seed >>> 0) / 0x100000000;
}

/** IOB2 sentences of 5..45 tokens, ~17% of tokens inside entities of 1..3 tokens. */
function makeCorpus(total: number): { yTrue: string[][]; yPred: string[][] } {
  const yTrue: string[][] = [], yPred: string[][] = [];
  let n = 0;
  while (n < total) {
    const len = Math.min(5 + Math.floor(rand() * 41), total - n);
    const gold: string[] = [];
    while (gold.length < len) {
      if (rand() < 0.9) { gold.push('O'); continue; }
      const type = TYPES[Math.floor(rand() * TYPES.length)]!;
      const span = 1 + Math.floor(rand() * 3);
      for (let k = 0; k < span && gold.length < len; k++) gold.push(`${k === 0 ? 'B' : 'I'}-${type}`);
    }
    // Predictions: 93% copied, the rest replaced by another tag (wrong type, wrong prefix, O).
    const pred = gold.map((tag) => {
      if (rand() < 0.93) return tag;
      const r = rand();
      if (r < 0.4) return 'O';
      const type = TYPES[Math.floor(rand() * TYPES.length)]!;
      return `${r < 0.7 ? 'B' : 'I'}-${type}`;
    });
    yTrue.push(gold); yPred.push(pred);
    n += len;
  }
  return { yTrue, yPred };
}

const { yTrue, yPred } = makeCorpus(TAGS);
const conllText = yTrue.map((s, i) => s.map((t, k) => `w ${t} ${yPred[i]![k]}\n`).join('') + '\n').join('');
const flatTrue = yTrue.flat(), flatPred = yPred.flat();
console.log(`corpus: ${TAGS.toLocaleString('en-US')} tags in ${yTrue.length.toLocaleString('en-US')} sentences; `
  + `${entityScores(yTrue, yPred).gold.toLocaleString('en-US')} gold entities`);

const bench = new Bench({ time: 1500, iterations: 10, warmup: true });
bench
  .add('entityScores (default mode)', () => { entityScores(yTrue, yPred); })
  .add('entityScores (strict IOB2)', () => { entityScores(yTrue, yPred, { scheme: 'IOB2' }); })
  .add('scoreConll (parse text + default mode)', () => { scoreConll(conllText); })
  .add('classificationScores (flat labels)', () => { classificationScores(flatTrue, flatPred); })
  .add('matthewsCorrcoef (flat labels)', () => { matthewsCorrcoef(flatTrue, flatPred); });

await bench.run();

const rows = bench.tasks.map((task) => {
  const r = task.result;
  if (r.state !== 'completed') return { task: task.name, state: r.state };
  const ms = r.latency.mean;
  return {
    task: task.name,
    'mean ms': ms.toFixed(1),
    'rme %': r.latency.rme.toFixed(1),
    runs: r.latency.samplesCount,
    'tags/s': Math.round(TAGS / (ms / 1000)).toLocaleString('en-US'),
  };
});
console.table(rows);
for (const row of rows) {
  if ('tags/s' in row) console.log(`${row.task}: ${row['tags/s']} tags/s (${row['mean ms']} ms for ${TAGS.toLocaleString('en-US')} tags)`);
}
