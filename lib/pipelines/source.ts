/**
 * Where a pipeline's model comes from: a trained model folder (loaded here, owned and disposed by
 * the pipeline) or a `{ model, tokenizer }` already in memory (left to its owner).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { RootsError, describe } from '../errors.js';
import type { BertPreTrainedModel, Device, ModelClass, Precision } from '../models/bert.js';
import { readConfig } from '../models/config.js';
import { Tokenizer } from '../tokenizer/index.js';
import { resolveModelSource } from '../hub/resolve.js';
import type { HubOptions } from '../hub/cache.js';
import { adapterBase, configDirOf, isAdapterOnlyFolder, loadWithAdapter, tokenizerDir } from '../peft/load.js';

/** The architecture a trained folder of each head names in config.json. */
const ARCHITECTURES: Partial<Record<string, string>> = {
  token: 'BertForTokenClassification', sequence: 'BertForSequenceClassification', 'intent-slots': 'BertForIntentAndSlots',
  qa: 'BertForQuestionAnswering',
  relation: 'BertForRelationClassification',
};

/** The pipeline that runs each head. */
const PIPELINES: Partial<Record<string, string>> = { token: 'ner', sequence: 'text-classification', 'intent-slots': 'intent-slots', mlm: 'fill-mask', qa: 'question-answering', relation: 'relation-classification' };

/** Names the pipeline that runs a model of `head` (or says that none does), for wrong-pipeline errors. */
export function pipelineHint(head: string | undefined, source = 'dir'): string {
  const name = head && PIPELINES[head];
  return name ? `: load it with pipeline('${name}', ${source})` : ': no pipeline runs it yet';
}

function headOf(architecture: string): string | undefined {
  return Object.entries(ARCHITECTURES).find(([, a]) => a === architecture)?.[0];
}

/**
 * A model folder or Hub id (`org/name@revision`), a PEFT adapter folder (`roots train --peft`: its
 * base is the one adapter_config.json names), or a model and its tokenizer; with `adapter`, the
 * pipeline runs that adapter of the model (lib/peft), so pipelines of several tasks share one base.
 */
export type PipelineSource = string | { model: BertPreTrainedModel; tokenizer: Tokenizer; adapter?: string | null };

export interface LoadedPipelineModel<T extends BertPreTrainedModel> {
  model: T | BertPreTrainedModel;
  tokenizer: Tokenizer;
  /** Whether the pipeline loaded the model (and so disposes it). */
  owned: boolean;
}

/**
 * Loads a trained model for a pipeline: `what` names the kind in errors ("a trained
 * text-classification model"); a folder without trained weights for every parameter is an error,
 * and so is one whose config.json names another architecture. With `head`, a model passed in
 * memory must have Class's head too (`needs` names it: "a sequence-classification model").
 */
export async function loadPipelineModel<T extends BertPreTrainedModel>(
  source: PipelineSource, Class: ModelClass<T> & { fromPretrained(dir: string, o: object): Promise<T> }, what: string,
  options: { device?: Device; precision?: Precision } & HubOptions, head?: { task: string; needs: string },
): Promise<LoadedPipelineModel<T>> {
  if (typeof source === 'string') {
    // A Hub id becomes its snapshot folder here, once, for the checks, the tokenizer and the model.
    const dir = await resolveModelSource(source, 'model+tokenizer', options);
    source = dir;
    if (isAdapterOnlyFolder(dir)) return loadAdapterFolder(dir, Class, what, options);
    if (!['model.safetensors', 'pytorch_model.bin'].some((f) => existsSync(join(dir, f)))) {
      throw new RootsError('ERR_CHECKPOINT', `${source} has no model.safetensors or pytorch_model.bin: a pipeline needs ${what}`);
    }
    const arch = (await readConfig(source)).architectures?.[0];
    const expected = ARCHITECTURES[Class.head];
    if (arch && expected && arch !== expected) {
      throw new RootsError('ERR_INVALID_ARG', `${source} holds a ${arch}; the pipeline needs ${what} (config.json's architectures says ${arch})${pipelineHint(headOf(arch), JSON.stringify(source))}`);
    }
    const tokenizer = await Tokenizer.fromPretrained(source);
    const model = await Class.fromPretrained(source, { device: options.device, precision: options.precision, log: null });
    if (model.loadReport.missingKeys.length || !model.loadReport.source) {
      model.dispose();
      throw new RootsError('ERR_CHECKPOINT', `${source} has ${model.loadReport.source ? `no trained weights for ${model.loadReport.missingKeys.join(', ')}` : 'no model.safetensors or pytorch_model.bin'}: a pipeline needs ${what}`);
    }
    return { model, tokenizer, owned: true };
  }
  if (!source || typeof source !== 'object' || !source.model || !source.tokenizer) {
    throw new RootsError('ERR_INVALID_ARG', `Expected a model folder or { model, tokenizer } but received ${describe(source)}`);
  }
  if (head && source.model.head !== Class.head) {
    throw new RootsError('ERR_INVALID_ARG', `The ${head.task} pipeline needs ${head.needs}, not a ${source.model.head} head${pipelineHint(source.model.head, '{ model, tokenizer }')}`);
  }
  if (source.adapter !== undefined) return { model: withAdapter(source.model, source.adapter), tokenizer: source.tokenizer, owned: false };
  return { model: source.model, tokenizer: source.tokenizer, owned: false };
}

/** An adapter folder: its base (adapter_config.json's base_model_name_or_path) with the adapter set; the pipeline owns both. */
async function loadAdapterFolder<T extends BertPreTrainedModel>(
  dir: string, Class: ModelClass<T> & { fromPretrained(dir: string, o: object): Promise<T> }, what: string,
  options: { device?: Device; precision?: Precision } & HubOptions,
): Promise<LoadedPipelineModel<T>> {
  const base = await adapterBase(dir);
  if (!base) throw new RootsError('ERR_INVALID_ARG', `${dir} is an adapter folder whose adapter_config.json names no base model (base_model_name_or_path): load the base and pass { model, tokenizer, adapter } after model.loadAdapter(${JSON.stringify(dir)})`);
  const modelDir = await resolveModelSource(base, 'model+tokenizer', options);
  const config = await readConfig(configDirOf(modelDir, dir));
  const arch = config.architectures?.[0];
  const expected = ARCHITECTURES[Class.head];
  if (arch && expected && arch !== expected) {
    throw new RootsError('ERR_INVALID_ARG', `${dir} is an adapter for a ${arch}; the pipeline needs ${what} (config.json's architectures says ${arch})${pipelineHint(headOf(arch), JSON.stringify(dir))}`);
  }
  const src = { modelDir, adapterDir: dir, config };
  const model = await loadWithAdapter(Class, src, options, { model: 'its base', adapter: 'the adapter folder' });
  try {
    return { model, tokenizer: await Tokenizer.fromPretrained(tokenizerDir(src)), owned: true };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/** The model as a pipeline sees it, with every forward pass run through `adapter` (null: the base alone). */
function withAdapter<T extends BertPreTrainedModel>(model: T, adapter: string | null): T {
  if (adapter !== null && !model.adapters().some((a) => a.name === adapter)) {
    throw new RootsError('ERR_INVALID_ARG', `the model has no adapter named ${JSON.stringify(adapter)} (loaded: ${model.adapters().map((a) => a.name).join(', ') || 'none'})`);
  }
  return new Proxy(model, {
    get(target, key) {
      if (key === 'forward') return (batch: Parameters<T['forward']>[0]) => target.forward(batch, { adapter });
      const v = Reflect.get(target, key, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/**
 * The callable a pipeline returns. `call` and the functions among `props` run one at a time on the
 * model (later calls wait for earlier ones, never ERR_BUSY) and fail with ERR_DISPOSED after
 * dispose(); `task`, `model`, `tokenizer` and the other `props` are read-only properties.
 * dispose() (and `[Symbol.dispose]`) frees the model when the pipeline loaded it.
 */
export function makePipeline<P>(
  task: string, loaded: LoadedPipelineModel<BertPreTrainedModel>,
  call: (...args: never[]) => Promise<unknown>, props: Record<string, unknown> = {},
): P {
  const serial = serialQueue();
  let disposed = false;
  const guarded = (fn: (...args: never[]) => unknown) => (...args: never[]) => serial(async () => {
    if (disposed) throw new RootsError('ERR_DISPOSED', `This ${task} pipeline was disposed`);
    return fn(...args);
  });
  const dispose = (): void => {
    disposed = true;
    if (loaded.owned) loaded.model.dispose();
  };
  const pipe = guarded(call);
  const properties: PropertyDescriptorMap = {
    task: { value: task, enumerable: true },
    model: { value: loaded.model, enumerable: true },
    tokenizer: { value: loaded.tokenizer, enumerable: true },
    dispose: { value: dispose },
    [Symbol.dispose]: { value: dispose },
  };
  for (const [k, v] of Object.entries(props)) properties[k] = typeof v === 'function' ? { value: guarded(v as (...args: never[]) => unknown) } : { value: v, enumerable: true };
  Object.defineProperties(pipe, properties);
  return pipe as P;
}

/** Runs `work` after every earlier call of the same queue has finished (one call at a time on a model). */
export function serialQueue(): <T>(work: () => Promise<T>) => Promise<T> {
  let queue: Promise<unknown> = Promise.resolve();
  return <T>(work: () => Promise<T>): Promise<T> => {
    const next = queue.then(work, work);
    queue = next.catch(() => {});
    return next;
  };
}
