// Finds a Python that imports torch and Hugging Face Transformers: the peer of the GPU parity tests
// and benchmarks (test/gpu.test.ts, bench/gpu.bench.ts). Order: ROOTS_PYTHON, python3 on PATH (a
// virtual environment's), /usr/bin/python3, python. Returns { exe, torch, transformers, cuda } for the
// first that imports both, else null; `torchOnly` is the first that imports torch alone.
import { spawnSync } from 'node:child_process';

const PROBE = 'import json, torch\n' +
  'try:\n import transformers; tv = transformers.__version__\nexcept Exception:\n tv = None\n' +
  'print(json.dumps({"torch": torch.__version__, "transformers": tv, "cuda": torch.cuda.is_available()}))';

export function probePythons() {
  const seen = new Set();
  const out = { hf: null, torchOnly: null };
  for (const exe of [process.env.ROOTS_PYTHON, 'python3', '/usr/bin/python3', 'python'].filter(Boolean)) {
    if (seen.has(exe)) continue;
    seen.add(exe);
    const r = spawnSync(exe, ['-c', PROBE], { encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) continue;
    let v;
    try { v = JSON.parse(r.stdout.trim().split('\n').pop()); } catch { continue; }
    const found = { exe, torch: v.torch, transformers: v.transformers, cuda: v.cuda };
    if (!out.torchOnly) out.torchOnly = found;
    if (v.transformers && !out.hf) out.hf = found;
  }
  return out;
}

export function findHfPython() {
  return probePythons().hf;
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(JSON.stringify(probePythons(), null, 2));
