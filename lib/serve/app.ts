/**
 * `createServer(options)`: the HTTP inference server of `roots serve` as a fastify instance, for
 * embedding (add routes, hooks, listen where you like; `await app.close()` drains and frees).
 *
 * ```ts
 * const app = await createServer({ models: 'models/', maxBatchSize: 32 });
 * await app.listen({ port: 8080 });
 * // POST /v1/models/ner/predict {"inputs": "Angela Merkel visited Paris."}
 * ```
 *
 * Routes: POST /v1/models/{name}/predict (`{"inputs": text | [texts], "parameters": {...},
 * "adapter": name}`, answered with the task pipeline's output: one result for one input, a list for
 * a list), GET /v1/models, GET /v1/models/{name}, /health (the process answers), /ready (models
 * loaded and not shutting down), /metrics (Prometheus text), and the page at `/`.
 * Errors answer `{"error": message}` with 400 (malformed JSON, wrong types, empty inputs, unknown
 * parameters or adapter), 404 (unknown model), 413 (too many inputs, too long a text, too large a
 * body), 503 + Retry-After (queue full, shutting down, memory budget busy), 504 (timeout).
 */
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { RootsError, describe } from '../errors.js';
import type { Device, Precision } from '../models/bert.js';
import { serveMetrics } from './metrics.js';
import { ModelRegistry } from './registry.js';
import { ServeError, callOptions } from './tasks.js';

export interface ServeOptions {
  /** A folder of model and adapter folders, each served by its folder name. */
  models: string;
  /** Load every model at start (default false: on first use). */
  preload?: boolean;
  /** Inputs per native call (default 32). */
  maxBatchSize?: number;
  /** How long a request may wait for others to batch with, in ms (default 5). */
  maxWaitMs?: number;
  /** Inputs that may wait per model before requests get 503 (default 256). */
  maxQueue?: number;
  /** Per-request deadline in ms, queueing included (default 30000); past it, 504. */
  timeoutMs?: number;
  /** Inputs per request (default and at most maxBatchSize); more is 413. */
  maxInputs?: number;
  /** Characters per text (default 10000); longer is 413. */
  maxTextLength?: number;
  /** Request body bytes (default 1 MiB); larger is 413. */
  bodyLimit?: number;
  /** Bytes the loaded models may take together; past it idle models are unloaded (default: no limit). */
  memoryBudget?: number;
  device?: Device;
  /**
   * fp32, bf16, int8 (fp32 folders quantised on load) or auto (int8 folders stay int8, others bf16
   * where the device runs it natively); default: each folder as saved, as pipeline() loads it.
   */
  precision?: Precision;
  /** fastify's logger option (default false). */
  logger?: boolean | Record<string, unknown>;
  /** Startup and loading messages (default: none). */
  log?: (line: string) => void;
}

const PAGE_DIR = new URL('../../lib/serve/page/', import.meta.url);
const PREDICT = '/v1/models/:name/predict';

function positive(name: string, v: number | undefined, fallback: number): number {
  const n = v ?? fallback;
  if (!Number.isInteger(n) || n <= 0) throw new RootsError('ERR_INVALID_ARG', `Expected a positive integer for ${name} but received ${describe(v)}`);
  return n;
}

/** The HTTP status of an error, and whether to send Retry-After. */
function statusOf(e: unknown): number {
  const code = (e as { code?: string }).code;
  if (e instanceof ServeError) return e.statusCode;
  if (e instanceof RootsError) {
    switch (e.code) {
      case 'ERR_INVALID_ARG': return 400;
      case 'ERR_OVERLOADED': case 'ERR_DISPOSED': return 503;
      case 'ERR_TIMEOUT': return 504;
      case 'ERR_ABORTED': return 499;  // nobody reads it: the client went away
      default: return 500;
    }
  }
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return 413;
  const s = (e as FastifyError).statusCode;
  return typeof s === 'number' && s >= 400 ? s : 500;
}

export async function createServer(options: ServeOptions): Promise<FastifyInstance> {
  const maxBatchSize = positive('maxBatchSize', options.maxBatchSize, 32);
  const maxInputs = positive('maxInputs', options.maxInputs, maxBatchSize);
  if (maxInputs > maxBatchSize) throw new RootsError('ERR_INVALID_ARG', `maxInputs (${maxInputs}) cannot exceed maxBatchSize (${maxBatchSize}): a request runs in one batch`);
  const maxTextLength = positive('maxTextLength', options.maxTextLength, 10_000);
  const batcher = {
    maxBatchSize, maxWaitMs: options.maxWaitMs ?? 5, maxQueue: positive('maxQueue', options.maxQueue, 256), timeoutMs: options.timeoutMs ?? 30_000,
  };
  let metrics: ReturnType<typeof serveMetrics> | null = null;
  const registry = await ModelRegistry.scan(options.models, {
    device: options.device, precision: options.precision, memoryBudget: options.memoryBudget, batcher, log: options.log,
    onBatch: (g, info) => {
      for (const e of g.entries) {
        if (e.adapterDir === null ? info.adapter !== null : info.adapter !== e.name) continue;
        metrics?.batchSize.observe({ model: e.name }, info.inputs);
        metrics?.tokens.inc({ model: e.name }, info.length);
        metrics?.inputs.inc({ model: e.name }, info.inputs);
      }
    },
  });
  metrics = serveMetrics({
    queueDepth: () => new Map([...registry.groups.values()].map((g) => [g.entries.map((e) => e.name).join('+'), g.loaded?.batcher.queueDepth ?? 0])),
    memory: () => ({ used: registry.usedBytes, loaded: [...registry.groups.values()].filter((g) => g.loaded).length }),
  });
  const m = metrics;
  const page = { html: readFileSync(new URL('index.html', PAGE_DIR), 'utf8'), js: readFileSync(new URL('page.js', PAGE_DIR), 'utf8') };

  const app = Fastify({ logger: options.logger ?? false, bodyLimit: positive('bodyLimit', options.bodyLimit, 1 << 20), forceCloseConnections: 'idle' });
  let ready = false;
  let closing = false;

  // Our own JSON parser, so malformed JSON says where it broke.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch (e) {
      done(new ServeError(400, `Malformed JSON body: ${(e as Error).message}`), undefined);
    }
  });

  app.setErrorHandler((error, _request, reply) => {
    const status = statusOf(error);
    if (status === 503) reply.header('Retry-After', '1');
    if (status >= 500 && status !== 503 && status !== 504) reply.log.error(error);
    const message = (error as { code?: string }).code === 'FST_ERR_CTP_BODY_TOO_LARGE'
      ? `The request body is larger than the limit of ${app.initialConfig.bodyLimit} bytes (--body-limit)` : (error as Error).message;
    void reply.status(status).send({ error: message });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ error: `No route ${request.method} ${request.url} (POST /v1/models/{name}/predict, GET /v1/models, /health, /ready, /metrics)` });
  });

  app.addHook('onResponse', async (request, reply) => {
    if (request.routeOptions.url !== PREDICT) return;
    const name = (request.params as { name?: string }).name ?? '';
    const labels = { model: registry.entries.has(name) ? name : '(unknown)', status: String(reply.statusCode) };
    m.requests.inc(labels);
    m.latency.observe(labels, reply.elapsedTime / 1000);
  });
  app.addHook('preClose', async () => { closing = true; });
  // While draining, answers close their keep-alive connection: the server stops once the last one is
  // sent instead of waiting out keepAliveTimeout on connections that were busy when close() began.
  app.addHook('onSend', async (_request, reply) => { if (closing) reply.header('connection', 'close'); });
  app.addHook('onClose', async () => { await registry.close(); });

  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(page.html));
  app.get('/page.js', async (_req, reply) => reply.type('text/javascript; charset=utf-8').send(page.js));
  app.get('/health', async () => ({ status: 'ok' }));
  app.get('/ready', async (_req, reply) => {
    if (!ready || closing) return reply.status(503).header('Retry-After', '1').send({ status: closing ? 'shutting down' : 'loading' });
    return { status: 'ready' };
  });
  app.get('/metrics', async (_req, reply) => reply.type(m.registry.contentType).send(await m.registry.metrics()));
  app.get('/v1/models', async () => ({ models: [...registry.entries.values()].map((e) => registry.describe(e)) }));
  app.get('/v1/models/:name', async (request) => registry.describe(registry.get((request.params as { name: string }).name)));

  app.post(PREDICT, async (request, reply) => {
    const entry = registry.get((request.params as { name: string }).name);
    const body = request.body;
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      throw new ServeError(400, `Expected a JSON object {"inputs": ..., "parameters": {...}} (Content-Type: application/json) but received ${body === undefined ? 'no body' : describe(body)}`);
    }
    const { inputs, parameters, adapter, ...rest } = body as Record<string, unknown>;
    const unknown = Object.keys(rest);
    if (unknown.length) throw new ServeError(400, `Unknown field ${JSON.stringify(unknown[0])} in the request (expected inputs, parameters, adapter)`);
    if (inputs === undefined) throw new ServeError(400, 'The request has no "inputs" (a text, or a list of texts)');
    const list = Array.isArray(inputs) ? inputs : [inputs];
    if (list.length === 0) throw new ServeError(400, '"inputs" is an empty list: give at least one text');
    if (list.length > maxInputs) throw new ServeError(413, `${list.length} inputs in one request, at most ${maxInputs} (--max-inputs); split the request`);
    const checked = list.map((x, i) => entry.task.input(x, i, entry.config));
    checked.forEach((x, i) => {
      const n = typeof x === 'string' ? x.length : Object.values(x as object).reduce<number>((s, v) => s + (typeof v === 'string' ? v.length : 0), 0);
      if (n > maxTextLength) throw new ServeError(413, `inputs[${i}] has ${n} characters, more than ${maxTextLength} (--max-text-length)`);
    });
    const call = callOptions(entry.task, parameters);
    if (adapter !== undefined && adapter !== null && typeof adapter !== 'string') throw new ServeError(400, `"adapter": expected an adapter name but received ${describe(adapter)}`);
    const chosen = entry.adapterDir !== null ? entry.name : (adapter ?? null);
    if (entry.adapterDir !== null && adapter !== undefined && adapter !== null && adapter !== entry.name) {
      throw new ServeError(400, `${entry.name} is itself an adapter; request its base (${registry.baseName(entry)}) to choose another`);
    }
    if (chosen !== null && !entry.group.entries.some((e) => e.name === chosen && e.adapterDir !== null)) {
      const names = entry.group.entries.filter((e) => e.adapterDir !== null).map((e) => e.name);
      throw new ServeError(404, `${entry.name} has no adapter named ${JSON.stringify(chosen)} (adapters on this base and head: ${names.join(', ') || 'none'})`);
    }
    // A client that goes away takes its work with it (dropped from the queue, or its answer discarded).
    const aborted = new AbortController();
    reply.raw.on('close', () => { if (!reply.raw.writableFinished) aborted.abort(); });
    const batched = await registry.batcher(entry);
    return batched.run(Array.isArray(inputs) ? checked : checked[0], { parameters: call, adapter: chosen, signal: aborted.signal });
  });

  await app.ready();
  if (options.preload) await registry.preload();
  ready = true;
  return app;
}
