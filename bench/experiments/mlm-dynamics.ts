// Training dynamics of roots' MLM pretraining against Transformers' BertForMaskedLM, step for step:
// the same initial weights, the same packed and masked batches, the same AdamW, schedule and clipping.
// A loss test of one batch (test/mlm*.test.ts) cannot show that a long run learns as fast; this does.
//
//   node --import tsx bench/experiments/mlm-dynamics.ts MODEL_DIR CORPUS OUT STEPS LR [BATCH] [SEQ]
//     MODEL_DIR  a `roots init` folder (config.json + tokenizer); CORPUS: files or a folder of text
//     writes OUT/init (the initial weights), OUT/batches.bin (int32 ids, mask, labels per step) and
//     OUT/loss.jsonl, while
//   python bench/experiments/mlm-dynamics.py OUT STEPS LR [BATCH] [SEQ]
//     (a Python with torch and transformers) trains Transformers on OUT/batches.bin as it is written and
//     writes OUT/hf-loss.jsonl; `python bench/experiments/mlm-dynamics.py --compare OUT` prints both
//     in windows of 50 steps.
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { corpusBatches } from '../../lib/data/mlm.js';
import { BertForMaskedLM } from '../../lib/models/bert.js';
import { Tokenizer } from '../../lib/tokenizer/index.js';

const [modelDir, corpus, out, stepsArg, lrArg, batchArg = '32', seqArg = '128'] = process.argv.slice(2);
if (!modelDir || !corpus || !out || !stepsArg || !lrArg) {
  console.error('usage: node --import tsx bench/experiments/mlm-dynamics.ts MODEL_DIR CORPUS OUT STEPS LR [BATCH] [SEQ]');
  process.exit(2);
}
const steps = Number(stepsArg), lr = Number(lrArg);
mkdirSync(out, { recursive: true });
const tokenizer = await Tokenizer.fromPretrained(modelDir);
const { batches, cache } = await corpusBatches(corpus, tokenizer, {
  batchSize: Number(batchArg), seqLen: Number(seqArg), seed: 42, cacheDir: join(out, 'cache'), dropLast: true,
});
const model = BertForMaskedLM.fromConfig(JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')), { seed: 1 });
await model.save(join(out, 'init'));
const fd = openSync(join(out, 'batches.bin'), 'w');
// Linear warmup over 6% of the steps, then linear decay (the Python side computes the same rates).
const warm = Math.round(steps * 0.06);
const rate = (s: number) => (s < warm ? (lr * (s + 1)) / warm : lr * Math.max(0, (steps - s) / (steps - warm)));
const lines: string[] = [];
let s = 0;
while (s < steps) {
  for await (const b of batches) {
    if (s >= steps) break;
    writeSync(fd, b.inputIds); writeSync(fd, b.attentionMask); writeSync(fd, b.labels);
    const r = await model.trainStep([b], { learningRate: rate(s), weightDecay: 0.01, maxGradNorm: 1 });
    lines.push(JSON.stringify({ step: s, loss: r.loss, grad: r.gradNorm }));
    if (s % 50 === 0) { console.log(`step ${s} loss ${r.loss.toFixed(4)}`); writeFileSync(join(out, 'loss.jsonl'), `${lines.join('\n')}\n`); }
    s++;
  }
}
writeFileSync(join(out, 'loss.jsonl'), `${lines.join('\n')}\n`);
closeSync(fd);
await cache.close();
model.dispose();
