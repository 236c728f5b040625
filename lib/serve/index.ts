// Serving (roots serve): the fastify app, the dynamic batcher, the model registry, the served tasks.
import type { FastifyInstance } from 'fastify';
import type { ServeOptions } from './app.js';

export type { ServeOptions } from './app.js';
export { BatchedPipeline } from './batcher.js';
export type { BatchedPipelineOptions, BatchInfo, RunOptions, PipelineFn } from './batcher.js';
export { ServeError, registerServedTask, servedTasks } from './tasks.js';
export type { ServedTask, ServedPipeline } from './tasks.js';

/**
 * The HTTP inference server as a fastify instance (lib/serve/app.ts). fastify and prom-client load on
 * the first call, not with the package: importing them costs ~0.4 s that a program that never serves
 * should not pay.
 */
export async function createServer(options: ServeOptions): Promise<FastifyInstance> {
  return (await import('./app.js')).createServer(options);
}
