// Parameter-efficient tuning: adapter configs, PEFT's file format.
export { resolveAdapter, optionsFromPeftConfig, matchModules, linearModules, TASK_TYPE } from './config.js';
export type { AdapterType, AdapterOptions, LoraOptions, Ia3Options, PrefixOptions, BitFitOptions, ModelShape, ResolvedAdapter } from './config.js';
export { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE } from './files.js';
export type { AdapterRecord, LoadAdapterOptions } from './files.js';
