// Short task runs, LoRA against full fine-tuning from the same pretrained base (ROOTS_PEFT_BASE: a
// model folder with weights and tokenizer; the bench's default is the weak MLM of the pretraining
// issue), the same data, order and number of steps: SST-2 (accuracy on its dev set) and CoNLL-2003
// (entity F1 on eng.testa). Each run is `roots train` (runTrain) with the flags printed beside it.
// Short budgets on a shared 2-core machine: the numbers compare the two methods, they are not
// either method's best.
//
//   ROOTS_PEFT_BASE=dir npx tsx bench/peft-tasks.bench.ts     ROOTS_BENCH_TASK_STEPS (default 400)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTrain, type TrainCommandOptions } from '../lib/cli/train.js';

const base = process.env.ROOTS_PEFT_BASE;
if (!base) throw new Error('set ROOTS_PEFT_BASE to a model folder (config.json, model.safetensors, tokenizer)');
const data = process.env.ROOTS_SHARED_DATA ?? join(import.meta.dirname, '..', '..', 'shared', 'data');
const steps = Number(process.env.ROOTS_BENCH_TASK_STEPS ?? 400);
const quiet = { out: () => {}, err: () => {} };

const tasks: { name: string; metric: string; flags: TrainCommandOptions }[] = [
  { name: 'SST-2', metric: 'accuracy', flags: { task: 'text-classification', train: join(data, 'textcls/sst2/train.tsv'), dev: join(data, 'textcls/sst2/dev.tsv'), batchSize: 32, maxLength: 64 } },
  { name: 'CoNLL-2003', metric: 'f1', flags: { task: 'ner', train: join(data, 'ner/conll2003/eng.train'), dev: join(data, 'ner/conll2003/eng.testa'), batchSize: 16, maxLength: 128 } },
];
const methods: { name: string; flags: TrainCommandOptions }[] = [
  { name: 'full', flags: { lr: 1e-4 } },
  { name: 'LoRA r8 q,v', flags: { peft: 'lora', loraR: 8, loraAlpha: 16, loraTargets: 'query,value', lr: 1e-3 } },
];

console.log(`base ${base}; ${steps} steps each, warmup 10%, linear decay, seed 42, fp32, evaluation on dev at the end\n`);
console.log('| task | method | lr | trainable | dev | train s | tokens/s |');
console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: |');
for (const t of tasks) {
  for (const m of methods) {
    const out = mkdtempSync(join(tmpdir(), 'roots-peft-task-'));
    try {
      const s = await runTrain({ model: base, out, overwrite: true, maxSteps: steps, warmupRatio: 0.1, seed: 42, precision: 'fp32', device: 'cpu', progress: 'none', evalSteps: steps, ...t.flags, ...m.flags }, quiet);
      const trainable = s.adapter ? s.adapter.numParameters : s.parameters;
      console.log(`| ${t.name} | ${m.name} | ${m.flags.lr} | ${trainable.toLocaleString('en-US')} (${(100 * trainable / s.parameters).toFixed(2)}%) | ${t.metric} ${s.dev?.[t.metric]?.toFixed(4)} | ${s.result.trainSeconds.toFixed(0)} | ${Math.round(s.result.tokensPerSecond)} |`);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }
}
