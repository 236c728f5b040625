// LibTorch discovery, in the order tch-rs users know (torch-sys/build.rs):
//   1. LIBTORCH=/path/to/libtorch          an unpacked LibTorch zip (CPU or CUDA)
//   2. LIBTORCH_USE_PYTORCH=1              the LibTorch inside an installed PyTorch wheel
//                                          (asks python for torch.utils.cmake_prefix_path and the ABI)
//   3. a system install                    Debian/Ubuntu `apt-get install libtorch-dev` (under /usr)
// Nothing is downloaded. Returns { prefix, source, version, cuda, cxx11abi } or throws with a short help.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const HELP = `roots-nlp needs LibTorch (the C++ library of PyTorch) to build its native addon. Provide it one of three ways:
  1. Debian/Ubuntu:  sudo apt-get install libtorch-dev        (found automatically under /usr)
  2. PyTorch wheel:  pip install torch && LIBTORCH_USE_PYTORCH=1 npm install   (python3 must import torch; PYTHON=... to choose)
  3. LibTorch zip:   unpack libtorch-*.zip from pytorch.org (CPU or CUDA) && LIBTORCH=/path/to/libtorch npm install`;

export class LibTorchNotFound extends Error {
  constructor(reason) { super(`${reason}\n${HELP}`); this.name = 'LibTorchNotFound'; }
}

function readVersion(includeDirs) {
  for (const inc of includeDirs) {
    const f = join(inc, 'torch/csrc/api/include/torch/version.h');
    if (existsSync(f)) {
      const t = readFileSync(f, 'utf8');
      const n = (k) => (t.match(new RegExp(`#define TORCH_VERSION_${k} (\\d+)`)) || [])[1];
      if (n('MAJOR')) return `${n('MAJOR')}.${n('MINOR')}.${n('PATCH')}`;
    }
  }
  return 'unknown';
}

function hasCuda(libDirs) {
  return libDirs.some((d) => existsSync(d) && readdirSync(d).some((f) => /^libtorch_cuda(\.|_)/.test(f) || f === 'libtorch_cuda.so'));
}

function fromRoot(root, source) {
  const cmakeDir = [join(root, 'share/cmake/Torch'), join(root, 'lib/cmake/Torch')].find((d) => existsSync(join(d, 'TorchConfig.cmake')));
  if (!cmakeDir) throw new LibTorchNotFound(`${source}: no share/cmake/Torch/TorchConfig.cmake under ${root}`);
  return {
    prefix: root, source,
    version: readVersion([join(root, 'include')]),
    cuda: hasCuda([join(root, 'lib')]),
  };
}

export function findLibTorch(env = process.env) {
  if (env.LIBTORCH) return fromRoot(env.LIBTORCH, 'LIBTORCH');
  if (env.LIBTORCH_USE_PYTORCH === '1' || env.LIBTORCH_USE_PYTORCH === 'true') {
    const py = env.PYTHON || 'python3';
    const r = spawnSync(py, ['-c',
      'import torch, torch.utils, os; print(torch.utils.cmake_prefix_path); print(int(torch._C._GLIBCXX_USE_CXX11_ABI)); print(os.path.dirname(torch.__file__))'],
      { encoding: 'utf8' });
    if (r.status !== 0) throw new LibTorchNotFound(`LIBTORCH_USE_PYTORCH=1 but '${py} -c "import torch"' failed: ${(r.stderr || '').trim().split('\n').pop()}`);
    const [cmakePrefix, abi, torchDir] = r.stdout.trim().split('\n');
    const found = fromRoot(torchDir, 'LIBTORCH_USE_PYTORCH');
    return { ...found, prefix: cmakePrefix, cxx11abi: abi === '1' };
  }
  // A system install: Debian puts TorchConfig.cmake under /usr/lib/<triplet>/cmake/Torch.
  const systemDirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib', '/usr/local/lib'];
  for (const d of systemDirs) {
    if (existsSync(join(d, 'cmake/Torch/TorchConfig.cmake'))) {
      return { prefix: join(d, 'cmake'), source: 'system', version: readVersion(['/usr/include', '/usr/local/include']), cuda: hasCuda([d]) };
    }
  }
  throw new LibTorchNotFound('LibTorch was not found (LIBTORCH is not set, LIBTORCH_USE_PYTORCH is not set, and no system install).');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try { console.log(JSON.stringify(findLibTorch(), null, 2)); }
  catch (e) { console.error(e.message); process.exit(1); }
}
