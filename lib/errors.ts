/**
 * Errors thrown by roots-nlp. Every error has a stable `code` a program can branch on; the message
 * says what was wrong and what was expected (file, line, field where there is one).
 */
export type RootsErrorCode =
  | 'ERR_INVALID_ARG'      // a caller passed a value of the wrong type, range or shape
  | 'ERR_DISPOSED'         // a native object was used after dispose()
  | 'ERR_BUSY'             // a second async job was started on an object that is still running one
  | 'ERR_TORCH'            // LibTorch raised (c10::Error); the message is torch's, minus its backtrace
  | 'ERR_NATIVE'           // another C++ exception from the addon
  | 'ERR_NATIVE_LOAD'      // the addon could not be loaded (see the "possible solutions" list)
  | 'ERR_CHECKPOINT'       // a checkpoint is missing, truncated, or disagrees with its config
  | 'ERR_PARSE'            // a data file could not be parsed
  | 'ERR_IO'               // a file could not be read or written
  | 'ERR_CONFIG'           // a configuration is invalid
  | 'ERR_TRAINING'         // training cannot continue (e.g. repeated non-finite losses)
  | 'ERR_DISTRIBUTED'      // data-parallel training: a rendezvous, collective or worker failed (lib/distributed)
  | 'ERR_UNSUPPORTED'      // the build or the device lacks a feature
  | 'ERR_OVERLOADED'       // a bounded queue is full (serving: HTTP 503 with Retry-After)
  | 'ERR_TIMEOUT'          // a request waited or ran past its deadline
  | 'ERR_ABORTED';         // the caller gave up (an AbortSignal; serving: the client disconnected)

export class RootsError extends Error {
  readonly code: RootsErrorCode;
  constructor(code: RootsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RootsError';
    this.code = code;
  }
}

/** An error raised inside LibTorch, with its message and without its C++ backtrace. */
export class TorchError extends RootsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_TORCH', message, options);
    this.name = 'TorchError';
  }
}

/** Throws ERR_INVALID_ARG unless `value` is a positive integer. */
export function expectPositiveInt(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new RootsError('ERR_INVALID_ARG', `Expected positive integer for ${name} but received ${describe(value)}`);
  }
  return value;
}

/** Throws ERR_INVALID_ARG unless `value` is a finite number (optionally within [min, max]). */
export function expectNumber(name: string, value: unknown, min = -Infinity, max = Infinity): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    const range = max === Infinity ? (min === -Infinity ? 'a finite number' : `a finite number >= ${min}`)
      : min === -Infinity ? `a finite number <= ${max}` : `a number in [${min}, ${max}]`;
    throw new RootsError('ERR_INVALID_ARG', `Expected ${range} for ${name} but received ${describe(value)}`);
  }
  return value;
}

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? value.slice(0, 57) + '...' : value);
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (value === null) return 'null';
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} of length ${(value as unknown as { length: number }).length}`;
  if (typeof value === 'object') return 'an object';
  return String(value);
}
