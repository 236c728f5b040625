/**
 * Adapter configurations (LoRA, (IA)³, prefix tuning, BitFit): the options a user gives, PEFT's
 * adapter_config.json they become, and the resolved form the native engine takes. Defaults are
 * PEFT's (peft/tuners/*\/config.py and its BERT target-module mappings), stated here once.
 */
import { RootsError, describe } from '../errors.js';
import type { Head } from '../models/bert.js';
import type { NativeAdapterConfig } from '../native.js';

export type AdapterType = 'lora' | 'ia3' | 'prefix' | 'bitfit';

interface Common {
  /**
   * Modules (PEFT's matching: a module's name, or its last dotted parts) that train a copy of their
   * own, saved with the adapter; default the task head (PEFT's modules_to_save for the task type).
   */
  modulesToSave?: string[];
  /** Seed of the adapter's initialisation (default 42). */
  seed?: number;
}

export interface LoraOptions extends Common {
  type: 'lora';
  /** Rank (default 8). */
  r?: number;
  /** lora_alpha (default 8); the update is scaled by alpha / r. */
  alpha?: number;
  /** Dropout on the input of the A projection (default 0). */
  dropout?: number;
  /**
   * Modules to adapt: names matched as PEFT does (equal, or the name's last dotted parts:
   * 'query', 'attention.output.dense'), or one string taken as a regular expression over the whole
   * module name. Default PEFT's for BERT: ['query', 'value'].
   */
  targetModules?: string[] | string;
  /** rsLoRA: scale by alpha / sqrt(r) (default false). */
  useRslora?: boolean;
}

export interface Ia3Options extends Common {
  type: 'ia3';
  /** Default PEFT's for BERT: ['key', 'value', 'output.dense'] (output.dense also matches attention.output.dense). */
  targetModules?: string[] | string;
  /** Targets whose input is scaled instead of their output. Default ['output.dense']. */
  feedforwardModules?: string[] | string;
}

export interface PrefixOptions extends Common {
  type: 'prefix';
  /** Virtual tokens in every layer's keys and values (default 20). */
  numVirtualTokens?: number;
  /** Reparameterise the prefix through a two-layer MLP (P-tuning v2; default false). */
  prefixProjection?: boolean;
  /** The MLP's width (default hidden_size). */
  encoderHiddenSize?: number;
}

export interface BitFitOptions extends Common {
  type: 'bitfit';
}

export type AdapterOptions = LoraOptions | Ia3Options | PrefixOptions | BitFitOptions;

/** What the model needs to resolve an adapter config against (module and parameter names). */
export interface ModelShape {
  head: Head;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  parameters: { name: string; shape: number[] }[];
}

/** PEFT's task_type for each of our heads. */
export const TASK_TYPE: Record<Head, string | null> = {
  token: 'TOKEN_CLS', sequence: 'SEQ_CLS', qa: 'QUESTION_ANS', base: 'FEATURE_EXTRACTION', mlm: null, 'intent-slots': null, relation: null,
};
/** The task head's modules (PEFT's default modules_to_save for the task type). */
const HEAD_MODULES: Record<Head, string[]> = {
  token: ['classifier'], sequence: ['classifier'], qa: ['qa_outputs'], base: [], mlm: [], 'intent-slots': ['intent_classifier', 'slot_classifier'], relation: ['classifier'],
};
const DEFAULT_TARGETS = { lora: ['query', 'value'], ia3: ['key', 'value', 'output.dense'] };
const DEFAULT_FEEDFORWARD = ['output.dense'];
const ADAPTABLE = /^bert\.encoder\.layer\.\d+\.(attention\.self\.(query|key|value)|attention\.output\.dense|intermediate\.dense|output\.dense)$/;

/** The linear modules of a model (names without .weight), as PEFT lists them. */
export function linearModules(shape: ModelShape): string[] {
  return shape.parameters.filter((p) => p.name.endsWith('.weight') && p.shape.length === 2 && !/embeddings\./.test(p.name))
    .map((p) => p.name.slice(0, -'.weight'.length));
}

/** PEFT's check_target_module_exists: a string is a full-match regex; a list matches equal names or dotted suffixes. */
export function matchModules(targets: string[] | string, modules: string[]): string[] {
  if (typeof targets === 'string') {
    let re: RegExp;
    try { re = new RegExp(`^(?:${targets})$`); } catch (e) { throw new RootsError('ERR_INVALID_ARG', `target_modules ${JSON.stringify(targets)} is not a valid regular expression: ${(e as Error).message}`); }
    return modules.filter((m) => re.test(m));
  }
  return modules.filter((m) => targets.some((t) => m === t || m.endsWith(`.${t}`)));
}

function intIn(name: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new RootsError('ERR_INVALID_ARG', `Expected an integer >= ${min} for ${name} but received ${describe(v)}`);
  return v;
}
function numIn(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new RootsError('ERR_INVALID_ARG', `Expected a number in [${min}, ${max}] for ${name} but received ${describe(v)}`);
  return v;
}

/** Every pattern of `targets` must match a linear module (field: the config field, flag: the CLI flag that sets it). */
function checkPatterns(what: string, field: string, flag: string, targets: string[] | string, modules: string[]): void {
  const list = typeof targets === 'string' ? [targets] : targets;
  if (list.length === 0) throw new RootsError('ERR_INVALID_ARG', `${what}: ${field} is empty`);
  for (const t of list) {
    if (matchModules(typeof targets === 'string' ? t : [t], modules).length === 0) {
      throw new RootsError('ERR_INVALID_ARG', `${what}: ${field === 'target_modules' ? 'target module' : `${field} entry`} ${JSON.stringify(t)} matches no module of this model. Its linear modules: ${summarizeModules(modules)} (use a name such as query, key, value, attention.output.dense, intermediate.dense, output.dense, or ${flag})`);
    }
  }
}

/** Resolves targets for LoRA / (IA)³: every pattern must match, and every match must be adaptable. */
function resolveTargets(what: string, flag: string, targets: string[] | string, shape: ModelShape): string[] {
  const modules = linearModules(shape);
  checkPatterns(what, 'target_modules', flag, targets, modules);
  const matched = matchModules(targets, modules);
  const bad = matched.filter((m) => !ADAPTABLE.test(m));
  if (bad.length) throw new RootsError('ERR_UNSUPPORTED', `${what}: ${bad.join(', ')} cannot be adapted; adapters act on the encoder's query, key, value, attention.output.dense, intermediate.dense and output.dense (the task head trains through modules_to_save)`);
  return matched;
}

function summarizeModules(modules: string[]): string {
  // One layer spelled out, the rest by count: the list is long for deep models.
  const layer0 = modules.filter((m) => !/\.layer\.[1-9]\d*\./.test(m));
  const rest = modules.length - layer0.length;
  return layer0.join(', ') + (rest > 0 ? ` (and the same in the other layers: ${rest} more)` : '');
}

/** The parameter names a list of modules_to_save stands for (PEFT's matching over all modules). */
function savedParameters(modulesToSave: string[], shape: ModelShape): string[] {
  const modules = [...new Set(shape.parameters.map((p) => p.name.replace(/\.[^.]+$/, '')))];
  const matched = matchModules(modulesToSave, modules);
  return shape.parameters.filter((p) => matched.includes(p.name.replace(/\.[^.]+$/, ''))).map((p) => p.name);
}

/** The resolved adapter: what the engine builds, and the PEFT adapter_config.json it saves as. */
export interface ResolvedAdapter {
  native: NativeAdapterConfig;
  peftConfig: Record<string, unknown>;
}

/** Resolves user options against a model: PEFT's defaults, target matching, checks. */
export function resolveAdapter(o: AdapterOptions, shape: ModelShape): ResolvedAdapter {
  const seed = o.seed === undefined ? 42 : intIn('seed', o.seed, 0);
  const modulesToSave = o.modulesToSave ?? HEAD_MODULES[shape.head];
  if (!Array.isArray(modulesToSave) || modulesToSave.some((m) => typeof m !== 'string')) throw new RootsError('ERR_INVALID_ARG', `Expected an array of module names for modulesToSave but received ${describe(modulesToSave)}`);
  const saved = savedParameters(modulesToSave, shape);
  const common = { task_type: TASK_TYPE[shape.head], modules_to_save: modulesToSave.length ? modulesToSave : null, inference_mode: true, base_model_name_or_path: null, revision: null };
  switch (o.type) {
    case 'lora': {
      const r = intIn('r (--lora-r)', o.r ?? 8, 1);
      const alpha = numIn('alpha (--lora-alpha)', o.alpha ?? 8, Number.MIN_VALUE, Number.MAX_VALUE);
      const dropout = numIn('dropout (--lora-dropout)', o.dropout ?? 0, 0, 0.999);
      const targetModules = o.targetModules ?? DEFAULT_TARGETS.lora;
      const targets = resolveTargets('LoRA', '--lora-targets', targetModules, shape);
      const scaling = o.useRslora ? alpha / Math.sqrt(r) : alpha / r;
      return {
        native: { type: 'lora', seed, saved, r, scaling, dropout, targets, feedforward: [] },
        peftConfig: {
          peft_type: 'LORA', ...common, r, lora_alpha: alpha, lora_dropout: dropout, target_modules: targetModules,
          bias: 'none', fan_in_fan_out: false, init_lora_weights: true, use_rslora: !!o.useRslora, use_dora: false,
          layers_to_transform: null, layers_pattern: null, rank_pattern: {}, alpha_pattern: {}, lora_bias: false,
        },
      };
    }
    case 'ia3': {
      const targetModules = o.targetModules ?? DEFAULT_TARGETS.ia3;
      const ffModules = o.feedforwardModules ?? DEFAULT_FEEDFORWARD;
      const targets = resolveTargets('(IA)3', '--ia3-targets', targetModules, shape);
      if (ffModules.length > 0) checkPatterns('(IA)3', 'feedforward_modules', '--ia3-feedforward', ffModules, linearModules(shape));  // [] : no feed-forward scaling
      const feedforward = matchModules(ffModules, linearModules(shape));
      const stray = feedforward.filter((m) => !targets.includes(m));
      if (stray.length) throw new RootsError('ERR_INVALID_ARG', `(IA)3: feedforward_modules must be a subset of target_modules; ${stray.slice(0, 3).join(', ')} is not targeted`);
      return {
        native: { type: 'ia3', seed, saved, targets, feedforward },
        peftConfig: { peft_type: 'IA3', ...common, target_modules: targetModules, feedforward_modules: ffModules, fan_in_fan_out: false, init_ia3_weights: true },
      };
    }
    case 'prefix': {
      const numVirtualTokens = intIn('numVirtualTokens (--prefix-tokens)', o.numVirtualTokens ?? 20, 1);
      const prefixProjection = !!o.prefixProjection;
      const encoderHiddenSize = intIn('encoderHiddenSize', o.encoderHiddenSize ?? shape.hiddenSize, 1);
      return {
        native: { type: 'prefix', seed, saved, numVirtualTokens, prefixProjection, encoderHiddenSize },
        peftConfig: {
          peft_type: 'PREFIX_TUNING', ...common, num_virtual_tokens: numVirtualTokens, token_dim: shape.hiddenSize,
          num_transformer_submodules: 1, num_attention_heads: shape.numHeads, num_layers: shape.numLayers,
          encoder_hidden_size: encoderHiddenSize, prefix_projection: prefixProjection,
        },
      };
    }
    case 'bitfit': {
      // Every bias of the encoder (BitFit trains the biases, LayerNorm's included) and the head.
      const biases = shape.parameters.filter((p) => p.name.startsWith('bert.') && p.name.endsWith('.bias')).map((p) => p.name);
      return {
        native: { type: 'bitfit', seed, saved: [...new Set([...biases, ...saved])] },
        peftConfig: { peft_type: 'BITFIT', ...common },
      };
    }
    default:
      throw new RootsError('ERR_INVALID_ARG', `Expected adapter type lora, ia3, prefix or bitfit but received ${describe((o as { type?: unknown }).type)}`);
  }
}

/**
 * Reads PEFT's adapter_config.json into our options. Anything PEFT can express and roots does not
 * compute (DoRA, per-layer ranks, layers_to_transform ...) is refused, never silently dropped.
 */
export function optionsFromPeftConfig(c: Record<string, unknown>, where: string): AdapterOptions {
  const type = c.peft_type;
  const modulesToSave = Array.isArray(c.modules_to_save) ? [...new Set(c.modules_to_save as string[])] : [];
  const refuse = (field: string, why: string) => { throw new RootsError('ERR_UNSUPPORTED', `${where}: ${field} ${why}; roots does not support it`); };
  if (type === 'LORA') {
    if (c.use_dora) refuse('use_dora', 'is true (DoRA)');
    if (c.rank_pattern && Object.keys(c.rank_pattern as object).length) refuse('rank_pattern', 'sets per-module ranks');
    if (c.alpha_pattern && Object.keys(c.alpha_pattern as object).length) refuse('alpha_pattern', 'sets per-module alphas');
    if (c.layers_to_transform !== undefined && c.layers_to_transform !== null) refuse('layers_to_transform', 'is set');
    if (c.bias !== undefined && c.bias !== 'none') refuse('bias', `is ${JSON.stringify(c.bias)} (LoRA bias training)`);
    if (c.lora_bias) refuse('lora_bias', 'is true');
    if (c.fan_in_fan_out) refuse('fan_in_fan_out', 'is true');
    if (c.target_parameters) refuse('target_parameters', 'is set');
    return {
      type: 'lora', r: c.r as number, alpha: c.lora_alpha as number, dropout: (c.lora_dropout as number) ?? 0,
      targetModules: c.target_modules as string[] | string, useRslora: !!c.use_rslora, modulesToSave,
    };
  }
  if (type === 'IA3') {
    if (c.fan_in_fan_out) refuse('fan_in_fan_out', 'is true');
    return { type: 'ia3', targetModules: c.target_modules as string[] | string, feedforwardModules: (c.feedforward_modules as string[] | string) ?? [], modulesToSave };
  }
  if (type === 'PREFIX_TUNING') {
    if (c.num_transformer_submodules !== undefined && c.num_transformer_submodules !== 1) refuse('num_transformer_submodules', `is ${c.num_transformer_submodules} (an encoder has 1)`);
    // The file holds the prefix after the projection (PEFT saves the encoder's output), so it loads without one.
    return { type: 'prefix', numVirtualTokens: c.num_virtual_tokens as number, prefixProjection: false, modulesToSave };
  }
  if (type === 'BITFIT') return { type: 'bitfit', modulesToSave };
  throw new RootsError('ERR_UNSUPPORTED', `${where}: peft_type ${JSON.stringify(type)} is not supported (roots reads LORA, IA3, PREFIX_TUNING and its own BITFIT)`);
}
