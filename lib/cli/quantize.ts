/**
 * `roots quantize --model DIR --out DIR`: int8 inference on CPU. Quantises the encoder's linear
 * layers of a fine-tuned model (int8 weights with one scale per output channel; activations are
 * quantised per call at inference) and saves a folder in roots' int8 format (lib/models/quantize.ts:
 * config.json's quantization_config, model.safetensors with I8 weights and F32 scales) that
 * `roots predict`, `roots eval`, `roots serve` and the pipelines load as int8.
 */
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { RootsError } from '../errors.js';
import { BertForMaskedLM } from '../models/bert.js';
import { readConfig } from '../models/config.js';
import { quantizedEngines } from '../models/quantize.js';
import { Tokenizer } from '../tokenizer/index.js';
import { cli, parsers, processIO, resolveModelDir, type CliIO } from './common.js';
import { TASKS, modelTask } from './tasks.js';

export interface QuantizeCommandOptions {
  model?: string;
  out?: string;
  engine?: string;
}

export interface QuantizeResult { out: string; engine: string; modules: number; bytesBefore: number; bytesAfter: number }

export async function runQuantize(o: QuantizeCommandOptions, io: CliIO = processIO): Promise<QuantizeResult> {
  if (!o.out) throw new RootsError('ERR_INVALID_ARG', '--out is required (the folder the int8 model is written to)');
  const dir = await resolveModelDir('--model', o.model, io);
  if (resolve(dir) === resolve(o.out)) throw new RootsError('ERR_INVALID_ARG', `--out ${o.out} is the --model folder; write the int8 model to another folder`);
  const engines = quantizedEngines();
  if (o.engine !== undefined && !engines.includes(o.engine)) {
    throw new RootsError('ERR_INVALID_ARG', `--engine ${o.engine}: this LibTorch's quantized engines are ${engines.join(', ') || 'none'}`);
  }
  const config = await readConfig(dir);
  const task = modelTask(config, dir);
  const Class = task === 'mlm' ? BertForMaskedLM : TASKS[task].model;
  const model = await Class.fromPretrained(dir, { device: 'cpu', log: null });
  try {
    if (model.precision === 'int8') throw new RootsError('ERR_INVALID_ARG', `--model ${dir} is already quantized (config.json has quantization_config); quantize its fp32 folder`);
    const q = await model.quantize({ engine: o.engine });
    await model.save(o.out, { tokenizer: await Tokenizer.fromPretrained(dir) });
    const size = (d: string): number => { try { return statSync(join(d, 'model.safetensors')).size; } catch { return 0; } };
    const r: QuantizeResult = { out: o.out, engine: q.engine, modules: q.modules, bytesBefore: size(dir), bytesAfter: size(o.out) };
    const mb = (b: number): string => (b / 2 ** 20).toFixed(1);
    io.out(`Quantized ${q.modules} linear layers of ${dir} to int8 (engine ${q.engine}); saved to ${o.out}` +
      `${r.bytesBefore ? ` (model.safetensors ${mb(r.bytesBefore)} -> ${mb(r.bytesAfter)} MiB)` : ''}\n`);
    return r;
  } finally {
    model.dispose();
  }
}

export function registerQuantize(program: Command, io: CliIO = processIO): void {
  program
    .command('quantize')
    .description('int8 inference on CPU: quantize the encoder\'s linear layers of a model (per-channel int8 weights, dynamic activations) into a folder the pipelines load')
    .option('--model <dir|id>', 'the fp32 model folder (or Hub id): a fine-tuned token, sequence, intent-slots, QA or masked-LM model')
    .option('--out <dir>', 'where the int8 model goes')
    .option('--engine <name>', 'the quantized engine that packs the weights here (x86, fbgemm, onednn or qnnpack; default the first this LibTorch has, see `roots info`)', cli(parsers.string))
    .action(async (o: QuantizeCommandOptions) => { await runQuantize(o, io); });
}
