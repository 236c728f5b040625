/**
 * `roots merge --model BASE --adapter DIR --out DIR`: adds a LoRA, (IA)³ or BitFit adapter into the
 * base weights (PEFT's merge_and_unload) and saves a plain model folder (config.json with the task's
 * head and labels, model.safetensors, tokenizer) that loads without the adapter, in roots or
 * Transformers. Prefix-tuning adapters are not mergeable: an error, nothing written.
 */
import type { Command } from 'commander';
import { RootsError } from '../errors.js';
import { BertForMaskedLM, type Device } from '../models/bert.js';
import { Tokenizer } from '../tokenizer/index.js';
import { ADAPTER_ANY_BASE_HELP, loadWithAdapter, resolveAdapterSource, tokenizerDir } from './adapter.js';
import { DEVICE_PARSER, cli, processIO, type CliIO } from './common.js';
import { TASKS, modelTask } from './tasks.js';

export interface MergeCommandOptions {
  model?: string;
  adapter?: string;
  /** --adapter-any-base: load it whatever base its adapter_config.json names. */
  adapterAnyBase?: boolean;
  out?: string;
  device?: string;
}

export async function runMerge(o: MergeCommandOptions, io: CliIO = processIO): Promise<{ out: string; adapter: string; type: string }> {
  if (!o.out) throw new RootsError('ERR_INVALID_ARG', '--out is required (the merged model folder)');
  const src = await resolveAdapterSource(o.model, o.adapter, io, o.adapterAnyBase);
  if (src.adapterDir === null) throw new RootsError('ERR_INVALID_ARG', '--adapter is required (the adapter folder to merge into --model)');
  const task = modelTask(src.config, src.adapterDir);
  const model = await loadWithAdapter(task === 'mlm' ? BertForMaskedLM : TASKS[task].model, src, { device: (o.device ?? 'cpu') as Device, precision: 'fp32' });
  try {
    const name = model.activeAdapter!;
    const type = model.adapters().find((a) => a.name === name)!.type;
    model.mergeAdapter(name);
    model.deleteAdapter(name);  // the merged change stays in the weights
    await model.save(o.out, { tokenizer: await Tokenizer.fromPretrained(tokenizerDir(src)) });
    io.out(`Merged the ${type} adapter ${src.adapterDir} into ${src.modelDir}; saved to ${o.out}\n`);
    return { out: o.out, adapter: src.adapterDir, type };
  } finally {
    model.dispose();
  }
}

export function registerMerge(program: Command, io: CliIO = processIO): void {
  program
    .command('merge')
    .description('merge a LoRA, (IA)3 or BitFit adapter into its base model and save a plain model folder (prefix adapters cannot be merged)')
    .option('--model <dir|id>', 'the base model folder (or Hub id) the adapter was trained on; default: the adapter\'s base_model_name_or_path')
    .option('--adapter <dir|id>', 'the adapter folder (roots train --peft, or PEFT\'s save_pretrained)')
    .option('--adapter-any-base', ADAPTER_ANY_BASE_HELP)
    .option('--out <dir>', 'where the merged model goes')
    .option('--device <d>', 'cpu, cuda, cuda:N or auto (default cpu)', cli(DEVICE_PARSER))
    .action(async (o: MergeCommandOptions) => { await runMerge(o, io); });
}
