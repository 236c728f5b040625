// Loads the addon and prints what it sees (the run script's smoke step); writes $ROOTS_GPU_OUT/info.json.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { info } from '../../lib/info.js';

const i = info();
if (process.env.ROOTS_GPU_OUT) writeFileSync(join(process.env.ROOTS_GPU_OUT, 'info.json'), JSON.stringify(i, null, 2) + '\n');
console.log(JSON.stringify({ torch: i.torch, cuda: i.cuda, threads: i.threads, addon: process.env.ROOTS_NATIVE_PATH ?? 'build/Release' }, null, 2));
