/**
 * Reads the tensor index of a `torch.save()` file (the zip format PyTorch has written since 1.6):
 * a small pickle interpreter for `data.pkl` (only the opcodes and globals a state dict uses, no
 * code execution) and the zip directory that says where each storage's bytes are. Storages are
 * stored uncompressed, so each tensor is a byte range of the file.
 */
import { readFile } from 'node:fs/promises';
import { RootsError } from '../errors.js';
import type { DType, TensorIndex } from './index.js';
import { DTYPE_BYTES } from './index.js';

interface ZipEntry { name: string; method: number; compressedSize: number; dataOffset: number }

function readZipDirectory(buf: Buffer, path: string): Map<string, ZipEntry> {
  // End of central directory: the last 0x06054b50 within the final 64 KiB + 22 bytes.
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65557); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) throw new RootsError('ERR_CHECKPOINT', `${path}: not a zip file (a torch.save() file from PyTorch < 1.6 uses the legacy format; re-save it with a recent PyTorch or as safetensors)`);
  let count = buf.readUInt16LE(eocd + 10);
  let cdOffset = buf.readUInt32LE(eocd + 16);
  if (cdOffset === 0xffffffff || count === 0xffff) {
    // ZIP64: the locator sits just before the EOCD.
    const loc = eocd - 20;
    if (loc < 0 || buf.readUInt32LE(loc) !== 0x07064b50) throw new RootsError('ERR_CHECKPOINT', `${path}: damaged ZIP64 directory`);
    const z64 = Number(buf.readBigUInt64LE(loc + 8));
    count = Number(buf.readBigUInt64LE(z64 + 32));
    cdOffset = Number(buf.readBigUInt64LE(z64 + 48));
  }
  const entries = new Map<string, ZipEntry>();
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > buf.length || buf.readUInt32LE(p) !== 0x02014b50) throw new RootsError('ERR_CHECKPOINT', `${path}: damaged zip directory (entry ${i})`);
    const method = buf.readUInt16LE(p + 10);
    let compressedSize = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28), extraLen = buf.readUInt16LE(p + 30), commentLen = buf.readUInt16LE(p + 32);
    let localOffset = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
    // ZIP64 extra field (id 1): 64-bit sizes / offset in the order of the fields that overflowed.
    let x = p + 46 + nameLen;
    const xEnd = x + extraLen;
    while (x + 4 <= xEnd) {
      const id = buf.readUInt16LE(x), sz = buf.readUInt16LE(x + 2);
      if (id === 1) {
        let q = x + 4;
        if (buf.readUInt32LE(p + 24) === 0xffffffff) q += 8;  // uncompressed size
        if (compressedSize === 0xffffffff) { compressedSize = Number(buf.readBigUInt64LE(q)); q += 8; }
        if (localOffset === 0xffffffff) { localOffset = Number(buf.readBigUInt64LE(q)); }
      }
      x += 4 + sz;
    }
    if (buf.readUInt32LE(localOffset) !== 0x04034b50) throw new RootsError('ERR_CHECKPOINT', `${path}: damaged zip entry ${name}`);
    const dataOffset = localOffset + 30 + buf.readUInt16LE(localOffset + 26) + buf.readUInt16LE(localOffset + 28);
    entries.set(name, { name, method, compressedSize, dataOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16', DoubleStorage: 'F64',
  LongStorage: 'I64', IntStorage: 'I32', CharStorage: 'I8', ByteStorage: 'U8', BoolStorage: 'BOOL',
};

class Global { constructor(readonly module: string, readonly name: string) {} }
class StorageRef { constructor(readonly dtype: DType, readonly key: string, readonly numel: number) {} }
class TensorRef {
  constructor(readonly storage: StorageRef, readonly offset: number, readonly shape: number[], readonly stride: number[]) {}
}
const MARK = Symbol('mark');

/** Interprets the pickle of a state dict. Unknown globals are an error, never executed. */
function unpickle(data: Buffer, path: string): unknown {
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let i = 0;
  const popMark = (): unknown[] => {
    const k = stack.lastIndexOf(MARK);
    if (k < 0) throw new RootsError('ERR_CHECKPOINT', `${path}: malformed pickle (no mark)`);
    const items = stack.splice(k);
    items.shift();
    return items;
  };
  const fail = (what: string) => new RootsError('ERR_CHECKPOINT', `${path}: unsupported content in data.pkl (${what}); only state dicts of tensors can be read`);
  const reduce = (fn: unknown, args: unknown[]): unknown => {
    if (!(fn instanceof Global)) throw fail('REDUCE on a non-global');
    const q = `${fn.module}.${fn.name}`;
    if (q === 'collections.OrderedDict' || q === 'builtins.dict') return new Map();
    if (q === 'torch._utils._rebuild_tensor_v2' || q === 'torch._utils._rebuild_tensor') {
      const [storage, offset, shape, stride] = args as [StorageRef, number, number[], number[]];
      return new TensorRef(storage, offset, [...shape], [...stride]);
    }
    if (q === 'torch._utils._rebuild_parameter') return args[0];
    throw fail(`global ${q}`);
  };
  while (i < data.length) {
    const op = data[i++];
    switch (op) {
      case 0x80: i++; break;                                   // PROTO
      case 0x95: i += 8; break;                                // FRAME
      case 0x2e: return stack.pop();                           // STOP
      case 0x7d: stack.push(new Map()); break;                 // EMPTY_DICT
      case 0x5d: stack.push([]); break;                        // EMPTY_LIST
      case 0x29: stack.push([]); break;                        // EMPTY_TUPLE
      case 0x28: stack.push(MARK); break;                      // MARK
      case 0x4e: stack.push(null); break;                      // NONE
      case 0x88: stack.push(true); break;                      // NEWTRUE
      case 0x89: stack.push(false); break;                     // NEWFALSE
      case 0x4b: stack.push(data[i]); i += 1; break;           // BININT1
      case 0x4d: stack.push(data.readUInt16LE(i)); i += 2; break; // BININT2
      case 0x4a: stack.push(data.readInt32LE(i)); i += 4; break;  // BININT
      case 0x8a: {                                              // LONG1
        const n = data[i++];
        let v = 0n;
        for (let k = n - 1; k >= 0; k--) v = (v << 8n) | BigInt(data[i + k]);
        if (n > 0 && data[i + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        stack.push(Number(v)); i += n; break;
      }
      case 0x47: stack.push(data.readDoubleBE(i)); i += 8; break; // BINFLOAT
      case 0x58: { const n = data.readUInt32LE(i); i += 4; stack.push(data.toString('utf8', i, i + n)); i += n; break; } // BINUNICODE
      case 0x8c: { const n = data[i++]; stack.push(data.toString('utf8', i, i + n)); i += n; break; } // SHORT_BINUNICODE
      case 0x54: { const n = data.readUInt32LE(i); i += 4; stack.push(data.toString('latin1', i, i + n)); i += n; break; } // BINSTRING
      case 0x55: { const n = data[i++]; stack.push(data.toString('latin1', i, i + n)); i += n; break; } // SHORT_BINSTRING
      case 0x63: {                                              // GLOBAL "module\nname\n"
        const a = data.indexOf(0x0a, i); const mod = data.toString('utf8', i, a);
        const b = data.indexOf(0x0a, a + 1); const name = data.toString('utf8', a + 1, b);
        i = b + 1; stack.push(new Global(mod, name)); break;
      }
      case 0x93: { const name = stack.pop() as string; const mod = stack.pop() as string; stack.push(new Global(mod, name)); break; } // STACK_GLOBAL
      case 0x71: memo.set(data[i++], stack[stack.length - 1]); break;                       // BINPUT
      case 0x72: memo.set(data.readUInt32LE(i), stack[stack.length - 1]); i += 4; break;    // LONG_BINPUT
      case 0x94: memo.set(memo.size, stack[stack.length - 1]); break;                       // MEMOIZE
      case 0x68: stack.push(memo.get(data[i++])); break;                                    // BINGET
      case 0x6a: stack.push(memo.get(data.readUInt32LE(i))); i += 4; break;                 // LONG_BINGET
      case 0x74: stack.push(popMark()); break;                                              // TUPLE
      case 0x85: stack.push([stack.pop()]); break;                                          // TUPLE1
      case 0x86: { const b = stack.pop(); const a = stack.pop(); stack.push([a, b]); break; } // TUPLE2
      case 0x87: { const c = stack.pop(); const b = stack.pop(); const a = stack.pop(); stack.push([a, b, c]); break; } // TUPLE3
      case 0x61: { const v = stack.pop(); (stack[stack.length - 1] as unknown[]).push(v); break; } // APPEND
      case 0x65: { const items = popMark(); (stack[stack.length - 1] as unknown[]).push(...items); break; } // APPENDS
      case 0x73: { const v = stack.pop(); const k = stack.pop(); (stack[stack.length - 1] as Map<unknown, unknown>).set(k, v); break; } // SETITEM
      case 0x75: {                                              // SETITEMS
        const items = popMark();
        const d = stack[stack.length - 1] as Map<unknown, unknown>;
        for (let k = 0; k < items.length; k += 2) d.set(items[k], items[k + 1]);
        break;
      }
      case 0x52: { const args = stack.pop() as unknown[]; const fn = stack.pop(); stack.push(reduce(fn, args)); break; } // REDUCE
      case 0x62: stack.pop(); break;                            // BUILD (an OrderedDict's _metadata: ignored)
      case 0x51: {                                              // BINPERSID ('storage', type, key, location, numel)
        const pid = stack.pop() as unknown[];
        if (!Array.isArray(pid) || pid[0] !== 'storage' || !(pid[1] instanceof Global)) throw fail('persistent id');
        const dtype = STORAGE_DTYPES[(pid[1] as Global).name];
        if (!dtype) throw fail(`storage type ${(pid[1] as Global).name}`);
        stack.push(new StorageRef(dtype, String(pid[2]), Number(pid[4])));
        break;
      }
      default:
        throw fail(`pickle opcode 0x${op.toString(16)} at byte ${i - 1}`);
    }
  }
  throw new RootsError('ERR_CHECKPOINT', `${path}: data.pkl ended without STOP (truncated?)`);
}

export async function readTorchZipIndex(path: string): Promise<TensorIndex> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (e) {
    throw new RootsError('ERR_IO', `cannot read ${path}: ${(e as Error).message}`);
  }
  const zip = readZipDirectory(buf, path);
  const pkl = [...zip.values()].find((e) => e.name.endsWith('/data.pkl') || e.name === 'data.pkl');
  if (!pkl) throw new RootsError('ERR_CHECKPOINT', `${path}: zip has no data.pkl (not a torch.save() file)`);
  if (pkl.method !== 0) throw new RootsError('ERR_CHECKPOINT', `${path}: data.pkl is compressed (method ${pkl.method}); torch.save() stores it uncompressed`);
  const prefix = pkl.name.slice(0, pkl.name.length - 'data.pkl'.length);
  const root = unpickle(buf.subarray(pkl.dataOffset, pkl.dataOffset + pkl.compressedSize), path);
  if (!(root instanceof Map)) throw new RootsError('ERR_CHECKPOINT', `${path}: expected a state dict (a mapping of names to tensors)`);
  const index: TensorIndex = new Map();
  for (const [name, t] of root) {
    if (typeof name !== 'string' || !(t instanceof TensorRef)) continue;
    const entry = zip.get(`${prefix}data/${t.storage.key}`);
    if (!entry) throw new RootsError('ERR_CHECKPOINT', `${path}: storage ${t.storage.key} of "${name}" is missing from the zip`);
    if (entry.method !== 0) throw new RootsError('ERR_CHECKPOINT', `${path}: storage of "${name}" is compressed`);
    // Contiguous row-major strides are required (state dicts are); anything else is reported.
    let expect = 1;
    for (let d = t.shape.length - 1; d >= 0; d--) {
      if (t.shape[d] > 1 && t.stride[d] !== expect) {
        throw new RootsError('ERR_CHECKPOINT', `${path}: tensor "${name}" is not contiguous (stride ${JSON.stringify(t.stride)})`);
      }
      expect *= t.shape[d];
    }
    const elem = DTYPE_BYTES[t.storage.dtype];
    const numel = t.shape.reduce((a, b) => a * b, 1);
    const begin = entry.dataOffset + t.offset * elem;
    const end = begin + numel * elem;
    if (t.offset + numel > t.storage.numel || end > entry.dataOffset + entry.compressedSize) {
      throw new RootsError('ERR_CHECKPOINT', `${path}: tensor "${name}" reaches past its storage (truncated file?)`);
    }
    index.set(name, { dtype: t.storage.dtype, shape: t.shape, begin, end });
  }
  return index;
}
