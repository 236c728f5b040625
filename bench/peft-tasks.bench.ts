// Task runs, parameter-efficient tuning against full fine-tuning from the same pretrained base
// (ROOTS_PEFT_BASE: a model folder with weights and tokenizer; default /work/pretrain/run3), the same
// data, order and number of optimizer steps for every method of a task: CoNLL-2003 (entity F1 on
// eng.testa and eng.testb), SST-2 (accuracy on dev), SNIPS (intent accuracy and slot F1 on
// dev and test). Each run is `roots train` (runTrain) in a process of its own, so its peak RSS is
// its own; the row also holds the trainable parameters, the step time (training time / steps), the
// AdamW state (2 fp32 moments per trainable value) and the checkpoint (the weights file and the JSON
// configs `--out` receives). The equivalent `roots train` command is printed with every row.
// Short budgets on a shared 2-core machine: the numbers compare the methods, not either's best.
//
//   npx tsx bench/peft-tasks.bench.ts
//     ROOTS_BENCH_TASK_STEPS   steps: one number, or per task (conll:600,sst2:400,snips:400)
//     ROOTS_BENCH_TASKS        tasks to run (default conll,sst2,snips)
//     ROOTS_BENCH_METHODS      methods to run (default full,lora-all,lora-qv; also lora-all-r4, ia3, prefix, bitfit)
//     ROOTS_BENCH_JSON         a JSON file the rows are appended to as each run ends (kept across runs)
//     ROOTS_BENCH_EVAL_SAMPLES score only the first N examples of dev and test (--max-eval-samples; default all)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTrain, type TrainCommandOptions } from '../lib/cli/train.js';
import { writeFileAtomic } from '../lib/util/atomic-write.js';

const base = process.env.ROOTS_PEFT_BASE ?? '/work/pretrain/run3';
const data = process.env.ROOTS_SHARED_DATA ?? join(import.meta.dirname, '..', '..', 'shared', 'data');
const evalSamples = process.env.ROOTS_BENCH_EVAL_SAMPLES ? Number(process.env.ROOTS_BENCH_EVAL_SAMPLES) : undefined;
const ALL_LINEAR = 'query,key,value,attention.output.dense,intermediate.dense,output.dense';

interface Task { metrics: string[]; flags: TrainCommandOptions }
const TASKS: Record<string, Task> = {
  conll: { metrics: ['f1'], flags: { task: 'ner', train: join(data, 'ner/conll2003/eng.train'), dev: join(data, 'ner/conll2003/eng.testa'), test: join(data, 'ner/conll2003/eng.testb'), batchSize: 16, maxLength: 128 } },
  sst2: { metrics: ['accuracy'], flags: { task: 'text-classification', train: join(data, 'textcls/sst2/train.tsv'), dev: join(data, 'textcls/sst2/dev.tsv'), batchSize: 16, maxLength: 64 } },
  snips: { metrics: ['intent_accuracy', 'slot_f1'], flags: { task: 'intent-slots', train: join(data, 'intent/snips/train'), dev: join(data, 'intent/snips/dev'), test: join(data, 'intent/snips/test'), batchSize: 16, maxLength: 64 } },
};
const METHODS: Record<string, TrainCommandOptions> = {
  full: { lr: 1e-4 },
  'lora-all': { peft: 'lora', loraR: 8, loraAlpha: 16, loraTargets: ALL_LINEAR, lr: 2e-3 },
  'lora-qv': { peft: 'lora', loraR: 8, loraAlpha: 16, loraTargets: 'query,value', lr: 2e-3 },
  'lora-all-r4': { peft: 'lora', loraR: 4, loraAlpha: 8, loraTargets: ALL_LINEAR, lr: 2e-3 },
  ia3: { peft: 'ia3', lr: 1e-2 },
  prefix: { peft: 'prefix', prefixTokens: 20, lr: 1e-2 },
  bitfit: { peft: 'bitfit', lr: 1e-3 },
};

export interface Row {
  task: string; method: string; steps: number; lr: number; trainable: number; parameters: number;
  dev: Record<string, number>; test: Record<string, number>; trainSeconds: number; wallSeconds: number; stepMs: number; tokensPerSecond: number;
  peakRssMb: number; adamwMb: number; checkpointMb: number; command: string;
}

/** The `roots train` command line the options stand for. */
function commandLine(o: TrainCommandOptions): string {
  const flags = Object.entries(o).filter(([k]) => k !== 'overwrite' && k !== 'progress').map(([k, v]) => {
    const flag = `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    return v === true ? flag : `${flag} ${v}`;
  });
  return `roots train ${flags.join(' ')}`;
}

/** One run in this process (the child): trains, measures the folder, prints the row as JSON. */
async function child(task: string, method: string, steps: number): Promise<Row> {
  const out = mkdtempSync(join(tmpdir(), 'roots-peft-task-'));
  const o: TrainCommandOptions = {
    model: base, out, overwrite: true, maxSteps: steps, warmupRatio: 0.1, evalSteps: steps, saveSteps: steps, seed: 42,
    precision: 'fp32', device: 'cpu', threads: 1, progress: 'none', ...(evalSamples ? { maxEvalSamples: evalSamples } : {}), ...TASKS[task].flags, ...METHODS[method],
  };
  try {
    const s = await runTrain(o, { out: () => {}, err: () => {} });
    const trainable = s.adapter ? s.adapter.numParameters : s.parameters;
    const files = s.adapter ? ['adapter_model.safetensors', 'adapter_config.json', 'config.json'] : ['model.safetensors', 'config.json'];
    const pick = (m: Record<string, number> | null | undefined) => Object.fromEntries(TASKS[task].metrics.map((k) => [k, m?.[k] ?? Number.NaN]));
    return {
      task, method, steps: s.result.globalStep, lr: o.lr!, trainable, parameters: s.parameters, dev: pick(s.dev), test: pick(s.test),
      trainSeconds: s.result.trainSeconds, wallSeconds: s.result.wallSeconds, stepMs: (1000 * s.result.trainSeconds) / s.result.globalStep, tokensPerSecond: s.result.tokensPerSecond,
      peakRssMb: process.resourceUsage().maxRSS / 1024, adamwMb: (2 * 4 * trainable) / 2 ** 20,
      checkpointMb: files.reduce((n, f) => n + (existsSync(join(out, f)) ? statSync(join(out, f)).size : 0), 0) / 2 ** 20,
      command: commandLine({ ...o, out: 'OUT', model: base }),
    };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

function stepsFor(task: string): number {
  const spec = process.env.ROOTS_BENCH_TASK_STEPS ?? '400';
  if (/^\d+$/.test(spec)) return Number(spec);
  const hit = spec.split(',').map((p) => p.split(':')).find(([t]) => t === task);
  if (!hit) throw new Error(`ROOTS_BENCH_TASK_STEPS=${spec} names no step count for ${task}`);
  return Number(hit[1]);
}

// A split the task does not have (SST-2's test labels are hidden) is NaN, which JSON carries as null.
const fmt = (m: Record<string, number | null>) => Object.entries(m).map(([k, v]) => `${k} ${v == null || Number.isNaN(v) ? '-' : v.toFixed(4)}`).join(', ');
export function tableRow(r: Row): string {
  return `| ${r.task} | ${r.method} | ${r.steps} | ${r.lr} | ${r.trainable.toLocaleString('en-US')} (${((100 * r.trainable) / r.parameters).toFixed(2)}%) | ` +
    `${fmt(r.dev)} | ${fmt(r.test)} | ${r.stepMs.toFixed(0)} | ${r.peakRssMb.toFixed(0)} | ${r.adamwMb.toFixed(2)} | ${r.checkpointMb.toFixed(2)} |`;
}

if (process.argv[2] === '--child') {
  console.log(JSON.stringify(await child(process.argv[3], process.argv[4], Number(process.argv[5]))));
} else {
  const tasks = (process.env.ROOTS_BENCH_TASKS ?? 'conll,sst2,snips').split(',');
  const methods = (process.env.ROOTS_BENCH_METHODS ?? 'full,lora-all,lora-qv').split(',');
  for (const t of tasks) if (!TASKS[t]) throw new Error(`unknown task ${t} (${Object.keys(TASKS).join(', ')})`);
  for (const m of methods) if (!METHODS[m]) throw new Error(`unknown method ${m} (${Object.keys(METHODS).join(', ')})`);
  const jsonPath = process.env.ROOTS_BENCH_JSON;
  console.log(`base ${base}; warmup 10%, linear decay, seed 42, fp32, 1 thread; dev and test scored once, at the end\n`);
  console.log('| task | method | steps | lr | trainable | dev | test | step ms | peak RSS MB | AdamW state MB | checkpoint MB |');
  console.log('| --- | --- | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: |');
  for (const t of tasks) {
    for (const m of methods) {
      const p = spawnSync(process.execPath, ['--import', 'tsx', import.meta.filename, '--child', t, m, String(stepsFor(t))], { encoding: 'utf8' });
      if (p.status !== 0) throw new Error(`${t} ${m}: ${p.stderr}`);
      const row = JSON.parse(p.stdout.trim().split('\n').pop()!) as Row;
      if (jsonPath) {  // first: a row measured is kept even if printing it fails
        const rows: Row[] = existsSync(jsonPath) ? JSON.parse(readFileSync(jsonPath, 'utf8')) : [];
        await writeFileAtomic(jsonPath, JSON.stringify([...rows, row], null, 2) + '\n');
      }
      console.log(tableRow(row));
      console.error(`  ${row.command}`);
    }
  }
}
