// Hub ids and the shared Hugging Face cache.
export { resolveModel, resolveModelSource } from './resolve.js';
export type { ResolvedModel, ResolveHooks } from './resolve.js';
export { hubCacheDir, parseHubId, lookupCache, repoFolder } from './cache.js';
export type { HubOptions, HubId, ModelFiles, CacheLookup } from './cache.js';
