// Few-shot classification from one pretrained masked-LM, LM-BFF's comparison (Gao et al. 2021,
// table 3) on SST-2 and TREC: for K examples per class (and a dev set of another K per class, both
// drawn by lib/prompt/sampler.ts with the seed), four ways of using the same base:
//
//   zero    zero-shot prompting: the template and verbalizer, no training
//   prompt  prompt-based fine-tuning: cross-entropy over the verbalizer words' logits at the mask
//   demo    prompt-based fine-tuning with demonstrations (one example per label appended)
//   head    ordinary fine-tuning of a fresh classification head ([CLS] pooler + linear)
//   soft    soft prompts (P-tuning): the template with trainable [P] tokens, everything else frozen
//           (at --soft-lr: a handful of vectors needs a larger rate than the whole model)
//
// The trained methods share steps, batch size, learning rate, precision and dev-set model selection
// (evaluation every --eval-steps, the best dev accuracy's weights scored on the test set). Test sets:
// SST-2's dev.tsv (872, its test labels are hidden, as LM-BFF does) and TREC's 500 test questions.
//
//   node --import tsx bench/prompt.bench.ts [--datasets sst2,trec] [--shots 8,16,32,64]
//     [--seeds 13,21,42,87,100] [--methods zero,prompt,demo,head,soft] [--steps 1000] [--eval-steps 100]
//     [--batch-size 8] [--lr 1e-5] [--soft-lr 1e-2] [--model DIR] [--out FILE.json] [--max-test N]
//
// Defaults are the full grid of the issue (LM-BFF's K, 5 seeds, 1000 steps). --model defaults to
// the path in /work/pretrain/BEST when that file exists, else /work/pretrain/mlm (ROOTS_PROMPT_MODEL
// overrides both). Writes every run and the mean ± standard deviation per cell to --out (JSON) and
// a markdown table to FILE.md beside it.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTextData } from '../lib/data/formats.js';
import type { TextExample } from '../lib/data/readers.js';
import { BertForMaskedLM, BertForSequenceClassification, type BertPreTrainedModel } from '../lib/models/bert.js';
import { sampleFewShot } from '../lib/prompt/sampler.js';
import { TextClassificationTask } from '../lib/tasks/text-classification.js';
import { PromptClassificationTask, SOFT_PROMPT_ONLY, softPromptConfig } from '../lib/tasks/prompt-classification.js';
import { Tokenizer } from '../lib/tokenizer/index.js';
import { Trainer } from '../lib/trainer/trainer.js';
import { writeFileAtomic } from '../lib/util/atomic-write.js';

const argv = process.argv.slice(2);
function flag(name: string, fallback: string): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback;
}
const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);
const sharedData = process.env.ROOTS_SHARED_DATA ?? join(import.meta.dirname, '..', '..', 'shared', 'data');
const bestFile = '/work/pretrain/BEST';
const modelDir = flag('model', process.env.ROOTS_PROMPT_MODEL ?? (existsSync(bestFile) ? readFileSync(bestFile, 'utf8').trim() : '/work/pretrain/mlm'));
const datasets = list(flag('datasets', 'sst2,trec'));
const shots = list(flag('shots', '8,16,32,64')).map(Number);
const seeds = list(flag('seeds', '13,21,42,87,100')).map(Number);
const methods = list(flag('methods', 'zero,prompt,demo,head,soft'));
const steps = Number(flag('steps', '1000'));
const evalSteps = Number(flag('eval-steps', '100'));
const batchSize = Number(flag('batch-size', '8'));
const lr = Number(flag('lr', '1e-5'));
const softLr = Number(flag('soft-lr', '1e-2'));
const maxTest = Number(flag('max-test', '100000'));
const precision = flag('precision', 'bf16') as 'bf16' | 'fp32';
const out = flag('out', join(import.meta.dirname, 'results', 'prompt.json'));

/** LM-BFF's manual templates and label words (their appendix), for a cased BERT vocabulary. */
const SETUPS: Record<string, { train: string; test: string; encoding?: 'latin1'; template: string; softTemplate: string; verbalizer: Record<string, string>; maxLength: number; demoMaxLength: number }> = {
  sst2: {
    train: join(sharedData, 'textcls', 'sst2', 'train.tsv'), test: join(sharedData, 'textcls', 'sst2', 'dev.tsv'),
    template: '{text} It was [MASK] .', softTemplate: '[P] [P] [P] {text} [P] [P] [P] [MASK] .', verbalizer: { 0: 'terrible', 1: 'great' }, maxLength: 64, demoMaxLength: 160,
  },
  trec: {
    train: join(sharedData, 'textcls', 'trec', 'TREC.train.all'), test: join(sharedData, 'textcls', 'trec', 'TREC.test.all'),
    encoding: 'latin1', template: '[MASK] : {text}', softTemplate: '[P] [P] [P] [MASK] [P] [P] [P] {text}',
    verbalizer: { ABBR: 'Expression', DESC: 'Description', ENTY: 'Entity', HUM: 'Human', LOC: 'Location', NUM: 'Number' },
    maxLength: 64, demoMaxLength: 256,
  },
};

interface Run { dataset: string; k: number; seed: number; method: string; accuracy: number; f1_macro: number; seconds: number; bestStep?: number }

const runs: Run[] = [];
const tokenizer = await Tokenizer.fromPretrained(modelDir);
console.log(`base ${modelDir}; datasets ${datasets}; K ${shots}; seeds ${seeds}; methods ${methods}; ${steps} steps, eval every ${evalSteps}, batch ${batchSize}, lr ${lr}, ${precision}`);

for (const name of datasets) {
  const s = SETUPS[name];
  if (!s) throw new Error(`unknown dataset ${name} (sst2, trec)`);
  const trainAll = await readTextData(s.train, { encoding: s.encoding });
  const test = (await readTextData(s.test, { encoding: s.encoding })).slice(0, maxTest);
  const labels = Object.keys(s.verbalizer);
  const promptTask = (demoPool?: readonly TextExample[], seed?: number, template = s.template) => new PromptClassificationTask({
    template, verbalizer: s.verbalizer, demonstrations: demoPool ? { pool: demoPool, seed } : undefined,
  });
  if (methods.includes('zero')) {
    // Zero-shot needs no K or seed: one run per dataset, reported in every K row.
    const t0 = performance.now();
    const model = await BertForMaskedLM.fromPretrained(modelDir, { labels, log: null, precision });
    try {
      const m = await score(model, promptTask(), test, s.maxLength);
      for (const k of shots) for (const seed of seeds) runs.push({ dataset: name, k, seed, method: 'zero', ...m, seconds: (performance.now() - t0) / 1000 });
      console.log(`${name} zero-shot: accuracy ${m.accuracy.toFixed(4)}`);
    } finally {
      model.dispose();
    }
  }
  for (const k of shots) {
    for (const seed of seeds) {
      const { train, dev } = sampleFewShot(trainAll, { shots: k, seed, source: s.train });
      for (const method of methods.filter((m) => m !== 'zero')) {
        const t0 = performance.now();
        const head = method === 'head', soft = method === 'soft';
        const task = head ? new TextClassificationTask() : promptTask(method === 'demo' ? train : undefined, seed, soft ? s.softTemplate : s.template);
        const model: BertPreTrainedModel = head
          ? await BertForSequenceClassification.fromPretrained(modelDir, { labels, log: null, seed, precision })
          : await BertForMaskedLM.fromPretrained(modelDir, { labels, log: null, seed, precision, config: soft ? softPromptConfig((task as PromptClassificationTask).template) : {} });
        const maxLength = method === 'demo' ? s.demoMaxLength : s.maxLength;
        const dir = mkdtempSync(join(tmpdir(), 'roots-prompt-bench-'));
        try {
          const trainer = new Trainer({
            model, tokenizer, train, eval: dev, task,
            args: {
              maxSteps: steps, batchSize, learningRate: soft ? softLr : lr, freeze: soft ? SOFT_PROMPT_ONLY : undefined, warmupRatio: 0, weightDecay: 0, seed, maxLength, evalStrategy: 'steps', evalSteps,
              saveStrategy: 'steps', saveSteps: evalSteps, saveTotalLimit: 1, loadBestModelAtEnd: true, metricForBestModel: 'accuracy',
              outputDir: dir, progress: 'none', report: false,
            },
          });
          const result = await trainer.train();
          const m = await score(model, task, test, maxLength);
          const run: Run = { dataset: name, k, seed, method, ...m, seconds: (performance.now() - t0) / 1000, bestStep: trainer.state?.bestStep ?? undefined };
          runs.push(run);
          console.log(`${name} K=${k} seed=${seed} ${method}: accuracy ${m.accuracy.toFixed(4)} (best dev step ${run.bestStep}, ${result.globalStep} steps, ${run.seconds.toFixed(0)} s)`);
        } finally {
          model.dispose();
          rmSync(dir, { recursive: true, force: true });
        }
        await save();
      }
    }
  }
}
await save();

/** Test accuracy and macro F1 of `model` under `task` (its own features, dropout off). */
async function score(model: BertPreTrainedModel, task: PromptClassificationTask | TextClassificationTask, examples: TextExample[], maxLength: number): Promise<{ accuracy: number; f1_macro: number }> {
  const { forwardFeatures } = await import('../lib/tasks/forward.js');
  const { LabelVocab } = await import('../lib/data/labels.js');
  const ctx = { tokenizer, labels: new LabelVocab(model.labels!), maxLength };
  const features = task.features(examples, ctx);
  const outputs = await forwardFeatures(model, features, { batchSize: 64, padTokenId: tokenizer.padTokenId ?? 0 });
  const ev = task.score(examples, features as never, outputs, ctx);
  return { accuracy: ev.metrics.accuracy, f1_macro: ev.metrics.f1_macro };
}

async function save(): Promise<void> {
  const cells = new Map<string, number[]>();
  for (const r of runs) {
    const key = `${r.dataset}|${r.k}|${r.method}`;
    cells.set(key, [...(cells.get(key) ?? []), r.accuracy]);
  }
  const summary = [...cells].map(([key, acc]) => {
    const [dataset, k, method] = key.split('|');
    const mean = acc.reduce((a, b) => a + b, 0) / acc.length;
    const std = acc.length > 1 ? Math.sqrt(acc.reduce((a, b) => a + (b - mean) ** 2, 0) / (acc.length - 1)) : 0;
    return { dataset, k: Number(k), method, n: acc.length, mean, std };
  });
  const setup = { model: modelDir, datasets, shots, seeds, methods, steps, evalSteps, batchSize, lr, softLr, precision, maxTest, date: new Date().toISOString() };
  await writeFileAtomic(out, JSON.stringify({ setup, summary, runs }, null, 2) + '\n');
  const header = `| dataset | K | ${methods.join(' | ')} |\n|---|---|${methods.map(() => '---').join('|')}|\n`;
  const rows = [...new Set(summary.map((c) => `${c.dataset}|${c.k}`))].map((dk) => {
    const [dataset, k] = dk.split('|');
    const cell = (m: string) => {
      const c = summary.find((x) => x.dataset === dataset && x.k === Number(k) && x.method === m);
      return c ? `${(100 * c.mean).toFixed(1)} ± ${(100 * c.std).toFixed(1)} (n=${c.n})` : '-';
    };
    return `| ${dataset} | ${k} | ${methods.map(cell).join(' | ')} |`;
  });
  await writeFileAtomic(out.replace(/\.json$/, '.md'), `Test accuracy (%), mean ± std over seeds. ${JSON.stringify(setup)}\n\n${header}${rows.join('\n')}\n`);
}
