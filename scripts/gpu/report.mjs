#!/usr/bin/env node
// Writes DIR/REPORT.md and DIR/results.json from what scripts/gpu/run-gpu-checks.sh left in DIR:
// env.json (card, driver, versions), info.json (what the addon sees), build-path.txt, steps.tsv,
// gpu-tests.log and parity.json (the GPU tests), bench.json and bench.md (the benchmark). Anything
// missing is reported as missing; this never fails on a partial run.
//
//   node scripts/gpu/report.mjs DIR
// Plain JavaScript (no tsx), so that it runs even when the TypeScript toolchain does not.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? process.env.ROOTS_GPU_OUT;
if (!dir) { console.error('usage: report.mjs DIR'); process.exit(2); }
const read = (f) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : null);
const json = (f) => { try { const t = read(f); return t ? JSON.parse(t) : null; } catch { return null; } };

const env = json('env.json') ?? {};
const info = json('info.json');
const parity = json('parity.json');
const bench = json('bench.json');
const benchMd = read('bench.md');
const build = (read('build-path.txt') ?? 'unknown').trim();
const steps = (read('steps.tsv') ?? '').trim().split('\n').filter(Boolean).map((l) => {
  const [name, status, seconds, rc] = l.split('\t');
  return { name, status, seconds: Number(seconds), rc };
});
const dry = process.env.ROOTS_GPU_DRY_RUN === '1' || bench?.dryRun === true;

// node:test's spec reporter: the closing counts and the failing tests.
const testLog = read('gpu-tests.log') ?? '';
const count = (k) => Number((testLog.match(new RegExp(`^ℹ ${k} (\\d+)`, 'm')) ?? [])[1] ?? NaN);
const tests = { pass: count('pass'), fail: count('fail'), skipped: count('skipped') };
const failSection = testLog.split('✖ failing tests:')[1] ?? '';
tests.failures = [...failSection.matchAll(/^✖ (.+?) \(\d/gm)].map((m) => m[1]);
const skipReasons = [...new Set([...testLog.matchAll(/^﹣ .*? # (.+)$/gm)].map((m) => m[1]))];

const now = new Date();
const date = now.toISOString().slice(0, 10);
const card = env.card ?? info?.cuda?.devices?.[0]?.name ?? (dry ? 'cpu' : 'unknown');
const slug = String(card).toLowerCase().replace(/^nvidia\s+/, '').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
const fileName = dry ? `${date}-gpu-dry-run` : `${date}-${slug}-gpu`;

const e = (x, d = 2) => (typeof x === 'number' && Number.isFinite(x) ? x.toExponential(d) : 'n/a');
const lines = [];
lines.push(`# roots GPU checks: ${date}, ${card}${dry ? ' (DRY RUN on the CPU: no GPU numbers)' : ''}`, '');
lines.push('| | |', '| --- | --- |');
lines.push(`| date (UTC) | ${now.toISOString()} |`);
const dev = env.torch_device;
lines.push(`| card | ${card}${dev ? ` (sm ${dev.capability}, ${dev.sm_count} SMs, ${dev.memory_gib} GiB)` : ''}${env.max_sm_clock ? `, max SM clock ${env.max_sm_clock}` : ''}${env.power_limit ? `, power limit ${env.power_limit}` : ''} |`);
lines.push(`| driver | ${env.driver ?? 'n/a'} (CUDA ${env.nvidia_smi_cuda ?? 'n/a'} per nvidia-smi) |`);
lines.push(`| PyTorch | ${env.torch ?? 'n/a'} (CUDA runtime ${env.torch_cuda ?? 'n/a'}, cuDNN ${env.cudnn ?? 'n/a'}), the LibTorch roots is built against |`);
lines.push(`| Transformers | ${env.transformers ?? 'n/a'} |`);
lines.push(`| roots addon | built by ${build === 'cmake' ? 'CMake (scripts/build-native.mjs)' : build === 'direct' ? `g++ directly (scripts/gpu/build-direct.sh${steps.some((x) => x.name === 'build-cmake') ? '; the CMake build failed' : ''})` : build}; ` +
  `LibTorch ${info?.torch?.version ?? 'n/a'}; CUDA available: ${info?.cuda?.available ?? 'n/a'}; GPU memory counters: ${info?.cuda?.memoryStats ?? 'n/a'} |`);
lines.push(`| toolchain | Node ${env.node ?? 'n/a'}; ${env.gxx ?? 'g++ n/a'}; ${env.cmake ?? 'cmake n/a'}; nvcc: ${env.nvcc ?? 'n/a'}; Python ${env.python ?? 'n/a'} |`);
lines.push('');

lines.push('## Steps', '', '| step | status | seconds |', '| --- | --- | ---: |');
for (const s of steps) lines.push(`| ${s.name} | ${s.status}${s.rc !== '0' && s.rc !== '-' ? ` (exit ${s.rc})` : ''} | ${s.seconds} |`);
lines.push('');

lines.push('## GPU tests (test/gpu.test.ts)', '');
lines.push(`${Number.isNaN(tests.pass) ? 'no test summary (the step did not finish)' : `${tests.pass} passed, ${tests.fail} failed, ${tests.skipped} skipped`}`);
for (const f of tests.failures) lines.push(`- FAILED: ${f}`);
for (const r of skipReasons) lines.push(`- skipped: ${r}`);
lines.push('');
const hasParity = parity && ['token.fp32', 'sequence.fp32', 'token.bf16', 'sequence.bf16'].some((k) => parity[k]);
if (parity?.cpuVsCuda) lines.push(`- roots on CUDA vs roots on the CPU (fp32, 3 AdamW steps, fused kernel on the GPU): worst weight rel err ${e(parity.cpuVsCuda.worstWeightRelErr)}`, '');
if (hasParity) {
  lines.push(`### Parity with Hugging Face Transformers (same weights, same batch, on ${parity.device})`, '');
  lines.push('fp32 with TF32 off: relative errors (max |a - b| / max |b|) against Transformers; bounds: logits and loss 1e-5, every gradient 1e-4.', '');
  lines.push('| model | logits | eval loss | train loss | worst gradient |', '| --- | ---: | ---: | ---: | --- |');
  for (const h of ['token', 'sequence']) {
    const p = parity[`${h}.fp32`];
    if (p) lines.push(`| ${h === 'token' ? 'BertForTokenClassification' : 'BertForSequenceClassification'} | ${e(p.logitsRelErr)} | ${e(p.lossRelErr)} | ${e(p.trainLossRelErr)} | ${e(p.worstGradRelErr)} (${p.worstGrad || '-'}) |`);
  }
  lines.push('', 'bf16 autocast: error of each side against Transformers fp32 (logits: max-relative; gradients: relative L2 over all parameters); roots must stay within 2x Transformers\' own bf16 error (plus a small floor).', '');
  lines.push('| model | logits roots / Transformers | gradients roots / Transformers | train loss roots / Transformers | roots vs Transformers bf16 (logits, gradients) |', '| --- | --- | --- | --- | --- |');
  for (const h of ['token', 'sequence']) {
    const p = parity[`${h}.bf16`];
    if (p) lines.push(`| ${h} | ${e(p.logits.roots)} / ${e(p.logits.hf)} | ${e(p.grads.roots)} / ${e(p.grads.hf)} | ${e(p.loss.roots)} / ${e(p.loss.hf)} | ${e(p.logits.rootsVsHf)}, ${e(p.grads.rootsVsHf)} |`);
  }
  lines.push('');
  const tf = parity.transformers;
  if (tf?.cases) {
    const load = Object.entries(tf.cases).map(([k, v]) => {
      const l = v.fp32?.loading ?? {};
      const n = (x) => (l[x] ?? []).length;
      return `${k}: ${n('missing_keys')} missing, ${n('unexpected_keys')} unexpected, ${n('mismatched_keys')} mismatched (attention ${v.fp32?.attn_implementation} / ${v.bf16?.attn_implementation})`;
    });
    lines.push(`- roots checkpoint loaded by Transformers' from_pretrained: ${load.join('; ')}`);
  }
  if (parity.hfSavedLoadsInRoots) lines.push(`- Transformers save_pretrained checkpoint loaded by roots: logits rel err ${e(parity.hfSavedLoadsInRoots.logitsRelErr)}`);
  lines.push('');
}

lines.push('## Benchmark (bench/gpu.bench.ts)', '');
lines.push(benchMd ? benchMd.trim() : 'no benchmark output (the step did not finish)');
lines.push('');
if (bench?.rows) {
  const get = (w, pre) => bench.rows.find((r) => r.workload === w && r.impl === pre && !r.error);
  const aims = [];
  for (const w of [...new Set(bench.rows.map((r) => r.workload))]) {
    const r = get(w, 'roots bf16');
    if (!r) continue;
    const ratio = r.vsTransformers, mfu = r.mfu;
    aims.push(`- ${w}: roots ${typeof ratio === 'number' ? `${ratio.toFixed(2)}x Transformers' samples/s (aim >= 1.3x: ${ratio >= 1.3 ? 'met' : 'NOT met'})` : 'no Transformers row to compare'}` +
      `, MFU ${typeof mfu === 'number' ? `${(100 * mfu).toFixed(1)}% (aim >= 50%: ${mfu >= 0.5 ? 'met' : 'NOT met'})` : 'n/a'}`);
  }
  if (aims.length) lines.push(`Aims of issue 8${dry ? ' (dry run: the numbers mean nothing)' : ''}:`, '', ...aims, '');
}

const failedSteps = steps.filter((s) => s.status !== 'ok');
if (failedSteps.length) {
  lines.push('## What failed', '');
  for (const s of failedSteps) {
    const log = (read(`${s.name}.log`) ?? '').trim().split('\n').slice(-15).join('\n');
    lines.push(`### ${s.name}: ${s.status}`, '', '```', log || '(no output)', '```', '');
  }
}

const md = lines.join('\n') + '\n';
writeFileSync(join(dir, 'REPORT.md'), md);
writeFileSync(join(dir, 'results.json'), JSON.stringify({ date: now.toISOString(), fileName, dryRun: dry, card, env, info, build, steps, tests, parity, bench }, null, 2) + '\n');
console.log(md);
