import type { Command } from 'commander';
import { formatInfo, info } from '../info.js';

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('versions, LibTorch build, devices, bf16 support and threads')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => {
      const i = info();
      process.stdout.write(opts.json ? JSON.stringify(i, null, 2) + '\n' : formatInfo(i) + '\n');
    });
}
