// The pipelines of roots against their peers, side by side in one run: the NER pipeline on
// CoNLL-2003 test sentences (eng.testb) and the text-classification pipeline on SST-2 dev sentences,
// at batch 1 (one call per sentence: the fixed cost of a call) and batch 32 (one call per 32), in
// fp32 and int8 (roots quantize: the encoder's linear layers, per-channel int8 weights, dynamic
// activations). The sides, each on the very same saved folder:
//   roots fp32 / int8                 the pipelines of this package (int8: precision 'int8')
//   transformers fp32 / int8          Transformers' pipelines on PyTorch 2.x (ROOTS_HF_PYTHON, default
//                                     /tmp/venv/bin/python); int8: PyTorch's quantize_dynamic on the same layers
//   eager fp32 / int8                 PyTorch eager on the LibTorch roots links (ROOTS_PYTHON, default
//                                     /usr/bin/python3): the torch.nn model alone on roots' token ids
//                                     (no tokenizer, no post-processing: a lower bound)
// Models: by default a small model per task trained here briefly (H=128, 2 layers, I=512, 90 steps:
// it predicts something); ROOTS_BENCH_NER_MODEL / ROOTS_BENCH_CLS_MODEL name fine-tuned folders instead.
//
// The sides run in interleaved rounds (the order rotated each round) so that load from other
// processes falls on all alike; sentences/s as medians and minimums over the rounds, ratios of the
// medians, and how often two sides agree (same entities or label; scores within 1e-3) in the first round.
//
//   npm run bench -- inference      ROOTS_BENCH_ROUNDS=3 ROOTS_BENCH_SENTENCES=1000 ROOTS_BENCH_TASKS=ner,text-classification
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DataLoader, LabelVocab, readConll, textClassificationFeatures, tokenClassificationFeatures } from '../lib/data/index.js';
import { info } from '../lib/info.js';
import { BertForSequenceClassification, BertForTokenClassification, type Precision } from '../lib/models/bert.js';
import { quantizedEngines } from '../lib/models/quantize.js';
import { nerPipeline } from '../lib/pipelines/ner.js';
import { textClassificationPipeline } from '../lib/pipelines/text-classification.js';
import { Tokenizer } from '../lib/tokenizer/index.js';

const root = join(import.meta.dirname, '..');
const data = process.env.ROOTS_SHARED_DATA ?? join(root, '..', 'shared', 'data');
const rounds = Number(process.env.ROOTS_BENCH_ROUNDS ?? 3);
const nSentences = Number(process.env.ROOTS_BENCH_SENTENCES ?? 1000);
const tasks = (process.env.ROOTS_BENCH_TASKS ?? 'ner,text-classification').split(',') as TaskName[];
const BATCHES = [1, 32] as const;
const PRECISIONS = ['fp32', 'int8'] as const;
const aggregation = 'simple';
type TaskName = 'ner' | 'text-classification';

const conll = join(data, 'ner', 'conll2003');
const sst2 = join(data, 'textcls', 'sst2');
if (!existsSync(join(conll, 'eng.testb')) || !existsSync(join(sst2, 'dev.tsv'))) {
  console.log(`skipped: CoNLL-2003 or SST-2 not found under ${data} (set ROOTS_SHARED_DATA)`);
  process.exit(0);
}

const work = mkdtempSync(join(tmpdir(), 'roots-inference-bench-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const tokenizer = await Tokenizer.fromPretrained(join(data, 'vocab', 'bert-base-cased'), { doLowerCase: false });
const sst2Rows = (file: string) => readFileSync(join(sst2, file), 'utf8').split('\n').slice(1).filter((l) => l.includes('\t')).map((l) => { const [label, text] = l.split('\t'); return { text, label }; });

/** A small model trained briefly on the task's training set, saved as a folder every side loads. */
async function trainedBriefly(task: TaskName): Promise<string> {
  const dir = join(work, task);
  const config = { vocab_size: tokenizer.vocabSize, hidden_size: 128, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 512 };
  let model: BertForTokenClassification | BertForSequenceClassification;
  let features: ConstructorParameters<typeof DataLoader>[0];
  if (task === 'ner') {
    const train = await readConll(join(conll, 'eng.train'));
    const labels = LabelVocab.fromTags(train.map((s) => s.tags));
    features = tokenClassificationFeatures(tokenizer, train.slice(0, 3000), labels, { maxLength: 128 });
    model = BertForTokenClassification.fromConfig(config, { labels: labels.labels, seed: 1 });
  } else {
    const train = sst2Rows('train.tsv').slice(0, 3000);
    features = textClassificationFeatures(tokenizer, train, LabelVocab.fromLabels(['0', '1']), { maxLength: 128 });
    model = BertForSequenceClassification.fromConfig(config, { labels: ['0', '1'], seed: 1 });
  }
  let steps = 0;
  for await (const b of new DataLoader(features, { batchSize: 32, tokenizer, shuffle: true, seed: 1 })) {
    await model.trainStep(b, { learningRate: 1e-3 });
    if (++steps === 90) break;
  }
  await model.save(dir, { tokenizer });
  model.dispose();
  return dir;
}

interface RunResult { seconds: number; cpu: number; entities: { score: number; [k: string]: unknown }[][] }
interface Side { name: string; task: TaskName; batch: number; precision: string; lib: string; run: () => Promise<RunResult> }

// ---- the peers: long-lived subprocesses idling on stdin between their turns ----
class Peer {
  readonly proc: ChildProcessWithoutNullStreams;
  readonly #queue: ((line: string) => void)[] = [];
  readonly #lines: string[] = [];  // lines that came before anyone asked (a peer started early)
  stderr = '';
  constructor(python: string, args: string[]) {
    this.proc = spawn(python, args);
    this.proc.stderr.on('data', (d) => { this.stderr += d; });
    const deliver = (l: string) => { const r = this.#queue.shift(); if (r) r(l); else this.#lines.push(l); };
    createInterface({ input: this.proc.stdout }).on('line', deliver);
    this.proc.on('exit', (code) => deliver(JSON.stringify({ error: `peer exited with ${code}: ${this.stderr.slice(-2000)}` })));
  }
  async next(): Promise<Record<string, unknown>> {
    const r = JSON.parse(this.#lines.shift() ?? await new Promise<string>((resolve) => this.#queue.push(resolve)));
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
const eagerPy = process.env.ROOTS_PYTHON ?? '/usr/bin/python3';
const hasHf = spawnSync(hfPy, ['-c', 'import torch, transformers'], { encoding: 'utf8' }).status === 0;
const hasEager = spawnSync(eagerPy, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
const cpuFlags = (readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags')) ?? '').split(':')[1]?.trim().split(/\s+/) ?? [];
const peers: Peer[] = [];
const versions: Record<string, unknown> = {};
const disposers: (() => void)[] = [];
const sides: Side[] = [];

for (const task of tasks) {
  const dir = (task === 'ner' ? process.env.ROOTS_BENCH_NER_MODEL : process.env.ROOTS_BENCH_CLS_MODEL) ?? await trainedBriefly(task);
  const texts = task === 'ner'
    ? (await readConll(join(conll, 'eng.testb'))).slice(0, nSentences).map((s) => s.tokens.join(' '))
    : sst2Rows('dev.tsv').slice(0, nSentences).map((r) => r.text);
  const textsFile = join(work, `${task}-texts.json`);
  writeFileSync(textsFile, JSON.stringify(texts));
  const idsFile = join(work, `${task}-ids.json`);
  writeFileSync(idsFile, JSON.stringify(texts.map((t) => Array.from(tokenizer.encode(t, null, { truncation: true, maxLength: 512 }).ids))));
  for (const precision of PRECISIONS) {
    const p = precision as Precision;
    const call = task === 'ner'
      ? await nerPipeline(dir, { aggregation, batchSize: 32, precision: p })
      : await textClassificationPipeline(dir, { batchSize: 32, precision: p });
    disposers.push(() => call.dispose());
    versions[`roots ${precision}`] = `${call.model.precision}${call.model.quantization ? ` (engine ${call.model.quantization.engine})` : ''}`;
    const roots = async (batch: number): Promise<RunResult> => {
      const out: RunResult['entities'] = [];
      const f = call as unknown as (x: string | string[]) => Promise<unknown>;
      const t = performance.now(), c = process.cpuUsage();
      if (batch === 1) for (const s of texts) out.push(norm(await f(s)));
      else for (let i = 0; i < texts.length; i += batch) out.push(...((await f(texts.slice(i, i + batch))) as unknown[]).map(norm));
      const u = process.cpuUsage(c);
      return { seconds: (performance.now() - t) / 1000, cpu: (u.user + u.system) / 1e6, entities: out };
    };
    const peerSides: [string, Peer | null][] = [
      ['transformers', hasHf ? new Peer(hfPy, [join(root, 'scripts', 'bench_inference_peer.py'), dir, textsFile, aggregation, String(threads), task === 'ner' ? 'token-classification' : 'text-classification', precision]) : null],
      ['eager', hasEager ? new Peer(eagerPy, [join(root, 'scripts', 'bench_eager_peer.py'), dir, idsFile, task === 'ner' ? 'token' : 'sequence', String(threads), precision]) : null],
    ];
    for (const b of BATCHES) sides.push({ name: `${task} b${b} roots ${precision}`, task, batch: b, precision, lib: 'roots', run: () => roots(b) });
    for (const [lib, peer] of peerSides) {
      if (!peer) continue;
      peers.push(peer);
      versions[`${lib} ${precision}`] = await peer.next();
      for (const b of BATCHES) sides.push({ name: `${task} b${b} ${lib} ${precision}`, task, batch: b, precision, lib, run: () => peer.run(b) });
    }
  }
}

/** One input's answer as a list of scored records (NER: entities; text classification: the one label). */
function norm(r: unknown): RunResult['entities'][number] {
  return (Array.isArray(r) ? r : [r]).map((e: { entity_group?: string; start?: number; end?: number; label?: string; score: number }) =>
    e.label !== undefined ? { label: e.label, score: e.score } : { entity_group: e.entity_group, start: e.start, end: e.end, score: e.score });
}

const vnni = ['avx512_vnni', 'avx_vnni', 'amx_int8'].filter((f) => cpuFlags.includes(f));
console.log(`CPU: ${sys.cpu.model}, ${sys.cpu.logicalCores} logical cores, ${threads} threads; AVX2 ${cpuFlags.includes('avx2') ? 'yes' : 'no'}, AVX-512 ${sys.cpu.avx512 ? 'yes' : 'no'}, int8 dot products (VNNI/AMX) ${vnni.join(', ') || 'none'}, bf16 ${sys.cpu.bf16 ? 'yes' : 'no'}`);
console.log(`roots on LibTorch ${sys.torch.version} (quantized engines ${quantizedEngines().join(', ')}); ${hasHf ? `Transformers peer: ${hfPy}` : `Transformers peer SKIPPED (${hfPy} cannot import torch and transformers; set ROOTS_HF_PYTHON)`}; ${hasEager ? `eager peer: ${eagerPy}` : `eager peer SKIPPED (${eagerPy} has no torch; set ROOTS_PYTHON)`}`);
for (const [k, v] of Object.entries(versions)) console.log(`  ${k}: ${JSON.stringify(v)}`);
console.log(`${nSentences} sentences per task (CoNLL-2003 eng.testb, SST-2 dev); NER aggregation '${aggregation}'; ${rounds} interleaved rounds`);

// ---- interleaved rounds ----
const rates = new Map<string, number[]>();
const cpuMs = new Map<string, number[]>();  // CPU time per sentence (every thread of the side's process): what load from others does not inflate
const first = new Map<string, RunResult['entities']>();
for (const s of sides) first.set(s.name, (await s.run()).entities);  // warm-up (every shape path once), and the answers compared
for (let r = 0; r < rounds; r++) {
  for (const s of sides.map((_, i) => sides[(i + r) % sides.length])) {
    const res = await s.run();
    const n = res.entities.length;
    rates.set(s.name, [...(rates.get(s.name) ?? []), n / res.seconds]);
    cpuMs.set(s.name, [...(cpuMs.get(s.name) ?? []), (res.cpu * 1000) / n]);
  }
  process.stderr.write(`round ${r + 1}/${rounds} done\n`);
}
for (const p of peers) p.close();
for (const d of disposers) d();

const median = (a: number[]) => { const s = [...a].sort((x, y) => x - y); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const rate = (name: string) => rates.get(name);
console.log('\n| task | batch | side | sentences/s median | min | vs Transformers fp32 (medians) | vs roots fp32 | CPU ms/sentence median | Transformers fp32 CPU / side CPU |');
console.log('|---|---:|---|---:|---:|---:|---:|---:|---:|');
for (const s of [...sides].sort((a, b) => a.task.localeCompare(b.task) || a.batch - b.batch || a.lib.localeCompare(b.lib) || a.precision.localeCompare(b.precision))) {
  const t = rate(s.name)!;
  const hf = rate(`${s.task} b${s.batch} transformers fp32`), base = rate(`${s.task} b${s.batch} roots fp32`)!;
  const cpu = cpuMs.get(s.name)!, hfCpu = cpuMs.get(`${s.task} b${s.batch} transformers fp32`);
  console.log(`| ${s.task} | ${s.batch} | ${s.lib} ${s.precision} | ${median(t).toFixed(0)} | ${Math.min(...t).toFixed(0)} | ${hf ? `${(median(t) / median(hf)).toFixed(2)}x` : '-'} | ${(median(t) / median(base)).toFixed(2)}x | ${median(cpu).toFixed(2)} | ${hfCpu ? `${(median(hfCpu) / median(cpu)).toFixed(2)}x` : '-'} |`);
}
console.log('\nagreement (first run; NER: same entities, text classification: same label; scores within 1e-3):');
for (const task of tasks) for (const b of BATCHES) {
  const pairs: [string, string][] = [['roots fp32', 'transformers fp32'], ['roots int8', 'roots fp32'], ['transformers int8', 'transformers fp32'], ['roots int8', 'transformers int8']];
  for (const [x, y] of pairs) {
    const a = first.get(`${task} b${b} ${x}`), c = first.get(`${task} b${b} ${y}`);
    if (!a || !c) continue;
    const same = a.filter((e, i) => sameRecords(e, c[i], 1e-3)).length;
    const sameLabels = a.filter((e, i) => sameRecords(e, c[i], Infinity)).length;
    console.log(`  ${task} b${b}: ${x} vs ${y}: ${same} of ${a.length} identical, ${sameLabels} with the same ${task === 'ner' ? 'entities' : 'label'} (any score)`);
  }
}

function sameRecords(a: RunResult['entities'][number], b: RunResult['entities'][number], tol: number): boolean {
  const key = (e: Record<string, unknown>) => JSON.stringify(Object.entries(e).filter(([k]) => k !== 'score' && k !== 'word').sort());
  return a.length === b.length && a.every((e, i) => key(e) === key(b[i]) && Math.abs(e.score - b[i].score) <= tol);
}
