// Serving (roots serve): the fastify app, the dynamic batcher, the model registry, the served tasks.
export { createServer } from './app.js';
export type { ServeOptions } from './app.js';
export { BatchedPipeline } from './batcher.js';
export type { BatchedPipelineOptions, BatchInfo, RunOptions, PipelineFn } from './batcher.js';
export { ServeError, registerServedTask, servedTasks } from './tasks.js';
export type { ServedTask, ServedPipeline } from './tasks.js';
