/**
 * Checkpoint files, read without loading their data: the index (name, dtype, shape, byte range)
 * of every tensor in a safetensors file or a torch.save() zip. The native side then copies the
 * bytes of the tensors we asked for, after every shape has been checked here.
 */
import { open, stat } from 'node:fs/promises';
import { RootsError } from '../errors.js';
import { readTorchZipIndex } from './torch-zip.js';

export type DType = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'I8' | 'U8' | 'BOOL';

export interface TensorRecord {
  dtype: DType;
  shape: number[];
  /** absolute byte offsets in the file */
  begin: number;
  end: number;
}

export type TensorIndex = Map<string, TensorRecord>;

export const DTYPE_BYTES: Record<DType, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, I8: 1, U8: 1, BOOL: 1 };

/** Parses and validates a safetensors header: its length, its JSON, and every entry's range. */
export async function readSafetensorsIndex(path: string): Promise<{ index: TensorIndex; metadata: Record<string, string> }> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (e) {
    throw new RootsError('ERR_IO', `cannot read ${path}: ${(e as Error).message}`);
  }
  if (size < 8) throw new RootsError('ERR_CHECKPOINT', `${path}: ${size} bytes is too short for a safetensors file (expected an 8-byte header length)`);
  const fh = await open(path, 'r');
  try {
    const lenBuf = Buffer.alloc(8);
    await fh.read(lenBuf, 0, 8, 0);
    const headerLen = Number(lenBuf.readBigUInt64LE(0));
    if (headerLen <= 0 || headerLen > 100_000_000 || 8 + headerLen > size) {
      throw new RootsError('ERR_CHECKPOINT', `${path}: the header claims ${headerLen} bytes but the file has ${size} (truncated or not a safetensors file)`);
    }
    const hb = Buffer.alloc(headerLen);
    await fh.read(hb, 0, headerLen, 8);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(hb.toString('utf8'));
    } catch (e) {
      throw new RootsError('ERR_CHECKPOINT', `${path}: the safetensors header is not valid JSON (${(e as Error).message})`);
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) {
      throw new RootsError('ERR_CHECKPOINT', `${path}: the safetensors header is not a JSON object`);
    }
    const dataStart = 8 + headerLen;
    const index: TensorIndex = new Map();
    let metadata: Record<string, string> = {};
    for (const [name, v] of Object.entries(header)) {
      if (name === '__metadata__') { metadata = (v ?? {}) as Record<string, string>; continue; }
      const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (!e || typeof e.dtype !== 'string' || !(e.dtype in DTYPE_BYTES)) {
        throw new RootsError('ERR_CHECKPOINT', `${path}: tensor "${name}" has dtype ${JSON.stringify(e?.dtype)} (expected one of ${Object.keys(DTYPE_BYTES).join(', ')})`);
      }
      if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) {
        throw new RootsError('ERR_CHECKPOINT', `${path}: tensor "${name}" has an invalid shape ${JSON.stringify(e.shape)}`);
      }
      const off = e.data_offsets;
      if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isInteger(d) && d >= 0)) {
        throw new RootsError('ERR_CHECKPOINT', `${path}: tensor "${name}" has invalid data_offsets ${JSON.stringify(off)}`);
      }
      const dtype = e.dtype as DType;
      const numel = (e.shape as number[]).reduce((a, b) => a * b, 1);
      const [b, en] = off as number[];
      if (en - b !== numel * DTYPE_BYTES[dtype]) {
        throw new RootsError('ERR_CHECKPOINT', `${path}: tensor "${name}" has ${en - b} bytes but its shape [${e.shape}] of ${dtype} needs ${numel * DTYPE_BYTES[dtype]}`);
      }
      if (dataStart + en > size) {
        throw new RootsError('ERR_CHECKPOINT', `${path}: tensor "${name}" ends at byte ${dataStart + en} but the file has ${size} bytes (truncated?)`);
      }
      index.set(name, { dtype, shape: e.shape as number[], begin: dataStart + b, end: dataStart + en });
    }
    return { index, metadata };
  } finally {
    await fh.close();
  }
}

/** The index of a checkpoint file: safetensors, or a torch.save() zip (pytorch_model.bin). */
export async function readCheckpointIndex(path: string): Promise<TensorIndex> {
  if (path.endsWith('.safetensors')) return (await readSafetensorsIndex(path)).index;
  return readTorchZipIndex(path);
}
