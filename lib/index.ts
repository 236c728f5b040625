export { RootsError, TorchError } from './errors.js';
export type { RootsErrorCode } from './errors.js';
export type { Batch } from './batch.js';
export { IGNORE_INDEX } from './batch.js';
