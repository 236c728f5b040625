// One worker of the data-parallel tests (test/ddp.test.ts): trains a tiny sequence classifier
// (dropout off) on 64 SST-2 sentences with the Trainer, alone or as a rank of a group (torchrun's
// environment), and writes its per-step losses and final weights as JSON (to <out>.<rank> in a group).
//   node --import tsx test/ddp-worker.ts <out.json> <batchSize> <steps> <accum> [mode]
// mode: 'plain'; 'nan' (rank 1 poisons a weight after step 1: every rank must skip the later steps);
//       'die' (rank 1 exits with code 3 after step 1); 'differ' (rank 1 trains one sentence fewer).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readTextData } from '../lib/data/formats.js';
import { ProcessGroup, distributedEnv } from '../lib/distributed/index.js';
import { BertForSequenceClassification } from '../lib/models/bert.js';
import { Trainer } from '../lib/trainer/trainer.js';
import { SST2, TINY_TC, strided, uncasedTokenizer } from './textcls-fixtures.js';

const [out, batchSize, steps, accum, mode = 'plain'] = process.argv.slice(2);
const env = distributedEnv();
const rank = env?.rank ?? 0;
const tokenizer = await uncasedTokenizer(32);
let train = strided(await readTextData(join(SST2, 'train.tsv')), 64);
if (mode === 'differ' && rank === 1) train = train.slice(1);
const model = BertForSequenceClassification.fromConfig(
  { ...TINY_TC, vocab_size: tokenizer.vocabSize, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 },
  { labels: ['0', '1'], seed: 1 + rank, log: null },  // different seeds: rank 0's weights must be broadcast
);
const group = env ? await ProcessGroup.connect(env, { bucketBytes: Number(process.env.DDP_BUCKET_BYTES ?? 64 * 1024) }) : undefined;
const losses: number[] = [];
const skipped: boolean[] = [];
let info: unknown = null;
const trainer = new Trainer({
  model, tokenizer, train, task: 'text-classification', distributed: group,
  args: { batchSize: Number(batchSize), maxSteps: Number(steps), gradientAccumulationSteps: Number(accum), learningRate: 1e-3, warmupSteps: 0, seed: 7, progress: 'none', evalStrategy: 'no', saveStrategy: 'no' },
  callbacks: {
    onStep({ step, result }) {
      losses.push(result.loss);
      skipped.push(result.skipped);
      info = model.distributed('info');
      if (step === 1 && rank === 1 && mode === 'nan') model.setParameter('classifier.bias', Float32Array.of(Number.NaN, 0));
      if (step === 1 && rank === 1 && mode === 'die') process.exit(3);
    },
  },
});
const result = await trainer.train();
const weights: Record<string, number[]> = {};
for (const name of ['classifier.weight', 'bert.pooler.dense.bias', 'bert.encoder.layer.1.output.dense.weight', 'bert.embeddings.LayerNorm.weight']) {
  weights[name] = Array.from(model.getParameter(name));
}
writeFileSync(env ? `${out}.${rank}` : out, JSON.stringify({ rank, losses, skipped, skippedSteps: result.skippedSteps, tokens: result.tokens, info, weights }));
group?.dispose();
model.dispose();
