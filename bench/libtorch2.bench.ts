// The training step on LibTorch 1.13 (Debian) and 2.13 (the PyTorch CPU wheel) side by side in one
// run: roots built against each (build/ and build-torch2/, each in its own process: two LibTorch
// versions cannot share one), PyTorch eager on each (scripts/bench_peer.py with /usr/bin/python3 and
// with the wheel's venv), and Transformers on 2.13 (scripts/bench_hf_token_peer.py), the peer a
// Transformers user would pick. Same model and batch as train-step.bench.ts (BERT H=256 L=4, batch
// 32x128, token classification, AdamW with clipping). Contenders are interleaved over rounds; each
// round's value is the median of its measured steps; the table shows the median over rounds.
// roots on 2.13 also runs with ROOTS_ATTENTION=math (no SDPA) to show what the 2.x attention path buys.
//
//   ROOTS_TORCH2_PYTHON=/path/to/venv/bin/python npm run bench -- libtorch2
//   (build the second addon first: LIBTORCH_USE_PYTORCH=1 PYTHON=... ROOTS_BUILD_DIR=build-torch2 npm run build:native)
//   ROOTS_BENCH_ROUNDS (default 3), ROOTS_BENCH_STEPS (default 4) per round after 2 warm-up steps.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { timeSteps, tokenBatch } from './token-steps.js';

const config = {
  vocab_size: 8000, hidden_size: 256, num_hidden_layers: 4, num_attention_heads: 4, intermediate_size: 1024,
  max_position_embeddings: 512, type_vocab_size: 2, layer_norm_eps: 1e-12, pad_token_id: 0,
  hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1,
};
const numLabels = 9, B = 32, T = 128, warmup = 2;
const steps = Number(process.env.ROOTS_BENCH_STEPS ?? 4);
const rounds = Number(process.env.ROOTS_BENCH_ROUNDS ?? 3);
const root = join(import.meta.dirname, '..');
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

/** The child: roots' steps on whichever addon ROOTS_NATIVE_PATH names; prints one JSON line. */
async function child(): Promise<void> {
  const { BertForTokenClassification } = await import('../lib/models/bert.js');
  const { info } = await import('../lib/info.js');
  const model = BertForTokenClassification.fromConfig(config, { labels: Array.from({ length: numLabels }, (_, i) => `L${i}`), seed: 0, log: null });
  const times = await timeSteps(model, tokenBatch(B, T, config.vocab_size, numLabels), warmup, steps);
  console.log(JSON.stringify({ times, torch: info().torch.version }));
  model.dispose();
}

interface Contender { name: string; run(): { times: number[]; note: string } }

function spawnJson(cmd: string, args: string[], env: NodeJS.ProcessEnv): Record<string, unknown> & { times: number[] } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, cwd: root });
  if (r.status !== 0) throw new Error(`${cmd} ${args[0]} failed: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

function rootsOn(name: string, addon: string, env: NodeJS.ProcessEnv = {}): Contender {
  return {
    name,
    run: () => {
      const o = spawnJson(process.execPath, ['--import', 'tsx', join(root, 'bench', 'libtorch2.bench.ts'), '--child'], { ...env, ROOTS_NATIVE_PATH: addon });
      return { times: o.times, note: `LibTorch ${o.torch}` };
    },
  };
}

function peerOn(name: string, python: string, script: string): Contender {
  const spec = JSON.stringify({ config: { ...config, head: 'token', num_labels: numLabels }, batch: B, seq: T, steps, warmup, bf16: false });
  return {
    name,
    run: () => {
      const o = spawnJson(python, [join(root, 'scripts', script), spec], {});
      return { times: o.times, note: o.transformers ? `torch ${o.torch}, transformers ${o.transformers}, attention ${o.attention}` : '' };
    },
  };
}

async function main(): Promise<void> {
  const torch2Python = process.env.ROOTS_TORCH2_PYTHON;
  const addon1 = join(root, 'build', 'Release', 'roots_native.node');
  const addon2 = join(root, 'build-torch2', 'Release', 'roots_native.node');
  const missing = [
    !existsSync(addon1) && `${addon1} (npm run build:native)`,
    !existsSync(addon2) && `${addon2} (LIBTORCH_USE_PYTORCH=1 PYTHON=... ROOTS_BUILD_DIR=build-torch2 npm run build:native)`,
    !torch2Python && 'ROOTS_TORCH2_PYTHON (a Python with torch 2.13 and transformers)',
  ].filter(Boolean);
  if (missing.length > 0) { console.error(`libtorch2 bench needs: ${missing.join('; ')}`); process.exit(1); }
  const contenders: Contender[] = [
    rootsOn('roots, LibTorch 1.13', addon1),
    rootsOn('roots, LibTorch 2.13', addon2),
    rootsOn('roots 2.13, no SDPA', addon2, { ROOTS_ATTENTION: 'math' }),
    peerOn('eager, torch 1.13', '/usr/bin/python3', 'bench_peer.py'),
    peerOn('eager, torch 2.13', torch2Python!, 'bench_peer.py'),
    peerOn('Transformers, 2.13', torch2Python!, 'bench_hf_token_peer.py'),
  ];
  console.log(`BERT H=256 L=4 heads=4 I=1024, batch ${B}x${T}, fp32; ${rounds} interleaved rounds of ${warmup} warm-up + ${steps} measured steps`);
  const perRound = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  const notes = new Map<string, string>();
  for (let r = 0; r < rounds; r++) {
    for (const c of contenders) {
      const { times, note } = c.run();
      perRound.get(c.name)!.push(median(times));
      notes.set(c.name, note);
    }
    console.log(`round ${r + 1}: ${contenders.map((c) => `${c.name} ${(perRound.get(c.name)!.at(-1)! * 1000).toFixed(0)} ms`).join(', ')}`);
  }
  const base = median(perRound.get('roots, LibTorch 1.13')!);
  console.log(`\n| contender | ms/step (median of ${rounds} rounds) | tokens/s | vs roots on 1.13 | |`);
  console.log('|---|---:|---:|---:|---|');
  for (const c of contenders) {
    const m = median(perRound.get(c.name)!);
    console.log(`| ${c.name} | ${(m * 1000).toFixed(0)} | ${(B * T / m).toFixed(0)} | ${(base / m).toFixed(2)}x | ${notes.get(c.name)} |`);
  }
}

if (process.argv.includes('--child')) await child();
else await main();
