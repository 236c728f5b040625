/** `roots demo` (what `npm run demo` runs): the NER workflow end to end on a synthetic corpus. */
import type { Command } from 'commander';
import { runDemo } from '../demo/run.js';
import { cli, parsers, processIO, type CliIO } from './common.js';

export function registerDemo(program: Command, io: CliIO = processIO): void {
  program
    .command('demo')
    .description('train a small NER model from scratch on a generated corpus, evaluate it and predict (a few minutes on CPU)')
    .option('--out <dir>', 'where everything goes (default out/demo)')
    .option('--sentences <n>', 'training sentences (default 3000)', cli(parsers.positiveInt))
    .option('--epochs <n>', 'training epochs (default 8)', cli(parsers.positiveInt))
    .option('--seed <n>', 'seed of the corpus and the training (default 7)', cli(parsers.nonNegativeInt))
    .option('--progress <mode>', 'auto, bar, plain or none', cli(parsers.choice(['auto', 'bar', 'plain', 'none'] as const)))
    .option('--precision <p>', 'fp32, bf16 or auto (default auto)', cli(parsers.choice(['fp32', 'bf16', 'auto'] as const)))
    .action(async (o: { out?: string; sentences?: number; epochs?: number; seed?: number; progress?: 'auto' | 'bar' | 'plain' | 'none'; precision?: 'fp32' | 'bf16' | 'auto' }) => {
      await runDemo(o, io);
    });
}
