/**
 * Shared pieces of the CLI commands: strict value parsers (a bad value is a one-line error naming
 * the flag and what was expected), `--config FILE` merging (flags override the file), output
 * streams, and the checks of file and model-folder flags.
 */
import { readFile } from 'node:fs/promises';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { RootsError } from '../errors.js';
import type { Device, FreezeStrategy, Precision } from '../models/bert.js';
import { resolveModelSource } from '../hub/resolve.js';
import type { ModelFiles } from '../hub/cache.js';

/** Where commands write (tests pass their own). */
export interface CliIO {
  /** Results (reports, JSON). */
  out(text: string): void;
  /** Progress and notices. */
  err(text: string): void;
}

export const processIO: CliIO = {
  out: (t) => { process.stdout.write(t); },
  err: (t) => { process.stderr.write(t); },
};

/** A value parser for one option: from the command line (string) or a config file (JSON value). */
export type Parser<T> = (value: unknown) => T;

function fail(expected: string, value: unknown): never {
  throw new InvalidArgumentError(`expected ${expected} but got ${JSON.stringify(value)}`);
}

export const parsers = {
  string: ((v: unknown) => (typeof v === 'string' && v !== '' ? v : fail('a non-empty string', v))) as Parser<string>,
  positiveInt: ((v: unknown) => {
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
    return Number.isInteger(n) && n > 0 ? n : fail('a positive integer', v);
  }) as Parser<number>,
  nonNegativeInt: ((v: unknown) => {
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
    return Number.isInteger(n) && n >= 0 ? n : fail('a non-negative integer', v);
  }) as Parser<number>,
  integer: ((v: unknown) => {
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : NaN;
    return Number.isInteger(n) ? n : fail('an integer', v);
  }) as Parser<number>,
  number: (min: number, max = Infinity, openMin = false): Parser<number> => (v: unknown) => {
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
    const range = `${openMin ? '(' : '['}${min}, ${max === Infinity ? '∞)' : `${max}]`}`;
    return Number.isFinite(n) && n >= min && !(openMin && n === min) && n <= max ? n : fail(`a number in ${range}`, v);
  },
  choice: <T extends string>(options: readonly T[]): Parser<T> => (v: unknown) =>
    typeof v === 'string' && options.includes(v as T) ? (v as T) : fail(`one of ${options.join(', ')}`, v),
  boolean: ((v: unknown) => (typeof v === 'boolean' ? v : v === 'true' ? true : v === 'false' ? false : fail('true or false', v))) as Parser<boolean>,
};

/** Wraps a parser for commander (which passes the previous value second). */
export function cli<T>(parser: Parser<T>): (value: string) => T {
  return (value: string) => parser(value);
}

/** The spec of an option that a `--config` file may also set. */
export interface OptionSpec {
  /** camelCase key (commander's attribute name and the config file's key). */
  key: string;
  parse: Parser<unknown>;
}

/**
 * Merges `--config FILE` (a JSON object whose keys are option names, camelCase or kebab-case)
 * under the flags given on the command line (`flags` holds only those). Unknown keys and bad values
 * are errors naming the file and the key.
 */
export async function mergeConfig(flags: Record<string, unknown>, specs: readonly OptionSpec[], configPath: string | undefined): Promise<Record<string, unknown>> {
  if (!configPath) return flags;
  let text: string;
  try {
    text = await readFile(configPath, 'utf8');
  } catch (e) {
    throw new RootsError('ERR_IO', `Cannot read --config ${configPath}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new RootsError('ERR_CONFIG', `${configPath}: not valid JSON (${(e as Error).message})`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new RootsError('ERR_CONFIG', `${configPath}: expected a JSON object of options`);
  const byKey = new Map(specs.map((s) => [s.key, s]));
  const merged: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    const key = k.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const spec = byKey.get(key);
    if (!spec) throw new RootsError('ERR_CONFIG', `${configPath}: unknown option "${k}" (known: ${specs.map((s) => s.key).join(', ')})`);
    try {
      merged[key] = spec.parse(v);
    } catch (e) {
      throw new RootsError('ERR_CONFIG', `${configPath}: option "${k}": ${(e as Error).message}`);
    }
  }
  for (const [k, v] of Object.entries(flags)) if (v !== undefined) merged[k] = v;
  return merged;
}

/** Throws a one-line error unless `path` is an existing file. */
export function requireFile(flag: string, path: unknown): string {
  if (typeof path !== 'string' || path === '') throw new RootsError('ERR_INVALID_ARG', `${flag} is required`);
  if (!existsSync(path)) throw new RootsError('ERR_IO', `${flag} ${path}: no such file`);
  if (!statSync(path).isFile()) throw new RootsError('ERR_IO', `${flag} ${path}: not a file`);
  return path;
}

/** Throws a one-line error unless `dir` is a model folder (a config.json inside). */
export function requireModelDir(flag: string, dir: unknown): string {
  if (typeof dir !== 'string' || dir === '') throw new RootsError('ERR_INVALID_ARG', `${flag} is required`);
  if (!existsSync(dir)) throw new RootsError('ERR_IO', `${flag} ${dir}: no such folder`);
  if (!statSync(dir).isDirectory()) throw new RootsError('ERR_IO', `${flag} ${dir}: not a folder (expected a model folder with config.json)`);
  if (!existsSync(join(dir, 'config.json'))) throw new RootsError('ERR_IO', `${flag} ${dir}: no config.json (create one with \`roots init\`)`);
  if (!existsSync(join(dir, 'tokenizer.json')) && !existsSync(join(dir, 'vocab.txt'))) {
    throw new RootsError('ERR_IO', `${flag} ${dir}: no tokenizer.json or vocab.txt`);
  }
  return dir;
}

/**
 * {@link requireModelDir} for a folder, or a Hub id (`bert-base-cased`, `org/name@revision`) resolved
 * to its snapshot in the Hugging Face cache (downloaded when missing; progress on `io.err`).
 * `need`: what the command reads (`adapter` for an adapter folder, checked by its command).
 */
export async function resolveModelDir(flag: string, value: unknown, io: CliIO = processIO, need: ModelFiles = 'model+tokenizer'): Promise<string> {
  if (typeof value !== 'string' || value === '') throw new RootsError('ERR_INVALID_ARG', `${flag} is required`);
  const dir = await resolveModelSource(value, need, {}, { flag, say: (line) => io.err(`${line}\n`) });
  return need === 'adapter' ? dir : requireModelDir(flag, dir);
}

/**
 * `--precision` for fromPretrained: unset is 'auto', which the library resolves where the model is
 * known (an int8 folder stays int8; otherwise bf16 where the model's device runs it natively, else fp32:
 * resolveAutoPrecision in lib/models/quantize.ts).
 */
export function resolvePrecision(p: string | undefined): Precision {
  return (p ?? 'auto') as Precision;
}

export const DEVICE_PARSER: Parser<Device> = (v: unknown) => {
  if (typeof v === 'string' && /^(cpu|cuda|auto|cuda:\d+)$/.test(v)) return v as Device;
  return fail("cpu, cuda, cuda:N or auto", v);
};

export const FREEZE_PARSER: Parser<string> = (v: unknown) => {
  if (typeof v === 'string' && /^(none|embeddings|encoder|all-but-head|bitfit|bottom:\d+)$/.test(v)) return v;
  return fail('none, embeddings, encoder, all-but-head, bitfit or bottom:K', v);
};

/** `--freeze` text → a model.freeze strategy. */
export function freezeStrategy(v: string | undefined): FreezeStrategy | undefined {
  if (v === undefined) return undefined;
  const m = /^bottom:(\d+)$/.exec(v);
  if (m) return { bottomLayers: Number(m[1]) };
  return v as 'none' | 'embeddings' | 'encoder' | 'all-but-head' | 'bitfit';
}

/** Pads cells into aligned columns. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => { widths[i] = Math.max(widths[i] ?? 0, c.length); });
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n') + '\n';
}

/** An option of a command: its flags and help, how a value parses, and optionally its `--no-` form or repetition. */
export interface CommandOptionSpec extends OptionSpec {
  flags: string;
  help: string;
  /** The flag that turns a boolean option off (`--no-group-by-length`). */
  negation?: string;
  /** The flag may be given several times; its values are collected in order. */
  repeatable?: boolean;
}

/**
 * Registers a command whose options are `specs` plus `--config FILE` (a JSON file of the same options,
 * under the flags given), and runs `run` with the merged options.
 */
export function registerCommand<O>(program: Command, name: string, description: string, specs: readonly CommandOptionSpec[], run: (options: O) => Promise<unknown>): Command {
  const cmd = program.command(name).description(description).option('--config <file>', 'JSON file with any of these options (flags override it)');
  for (const s of specs) {
    const opt = new Option(s.flags, s.help);
    if (s.repeatable) cmd.addOption(opt.argParser((v: string, prev: unknown[] | undefined) => [...(prev ?? []), ...[s.parse(v)].flat()]));
    else if (!s.flags.includes('<') && !s.flags.includes('[')) cmd.addOption(opt);
    else cmd.addOption(opt.argParser(cli(s.parse)));
    if (s.negation) cmd.addOption(new Option(s.negation, `the opposite of ${s.flags}`));
  }
  cmd.action(async (flags: Record<string, unknown>) => {
    const { config, ...rest } = flags as { config?: string } & Record<string, unknown>;
    await run((await mergeConfig(rest, specs, config)) as O);
  });
  return cmd;
}
