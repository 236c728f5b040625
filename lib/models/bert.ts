/**
 * BERT models with Hugging Face's names and checkpoints: BertModel, BertForTokenClassification,
 * BertForSequenceClassification, BertForMaskedLM, BertForQuestionAnswering, and
 * BertForIntentAndSlots (a joint intent + slot model). The numbers live in the native engine;
 * this file handles configs, checkpoint names, validation and the async API.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Batch } from '../batch.js';
import { RootsError, describe } from '../errors.js';
import { call, callSync, native, type NativeContinualOps, type NativeDistributedOps, type NativeModel, type NativeTensorEntry } from '../native.js';
import { readCheckpointIndex, type TensorIndex } from '../weights/index.js';
import { atomicPath, writeFileAtomic } from '../util/atomic-write.js';
import { type BertConfig, labelsOf, normalizeConfig, readConfig, withLabels } from './config.js';
import { resolveOptimizerOptions } from './optimizer.js';
import { type AdapterOptions, type ModelShape, resolveAdapter } from '../peft/config.js';
import { ADAPTER_WEIGHTS_FILE, type AdapterRecord, loadAdapterFiles, type LoadAdapterOptions, saveAdapterFiles } from '../peft/files.js';
import { resolveModelSource } from '../hub/resolve.js';
import { isQuantizedConfig, QUANTIZATION_CONFIG, type QuantizeInfo, type QuantizeOptions, quantizedModules, resolveAutoPrecision } from './quantize.js';
import { type HubOptions, hubIdOfSnapshot } from '../hub/cache.js';
import { freezePatterns, type Head, type Device, type Precision, type FromPretrainedOptions, type LoadReport, type ModelOutput, type TrainStepOptions, type ForwardOptions, type AdapterInfo, type StepResult, type FreezeStrategy } from './model-types.js';

export { freezePatterns } from './model-types.js';
export type { Head, Device, Precision, TrainPrecision, FromPretrainedOptions, LoadReport, ModelOutput, TrainStepOptions, ForwardOptions, AdapterInfo, StepResult, FreezeStrategy } from './model-types.js';

const ARCHITECTURE: Record<Head, string> = {
  base: 'BertModel', token: 'BertForTokenClassification', sequence: 'BertForSequenceClassification',
  mlm: 'BertForMaskedLM', qa: 'BertForQuestionAnswering', 'intent-slots': 'BertForIntentAndSlots',
  relation: 'BertForRelationClassification',
};

/**
 * Names in checkpoints that are not parameters of ours and are skipped silently. The MLM decoder's
 * weight is the word-embedding matrix (tied; prepareConfig refuses `tie_word_embeddings: false`
 * for a masked-LM), its bias an alias of cls.predictions.bias.
 */
function ignoredKey(k: string): boolean {
  return k.endsWith('embeddings.position_ids') || k === 'cls.predictions.decoder.weight' || k === 'cls.predictions.decoder.bias';
}

/** Maps checkpoint names to ours: legacy gamma/beta, and the `bert.` prefix a bare BertModel lacks. */
function normalizeKey(k: string, ours: Set<string>): string {
  let n = k.replace(/LayerNorm\.gamma$/, 'LayerNorm.weight').replace(/LayerNorm\.beta$/, 'LayerNorm.bias');
  if (!ours.has(n) && ours.has(`bert.${n}`)) n = `bert.${n}`;
  return n;
}

export function resolveDevice(d: Device | undefined): string {
  if (!d || d === 'cpu') return 'cpu';
  if (d === 'auto') return native().info().cudaAvailable ? 'cuda' : 'cpu';
  if (!/^cuda(:\d+)?$/.test(d)) throw new RootsError('ERR_INVALID_ARG', `Expected device 'cpu', 'cuda', 'cuda:N' or 'auto' but received ${JSON.stringify(d)}`);
  return d;
}

/** A model class as a value (`BertForTokenClassification`), for the static factories' `this`. */
export interface ModelClass<T extends BertPreTrainedModel> { readonly head: Head; readonly prototype: T }

export class BertPreTrainedModel {
  /** The head this class builds; subclasses set it. */
  static readonly head: Head = 'base';

  readonly config: BertConfig;
  readonly head: Head;
  loadReport: LoadReport = { source: null, missingKeys: [], unexpectedKeys: [], mismatchedKeys: [] };
  protected readonly nm: NativeModel;
  #precision: Exclude<Precision, 'auto'> = 'fp32';
  #adapters = new Map<string, AdapterRecord>();
  #adapter: string | null = null;

  protected constructor(config: BertConfig, head: Head, device: string, seed: number) {
    this.config = config;
    this.head = head;
    // The normalised config.json as it is, plus what it does not hold.
    this.nm = callSync(() => new (native().Model)(config, { head, seed, device }));
  }

  /** A fresh model (HF's _init_weights) from a config object. */
  static fromConfig<T extends BertPreTrainedModel>(this: ModelClass<T>, config: Partial<BertConfig>, options: FromPretrainedOptions = {}): T {
    const cfg = prepareConfig(normalizeConfig({ ...config, ...options.config }), this.head, options);
    const Ctor = this as unknown as new (c: BertConfig, h: Head, d: string, s: number) => T;
    const m = new Ctor(cfg, this.head, resolveDevice(options.device), options.seed ?? 42);
    if (options.precision === 'int8') throw new RootsError('ERR_INVALID_ARG', "precision 'int8' needs weights: use fromPretrained, or await model.quantize() on this model");
    if (options.precision) m.setPrecision(options.precision);
    return m;
  }

  /**
   * Loads a Hugging Face model folder: config.json plus model.safetensors or pytorch_model.bin.
   * `source` may also be a Hub id (`'bert-base-cased'`, `'org/name@revision'`): read from the shared
   * Hugging Face cache, downloaded into it when missing (lib/hub).
   * A folder with a config and no weights starts from a fresh initialisation. Weights the
   * checkpoint lacks (a new head) are initialised fresh and reported in `loadReport`.
   */
  static async fromPretrained<T extends BertPreTrainedModel>(this: ModelClass<T>, source: string, options: FromPretrainedOptions = {}): Promise<T> {
    const dir = await resolveModelSource(source, 'model', options);
    const raw = await readConfig(dir);
    const cfg = prepareConfig(normalizeConfig({ ...raw, ...options.config }, join(dir, 'config.json')), this.head, options);
    const Ctor = this as unknown as new (c: BertConfig, h: Head, d: string, s: number) => T;
    const model = new Ctor(cfg, this.head, resolveDevice(options.device), options.seed ?? 42);
    try {
      const weights = ['model.safetensors', 'pytorch_model.bin'].map((f) => join(dir, f)).find((p) => existsSync(p));
      if (weights) await model.loadWeights(weights, options);
      else (options.log === undefined ? console.warn : options.log ?? (() => {}))(`roots: ${dir} has no model.safetensors or pytorch_model.bin; starting from a fresh initialisation`);
      if (options.precision === 'int8') { if (model.precision !== 'int8') await model.quantize(); }
      else if (options.precision && !(options.precision === 'auto' && model.precision === 'int8')) model.setPrecision(options.precision);  // 'auto' keeps an int8 folder int8
    } catch (e) {
      model.dispose();
      throw e;
    }
    return model;
  }

  /** Loads weights from a safetensors or torch.save() file, checking every name and shape first. */
  async loadWeights(path: string, options: Pick<FromPretrainedOptions, 'ignoreMismatchedSizes' | 'log' | 'seed'> = {}): Promise<LoadReport> {
    // A checkpoint of an adapter run (save() wrote the adapter alone): its weights go back into the adapter.
    if (this.#adapter !== null && !existsSync(path) && existsSync(join(dirname(path), ADAPTER_WEIGHTS_FILE))) {
      const name = this.#adapter;
      this.deleteAdapter(name);
      await this.loadAdapter(dirname(path), { name, ignoreBaseModel: true });
      this.#adapter = name;
      return this.loadReport;
    }
    if (this.#precision === 'int8') throw new RootsError('ERR_UNSUPPORTED', 'loadWeights: this model is quantized (int8) and its weights are fixed; load the folder again instead');
    const index: TensorIndex = await readCheckpointIndex(path);
    // A quantized folder (roots quantize): its int8 weights go in after the fp32 tensors.
    const quantized = isQuantizedConfig(this.config as Record<string, unknown>, join(dirname(path), 'config.json')) ? quantizedModules(index, path) : null;
    const info = this.parameters();
    const shapes = new Map(info.map((p) => [p.name, p.shape]));
    const ours = new Set(shapes.keys());
    const entries: NativeTensorEntry[] = [];
    const report: LoadReport = { source: path, missingKeys: [], unexpectedKeys: [], mismatchedKeys: [] };
    const found = new Set<string>();
    for (const [key, rec] of index) {
      if (ignoredKey(key)) continue;
      if (quantized?.keys.has(key)) { if (!key.endsWith('_scale')) found.add(key); continue; }
      const name = normalizeKey(key, ours);
      const shape = shapes.get(name);
      if (!shape) { report.unexpectedKeys.push(key); continue; }
      if (!['F32', 'F16', 'BF16', 'F64'].includes(rec.dtype)) {
        throw new RootsError('ERR_CHECKPOINT', `${path}: "${key}" has dtype ${rec.dtype}, expected a floating-point type`);
      }
      if (shape.length !== rec.shape.length || shape.some((d, i) => d !== rec.shape[i])) {
        report.mismatchedKeys.push({ key, checkpoint: rec.shape, model: shape });
        continue;
      }
      found.add(name);
      entries.push({ target: name, dtype: rec.dtype, shape: rec.shape, begin: rec.begin, end: rec.end });
    }
    // The MLM bias may only be stored under its tied alias.
    if (ours.has('cls.predictions.bias') && !found.has('cls.predictions.bias') && index.has('cls.predictions.decoder.bias')) {
      const rec = index.get('cls.predictions.decoder.bias')!;
      entries.push({ target: 'cls.predictions.bias', dtype: rec.dtype, shape: rec.shape, begin: rec.begin, end: rec.end });
      found.add('cls.predictions.bias');
    }
    if (report.mismatchedKeys.length && !options.ignoreMismatchedSizes) {
      const list = report.mismatchedKeys.map((m) => `${m.key}: checkpoint [${m.checkpoint}] vs model [${m.model}]`).join('; ');
      throw new RootsError('ERR_CHECKPOINT', `${path}: shapes disagree with the config: ${list}. (Pass ignoreMismatchedSizes to initialise those weights fresh, e.g. for a new label set.)`);
    }
    report.missingKeys = [...ours].filter((n) => !found.has(n));
    if (found.size === 0) {
      throw new RootsError('ERR_CHECKPOINT', `${path}: none of its ${index.size} tensors match a BERT parameter name (is it a BERT checkpoint?)`);
    }
    await call(() => this.nm.loadSafetensors(path, entries));
    if (report.missingKeys.length) this.nm.initWeights(options.seed ?? 42, report.missingKeys);
    if (quantized) {
      await call(() => this.nm.quantize('load', path, quantized.modules));
      this.#precision = 'int8';
    }
    const log = options.log === undefined ? console.warn : options.log;
    if (log) {
      if (report.missingKeys.length) log(`roots: ${report.missingKeys.length} weights were not in ${path} and are newly initialised: ${summarize(report.missingKeys)}. Train this model before using it for predictions.`);
      if (report.unexpectedKeys.length) log(`roots: ${report.unexpectedKeys.length} weights in ${path} were not used: ${summarize(report.unexpectedKeys)}`);
      // Pretraining heads dropped for fine-tuning (or NSP, which roots does not train), said in words.
      const arch = ARCHITECTURE[this.head];
      if (report.unexpectedKeys.some((k) => k.startsWith('cls.predictions.'))) log(`roots: the masked-LM head (cls.predictions.*) is not used by ${arch}; the encoder is kept`);
      if (report.unexpectedKeys.some((k) => k.startsWith('cls.seq_relationship.'))) log(`roots: the next-sentence-prediction head (cls.seq_relationship.*) is not used by ${arch}; the encoder is kept`);
    }
    this.loadReport = report;
    return report;
  }

  /** Parameter names (Hugging Face's), shapes and whether they train. */
  parameters(): { name: string; shape: number[]; trainable: boolean }[] {
    return callSync(() => this.nm.parameterInfo());
  }
  get numParameters(): number { return callSync(() => this.nm.numParameters); }
  get device(): string { return callSync(() => this.nm.device); }
  /** The AdamW kernel of this model's steps: 'one-pass' (CPU), 'per-tensor' (ROOTS_ADAMW=foreach) or 'fused-cuda'. */
  get adamwKernel(): string { return callSync(() => this.nm.adamwKernel); }
  get disposed(): boolean { return this.nm.disposed; }
  get busy(): boolean { return this.nm.busy; }
  get labels(): string[] | undefined { return labelsOf(this.config); }
  get precision(): Precision { return this.#precision; }
  /** The AdamW step count (bias correction); saved with the optimizer state. */
  get optimizerStep(): number { return callSync(() => { this.#use(undefined, true); return this.nm.optimizerStep; }); }
  set optimizerStep(v: number) { callSync(() => { this.#use(undefined, true); this.nm.optimizerStep = v; }); }

  getParameter(name: string): Float32Array { return callSync(() => this.nm.getParameter(name)); }
  setParameter(name: string, values: Float32Array): void {
    if (this.#precision === 'int8') throw new RootsError('ERR_UNSUPPORTED', `setParameter(${JSON.stringify(name)}): this model is quantized (int8) and its weights are fixed; setPrecision('fp32') first`);
    callSync(() => this.nm.setParameter(name, values));
  }
  /** The gradient of the last trainStep (after clipping), for inspection and tests. */
  getGradient(name: string): Float32Array { return callSync(() => this.nm.getGradient(name)); }

  /**
   * The engine's continual-learning state (lib/continual: EWC and L2-SP penalties, the Fisher), on
   * the base's weights; errors come back as RootsErrors.
   */
  get continual(): NativeContinualOps {
    return ((...args: unknown[]) => {
      const run = () => { this.#use(null, true); return (this.nm.continual as (...a: unknown[]) => unknown)(...args); };
      return args[0] === 'fisher' ? call(run) : callSync(run);
    }) as NativeContinualOps;
  }

  /** Data parallelism (lib/distributed): the engine's gradient all-reduce; errors come back as RootsErrors. */
  get distributed(): NativeDistributedOps {
    return ((...args: unknown[]) => {
      const run = () => (this.nm.distributed as (...a: unknown[]) => unknown)(...args);
      return args[0] === 'broadcast' ? call(run) : callSync(run);
    }) as NativeDistributedOps;
  }

  /**
   * Matrix products in fp32 or bf16 autocast (fp32 weights and optimizer state either way); 'auto':
   * bf16 where the hardware runs it natively. From int8 back to fp32 products (with the weights the int8 ones stand for).
   * int8 takes a job: `await model.quantize()`.
   */
  setPrecision(p: Precision): void {
    if (p === 'int8') throw new RootsError('ERR_INVALID_ARG', "setPrecision('int8'): quantising is a job; use await model.quantize() (or fromPretrained with precision 'int8')");
    const resolved = p === 'auto' ? resolveAutoPrecision(this.device) : p;
    callSync(() => { this.nm.setPrecision(resolved); this.nm.quantize('off'); });
    this.#precision = resolved;
  }

  /**
   * int8 inference on CPU: quantises the encoder's linear layers (int8 weights, one scale per output
   * channel; activations quantised per call), as PyTorch's quantize_dynamic does, on a worker thread.
   * The fp32 weights stay (setPrecision('fp32') goes back); the model no longer trains; save() writes the int8 format.
   */
  async quantize(options: QuantizeOptions = {}): Promise<QuantizeInfo> {
    if (this.#adapter !== null) throw new RootsError('ERR_UNSUPPORTED', `quantize: adapter '${this.#adapter}' is set; int8 runs the base alone (mergeAdapter it and setAdapter(null) first)`);
    const r = await call(() => { this.nm.setPrecision('fp32'); return this.nm.quantize('dynamic', options.engine); });
    this.#precision = 'int8';
    return r;
  }
  /** The engine and number of int8 modules of a quantized model, else null. */
  get quantization(): QuantizeInfo | null { return callSync(() => this.nm.quantize('info')); }

  /** Freezes parameters (a strategy or regexes on HF names); returns the frozen names. */
  freeze(strategy: FreezeStrategy): string[] {
    return callSync(() => this.nm.setFrozen(freezePatterns(strategy, this.config.num_hidden_layers)));
  }

  /** Eval-mode forward pass (dropout off, no gradients) on a worker thread. */
  async forward(batch: Batch, options: ForwardOptions = {}): Promise<ModelOutput> {
    return call(() => {
      this.#use(options.adapter, false);
      return this.nm.forward(batch);
    });
  }

  /**
   * One optimisation step in one native call: forward, loss, backward over each micro-batch
   * (gradient accumulation when several are given), clipping, AdamW. Non-finite losses or
   * gradients skip the update and report `skipped`.
   */
  async trainStep(batches: Batch | Batch[], options: TrainStepOptions): Promise<StepResult> {
    const list = Array.isArray(batches) ? batches : [batches];
    const optimizer = resolveOptimizerOptions(options);
    const rngSeed = options.rngSeed ?? 0;
    if (!Number.isSafeInteger(rngSeed) || rngSeed < 0) throw new RootsError('ERR_INVALID_ARG', `Expected a non-negative integer for rngSeed but received ${describe(rngSeed)}`);
    return call(() => {
      this.#use(options.adapter, true);
      return this.nm.trainStep(list, { ...optimizer, rngSeed, ...(options.distill ? { distill: options.distill } : {}) });
    });
  }

  /**
   * Saves config.json and model.safetensors (Hugging Face names; loads in Transformers). Each file
   * is written to a temporary name and renamed, so an interrupted save never leaves a
   * half-written file where a good one was.
   */
  async save(dir: string, options: { tokenizer?: { save(dir: string): Promise<void> } } = {}): Promise<void> {
    await mkdir(dir, { recursive: true });
    if (this.#adapter !== null) {
      // With an adapter set, the model saves it alone, as PEFT's PeftModel.save_pretrained does.
      await this.saveAdapter(dir);
      // The head and labels of the task, for roots eval/predict --adapter (PEFT reads only its own two files).
      await writeFileAtomic(join(dir, 'config.json'), JSON.stringify(this.savedConfig(), null, 2) + '\n');
      if (options.tokenizer) await options.tokenizer.save(dir);
      return;
    }
    await atomicPath(join(dir, 'model.safetensors'), (tmp) => call(() => this.nm.save(tmp, 'model', { format: 'pt' })));
    await writeFileAtomic(join(dir, 'config.json'), JSON.stringify(this.savedConfig(), null, 2) + '\n');
    if (options.tokenizer) await options.tokenizer.save(dir);
  }

  /** Saves the AdamW state (moments and step) next to a checkpoint, for resuming. */
  async saveOptimizer(path: string): Promise<void> {
    callSync(() => this.#use(undefined, true));  // an adapter's own AdamW state when one is set
    await atomicPath(path, (tmp) => call(() => this.nm.save(tmp, 'optimizer', {})));
  }

  async loadOptimizer(path: string): Promise<void> {
    const { readSafetensorsIndex } = await import('../weights/index.js');
    const { index, metadata } = await readSafetensorsIndex(path);
    const entries: NativeTensorEntry[] = [];
    for (const k of ['decay.exp_avg', 'decay.exp_avg_sq', 'no_decay.exp_avg', 'no_decay.exp_avg_sq']) {
      const rec = index.get(k);
      if (!rec) throw new RootsError('ERR_CHECKPOINT', `${path}: optimizer state lacks "${k}"`);
      entries.push({ target: `optim:${k}`, dtype: rec.dtype, shape: rec.shape, begin: rec.begin, end: rec.end });
    }
    callSync(() => this.#use(undefined, true));
    await call(() => this.nm.loadSafetensors(path, entries));
    this.optimizerStep = Number(metadata.step ?? 0);
  }

  /** The config.json this model saves (HF layout: architectures, id2label, label2id). */
  savedConfig(): BertConfig {
    const c: BertConfig = { ...this.config, model_type: 'bert', architectures: [ARCHITECTURE[this.head]] };
    delete (c as Record<string, unknown>).num_labels;
    if (this.#precision === 'int8') (c as Record<string, unknown>).quantization_config = QUANTIZATION_CONFIG;
    else delete (c as Record<string, unknown>).quantization_config;
    return c;
  }

  // ---- adapters (lib/peft): LoRA, (IA)³, prefix tuning, BitFit on this base ---------------------

  /** Adds a fresh adapter (PEFT's initialisation: LoRA's B zero, (IA)³ ones), so the model's output is unchanged until it trains. */
  addAdapter(name: string, options: AdapterOptions): void {
    this.#checkNewAdapter(name);
    const r = resolveAdapter(options, this.#shape());
    callSync(() => this.nm.adapter('add', name, r.native));
    this.#adapters.set(name, { name, options, peftConfig: r.peftConfig });
  }

  /**
   * Loads a PEFT adapter folder (adapter_config.json + adapter_model.safetensors), or a Hub id of one
   * (`org/name@revision`, through the Hugging Face cache); returns its name.
   */
  async loadAdapter(source: string, options: LoadAdapterOptions & HubOptions = {}): Promise<string> {
    const name = options.name ?? 'default';
    this.#checkNewAdapter(name);
    const dir = await resolveModelSource(source, 'adapter', options);
    const rec = await loadAdapterFiles(this.nm, this.#shape(), dir, name, this.#baseName(), options);
    this.#adapters.set(name, rec);
    return name;
  }

  /** Saves adapter `name` (default: the model's) in PEFT's format: it loads with PeftModel.from_pretrained. */
  async saveAdapter(dir: string, name: string | null = this.#adapter): Promise<void> {
    if (name === null) throw new RootsError('ERR_INVALID_ARG', 'saveAdapter: no adapter given and none set (setAdapter)');
    const rec = this.#record(name);
    await saveAdapterFiles(this.nm, rec, dir, this.#baseName());
  }

  /** The adapter forward/trainStep/pipelines use when a call names none; null: the base alone. */
  setAdapter(name: string | null): void {
    if (name !== null) this.#record(name);
    this.#adapter = name;
  }
  get activeAdapter(): string | null { return this.#adapter; }

  /** The loaded adapters: type, trainable parameters, merged or not, AdamW steps taken. */
  adapters(): AdapterInfo[] { return callSync(() => this.nm.adapter('list')); }

  /** Unloads an adapter (a merged one's change stays in the base weights: PEFT's merge_and_unload). */
  deleteAdapter(name: string): void {
    this.#record(name);
    callSync(() => this.nm.adapter('remove', name));
    this.#adapters.delete(name);
    if (this.#adapter === name) this.#adapter = null;
  }

  /** Adds the adapter into the base weights (prefix adapters cannot be); unmergeAdapter restores them exactly. */
  mergeAdapter(name: string): void { this.#record(name); callSync(() => this.nm.adapter('merge', name)); }
  unmergeAdapter(name: string): void { this.#record(name); callSync(() => this.nm.adapter('unmerge', name)); }

  /** An adapter's parameters (PEFT's names, without the adapter name), their values and gradients. */
  adapterParameters(name: string): { name: string; shape: number[] }[] { this.#record(name); return callSync(() => this.nm.adapter('parameters', name)); }
  getAdapterParameter(name: string, param: string): Float32Array { return callSync(() => this.nm.adapter('get', name, param)); }
  setAdapterParameter(name: string, param: string, values: Float32Array): void { callSync(() => this.nm.adapter('set', name, param, values)); }
  getAdapterGradient(name: string, param: string): Float32Array { return callSync(() => this.nm.adapter('grad', name, param)); }

  #record(name: string): AdapterRecord {
    const r = this.#adapters.get(name);
    if (!r) throw new RootsError('ERR_INVALID_ARG', `no adapter named ${JSON.stringify(name)} (loaded: ${[...this.#adapters.keys()].join(', ') || 'none'})`);
    return r;
  }
  #checkNewAdapter(name: string): void {
    if (typeof name !== 'string' || name === '' || name.includes('/')) throw new RootsError('ERR_INVALID_ARG', `Expected a non-empty adapter name without '/' but received ${describe(name)}`);
    if (this.#adapters.has(name)) throw new RootsError('ERR_INVALID_ARG', `an adapter named ${JSON.stringify(name)} is already loaded (deleteAdapter it first, or choose another name)`);
  }
  /** Selects the adapter of a call (undefined: the model's; null: none) on the native side. */
  #use(adapter: string | null | undefined, training: boolean): void {
    const name = adapter === undefined ? this.#adapter : adapter;
    if (name !== null) this.#record(name);
    this.nm.adapter('use', name ?? '', training);
  }
  #shape(): ModelShape {
    return { head: this.head, hiddenSize: this.config.hidden_size, numLayers: this.config.num_hidden_layers, numHeads: this.config.num_attention_heads, parameters: this.parameters() };
  }
  #baseName(): string | null {
    const src = this.loadReport.source;
    return src ? (hubIdOfSnapshot(dirname(src)) ?? dirname(src)) : ((this.config as { _name_or_path?: string })._name_or_path ?? null);
  }

  /** Frees the native memory now (idempotent). A model in the middle of a call is freed when it ends. */
  dispose(): void { this.nm.dispose(); }
  [Symbol.dispose](): void { this.dispose(); }
}

function summarize(keys: string[]): string {
  return keys.length <= 6 ? keys.join(', ') : `${keys.slice(0, 6).join(', ')} and ${keys.length - 6} more`;
}

function prepareConfig(c: BertConfig, head: Head, o: FromPretrainedOptions): BertConfig {
  let cfg = c;
  if (o.labels) cfg = withLabels(cfg, o.labels);
  if (o.slotLabels) cfg = withLabels(cfg, o.slotLabels, 'slot_id2label');
  if (o.problemType) cfg = { ...cfg, problem_type: o.problemType };
  // Relation classification (native/relation.h): entity-start pooling unless config.json says cls.
  if (head === 'relation' && cfg.relation_pooling === undefined) cfg = { ...cfg, relation_pooling: 'entity-start' };
  if ((head === 'token' || head === 'sequence' || head === 'intent-slots' || head === 'relation') && !cfg.id2label && !cfg.num_labels) {
    throw new RootsError('ERR_CONFIG', `a ${ARCHITECTURE[head]} needs labels: pass { labels: [...] } or a config with id2label`);
  }
  if (head === 'qa' && !cfg.id2label && !cfg.num_labels) cfg = { ...cfg, num_labels: 2 };  // Transformers' QA config: start and end
  if (head === 'mlm' && (cfg as { tie_word_embeddings?: unknown }).tie_word_embeddings === false) {
    throw new RootsError('ERR_CONFIG', 'config.json sets tie_word_embeddings: false (a masked-LM decoder with weights of its own); roots ties the decoder to the word embeddings (cls.predictions.decoder.weight = bert.embeddings.word_embeddings.weight) and supports only tied models');
  }
  if (head === 'intent-slots' && !cfg.slot_id2label) throw new RootsError('ERR_CONFIG', 'BertForIntentAndSlots needs slotLabels (or slot_id2label in config.json)');
  // The joint loss is intent + slot_loss_weight * slots; 1 unless config.json says otherwise.
  if (head === 'intent-slots' && cfg.slot_loss_weight === undefined) cfg = { ...cfg, slot_loss_weight: 1 };
  const numLabels = labelsOf(cfg)?.length;
  if (cfg.class_weights && (head === 'token' || head === 'sequence' || head === 'intent-slots') && cfg.class_weights.length !== numLabels) {
    throw new RootsError('ERR_CONFIG', `class_weights has ${cfg.class_weights.length} entries but there are ${numLabels} labels`);
  }
  return cfg;
}

export class BertModel extends BertPreTrainedModel { static override readonly head: Head = 'base'; }
export class BertForTokenClassification extends BertPreTrainedModel { static override readonly head: Head = 'token'; }
export class BertForSequenceClassification extends BertPreTrainedModel { static override readonly head: Head = 'sequence'; }
export class BertForMaskedLM extends BertPreTrainedModel { static override readonly head: Head = 'mlm'; }
export class BertForQuestionAnswering extends BertPreTrainedModel { static override readonly head: Head = 'qa'; }
export class BertForIntentAndSlots extends BertPreTrainedModel { static override readonly head: Head = 'intent-slots'; }
/** Relation classification over entity markers (lib/tasks/relation.ts): entity-start or [CLS] pooling (config.relation_pooling). */
export class BertForRelationClassification extends BertPreTrainedModel { static override readonly head: Head = 'relation'; }
