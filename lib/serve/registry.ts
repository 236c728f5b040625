/**
 * The models `roots serve` answers for: every folder under `--models` is served by its name.
 * - A model folder (config.json + model.safetensors or pytorch_model.bin) runs its task's pipeline.
 * - An adapter folder (PEFT's adapter_config.json + adapter_model.safetensors, as `roots train --peft`
 *   writes it with the task's config.json) runs over its base: base_model_name_or_path, a folder (an
 *   absolute path, or one under `--models` with the same name).
 *
 * Folders that share one base and one head (architecture and label sets) share one loaded model: the
 * base's own entry (adapter null) and its adapters, each adapter loaded into it by name, with one
 * BatchedPipeline routing batches by adapter (the native model runs one call at a time).
 *
 * Loading happens at start (`preload`) or on first use. With a memory budget, a load that would pass
 * it first unloads the least recently used models with nothing queued or running; when that cannot
 * free enough the request is refused with 503. A model's size is its weight files' size before it is
 * loaded and its parameters (4 bytes each) after.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { RootsError } from '../errors.js';
import type { BertPreTrainedModel, Device, Precision } from '../models/bert.js';
import { type BertConfig, labelsOf, readConfig } from '../models/config.js';
import { isQuantizedConfig } from '../models/quantize.js';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE } from '../peft/files.js';
import { adapterBase, hasWeights, isAdapterOnlyFolder } from '../peft/load.js';
import { Tokenizer } from '../tokenizer/index.js';
import { BatchedPipeline, type BatchedPipelineOptions } from './batcher.js';
import { ServeError, type ServedPipeline, type ServedTask, taskForArchitecture } from './tasks.js';

const WEIGHTS = ['model.safetensors', 'pytorch_model.bin'];

/** One served name. */
export interface ModelEntry {
  name: string;
  dir: string;
  task: ServedTask;
  /** The config with the head (the adapter folder's config.json, else the base's). */
  config: BertConfig;
  baseDir: string;
  /** The adapter folder, or null for a model served as it is. */
  adapterDir: string | null;
  group: Group;
}

/** One loaded-or-not native model: a base, its head, and the entries running on it. */
export interface Group {
  key: string;
  baseDir: string;
  task: ServedTask;
  config: BertConfig;
  entries: ModelEntry[];
  estimatedBytes: number;
  loaded: Loaded | null;
  loading: Promise<Loaded> | null;
  lastUsed: number;
}

interface Loaded {
  model: BertPreTrainedModel;
  pipes: ServedPipeline[];
  batcher: BatchedPipeline;
  bytes: number;
}

export interface RegistryOptions {
  device?: Device;
  precision?: Precision;
  /** Bytes the loaded models may take together (default: no limit). */
  memoryBudget?: number;
  batcher: Omit<BatchedPipelineOptions, 'adapters' | 'onBatch' | 'lengthOf'>;
  /** Per batch, with the model's name (metrics). */
  onBatch?: (group: Group, info: Parameters<NonNullable<BatchedPipelineOptions['onBatch']>>[0]) => void;
  log?: (line: string) => void;
}

const fileSize = (path: string) => (existsSync(path) ? statSync(path).size : 0);

export class ModelRegistry {
  readonly entries = new Map<string, ModelEntry>();
  readonly groups = new Map<string, Group>();
  readonly #options: RegistryOptions;
  #closed = false;

  private constructor(options: RegistryOptions) {
    this.#options = options;
  }

  /** Reads every folder under `dir` (configs only; nothing is loaded). */
  static async scan(dir: string, options: RegistryOptions): Promise<ModelRegistry> {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new RootsError('ERR_IO', `--models ${dir}: no such folder (a folder of model folders, each served by its name)`);
    const reg = new ModelRegistry(options);
    for (const name of readdirSync(dir).sort()) {
      const sub = join(dir, name);
      if (!statSync(sub).isDirectory()) continue;
      const isAdapter = isAdapterOnlyFolder(sub);
      if (!isAdapter && !(existsSync(join(sub, 'config.json')) && hasWeights(sub))) {
        options.log?.(`roots serve: skipping ${sub} (neither a model folder with config.json and weights nor a PEFT adapter folder)`);
        continue;
      }
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new RootsError('ERR_CONFIG', `--models: the folder name ${JSON.stringify(name)} cannot be a model name in a URL (letters, digits, . _ -)`);
      await reg.#add(dir, name, sub, isAdapter);
    }
    if (reg.entries.size === 0) throw new RootsError('ERR_IO', `--models ${dir} holds no model folder (config.json + model.safetensors) and no adapter folder (adapter_config.json)`);
    const budget = options.memoryBudget;
    const big = [...reg.groups.values()].find((g) => budget !== undefined && g.estimatedBytes > budget);
    if (big) throw new RootsError('ERR_CONFIG', `${big.entries.map((e) => e.name).join(', ')} need about ${size(big.estimatedBytes)}, more than the memory budget of ${size(budget!)}: raise --memory-budget`);
    return reg;
  }

  async #add(root: string, name: string, dir: string, isAdapter: boolean): Promise<void> {
    let baseDir = dir;
    if (isAdapter) {
      const cfgPath = join(dir, ADAPTER_CONFIG_FILE);
      const base = await adapterBase(dir);
      if (!base) throw new RootsError('ERR_CONFIG', `${cfgPath}: base_model_name_or_path names no base model; roots serve needs the base's folder (set it, or put the base under --models)`);
      const candidates = [isAbsolute(base) ? base : resolve(base), join(root, basename(base))];
      const found = candidates.find((c) => existsSync(join(c, 'config.json')) && hasWeights(c));
      if (!found) throw new RootsError('ERR_CONFIG', `${cfgPath}: its base ${JSON.stringify(base)} is not a model folder (looked in ${candidates.join(' and ')})`);
      baseDir = found;
      // A quantised model runs no adapters: say so now rather than fail on first use.
      const int8 = this.#options.precision === 'int8' ? '--precision int8 quantises its base' : isQuantizedConfig(await readConfig(baseDir), join(baseDir, 'config.json')) ? `its base ${baseDir} is an int8 folder` : null;
      if (int8) throw new RootsError('ERR_CONFIG', `${dir} is an adapter and ${int8}; an int8 model takes no adapters (serve the adapter over an fp32 base, or merge it first: roots merge, then roots quantize)`);
    }
    const config = await readConfig(existsSync(join(dir, 'config.json')) ? dir : baseDir);
    const arch = config.architectures?.[0] ?? (config.slot_id2label ? 'BertForIntentAndSlots' : 'BertForTokenClassification');
    const task = taskForArchitecture(arch, join(dir, 'config.json'), config);
    const head = JSON.stringify([arch, config.id2label ?? null, config.slot_id2label ?? null, config.problem_type ?? null]);
    const key = `${resolve(baseDir)}\u0000${head}`;
    let group = this.groups.get(key);
    if (!group) {
      group = { key, baseDir, task, config, entries: [], estimatedBytes: WEIGHTS.reduce((s, f) => s + fileSize(join(baseDir, f)), 0), loaded: null, loading: null, lastUsed: 0 };
      this.groups.set(key, group);
    }
    group.estimatedBytes += isAdapter ? fileSize(join(dir, ADAPTER_WEIGHTS_FILE)) : 0;
    const entry: ModelEntry = { name, dir, task, config, baseDir, adapterDir: isAdapter ? dir : null, group };
    group.entries.push(entry);
    this.entries.set(name, entry);
  }

  /** The entry served as `name`, or a 404 naming the served ones. */
  get(name: string): ModelEntry {
    const e = this.entries.get(name);
    if (!e) throw new ServeError(404, `No model named ${JSON.stringify(name)} (served: ${[...this.entries.keys()].join(', ')}; GET /v1/models lists them)`);
    return e;
  }

  /** Bytes the loaded (and loading) models take. */
  get usedBytes(): number {
    let n = 0;
    for (const g of this.groups.values()) n += g.loaded ? g.loaded.bytes : g.loading ? g.estimatedBytes : 0;
    return n;
  }

  /** The batcher of `entry`'s model, loading it first when needed (and unloading others for room). */
  async batcher(entry: ModelEntry): Promise<BatchedPipeline> {
    const g = entry.group;
    g.lastUsed = performance.now();
    if (g.loaded) return g.loaded.batcher;
    if (this.#closed) throw new ServeError(503, 'The server is shutting down');
    if (!g.loading) {
      this.#makeRoom(g);
      g.loading = this.#load(g).then((l) => { g.loaded = l; return l; }).finally(() => { g.loading = null; });
    }
    return (await g.loading).batcher;
  }

  /** Unloads idle models, least recently used first, until `g` fits the budget; 503 when it cannot. */
  #makeRoom(g: Group): void {
    const budget = this.#options.memoryBudget;
    if (budget === undefined) return;
    const idle = [...this.groups.values()].filter((o) => o !== g && o.loaded && o.loaded.batcher.idle).sort((a, b) => a.lastUsed - b.lastUsed);
    while (this.usedBytes + g.estimatedBytes > budget && idle.length) this.#unload(idle.shift()!);
    if (this.usedBytes + g.estimatedBytes > budget) {
      throw new ServeError(503, `Loading ${g.entries[0].name} (about ${size(g.estimatedBytes)}) would pass the memory budget of ${size(budget)}: ${size(this.usedBytes)} are in use by models that are busy; retry later`);
    }
  }

  #unload(g: Group): void {
    const l = g.loaded;
    if (!l) return;
    g.loaded = null;
    this.#options.log?.(`roots serve: unloading ${g.entries.map((e) => e.name).join(', ')} (memory budget)`);
    void l.batcher.close().then(() => dispose(l));
  }

  async #load(g: Group): Promise<Loaded> {
    const { task } = g;
    const base = g.entries.find((e) => e.adapterDir === null);
    const adapters = g.entries.filter((e) => e.adapterDir !== null);
    const c = g.config;
    // An adapter's head may differ from the base's (a pretrained encoder, other labels): the adapter brings it.
    const head = Object.fromEntries(Object.entries({ id2label: c.id2label, label2id: c.label2id, slot_id2label: c.slot_id2label, problem_type: c.problem_type, architectures: c.architectures })
      .filter(([, v]) => v !== undefined));
    const model = await task.Class.fromPretrained(g.baseDir, {
      device: this.#options.device, precision: this.#options.precision, log: null, config: base ? {} : head, ignoreMismatchedSizes: !base,
    });
    const pipes: ServedPipeline[] = [];
    try {
      const r = model.loadReport;
      if (base && r.missingKeys.length) throw new RootsError('ERR_CHECKPOINT', `${g.baseDir} has no trained weights for ${r.missingKeys.slice(0, 4).join(', ')}: roots serve needs a trained model`);
      for (const a of adapters) {
        await model.loadAdapter(a.adapterDir!, { name: a.name });
        const own = new Set(model.adapterParameters(a.name).map((p) => p.name));
        const lacking = base ? [] : [...r.missingKeys, ...r.mismatchedKeys.map((m) => m.key)].filter((k) => !own.has(k));
        if (lacking.length) throw new RootsError('ERR_CHECKPOINT', `${a.dir} does not hold ${lacking.slice(0, 4).join(', ')}, and its base ${g.baseDir} has none: the adapter was trained without modules_to_save for its head`);
      }
      const tokDir = [g.baseDir, ...adapters.map((a) => a.dir)].find((d) => existsSync(join(d, 'tokenizer.json')) || existsSync(join(d, 'vocab.txt')));
      if (!tokDir) throw new RootsError('ERR_IO', `${g.baseDir} has no tokenizer.json or vocab.txt`);
      const tokenizer = await Tokenizer.fromPretrained(tokDir);
      const batchSize = this.#options.batcher.maxBatchSize ?? 32;
      const byAdapter: Record<string, ServedPipeline> = {};
      for (const a of adapters) {
        byAdapter[a.name] = await task.create({ model, tokenizer, adapter: a.name }, { batchSize });
        pipes.push(byAdapter[a.name]);
      }
      const main = await task.create({ model, tokenizer, adapter: null }, { batchSize });
      pipes.push(main);
      const count = (t: string) => tokenizer.encode(t, null, { addSpecialTokens: false }).ids.length;
      const batcher = new BatchedPipeline(main, {
        ...this.#options.batcher, adapters: byAdapter,
        // Tokens, so batches sort by what the model sees and the metrics count tokens.
        lengthOf: (x) => (typeof x === 'string' ? count(x) : x && typeof x === 'object'
          ? Object.values(x).reduce<number>((n, v) => n + (typeof v === 'string' ? count(v) : 0), 0) : 0),
        onBatch: (info) => this.#options.onBatch?.(g, info),
      });
      const bytes = 4 * (model.numParameters + model.adapters().reduce((s, a) => s + a.numParameters, 0));
      this.#options.log?.(`roots serve: loaded ${g.entries.map((e) => e.name).join(', ')} (${task.task}, ${size(bytes)})`);
      return { model, pipes, batcher, bytes };
    } catch (e) {
      model.dispose();
      throw e;
    }
  }

  /** Loads every model (within the budget: what does not fit loads on first use). */
  async preload(): Promise<void> {
    for (const g of this.groups.values()) {
      if (this.#options.memoryBudget !== undefined && this.usedBytes + g.estimatedBytes > this.#options.memoryBudget) continue;
      await this.batcher(g.entries[0]);
    }
  }

  /** Inputs waiting, over all models. */
  get queueDepth(): number {
    let n = 0;
    for (const g of this.groups.values()) n += g.loaded?.batcher.queueDepth ?? 0;
    return n;
  }

  /** Finishes what is queued, then frees every model. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.groups.values()].map((g) => g.loading?.catch(() => null)));
    await Promise.all([...this.groups.values()].map(async (g) => {
      const l = g.loaded;
      if (!l) return;
      await l.batcher.close();
      g.loaded = null;
      dispose(l);
    }));
  }

  /** The name the base of `e` is served under (its folder name when it is not served itself). */
  baseName(e: ModelEntry): string {
    const base = resolve(e.baseDir);
    return [...this.entries.values()].find((x) => x.adapterDir === null && resolve(x.dir) === base)?.name ?? basename(e.baseDir);
  }

  /** What GET /v1/models says about an entry. */
  describe(e: ModelEntry): Record<string, unknown> {
    const g = e.group;
    return {
      name: e.name, task: e.task.task, labels: (e.task.labels ? e.task.labels(e.config) : labelsOf(e.config)) ?? null,
      ...(e.config.slot_id2label ? { slot_labels: labelsOf(e.config, 'slot_id2label') } : {}),
      adapter: e.adapterDir !== null, base: e.adapterDir !== null ? this.baseName(e) : null,
      // Adapters a request to this name may choose with "adapter" (the others on the same base and head).
      adapters: e.adapterDir === null ? g.entries.filter((x) => x.adapterDir !== null).map((x) => x.name) : [],
      loaded: g.loaded !== null,
      // What the loaded model runs in (fp32, bf16, int8); null until it is loaded.
      precision: g.loaded ? g.loaded.model.precision : null,
    };
  }
}

function dispose(l: Loaded): void {
  for (const p of l.pipes) p.dispose();
  l.model.dispose();
}

/** "16 KB", "420 MB". */
function size(bytes: number): string {
  return bytes < 2 ** 20 ? `${Math.ceil(bytes / 1024)} KB` : `${Math.round(bytes / 2 ** 20)} MB`;
}
