/**
 * `roots serve --models DIR [--port 8080]`: the HTTP inference server (lib/serve) over every model and
 * adapter folder under DIR, each by its folder name. SIGTERM or SIGINT stops it gracefully: no new
 * connections, what is queued finishes and is answered, the models are freed, the process exits.
 */
import type { Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import type { Device } from '../models/bert.js';
import type { ServeOptions } from '../serve/app.js';
import { createServer } from '../serve/index.js';
import { DEVICE_PARSER, cli, parsers, processIO, resolvePrecision, type CliIO } from './common.js';

/** createServer's options as flags, plus where to listen; --memory-budget in MiB, --device as typed. */
export interface ServeCommandOptions extends Omit<ServeOptions, 'memoryBudget' | 'device' | 'logger' | 'log'> {
  host?: string;
  port?: number;
  memoryBudget?: number;
  device?: string;
}

/** Starts the server; resolves with it once it listens (and its address). */
export async function runServe(o: ServeCommandOptions, io: CliIO = processIO): Promise<{ app: FastifyInstance; url: string }> {
  const { host, port, memoryBudget, device, ...rest } = o;
  const app = await createServer({
    ...rest, memoryBudget: memoryBudget === undefined ? undefined : memoryBudget * 2 ** 20,
    // --precision as roots predict and eval take it: unset is 'auto' (an int8 folder from roots quantize
    // stays int8; others bf16 where the device runs it natively, else fp32).
    precision: resolvePrecision(rest.precision), device: (device ?? 'cpu') as Device, log: (line) => io.err(line + '\n'),
  });
  const url = await app.listen({ host: host ?? '127.0.0.1', port: port ?? 8080 });
  io.err(`roots serve: listening on ${url} (models: ${url}/v1/models, page: ${url}/)\n`);
  return { app, url };
}

export function registerServe(program: Command, io: CliIO = processIO): void {
  program
    .command('serve')
    .description('serve every model and adapter folder under --models over HTTP: POST /v1/models/{name}/predict, GET /v1/models, /health, /ready, /metrics, and a page at /')
    .requiredOption('--models <dir>', 'a folder of model folders (config.json + weights) and PEFT adapter folders, each served by its folder name')
    .option('--host <host>', 'address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)')
    .option('--port <n>', 'port (default 8080; 0: any free port)', cli(parsers.nonNegativeInt))
    .option('--preload', 'load every model at start (default: on first use)')
    .option('--max-batch-size <n>', 'inputs per native call (default 32)', cli(parsers.positiveInt))
    .option('--max-wait-ms <ms>', 'how long a request waits for others while the model is idle (default 5; 0: none: requests that arrive while a batch runs still form the next batch)', cli(parsers.number(0)))
    .option('--max-queue <n>', 'inputs that may wait per model before requests get 503 + Retry-After (default 256)', cli(parsers.positiveInt))
    .option('--timeout-ms <ms>', 'per-request deadline, queueing included; past it 504 (default 30000; 0: none)', cli(parsers.nonNegativeInt))
    .option('--max-inputs <n>', 'inputs per request (default: --max-batch-size); more is 413', cli(parsers.positiveInt))
    .option('--max-text-length <n>', 'characters per text (default 10000); longer is 413', cli(parsers.positiveInt))
    .option('--body-limit <bytes>', 'request body size limit (default 1048576); larger is 413', cli(parsers.positiveInt))
    .option('--memory-budget <MiB>', 'memory the loaded models may take together; idle models are unloaded to make room (default: no limit)', cli(parsers.positiveInt))
    .option('--device <d>', 'cpu, cuda, cuda:N or auto (default cpu)', cli(DEVICE_PARSER))
    .option('--precision <p>', 'fp32, bf16, int8 (quantize fp32 folders on load) or auto (default: int8 folders from roots quantize stay int8, others bf16 where the device runs it natively, else fp32)', cli(parsers.choice(['fp32', 'bf16', 'int8', 'auto'] as const)))
    .action(async (o: ServeCommandOptions) => {
      const { app } = await runServe(o, io);
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        io.err(`roots serve: ${signal}: finishing queued requests, then exiting\n`);
        app.close().then(() => io.err('roots serve: stopped\n'), (e: Error) => { io.err(`roots serve: error while stopping: ${e.message}\n`); process.exitCode = 1; });
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
}
