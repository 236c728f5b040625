/**
 * The `roots` command line. Each subcommand lives in its own file and registers itself here.
 * Errors print one line (`roots: error: ...`) and exit non-zero; ROOTS_DEBUG=1 prints the stack.
 */
import { Command, CommanderError } from 'commander';
import { RootsError } from '../errors.js';
import { registerInfo } from './info.js';
import { registerScore } from './score.js';
import { registerTrain } from './train.js';
import { registerEval } from './eval.js';
import { registerPredict } from './predict.js';
import { registerInit } from './init.js';
import { registerDemo } from './demo.js';
import { registerVocab } from './vocab.js';
import { registerPretrain } from './pretrain.js';
import { registerMerge } from './merge.js';
import { registerCache } from './cache.js';
import { registerServe } from './serve.js';
import { registerQuantize } from './quantize.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('roots')
    .description('Train, evaluate and serve BERT models from Node.js (LibTorch inside)')
    .version(process.env.npm_package_version ?? "0.1.0");
  registerInfo(program);
  registerScore(program);
  registerInit(program);
  registerTrain(program);
  registerEval(program);
  registerPredict(program);
  registerDemo(program);
  registerVocab(program);
  registerPretrain(program);
  registerMerge(program);
  registerCache(program);
  registerServe(program);
  registerQuantize(program);
  // Commander's own errors (bad flag values, unknown options) print as one `roots: error: ...` line.
  program.configureOutput({ outputError: (str, write) => write(str.startsWith('roots:') ? str : `roots: ${str}`) });
  for (const cmd of program.commands) cmd.configureOutput({ outputError: (str, write) => write(str.startsWith('roots:') ? str : `roots: ${str}`) });
  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) { process.exitCode = e.exitCode; return; }
    const msg = e instanceof RootsError ? e.message : (e as Error).message ?? String(e);
    process.stderr.write(`roots: error: ${msg.split('\n').join('\n  ')}\n`);
    if (process.env.ROOTS_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    process.exitCode = 1;
  }
}
