// LibTorch discovery, in the order tch-rs users know (torch-sys/build.rs):
//   1. LIBTORCH=/path/to/libtorch          an unpacked LibTorch zip (CPU or CUDA)
//   2. LIBTORCH_USE_PYTORCH=1              the LibTorch inside an installed PyTorch wheel
//                                          (asks python where torch is and for its C++ ABI)
//   3. a system install                    Debian/Ubuntu `apt-get install libtorch-dev` (under /usr)
// Nothing is downloaded. Returns a LibTorchInfo (find-libtorch.d.mts) or throws LibTorchNotFound with a
// short help. Used by the build (scripts/build-native.mjs) and, at load time, by lib/native.ts to pick
// the prebuilt binary that fits the LibTorch found (flavourOf) and to check it before dlopen.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';

const HELP = `roots-nlp needs LibTorch (the C++ library of PyTorch). Provide it one of three ways:
  1. Debian/Ubuntu:  sudo apt-get install libtorch-dev        (found automatically under /usr)
  2. PyTorch wheel:  pip install torch, then set LIBTORCH_USE_PYTORCH=1   (python3 must import torch; PYTHON=... to choose)
  3. LibTorch zip:   unpack libtorch-*.zip from pytorch.org (CPU or CUDA), then set LIBTORCH=/path/to/libtorch`;

export class LibTorchNotFound extends Error {
  constructor(reason) { super(`${reason}\n${HELP}`); this.name = 'LibTorchNotFound'; }
}

/** "1.13.1" from torch/version.h; LibTorch 2.10+ moved the defines to torch/headeronly/version.h. */
export function readVersion(includeDirs) {
  for (const inc of includeDirs) {
    for (const rel of ['torch/headeronly/version.h', 'torch/csrc/api/include/torch/version.h']) {
      const f = join(inc, rel);
      if (!existsSync(f)) continue;
      const t = readFileSync(f, 'utf8');
      const n = (k) => (t.match(new RegExp(`#define TORCH_VERSION_${k} (\\d+)`)) || [])[1];
      if (n('MAJOR') !== undefined) return `${n('MAJOR')}.${n('MINOR')}.${n('PATCH')}`;
    }
  }
  return 'unknown';
}

/** The C++ ABI flag TorchConfig.cmake adds; none means the compiler's default (1, the new ABI). */
function readCxx11Abi(cmakeDir) {
  const f = join(cmakeDir, 'TorchConfig.cmake');
  const m = existsSync(f) && readFileSync(f, 'utf8').match(/_GLIBCXX_USE_CXX11_ABI=(\d)/);
  return m ? m[1] === '1' : true;
}

function hasCuda(libDir) {
  return existsSync(libDir) && readdirSync(libDir).some((f) => /^libtorch_cuda[._]/.test(f));
}

function info(source, root, cmakeDir, libDir, includeDirs, cxx11abi, prefix) {
  if (!existsSync(join(libDir, 'libtorch.so')) && !existsSync(join(libDir, 'libtorch.dylib'))) {
    throw new LibTorchNotFound(`${source}: no libtorch.so in ${libDir}`);
  }
  return {
    source, root, libDir, cmakeDir,
    // The LibTorch root goes first so that find_library() takes its lib/ before /usr/lib's copies.
    prefix: prefix ?? `${root};${dirname(cmakeDir)}`,
    version: readVersion(includeDirs),
    cxx11abi: cxx11abi ?? readCxx11Abi(cmakeDir),
    cuda: hasCuda(libDir),
  };
}

function fromRoot(root, source, cxx11abi) {
  const cmakeDir = [join(root, 'share/cmake/Torch'), join(root, 'lib/cmake/Torch')].find((d) => existsSync(join(d, 'TorchConfig.cmake')));
  if (!cmakeDir) throw new LibTorchNotFound(`${source}: no share/cmake/Torch/TorchConfig.cmake under ${root}`);
  return info(source, root, cmakeDir, join(root, 'lib'), [join(root, 'include')], cxx11abi);
}

export function findLibTorch(env = process.env) {
  if (env.LIBTORCH) return fromRoot(env.LIBTORCH, 'LIBTORCH');
  if (env.LIBTORCH_USE_PYTORCH === '1' || env.LIBTORCH_USE_PYTORCH === 'true') {
    const py = env.PYTHON || 'python3';
    // find_spec does not import torch (seconds); the ABI needs the import only when the build asks.
    const r = spawnSync(py, ['-c',
      'import importlib.util as u; s = u.find_spec("torch"); print(s.submodule_search_locations[0] if s else "")'],
      { encoding: 'utf8' });
    const dir = r.status === 0 ? r.stdout.trim() : '';
    if (!dir) {
      const why = r.error ? r.error.message : (r.stderr || '').trim().split('\n').pop() || 'torch is not installed there';
      throw new LibTorchNotFound(`LIBTORCH_USE_PYTORCH=1 but '${py}' has no torch: ${why}`);
    }
    return fromRoot(dir, 'LIBTORCH_USE_PYTORCH');
  }
  // A system install: Debian puts TorchConfig.cmake under /usr/lib/<triplet>/cmake/Torch.
  const systemDirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib', '/usr/local/lib'];
  for (const d of systemDirs) {
    const cmakeDir = join(d, 'cmake/Torch');
    if (existsSync(join(cmakeDir, 'TorchConfig.cmake'))) {
      const root = d.startsWith('/usr/local') ? '/usr/local' : '/usr';
      return info('system', root, cmakeDir, d, [join(root, 'include')], undefined, dirname(cmakeDir));
    }
  }
  throw new LibTorchNotFound('LibTorch was not found (LIBTORCH is not set, LIBTORCH_USE_PYTORCH is not set, and no system install).');
}

/**
 * The name of a LibTorch flavour as prebuilt binaries record it: "torch1_13-cxx11-cpu" (no dots: it is
 * a tag in a node-gyp-build file name). One major.minor, ABI and device: LibTorch keeps its ABI within
 * a minor release, not across.
 */
export function flavourOf(t) {
  const [major, minor] = t.version.split('.');
  return `torch${major}_${minor}-${t.cxx11abi ? 'cxx11' : 'precxx11'}-${t.cuda ? 'cuda' : 'cpu'}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    const t = findLibTorch();
    console.log(JSON.stringify({ ...t, flavour: flavourOf(t) }, null, 2));
  } catch (e) { console.error(e.message); process.exit(1); }
}
