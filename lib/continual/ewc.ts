/**
 * EWC's state on disk and its Fisher pass. The engine holds the diagonal Fisher F and the anchor
 * θ* (native/continual.h); this file feeds it batches and saves both beside the model as
 * continual.safetensors (`fisher.<name>`, `anchor.<name>`, Hugging Face's parameter names), so a
 * chain of tasks accumulates them (online EWC: F ← γ F + F_new, θ* ← θ after each task).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Batch } from '../batch.js';
import { RootsError } from '../errors.js';
import type { BertPreTrainedModel } from '../models/bert.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { readSafetensorsIndex } from '../weights/index.js';

export const CONTINUAL_FILE = 'continual.safetensors';

/** What continual.safetensors records besides the tensors. */
export interface ContinualFileInfo {
  /** Tasks whose Fisher went into F. */
  tasks: number;
  /** Online EWC's decay of the older Fisher. */
  gamma: number;
  /** Batches the newest Fisher was averaged over. */
  fisherBatches: number;
}

/**
 * Accumulates the squared gradient of each batch's mean loss (eval mode, no dropout) into the
 * engine's pending Fisher; batches of one example give the per-example (empirical) Fisher. Then
 * consolidate() folds it in. Resolves to the batches accumulated so far.
 */
export async function accumulateFisher(model: BertPreTrainedModel, batches: Iterable<Batch> | AsyncIterable<Batch>, options: { maxBatches?: number; chunk?: number } = {}): Promise<number> {
  const max = options.maxBatches ?? Infinity;
  const chunk = options.chunk ?? 8;
  let pending: Batch[] = [];
  let seen = 0;
  let total = 0;
  for await (const b of batches) {
    if (seen >= max) break;
    pending.push(b);
    seen++;
    if (pending.length === chunk) { total = await model.continual('fisher', pending); pending = []; }
  }
  if (pending.length) total = await model.continual('fisher', pending);
  if (seen === 0) throw new RootsError('ERR_INVALID_ARG', 'the Fisher needs at least one batch of the old task');
  return total;
}

/** F ← γ F + (the accumulated Fisher's mean), θ* ← the current weights. */
export function consolidate(model: BertPreTrainedModel, gamma = 1): void {
  if (!(gamma >= 0 && gamma <= 1)) throw new RootsError('ERR_INVALID_ARG', `Expected online EWC's gamma in [0, 1] but received ${gamma}`);
  model.continual('consolidate', gamma);
}

/** Writes continual.safetensors (F32 Fisher and anchor per parameter) into `dir`, atomically. */
export async function saveContinualState(model: BertPreTrainedModel, dir: string, info: ContinualFileInfo): Promise<string> {
  const state = model.continual('state');
  if (!state.fisher || !state.anchor) throw new RootsError('ERR_INVALID_ARG', 'no Fisher to save: run accumulateFisher and consolidate first');
  const header: Record<string, unknown> = { __metadata__: { format: 'roots-continual', tasks: String(info.tasks), gamma: String(info.gamma), fisher_batches: String(info.fisherBatches) } };
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const p of model.parameters()) {
    for (const which of ['fisher', 'anchor'] as const) {
      const v = model.continual('get', which, p.name);
      header[`${which}.${p.name}`] = { dtype: 'F32', shape: p.shape, data_offsets: [offset, offset + v.byteLength] };
      parts.push(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
      offset += v.byteLength;
    }
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const path = join(dir, CONTINUAL_FILE);
  await writeFileAtomic(path, Buffer.concat([head, Buffer.from(json), ...parts]));
  return path;
}

/**
 * Loads continual.safetensors into the model's engine. Every parameter must have a Fisher and an
 * anchor of its shape; a head grown by label expansion since (more rows) takes the saved rows and
 * a zero Fisher for the new ones. Nothing is set unless the whole file matches.
 */
export async function loadContinualState(model: BertPreTrainedModel, path: string): Promise<ContinualFileInfo> {
  const { index, metadata } = await readSafetensorsIndex(path);
  if (metadata.format !== 'roots-continual') throw new RootsError('ERR_CHECKPOINT', `${path}: not a roots continual-learning file (its metadata lacks format: roots-continual)`);
  const bytes = await readFile(path);
  const staged: { which: 'fisher' | 'anchor'; name: string; values: Float32Array }[] = [];
  const problems: string[] = [];
  for (const p of model.parameters()) {
    const numel = p.shape.reduce((a, b) => a * b, 1);
    for (const which of ['fisher', 'anchor'] as const) {
      const rec = index.get(`${which}.${p.name}`);
      if (!rec) { problems.push(`${which}.${p.name} is missing`); continue; }
      if (rec.dtype !== 'F32') { problems.push(`${which}.${p.name} is ${rec.dtype}, expected F32`); continue; }
      const saved = new Float32Array(bytes.buffer.slice(bytes.byteOffset + rec.begin, bytes.byteOffset + rec.end));
      const same = rec.shape.length === p.shape.length && rec.shape.every((d, i) => d === p.shape[i]);
      // A grown head: the same trailing dims, more rows; the saved rows first.
      const grown = !same && rec.shape.length === p.shape.length && rec.shape[0] < p.shape[0] && rec.shape.slice(1).every((d, i) => d === p.shape[i + 1]);
      if (!same && !grown) { problems.push(`${which}.${p.name} has shape [${rec.shape}], the model [${p.shape}]`); continue; }
      let values: Float32Array = saved;
      if (grown) {
        values = which === 'anchor' ? model.getParameter(p.name) : new Float32Array(numel);
        values.set(saved, 0);
      }
      staged.push({ which, name: p.name, values });
    }
  }
  if (problems.length) {
    const list = problems.length > 4 ? `${problems.slice(0, 4).join('; ')} and ${problems.length - 4} more` : problems.join('; ');
    throw new RootsError('ERR_CHECKPOINT', `${path} does not match the model's parameters: ${list}. It belongs to another model; run --method ewc on the model it was saved with`);
  }
  for (const s of staged) model.continual('set', s.which, s.name, s.values);
  return { tasks: Number(metadata.tasks ?? 1), gamma: Number(metadata.gamma ?? 1), fisherBatches: Number(metadata.fisher_batches ?? 0) };
}
