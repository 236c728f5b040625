// `npm run bench -- serve`: roots serve under load on loopback (autocannon), a BERT NER model
// (H256, L4, I1024, bert-base-uncased's 30,522-token vocabulary, CoNLL-2003's 9 labels; random weights:
// the cost is the same as a trained one's) answering real CoNLL-2003 dev sentences (../shared/data,
// read in place).
// 1. Throughput (requests answered / wall time), p50 and p99 at 1, 8 and 64 concurrent clients, with
//    dynamic batching (batch 32, wait 5 ms) and without (batch 1, no wait), in interleaved rounds, each
//    server in its own process. Each point sends a fixed number of requests (ROOTS_SERVE_REQUESTS per
//    client, at least 60, default 25) and waits for every answer, so nothing in flight is cut off.
// 2. Twice the capacity (the batched server's 64-client rate, doubled, offered by 128 clients, for
//    ROOTS_SERVE_OVERLOAD_SECONDS, default 10) against a queue of 32 inputs: how many are answered 200 and
//    503, none lost (every request sent gets a response), every 200 checked against a direct pipeline
//    call on the same sentence (labels and spans exact, scores within 1e-4: a batch pads, which moves
//    the last bits of the logits), and the latency of the 200s.
// 3. The server's RSS (its anonymous part, and the V8 heap) at the start and every ROOTS_SERVE_RSS_STEP requests (default 10000)
//    over ROOTS_SERVE_RSS_REQUESTS (default 100000), at ROOTS_SERVE_RSS_CLIENTS clients (default 8), on
//    the same model, or with ROOTS_SERVE_RSS_MODEL=small on a small one (H64, L2, I256: the server's
//    own memory shows at a rate that reaches 100k requests in minutes rather than an hour).
// ROOTS_SERVE_ROUNDS (default 3) sets the rounds; ROOTS_SERVE_ONLY=load runs parts 1 and 2, =rss part 3.
// The load average (1 min) is printed with every round and RSS sample.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { readConll } from '../lib/data/index.js';
import { BertForTokenClassification } from '../lib/models/bert.js';
import { pipeline } from '../lib/pipelines/index.js';
import { Tokenizer } from '../lib/tokenizer/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const data = (p: string) => join(process.env.ROOTS_SHARED_DATA ?? join(root, '..', 'shared', 'data'), p);
const PER_CLIENT = Number(process.env.ROOTS_SERVE_REQUESTS ?? 25);
const OVERLOAD_SECONDS = Number(process.env.ROOTS_SERVE_OVERLOAD_SECONDS ?? 10);
const ROUNDS = Number(process.env.ROOTS_SERVE_ROUNDS ?? 3);
const RSS_REQUESTS = Number(process.env.ROOTS_SERVE_RSS_REQUESTS ?? 100_000);
const RSS_STEP = Number(process.env.ROOTS_SERVE_RSS_STEP ?? 10_000);
const RSS_CLIENTS = Number(process.env.ROOTS_SERVE_RSS_CLIENTS ?? 8);
const ONLY = process.env.ROOTS_SERVE_ONLY;
const load1 = () => loadavg()[0].toFixed(1);
const LABELS = ['O', 'B-PER', 'I-PER', 'B-ORG', 'I-ORG', 'B-LOC', 'I-LOC', 'B-MISC', 'I-MISC'];

interface Server { url: string; child: ChildProcess }

/** A `roots serve` in its own process (the load generator never shares its event loop). */
async function startServer(models: string, options: Record<string, unknown>): Promise<Server> {
  const code = `const { createServer } = await import(${JSON.stringify(join(root, 'lib', 'serve', 'app.ts'))});
const app = await createServer({ models: ${JSON.stringify(models)}, preload: true, ...${JSON.stringify(options)} });
const url = await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write('URL ' + url + '\\n');
process.once('SIGTERM', () => { app.close(); });`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d; const m = /URL (\S+)/.exec(out); if (m) resolve(m[1]); });
    child.on('exit', (c) => reject(new Error(`server exited with ${c}`)));
  });
  return { url, child };
}

interface Point { throughput: number; p50: number; p99: number; non2xx: number; errors: number }

/** Sentences in turn, one per request; `check` sees each response with its sentence. */
function load(url: string, sentences: string[], o: { connections: number; amount: number; overallRate?: number },
  check?: (sentence: string, status: number, body: string) => void): Promise<autocannon.Result> {
  let next = 0;
  return autocannon({
    url, connections: o.connections, amount: o.amount, ...(o.overallRate ? { overallRate: o.overallRate } : {}), timeout: 60,
    requests: [{
      method: 'POST', path: '/v1/models/ner/predict', headers: { 'content-type': 'application/json' },
      setupRequest: (req: Record<string, unknown>, context: Record<string, unknown>) => {
        const s = sentences[next++ % sentences.length];
        context.sentence = s;
        return { ...req, body: JSON.stringify({ inputs: s }) };
      },
      onResponse: (status: number, body: string, context: Record<string, unknown>) => check?.(context.sentence as string, status, body),
    }] as never,
  });
}

const point = (r: autocannon.Result): Point => ({ throughput: (r['2xx'] + r.non2xx) / r.duration, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors + r.timeouts });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * The server's RSS and V8 heap in use (its /metrics), and its anonymous resident memory (Linux
 * /proc/PID/status RssAnon: what a leak grows; RSS also counts the mapped LibTorch pages, which
 * the kernel drops and reloads under memory pressure).
 */
async function memory(s: Server): Promise<{ rss: number; heap: number; anon: number }> {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  const heap = [...text.matchAll(/^roots_serve_nodejs_heap_space_size_used_bytes\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
  let anon = Number.NaN;
  try { anon = 1024 * Number(/^RssAnon:\s+(\d+) kB/m.exec(readFileSync(`/proc/${s.child.pid}/status`, 'utf8'))?.[1] ?? Number.NaN); } catch { /* not Linux */ }
  return { rss: Number(/^roots_serve_process_resident_memory_bytes (\d+)/m.exec(text)![1]), heap, anon };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'roots-serve-bench-'));
  const servers: Server[] = [];
  try {
    const tokenizer = await Tokenizer.fromPretrained(data('vocab/bert-base-uncased'));
    const small = ONLY === 'rss' && process.env.ROOTS_SERVE_RSS_MODEL === 'small';
    const shape = small ? { hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 256 } : { hidden_size: 256, num_hidden_layers: 4, num_attention_heads: 4, intermediate_size: 1024 };
    const model = BertForTokenClassification.fromConfig({ vocab_size: tokenizer.vocabSize, ...shape }, { labels: LABELS, seed: 1, log: null });
    await model.save(join(dir, 'ner'), { tokenizer });
    model.dispose();
    const sentences = (await readConll(data('ner/conll2003/eng.testa'))).map((s) => s.tokens.join(' ')).filter((s) => s.length > 0 && !s.startsWith('-DOCSTART-')).slice(0, 500);
    console.log(`model H${shape.hidden_size} L${shape.num_hidden_layers} I${shape.intermediate_size}, ${sentences.length} CoNLL-2003 dev sentences (mean ${Math.round(sentences.reduce((n, s) => n + s.length, 0) / sentences.length)} characters); `
      + `ROOTS_NUM_THREADS=${process.env.ROOTS_NUM_THREADS ?? '(all)'}; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);

    const batched = await startServer(dir, { maxBatchSize: 32, maxWaitMs: 5, maxQueue: 4096 });
    servers.push(batched);
    if (ONLY !== 'rss') await loadAndOverload(dir, sentences, batched, servers);
    if (ONLY !== 'load') await rssOver(batched, sentences);
  } finally {
    for (const s of servers) s.child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

async function loadAndOverload(dir: string, sentences: string[], batched: Server, servers: Server[]): Promise<void> {
  const single = await startServer(dir, { maxBatchSize: 1, maxWaitMs: 0, maxQueue: 4096 });
  servers.push(single);
  const results = new Map<string, Point[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of [1, 8, 64]) {
      for (const [mode, s] of [['batching', batched], ['no batching', single]] as const) {
        const r = point(await load(s.url, sentences, { connections: c, amount: c * Math.max(PER_CLIENT, Math.ceil(60 / c)) }));
        const key = `${mode}|${c}`;
        results.set(key, [...(results.get(key) ?? []), r]);
        console.log(`round ${round + 1} ${mode.padEnd(11)} ${String(c).padStart(2)} clients: ${r.throughput.toFixed(0)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, non-2xx ${r.non2xx}, errors ${r.errors}; load average ${load1()}`);
      }
    }
  }
  console.log('\n| clients | batching req/s | p50 ms | p99 ms | no batching req/s | p50 ms | p99 ms | gain |\n| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const c of [1, 8, 64]) {
    const [b, n] = ['batching', 'no batching'].map((m) => results.get(`${m}|${c}`)!);
    const med = (ps: Point[], k: keyof Point) => median(ps.map((p) => p[k]));
    console.log(`| ${c} | ${med(b, 'throughput').toFixed(0)} | ${med(b, 'p50')} | ${med(b, 'p99')} | ${med(n, 'throughput').toFixed(0)} | ${med(n, 'p50')} | ${med(n, 'p99')} | ${(med(b, 'throughput') / med(n, 'throughput')).toFixed(2)}x |`);
  }
  single.child.kill('SIGTERM');

  // 2. Twice the capacity against a bounded queue; every answer checked against a direct call.
  const capacity = median(results.get('batching|64')!.map((p) => p.throughput));
  const ner = await pipeline('ner', join(dir, 'ner'), { aggregation: 'first' });
  const expected = new Map<string, unknown>();
  for (const s of sentences) expected.set(s, JSON.parse(JSON.stringify(await ner(s))));
  ner.dispose();
  const bounded = await startServer(dir, { maxBatchSize: 32, maxWaitMs: 5, maxQueue: 32 });
  servers.push(bounded);
  const counts = { ok: 0, overloaded: 0, other: 0, wrong: 0, maxScoreDiff: 0 };
  const same = (a: unknown, b: unknown): boolean => {
    if (typeof a === 'number' && typeof b === 'number') { counts.maxScoreDiff = Math.max(counts.maxScoreDiff, Math.abs(a - b)); return Math.abs(a - b) <= 1e-4; }
    if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
    if (a && b && typeof a === 'object' && typeof b === 'object') {
      const ka = Object.keys(a).sort(), kb = Object.keys(b).sort();
      return ka.join() === kb.join() && ka.every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
    }
    return a === b;
  };
  const rate = Math.max(1, Math.round(2 * capacity));
  const over = await load(bounded.url, sentences, { connections: 128, amount: rate * OVERLOAD_SECONDS, overallRate: rate }, (s, status, body) => {
    if (status === 200) { counts.ok++; if (!same(JSON.parse(body), expected.get(s))) counts.wrong++; } else if (status === 503) counts.overloaded++; else counts.other++;
  });
  const answered = counts.ok + counts.overloaded + counts.other;
  console.log(`\nat twice capacity (${rate} req/s offered for ${OVERLOAD_SECONDS} s, 128 clients, queue 32): sent ${over.requests.sent}, answered ${answered} (200: ${counts.ok}, 503: ${counts.overloaded}, other: ${counts.other}), `
    + `errors ${over.errors}, timeouts ${over.timeouts}, wrong answers ${counts.wrong} (largest score difference ${counts.maxScoreDiff.toExponential(2)}); `
    + `all responses p50 ${over.latency.p50} ms, p99 ${over.latency.p99} ms; ${(counts.ok / over.duration).toFixed(1)} answered 200 per second over ${over.duration.toFixed(1)} s`);

}

/** 3. RSS over many requests: sampled at the start, every RSS_STEP requests, and at the end. */
async function rssOver(batched: Server, sentences: string[]): Promise<void> {
  const mb = (b: number) => (b / 2 ** 20).toFixed(0);
  const t0 = performance.now();
  const sample = async (done: number) => {
    const m = await memory(batched);
    console.log(`RSS after ${done} requests (${((performance.now() - t0) / 1000).toFixed(0)} s): ${mb(m.rss)} MiB (anonymous ${mb(m.anon)} MiB), V8 heap ${mb(m.heap)} MiB; load average ${load1()}`);
    return { done, ...m };
  };
  const samples = [await sample(0)];
  let done = 0;
  while (done < RSS_REQUESTS) {
    const r = await load(batched.url, sentences, { connections: RSS_CLIENTS, amount: Math.min(RSS_STEP, RSS_REQUESTS - done) });
    done += r.requests.sent;
    if (r.non2xx || r.errors || r.timeouts) console.log(`  (this step: non-2xx ${r.non2xx}, errors ${r.errors}, timeouts ${r.timeouts})`);
    samples.push(await sample(done));
  }
  const s = (performance.now() - t0) / 1000;
  console.log(`\nRSS of the batching server over ${done} requests at ${RSS_CLIENTS} clients (${s.toFixed(0)} s, ${(done / s).toFixed(0)} req/s), MiB at ${samples.map((x) => x.done).join(', ')} requests: ${samples.map((x) => mb(x.rss)).join(', ')}`);
  console.log(`anonymous resident memory, MiB: ${samples.map((x) => mb(x.anon)).join(', ')}`);
  console.log(`V8 heap in use, MiB: ${samples.map((x) => mb(x.heap)).join(', ')}`);
  // Growth after warm-up: the last sample against the first one past 10% of the run.
  const warm = samples.find((x) => x.done >= RSS_REQUESTS / 10) ?? samples[0];
  const last = samples[samples.length - 1];
  for (const k of ['rss', 'anon'] as const) {
    console.log(`${k === 'rss' ? 'RSS' : 'anonymous'} growth after warm-up (${warm.done} -> ${last.done} requests): ${mb(warm[k])} -> ${mb(last[k])} MiB, ${(100 * (last[k] / warm[k] - 1)).toFixed(1)}%`);
  }
}

await main();
