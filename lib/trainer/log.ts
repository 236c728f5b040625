/**
 * The training log: one JSON object per line in `outputDir/trainer_log.jsonl`, for every logged
 * step, evaluation, save, skipped (non-finite) step, and the end of the run.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomicSync } from '../util/atomic-write.js';

/** Mean loss, rate and throughput over the last `loggingSteps` steps. */
export interface TrainLogRecord {
  type: 'train';
  step: number;
  epoch: number;
  /** Mean loss of the non-skipped steps of the window (null when all were skipped). */
  loss: number | null;
  learningRate: number;
  gradNorm: number | null;
  /** Tokens (attention-mask ones) per second of training time in the window. */
  tokensPerSecond: number;
  /** Steps of the window skipped for a non-finite loss or gradient. */
  skipped: number;
  /** Seconds since the run (or the resumed run) started. */
  elapsed: number;
}

export interface EvalLogRecord {
  type: 'eval';
  step: number;
  epoch: number;
  /** The evaluated set (`'eval'` during training; `'test'` etc. for final evaluations). */
  name: string;
  metrics: Record<string, number>;
  /** Seconds the evaluation took. */
  runtime: number;
  elapsed: number;
}

export interface SaveLogRecord { type: 'save'; step: number; epoch: number; path: string; best: boolean; elapsed: number }
export interface NonFiniteLogRecord { type: 'nonfinite'; step: number; epoch: number; loss: number; gradNorm: number; consecutive: number; elapsed: number }
export interface EndLogRecord { type: 'end'; step: number; epoch: number; reason: string; [key: string]: unknown }
export interface ErrorLogRecord { type: 'error'; step: number; epoch: number; code: string; message: string; elapsed: number }

export type LogRecord = TrainLogRecord | EvalLogRecord | SaveLogRecord | NonFiniteLogRecord | EndLogRecord | ErrorLogRecord;

/** Appends records to a JSONL file (no file: records are dropped). */
export class JsonlLog {
  readonly path: string | null;

  constructor(path: string | null) {
    this.path = path;
    if (path) mkdirSync(dirname(path), { recursive: true });
  }

  append(record: LogRecord): void {
    if (this.path) appendFileSync(this.path, JSON.stringify(record) + '\n');
  }

  /**
   * Drops records after `step` (a resumed run repeats the steps after its checkpoint; their old
   * records would appear twice). Lines that do not parse (a torn last line) are dropped too.
   */
  truncateAfter(step: number): void {
    if (!this.path || !existsSync(this.path)) return;
    const kept: string[] = [];
    for (const line of readFileSync(this.path, 'utf8').split('\n')) {
      if (!line) continue;
      try {
        const r = JSON.parse(line) as LogRecord;
        if (typeof r.step === 'number' && r.step <= step && r.type !== 'end' && r.type !== 'error') kept.push(line);
      } catch { /* torn line from a crash */ }
    }
    writeFileAtomicSync(this.path, kept.length ? kept.join('\n') + '\n' : '');
  }
}

/** Reads a trainer_log.jsonl (skipping torn lines). */
export function readJsonlLog(path: string): LogRecord[] {
  const out: LogRecord[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line) continue;
    try { out.push(JSON.parse(line) as LogRecord); } catch { /* torn line */ }
  }
  return out;
}

/** `1234567` → `1,234,567`; small numbers keep 3 significant digits. */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toPrecision(3);
}

/** Seconds as `1h02m`, `3m05s` or `12s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/** A metric value for humans: 4 decimals, or exponent notation for tiny rates. */
export function formatMetric(v: number | null | undefined): string {
  if (v === null || v === undefined) return '-';
  if (!Number.isFinite(v)) return String(v);
  if (v !== 0 && Math.abs(v) < 1e-3) return v.toExponential(2);
  return v.toFixed(4);
}

/** One plain-text line for a train record. */
export function formatTrainLine(r: TrainLogRecord, totalSteps: number, etaSeconds: number | null): string {
  const parts = [
    `step ${r.step}/${totalSteps}`, `epoch ${r.epoch.toFixed(2)}`, `loss ${formatMetric(r.loss)}`,
    `lr ${r.learningRate.toExponential(2)}`, `grad ${formatMetric(r.gradNorm)}`, `${formatCount(r.tokensPerSecond)} tok/s`,
  ];
  if (r.skipped) parts.push(`${r.skipped} skipped`);
  if (etaSeconds !== null) parts.push(`eta ${formatDuration(etaSeconds)}`);
  return parts.join(' | ');
}

/** One plain-text line for an eval record. */
export function formatEvalLine(r: EvalLogRecord): string {
  const m = Object.entries(r.metrics).map(([k, v]) => `${k} ${formatMetric(v)}`).join(' | ');
  return `${r.name} @ step ${r.step} (epoch ${r.epoch.toFixed(2)}): ${m} (${r.runtime.toFixed(1)}s)`;
}
