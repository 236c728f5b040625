// Length bucketing (group-by-length) against shuffled batches, on CoNLL-2003, several seeds, at equal
// steps and at equal training time. Each run is a fresh model trained with the Trainer (the recipe of
// the README's CoNLL table at a smaller size, so the whole matrix fits in about half an hour on two
// cores). Runs of one seed go side by side (two processes, one torch thread each), so both modes see the
// same load from whatever else the machine is doing; training time is the Trainer's own (evaluation
// and saving excluded).
//
//   node --import tsx bench/experiments/group-by-length.ts [--seeds 1,2,3] [--epochs 3] [--out out/gbl]
//
// Phase 1: bucketed and shuffled, same steps (`--epochs`), per seed.
// Phase 2: bucketed again with the step count that the shuffled run's training time buys at the
// bucketed run's measured step rate (equal training time), per seed.
// Prints a Markdown table; writes every run's results as JSON under --out.
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const repo = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const data = resolve(repo, '..', 'shared', 'data');
const conll = join(data, 'ner', 'conll2003');
const vocab = join(data, 'vocab', 'bert-base-cased', 'vocab.txt');

interface RunResult { seed: number; mode: 'bucketed' | 'shuffled'; steps: number; trainSeconds: number; devF1: number; testF1: number; tokens: number }

async function worker(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { seed: { type: 'string' }, mode: { type: 'string' }, steps: { type: 'string' }, epochs: { type: 'string' }, init: { type: 'string' }, out: { type: 'string' } } });
  const roots = await import('../../lib/index.js');
  roots.setNumThreads(1);
  const seed = Number(values.seed);
  const bucketed = values.mode === 'bucketed';
  const tokenizer = await roots.Tokenizer.fromPretrained(values.init!);
  const [train, dev, test] = await Promise.all(['eng.train', 'eng.testa', 'eng.testb'].map((f) => roots.readConll(join(conll, f))));
  const labels = roots.nerTask().labelsOf(train);
  const model = await roots.BertForTokenClassification.fromPretrained(values.init!, { labels, seed, log: null });
  try {
    const trainer = new roots.Trainer({
      model, tokenizer, train, eval: dev, task: 'ner',
      args: {
        ...(values.steps ? { maxSteps: Number(values.steps) } : { epochs: Number(values.epochs) }),
        batchSize: 32, learningRate: 1e-3, warmupRatio: 0.06, weightDecay: 0.01, seed, precision: 'fp32',
        groupByLength: bucketed, evalStrategy: 'no', saveStrategy: 'no', progress: 'none', report: false,
      } as never,
    });
    const r = await trainer.train();
    const ev = await trainer.evaluate(dev);
    const te = await trainer.evaluate(test, { name: 'test' });
    const out: RunResult = { seed, mode: bucketed ? 'bucketed' : 'shuffled', steps: r.globalStep, trainSeconds: r.trainSeconds, devF1: ev.metrics.f1, testF1: te.metrics.f1, tokens: r.tokens };
    await writeFile(values.out!, JSON.stringify(out) + '\n');
  } finally {
    model.dispose();
  }
}

function run(args: string[]): Promise<void> {
  return new Promise((ok, bad) => {
    const p = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--worker', ...args], { stdio: ['ignore', 'inherit', 'inherit'], cwd: repo });
    p.on('exit', (code) => (code === 0 ? ok() : bad(new Error(`worker ${args.join(' ')} exited with ${code}`))));
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seeds: { type: 'string', default: '1,2,3' }, epochs: { type: 'string', default: '3' }, out: { type: 'string', default: 'out/group-by-length' } } });
  if (!existsSync(join(conll, 'eng.train'))) throw new Error(`CoNLL-2003 not found under ${conll}`);
  const out = resolve(values.out);
  await mkdir(out, { recursive: true });
  const init = join(out, 'init');
  if (!existsSync(join(init, 'config.json'))) {
    await new Promise<void>((ok, bad) => {
      const p = spawn(process.execPath, [join(repo, 'bin', 'roots.js'), 'init', '--vocab', vocab, '--hidden', '128', '--layers', '2', '--heads', '2', '--intermediate', '512', '--cased', '--out', init], { stdio: 'inherit' });
      p.on('exit', (c) => (c === 0 ? ok() : bad(new Error('roots init failed'))));
    });
  }
  const seeds = values.seeds.split(',').map(Number);
  const results: RunResult[] = [];
  const load = async (f: string): Promise<RunResult> => JSON.parse(await readFile(f, 'utf8')) as RunResult;
  for (const seed of seeds) {
    const files = ['bucketed', 'shuffled'].map((m) => join(out, `steps-${m}-${seed}.json`));
    await Promise.all(['bucketed', 'shuffled'].map((m, k) => existsSync(files[k]) ? null : run(['--seed', String(seed), '--mode', m, '--epochs', values.epochs, '--init', init, '--out', files[k]])));
    const [b, s] = await Promise.all(files.map(load));
    results.push(b, s);
    console.log(JSON.stringify({ phase: 'equal-steps', seed, bucketed: b, shuffled: s }));
  }
  const timed: RunResult[] = [];
  for (let i = 0; i < seeds.length; i += 2) {
    const batch = seeds.slice(i, i + 2);
    await Promise.all(batch.map(async (seed) => {
      const b = results.find((r) => r.seed === seed && r.mode === 'bucketed')!;
      const s = results.find((r) => r.seed === seed && r.mode === 'shuffled')!;
      const steps = Math.round(b.steps * (s.trainSeconds / b.trainSeconds));
      const f = join(out, `time-bucketed-${seed}.json`);
      if (!existsSync(f)) await run(['--seed', String(seed), '--mode', 'bucketed', '--steps', String(steps), '--init', init, '--out', f]);
      timed.push(await load(f));
    }));
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const row = (name: string, rs: RunResult[]) => `| ${name} | ${mean(rs.map((r) => r.steps)).toFixed(0)} | ${mean(rs.map((r) => r.trainSeconds)).toFixed(0)} | ${rs.map((r) => r.devF1.toFixed(4)).join(' / ')} (${mean(rs.map((r) => r.devF1)).toFixed(4)}) | ${rs.map((r) => r.testF1.toFixed(4)).join(' / ')} (${mean(rs.map((r) => r.testF1)).toFixed(4)}) | ${mean(rs.map((r) => r.tokens / r.trainSeconds)).toFixed(0)} |`;
  const table = [
    `seeds ${seeds.join(', ')}; H128 L2 I512, batch 32, lr 1e-3, fp32, 1 torch thread per run`,
    '| batches | steps | train s | dev F1 per seed (mean) | test F1 per seed (mean) | tokens/s |',
    '| --- | ---: | ---: | --- | --- | ---: |',
    row(`shuffled, ${values.epochs} epochs`, results.filter((r) => r.mode === 'shuffled')),
    row(`bucketed, ${values.epochs} epochs (equal steps)`, results.filter((r) => r.mode === 'bucketed')),
    row('bucketed, equal training time', timed),
  ].join('\n');
  console.log(table);
  await writeFile(join(out, 'table.md'), table + '\n');
}

if (process.argv[2] === '--worker') await worker(process.argv.slice(3));
else await main();
