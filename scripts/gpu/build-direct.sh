#!/usr/bin/env bash
# Builds the native addon with g++ directly, without CMake's find_package(Torch): the fallback for a
# GPU machine where the CMake build (scripts/build-native.mjs) fails because the PyTorch wheel's
# TorchConfig.cmake cannot find a CUDA toolkit (nvcc, CUDA headers), MKL headers or cuDNN there.
# It needs none of them: the wheel carries the LibTorch headers and libraries, and the addon's CUDA
# code either compiles against CUDA headers found here (trial-compiled first) or is left out
# (ROOTS_WITH_CUDA undefined: GPU memory counters unavailable; training on CUDA still works, since
# libtorch_cuda is linked and registers the CUDA kernels).
#
#   bash scripts/gpu/build-direct.sh [OUT_DIR]      (default build/direct; prints the .node path last)
#
# Where LibTorch comes from, as scripts/find-libtorch.mjs orders it: LIBTORCH=/prefix, else
# LIBTORCH_USE_PYTORCH=1 (PYTHON or python3 imports torch), else Debian's system install under /usr.
# ROOTS_DIRECT_JOBS sets the parallel compile jobs (default: every processor).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-build/direct}
mkdir -p "$OUT/obj"

if [ -n "${LIBTORCH:-}" ]; then
  TORCH_ROOT=$LIBTORCH
  INCS=("$TORCH_ROOT/include" "$TORCH_ROOT/include/torch/csrc/api/include")
  LIBDIR=$TORCH_ROOT/lib
  ABI=1
elif [ "${LIBTORCH_USE_PYTORCH:-}" = 1 ] || [ "${LIBTORCH_USE_PYTORCH:-}" = true ]; then
  PY=${PYTHON:-python3}
  mapfile -t T < <("$PY" -c 'import torch, os; print(os.path.dirname(torch.__file__)); print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')
  TORCH_ROOT=${T[0]}
  INCS=("$TORCH_ROOT/include" "$TORCH_ROOT/include/torch/csrc/api/include")
  LIBDIR=$TORCH_ROOT/lib
  ABI=${T[1]}
else
  TRIPLET=$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)
  INCS=(/usr/include/torch/csrc/api/include)
  LIBDIR=/usr/lib/$TRIPLET
  ABI=1
  TORCH_ROOT=/usr
fi
# The version: torch/version.h, which LibTorch 2.10+ moved to torch/headeronly/version.h.
MAJOR=0; MINOR=0
for d in "${INCS[@]}" "$TORCH_ROOT/include"; do
  for f in "$d/torch/headeronly/version.h" "$d/torch/version.h" "$d/torch/csrc/api/include/torch/version.h"; do
    if [ -f "$f" ] && grep -q '^#define TORCH_VERSION_MAJOR [0-9]' "$f"; then
      MAJOR=$(sed -n 's/^#define TORCH_VERSION_MAJOR \([0-9]*\).*/\1/p' "$f")
      MINOR=$(sed -n 's/^#define TORCH_VERSION_MINOR \([0-9]*\).*/\1/p' "$f")
      break 2
    fi
  done
done
# LibTorch 2.13 and later need C++20 in their public headers.
STD=c++17
if [ "${MAJOR:-0}" -gt 2 ] || { [ "${MAJOR:-0}" -eq 2 ] && [ "${MINOR:-0}" -ge 13 ]; }; then STD=c++20; fi

NAPI_INC=$(node -p "require('node-api-headers').include_dir")
ADDON_INC=$(node -p "require('path').resolve(require('node-addon-api').include_dir)")
CXXFLAGS=(-std=$STD -O2 -fPIC -Wall -Wno-unused-parameter -Wno-unused-variable "-D_GLIBCXX_USE_CXX11_ABI=$ABI"
  -DNAPI_VERSION=8 -DNODE_ADDON_API_DISABLE_DEPRECATED -DNAPI_CPP_EXCEPTIONS -DBUILDING_NODE_EXTENSION
  -Inative "-I$NAPI_INC" "-I$ADDON_INC")
for d in "${INCS[@]}"; do CXXFLAGS+=("-I$d"); done

LIBS=(-ltorch -ltorch_cpu -lc10)
HAS_CUDA=0
if ls "$LIBDIR"/libtorch_cuda.so >/dev/null 2>&1; then
  LIBS=(-ltorch -ltorch_cuda -lc10_cuda -ltorch_cpu -lc10)
  HAS_CUDA=1
fi
echo "roots direct build: LibTorch $MAJOR.$MINOR at $TORCH_ROOT (lib $LIBDIR, ABI $ABI, $STD, CUDA libs: $HAS_CUDA)"

# CUDA headers for the memory counters and device properties (info.cc): a toolkit, or the nvidia-*
# wheels next to torch. Used only if info.cc compiles with them.
CUDA_FLAGS=()
if [ "$HAS_CUDA" = 1 ]; then
  cand=()
  for r in "${CUDA_HOME:-}" "${CUDA_PATH:-}" /usr/local/cuda /usr/local/cuda-*; do [ -n "$r" ] && [ -d "$r/include" ] && cand+=("$r/include"); done
  for d in "$TORCH_ROOT"/../nvidia/*/include "$TORCH_ROOT"/../nvidia/*/*/include; do [ -d "$d" ] && cand+=("$d"); done
  if [ ${#cand[@]} -gt 0 ]; then
    trial=(-DROOTS_WITH_CUDA=1)
    for d in "${cand[@]}"; do trial+=("-I$d"); done
    if g++ "${CXXFLAGS[@]}" "${trial[@]}" -c native/info.cc -o "$OUT/obj/info.o" 2>"$OUT/cuda-trial.log"; then
      CUDA_FLAGS=("${trial[@]}")
      echo "roots direct build: CUDA headers found (${cand[*]}): memory counters on"
    else
      echo "roots direct build: CUDA headers incomplete (see $OUT/cuda-trial.log): building without them (no GPU memory counters)"
    fi
  else
    echo "roots direct build: no CUDA headers found: building without them (no GPU memory counters)"
  fi
fi

JOBS=${ROOTS_DIRECT_JOBS:-$(nproc 2>/dev/null || echo 2)}
export OUT
printf '%s\n' native/*.cc | xargs -P "$JOBS" -I{} sh -c \
  'f={}; o="$OUT/obj/$(basename "$f" .cc).o"; echo "  g++ $f"; g++ "$@" -c "$f" -o "$o"' \
  _ "${CXXFLAGS[@]}" "${CUDA_FLAGS[@]}"
g++ -shared -o "$OUT/roots_native.node" "$OUT"/obj/*.o "-L$LIBDIR" "-Wl,-rpath,$LIBDIR" \
  -Wl,--no-as-needed "${LIBS[@]}" -Wl,--as-needed -lpthread
echo "$(pwd)/$OUT/roots_native.node"
