// A process that holds the output-folder lock of a folder until its standard input closes (or it is
// killed): the other run of the lock tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from './helpers.js';

const lockModule = pathToFileURL(join(repoRoot, 'lib', 'trainer', 'lock.ts')).href;

/** Starts a process that locks `dir` (lib/trainer/lock.ts) and resolves once it holds the lock. */
export async function lockHolder(dir: string): Promise<ChildProcess> {
  const script = `const { lockOutputDir } = await import(${JSON.stringify(lockModule)});
const lock = await lockOutputDir(process.argv[1]);
process.stdout.write('locked\\n');
process.stdin.on('end', async () => { await lock.release(); process.exit(0); });
process.stdin.resume();`;
  const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, dir], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((ok, bad) => {
    let out = '';
    p.stdout!.on('data', (b: Buffer) => { out += b; if (out.includes('locked')) ok(); });
    p.on('exit', (code) => bad(new Error(`the lock holder exited with ${code}`)));
  });
  return p;
}

/** Resolves with the exit code once `p` has exited. */
export function exited(p: ChildProcess): Promise<number | null> {
  return new Promise((ok) => { if (p.exitCode !== null || p.signalCode !== null) ok(p.exitCode); else p.on('exit', ok); });
}
