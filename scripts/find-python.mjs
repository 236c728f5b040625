// Finds a Python interpreter that can `import torch`, for tests and benchmarks only
// (PyTorch is the independent reference and the benchmark peer, never part of the product).
// Order: ROOTS_PYTHON, then /usr/bin/python3 (Debian's python3-torch), then python3 on PATH.
import { spawnSync } from 'node:child_process';

export function findTorchPython() {
  const candidates = [process.env.ROOTS_PYTHON, '/usr/bin/python3', 'python3', 'python'].filter(Boolean);
  for (const exe of candidates) {
    const r = spawnSync(exe, ['-c', 'import torch,sys; sys.stdout.write(torch.__version__)'], { encoding: 'utf8' });
    if (r.status === 0) return { exe, torchVersion: r.stdout.trim() };
  }
  return null;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const found = findTorchPython();
  if (!found) { console.error('no python with torch found (set ROOTS_PYTHON)'); process.exit(1); }
  console.log(found.exe);
}
