/**
 * The server's Prometheus metrics (prom-client), in a registry of its own so several servers in one
 * process (tests, embedding) never share counters. GET /metrics serves them in the text format.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface ServeMetrics {
  registry: Registry;
  requests: Counter<'model' | 'status'>;
  latency: Histogram<'model' | 'status'>;
  batchSize: Histogram<'model'>;
  tokens: Counter<'model'>;
  inputs: Counter<'model'>;
}

/** `queueDepth(model)` and `loaded()` are read at each scrape. */
export function serveMetrics(sources: { queueDepth(): Map<string, number>; memory(): { used: number; loaded: number } }): ServeMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'roots_serve_' });
  const requests = new Counter({ name: 'roots_serve_requests_total', help: 'Predict requests by model and HTTP status', labelNames: ['model', 'status'] as const, registers: [registry] });
  const latency = new Histogram({
    name: 'roots_serve_request_duration_seconds', help: 'Predict request latency (queueing included) by model and HTTP status',
    labelNames: ['model', 'status'] as const, buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry],
  });
  const batchSize = new Histogram({ name: 'roots_serve_batch_size', help: 'Inputs per native call by model', labelNames: ['model'] as const, buckets: [1, 2, 4, 8, 16, 32, 64, 128], registers: [registry] });
  const tokens = new Counter({ name: 'roots_serve_tokens_total', help: 'Tokens run through the models (rate() gives tokens/s)', labelNames: ['model'] as const, registers: [registry] });
  const inputs = new Counter({ name: 'roots_serve_inputs_total', help: 'Inputs (texts) run through the models', labelNames: ['model'] as const, registers: [registry] });
  new Gauge({
    name: 'roots_serve_queue_depth', help: 'Inputs waiting for a batch, by model', labelNames: ['model'] as const, registers: [registry],
    collect() { this.reset(); for (const [model, n] of sources.queueDepth()) this.set({ model }, n); },
  });
  new Gauge({ name: 'roots_serve_models_loaded', help: 'Loaded base models', registers: [registry], collect() { this.set(sources.memory().loaded); } });
  new Gauge({ name: 'roots_serve_model_memory_bytes', help: 'Parameter bytes of the loaded models (the --memory-budget counts these)', registers: [registry], collect() { this.set(sources.memory().used); } });
  return { registry, requests, latency, batchSize, tokens, inputs };
}
