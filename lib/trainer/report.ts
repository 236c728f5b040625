/**
 * report.html: a self-contained page (no scripts, no dependencies) with the loss, learning-rate and
 * metric curves drawn as inline SVG, a summary of the run and its settings, and the final
 * classification reports.
 */
import { writeFileAtomic } from '../util/atomic-write.js';
import type { EvalLogRecord, LogRecord, TrainLogRecord } from './log.js';
import { formatDuration, formatMetric } from './log.js';

export interface ReportSection {
  /** `'eval'`, `'test'`, ... */
  name: string;
  metrics: Record<string, number>;
  /** Preformatted report text (seqeval's table for NER). */
  report?: string;
  /** What was evaluated (e.g. "best checkpoint, step 400"). */
  note?: string;
}

export interface ReportData {
  title: string;
  /** Key facts (task, steps, wall time, tokens/s, best metric ...). */
  summary: Record<string, string | number | null>;
  /** The training arguments. */
  args: Record<string, unknown>;
  history: readonly LogRecord[];
  evaluations: readonly ReportSection[];
}

interface Series {
  name: string;
  color: string;
  points: [number, number][];
  dots?: boolean;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf'];

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Round tick values covering [lo, hi]: steps of 1, 2 or 5 times a power of ten. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi === lo) { hi = lo + (lo === 0 ? 1 : Math.abs(lo) * 0.1); lo = lo - (lo === 0 ? 0 : Math.abs(lo) * 0.1); }
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const first = Math.floor(lo / step + 1e-9);
  const last = Math.ceil(hi / step - 1e-9);
  const ticks: number[] = [];
  for (let k = first; k <= last; k++) ticks.push(+(k * step).toPrecision(12));
  return ticks;
}

function tickLabel(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(1);
  return String(+v.toPrecision(4));
}

/** A line chart as an SVG string. */
export function lineChart(title: string, series: readonly Series[], options: { xLabel?: string; width?: number; height?: number } = {}): string {
  const W = options.width ?? 640;
  const H = options.height ?? 300;
  const m = { left: 64, right: 16, top: 28, bottom: 56 };
  const pts = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const head = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeHtml(title)}">` +
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14" font-weight="600">${escapeHtml(title)}</text>`;
  if (pts.length === 0) return `${head}<text x="${W / 2}" y="${H / 2}" text-anchor="middle" fill="#888">no data</text></svg>`;
  const xs = niceTicks(Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0])));
  const ys = niceTicks(Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1])));
  const [x0, x1] = [xs[0], xs[xs.length - 1]];
  const [y0, y1] = [ys[0], ys[ys.length - 1]];
  const px = (x: number) => m.left + ((x - x0) / (x1 - x0 || 1)) * (W - m.left - m.right);
  const py = (y: number) => H - m.bottom - ((y - y0) / (y1 - y0 || 1)) * (H - m.top - m.bottom);
  const parts: string[] = [head];
  // grid and axes
  for (const y of ys) {
    parts.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${py(y).toFixed(1)}" y2="${py(y).toFixed(1)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${m.left - 6}" y="${(py(y) + 4).toFixed(1)}" text-anchor="end" font-size="11" fill="#444">${tickLabel(y)}</text>`);
  }
  for (const x of xs) {
    parts.push(`<line x1="${px(x).toFixed(1)}" x2="${px(x).toFixed(1)}" y1="${m.top}" y2="${H - m.bottom}" stroke="#f0f0f0"/>`);
    parts.push(`<text x="${px(x).toFixed(1)}" y="${H - m.bottom + 16}" text-anchor="middle" font-size="11" fill="#444">${tickLabel(x)}</text>`);
  }
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${W - m.left - m.right}" height="${H - m.top - m.bottom}" fill="none" stroke="#999"/>`);
  if (options.xLabel) parts.push(`<text x="${(m.left + W - m.right) / 2}" y="${H - m.bottom + 32}" text-anchor="middle" font-size="12" fill="#444">${escapeHtml(options.xLabel)}</text>`);
  // series
  series.forEach((s) => {
    const p = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (p.length === 0) return;
    if (p.length > 1) parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.8" points="${p.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`);
    if (s.dots || p.length === 1) for (const [x, y] of p) parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${s.color}"/>`);
  });
  // legend
  let lx = m.left;
  series.forEach((s) => {
    if (s.points.length === 0) return;
    parts.push(`<rect x="${lx}" y="${H - 16}" width="12" height="3" fill="${s.color}"/><text x="${lx + 16}" y="${H - 11}" font-size="11">${escapeHtml(s.name)}</text>`);
    lx += 24 + s.name.length * 7;
  });
  parts.push('</svg>');
  return parts.join('');
}

/** The HTML of a report. */
export function renderReport(data: ReportData): string {
  const train = data.history.filter((r): r is TrainLogRecord => r.type === 'train');
  const evals = data.history.filter((r): r is EvalLogRecord => r.type === 'eval' && r.name === 'eval');
  const lossSeries: Series[] = [
    { name: 'train loss', color: COLORS[0], points: train.filter((r) => r.loss !== null).map((r) => [r.step, r.loss as number]) },
    { name: 'eval loss', color: COLORS[1], points: evals.filter((r) => r.metrics.loss !== undefined).map((r) => [r.step, r.metrics.loss]), dots: true },
  ];
  const metricNames = [...new Set(evals.flatMap((r) => Object.keys(r.metrics)))].filter((k) => !/loss/i.test(k));
  const metricSeries: Series[] = metricNames.map((k, i) => ({
    name: k, color: COLORS[(i + 2) % COLORS.length], dots: true,
    points: evals.filter((r) => r.metrics[k] !== undefined).map((r) => [r.step, r.metrics[k]]),
  }));
  const lrSeries: Series[] = [{ name: 'learning rate', color: COLORS[3], points: train.map((r) => [r.step, r.learningRate]) }];
  const tpsSeries: Series[] = [{ name: 'tokens/s', color: COLORS[4], points: train.map((r) => [r.step, r.tokensPerSecond]) }];
  const row = (k: string, v: unknown) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(typeof v === 'string' ? v : JSON.stringify(v))}</td></tr>`;
  const sections = data.evaluations.map((e) => `
<h2>${escapeHtml(e.name)}${e.note ? ` <small>(${escapeHtml(e.note)})</small>` : ''}</h2>
<table>${Object.entries(e.metrics).map(([k, v]) => row(k, formatMetric(v))).join('')}</table>
${e.report ? `<pre>${escapeHtml(e.report)}</pre>` : ''}`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(data.title)}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1340px; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
.charts svg { border: 1px solid #ddd; background: #fff; }
table { border-collapse: collapse; } th, td { text-align: left; padding: 2px 12px 2px 0; vertical-align: top; }
th { font-weight: 600; } pre { background: #f6f6f6; padding: 10px; overflow-x: auto; }
small { color: #666; font-weight: normal; }
</style></head><body>
<h1>${escapeHtml(data.title)}</h1>
<table>${Object.entries(data.summary).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => row(k, typeof v === 'number' ? String(+v.toPrecision(6)) : v)).join('')}</table>
<h2>Curves</h2>
<div class="charts">
${lineChart('Loss', lossSeries, { xLabel: 'optimizer step' })}
${lineChart('Evaluation metrics', metricSeries, { xLabel: 'optimizer step' })}
${lineChart('Learning rate', lrSeries, { xLabel: 'optimizer step' })}
${lineChart('Throughput (tokens/s)', tpsSeries, { xLabel: 'optimizer step' })}
</div>
${sections}
<h2>Settings</h2>
<table>${Object.entries(data.args).filter(([, v]) => v !== undefined).map(([k, v]) => row(k, v)).join('')}</table>
<p><small>Written by roots-nlp ${escapeHtml(new Date().toISOString())}. Wall time is ${escapeHtml(formatDuration(Number(data.summary['wall time (s)'] ?? NaN)))}.</small></p>
</body></html>
`;
}

/** Writes report.html atomically. */
export async function writeReport(path: string, data: ReportData): Promise<void> {
  await writeFileAtomic(path, renderReport(data), { fsync: false });
}
