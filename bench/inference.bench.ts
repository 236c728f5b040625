// The NER pipeline of roots against Hugging Face Transformers' token-classification pipeline on
// PyTorch 2.x, side by side in one run: CoNLL-2003 test sentences (eng.testb) through a small
// token classifier (H=128, 2 layers, 2 heads, I=512, trained here for 90 steps on CoNLL-2003 train
// so that it predicts entities), aggregation 'simple', fp32, at batch 1 (one call per sentence:
// the fixed cost of a call) and batch 32 (one call per 32 sentences). Both sides load the very
// same saved folder (config.json, model.safetensors, tokenizer.json).
//
// The sides run in interleaved rounds (the order rotated each round) so that load from other
// processes falls on both alike; sentences/s as medians and minimums over the rounds, the ratio of
// the medians, and whether both sides found the same entities (label, start, end; scores within
// 1e-3) in the first round.
//
//   npm run bench -- inference      ROOTS_BENCH_ROUNDS=3 ROOTS_BENCH_SENTENCES=2000
//   Transformers peer: ROOTS_HF_PYTHON (default /tmp/venv/bin/python); the bench says so and runs
//   roots alone when it cannot import transformers.
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DataLoader, LabelVocab, readConll, tokenClassificationFeatures } from '../lib/data/index.js';
import { info } from '../lib/info.js';
import { BertForTokenClassification } from '../lib/models/bert.js';
import { nerPipeline } from '../lib/pipelines/ner.js';
import { Tokenizer } from '../lib/tokenizer/index.js';

const root = join(import.meta.dirname, '..');
const data = process.env.ROOTS_SHARED_DATA ?? join(root, '..', 'shared', 'data');
const rounds = Number(process.env.ROOTS_BENCH_ROUNDS ?? 3);
const nSentences = Number(process.env.ROOTS_BENCH_SENTENCES ?? 2000);
const BATCHES = [1, 32] as const;
const aggregation = 'simple';

if (!existsSync(join(data, 'ner', 'conll2003', 'eng.testb'))) {
  console.log(`skipped: CoNLL-2003 not found under ${data} (set ROOTS_SHARED_DATA)`);
  process.exit(0);
}

// ---- the model: trained briefly, saved as a Hugging Face folder both sides load ----
const work = mkdtempSync(join(tmpdir(), 'roots-inference-bench-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const modelDir = join(work, 'model');
const tokenizer = await Tokenizer.fromPretrained(join(data, 'vocab', 'bert-base-cased'), { doLowerCase: false });
{
  const train = await readConll(join(data, 'ner', 'conll2003', 'eng.train'));
  const labels = LabelVocab.fromTags(train.map((s) => s.tags));
  const features = tokenClassificationFeatures(tokenizer, train.slice(0, 3000), labels, { maxLength: 128 });
  const model = BertForTokenClassification.fromConfig(
    { vocab_size: tokenizer.vocabSize, hidden_size: 128, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 512 },
    { labels: labels.labels, seed: 1 });
  let steps = 0;
  for await (const b of new DataLoader(features, { batchSize: 32, tokenizer, shuffle: true, seed: 1 })) {
    await model.trainStep(b, { learningRate: 1e-3 });
    if (++steps === 90) break;
  }
  await model.save(modelDir, { tokenizer });
  model.dispose();
}
const texts = (await readConll(join(data, 'ner', 'conll2003', 'eng.testb'))).slice(0, nSentences).map((s) => s.tokens.join(' '));
const textsFile = join(work, 'texts.json');
writeFileSync(textsFile, JSON.stringify(texts));

interface Entity { entity_group: string; start: number; end: number; score: number }
interface RunResult { seconds: number; entities: Entity[][] }

// ---- roots ----
const ner = await nerPipeline(modelDir, { aggregation, batchSize: 32 });
async function rootsRun(batch: number): Promise<RunResult> {
  const out: Entity[][] = [];
  const t = performance.now();
  if (batch === 1) for (const s of texts) out.push((await ner(s)) as unknown as Entity[]);
  else for (let i = 0; i < texts.length; i += batch) out.push(...((await ner(texts.slice(i, i + batch))) as unknown as Entity[][]));
  return { seconds: (performance.now() - t) / 1000, entities: out };
}

// ---- the Transformers peer: a long-lived subprocess idling on stdin between its turns ----
class Peer {
  readonly proc: ChildProcessWithoutNullStreams;
  readonly #queue: ((line: string) => void)[] = [];
  stderr = '';
  constructor(python: string, threads: number) {
    this.proc = spawn(python, [join(root, 'scripts', 'bench_inference_peer.py'), modelDir, textsFile, aggregation, String(threads)]);
    this.proc.stderr.on('data', (d) => { this.stderr += d; });
    createInterface({ input: this.proc.stdout }).on('line', (l) => this.#queue.shift()?.(l));
    this.proc.on('exit', (code) => {
      for (const r of this.#queue.splice(0)) r(JSON.stringify({ error: `peer exited with ${code}: ${this.stderr.slice(-2000)}` }));
    });
  }
  async next(): Promise<Record<string, unknown>> {
    const r = JSON.parse(await new Promise<string>((resolve) => this.#queue.push(resolve)));
    if (r.error) throw new Error(r.error);
    return r;
  }
  async run(batch: number): Promise<RunResult> {
    const reply = this.next();
    this.proc.stdin.write(JSON.stringify({ batch }) + '\n');
    return (await reply) as unknown as RunResult;
  }
  close(): void { this.proc.stdin.end('\n'); }
}

const sys = info();
const threads = sys.threads.intraOp;
const hfPy = process.env.ROOTS_HF_PYTHON ?? '/tmp/venv/bin/python';
let peer: Peer | null = null;
let peerInfo: Record<string, unknown> = {};
if (spawnSync(hfPy, ['-c', 'import torch, transformers'], { encoding: 'utf8' }).status === 0) {
  peer = new Peer(hfPy, threads);
  peerInfo = await peer.next();
}
console.log(`roots on LibTorch ${sys.torch.version}; ${peer ? `Transformers ${peerInfo.transformers} on torch ${peerInfo.torch} (${hfPy})` : `Transformers peer SKIPPED: ${hfPy} cannot import torch and transformers (set ROOTS_HF_PYTHON)`}`);
console.log(`${sys.cpu.model}, ${threads} threads; NER pipeline, aggregation '${aggregation}', ${texts.length} CoNLL-2003 test sentences, H=128 L=2, fp32; ${rounds} interleaved rounds`);

// ---- interleaved rounds ----
const times = new Map<string, number[]>();
const first = new Map<string, Entity[][]>();
const sides = BATCHES.flatMap((b) => [{ name: `roots b${b}`, batch: b, run: () => rootsRun(b) },
  ...(peer ? [{ name: `transformers b${b}`, batch: b, run: () => peer!.run(b) }] : [])]);
for (const s of sides) await s.run();  // warm-up: every shape path once
for (let r = 0; r < rounds; r++) {
  const order = sides.map((_, i) => sides[(i + r) % sides.length]);
  for (const s of order) {
    const res = await s.run();
    if (!times.has(s.name)) times.set(s.name, []);
    times.get(s.name)!.push(texts.length / res.seconds);
    if (!first.has(s.name)) first.set(s.name, res.entities);
  }
}
peer?.close();
ner.dispose();

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const fmt = (x: number) => x.toFixed(0).padStart(7);
console.log('\nside                 sentences/s median     min (of the rounds: lowest rate)');
for (const s of sides) {
  const t = times.get(s.name)!;
  console.log(`${s.name.padEnd(20)} ${fmt(median(t))}      ${fmt(Math.min(...t))}`);
}
if (peer) {
  for (const b of BATCHES) {
    const a = times.get(`roots b${b}`)!, p = times.get(`transformers b${b}`)!;
    const ours = first.get(`roots b${b}`)!, theirs = first.get(`transformers b${b}`)!;
    const same = ours.filter((e, i) => sameEntities(e, theirs[i])).length;
    console.log(`batch ${String(b).padStart(2)}: roots / Transformers ${(median(a) / median(p)).toFixed(2)}x (medians), ${(Math.min(...a) / Math.min(...p)).toFixed(2)}x (minimums); identical entities in ${same} of ${texts.length} sentences`);
  }
}

function sameEntities(a: Entity[], b: Entity[]): boolean {
  return a.length === b.length && a.every((e, i) => e.entity_group === b[i].entity_group && e.start === b[i].start && e.end === b[i].end && Math.abs(e.score - b[i].score) < 1e-3);
}
