#!/usr/bin/env bash
# The one command for the GPU machine (an H200 with CUDA, PyTorch's CUDA wheel and Transformers in
# its Python, cmake and g++, but no Node): builds the addon against the wheel's LibTorch, runs the GPU
# tests (test/gpu.test.ts: parity with Transformers), runs the GPU benchmark (bench/gpu.bench.ts:
# roots vs Transformers), and writes a report with the card, driver, versions, parity and benchmark
# tables to $OUT (the device tool brings that folder back) and a copy under bench/results/.
#
#   bash scripts/gpu/run-gpu-checks.sh             on the GPU machine (after scripts/gpu/prepare-device.sh here)
#   bash scripts/gpu/run-gpu-checks.sh --dry-run   here, on the CPU: the same steps with a tiny model and
#                                                  the LibTorch found as usual; parts that need a GPU or
#                                                  Transformers report themselves skipped
#
# Every step is time-boxed (timeout) and the script goes on after a failing step, recording it; the
# whole run stays inside ROOTS_GPU_BUDGET_S (default 480 s). Build: scripts/build-native.mjs (CMake)
# first; if that fails, scripts/gpu/build-direct.sh (g++ against the wheel, no CMake/CUDA toolkit
# needed). ROOTS_GPU_BUILD=direct skips the CMake attempt, ROOTS_GPU_BUILD=none uses the addon as built.
# Environment: OUT (results folder; default bench/results/tmp/gpu-<run|dry-run>), ROOTS_PYTHON (the
# Python with torch and transformers; default the first python3 that imports torch).
set -uo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
DRY=${ROOTS_GPU_DRY_RUN:-0}
[ "${1:-}" = --dry-run ] && DRY=1
export ROOTS_GPU_DRY_RUN=$DRY
START=$(date +%s)
BUDGET=${ROOTS_GPU_BUDGET_S:-480}
if [ -z "${OUT:-}" ]; then OUT=bench/results/tmp/gpu-$([ "$DRY" = 1 ] && echo dry-run || echo run); fi
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
export ROOTS_GPU_OUT=$OUT
rm -f "$OUT"/*.log "$OUT"/*.json "$OUT"/*.md "$OUT"/steps.tsv
exec > >(tee -a "$OUT/run.log") 2>&1
STEPS=$OUT/steps.tsv
: > "$STEPS"
echo "roots GPU checks $(date -u +%Y-%m-%dT%H:%M:%SZ)$([ "$DRY" = 1 ] && echo ' (dry run)'), results in $OUT"

# step NAME CAP_SECONDS CMD...: runs CMD under timeout (the smaller of CAP and what the budget has
# left, keeping 25 s for the report), streams and logs its output, records status and duration.
step() {
  local name=$1 cap=$2
  shift 2
  local left=$((BUDGET - ($(date +%s) - START) - 25))
  local lim=$((cap < left ? cap : left))
  if [ "$lim" -lt 15 ]; then
    echo "== $name: skipped (time budget of ${BUDGET}s spent)"
    printf '%s\t%s\t%s\t%s\n' "$name" skipped 0 - >> "$STEPS"
    return 1
  fi
  echo "== $name (limit ${lim}s)"
  local t0=$(date +%s)
  timeout -k 10 "$lim" "$@" 2>&1 | tee "$OUT/$name.log"
  local rc=${PIPESTATUS[0]}
  local dt=$(($(date +%s) - t0)) status=ok
  [ "$rc" -ne 0 ] && status=failed
  [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && status=timeout
  printf '%s\t%s\t%s\t%s\n' "$name" "$status" "$dt" "$rc" >> "$STEPS"
  echo "== $name: $status (exit $rc, ${dt}s)"
  return "$rc"
}

# ---- set-up: Node, node_modules, Python, CUDA toolkit ------------------------------------------------
if [ "$DRY" != 1 ] && ! command -v node >/dev/null && [ -f .device/node-env.sh ]; then
  # shellcheck disable=SC1091
  source .device/node-env.sh || echo "roots: .device/node-env.sh failed"
fi
if [ ! -d node_modules/tsx ] && [ -f .device/node_modules.tar.xz ]; then
  echo "roots: unpacking .device/node_modules.tar.xz"
  tar -xJf .device/node_modules.tar.xz
fi
# The Python with torch (and, preferably, transformers): ROOTS_PYTHON, an active virtual environment,
# python3 on PATH, then the usual places of a virtual environment.
PY=${ROOTS_PYTHON:-}
if [ -z "$PY" ]; then
  TORCH_ONLY=""
  for c in ${VIRTUAL_ENV:+"$VIRTUAL_ENV/bin/python"} python3 python /usr/bin/python3 /opt/venv/bin/python3 /venv/bin/python3 \
           "$HOME/.venv/bin/python3" "$HOME/venv/bin/python3" /opt/conda/bin/python3 /opt/*/bin/python3 /workspace/*/bin/python3; do
    command -v "$c" >/dev/null 2>&1 || continue
    if "$c" -c 'import torch, transformers' >/dev/null 2>&1; then PY=$(command -v "$c"); break; fi
    if [ -z "$TORCH_ONLY" ] && "$c" -c 'import torch' >/dev/null 2>&1; then TORCH_ONLY=$(command -v "$c"); fi
  done
  PY=${PY:-${TORCH_ONLY:-python3}}
fi
export ROOTS_PYTHON=$PY PYTHON=$PY
if [ "$DRY" != 1 ]; then
  export LIBTORCH_USE_PYTORCH=1
  # A CUDA toolkit for CMake's find_package(Torch) (the wheel's TorchConfig looks for one).
  for d in "${CUDA_HOME:-}" /usr/local/cuda /usr/local/cuda-13* /usr/local/cuda-12*; do
    if [ -n "$d" ] && [ -x "$d/bin/nvcc" ]; then
      export CUDA_HOME=$d CUDAToolkit_ROOT=$d CUDACXX=$d/bin/nvcc PATH=$d/bin:$PATH
      break
    fi
  done
  export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}  # H200: sm_90 (skips torch's GPU-detection compile)
  # A toolkit without NVRTC (a partial, pip-assembled one): point CMake at the wheel's
  # (cmake-js turns npm_cmake_X=v into -DX=v).
  if [ -n "${CUDA_HOME:-}" ] && ! ls "$CUDA_HOME"/lib64/libnvrtc.so >/dev/null 2>&1; then
    SITE=$("$PY" -c 'import torch, os; print(os.path.dirname(os.path.dirname(torch.__file__)))' 2>/dev/null)
    nvrtc=$(ls "$SITE"/nvidia/*/lib/libnvrtc.so* 2>/dev/null | grep -v -e builtins -e '\.alt\.' | head -1)
    [ -n "$nvrtc" ] && export npm_cmake_CUDA_nvrtc_LIBRARY=$nvrtc
  fi
fi
echo "roots: node $(node --version 2>/dev/null || echo missing), python $PY, CUDA_HOME ${CUDA_HOME:-none}"

# ---- 1. what we run on ---------------------------------------------------------------------------------
step env 60 "$PY" scripts/gpu/env_info.py "$OUT/env.json"

# ---- 2. build ------------------------------------------------------------------------------------------
BUILD_MODE=${ROOTS_GPU_BUILD:-cmake}
BUILT=none
if [ "$BUILD_MODE" = none ]; then
  BUILT=existing
elif [ "$BUILD_MODE" = cmake ] && step build-cmake 300 node scripts/build-native.mjs; then
  BUILT=cmake
else
  # The fallback: g++ straight against the wheel. Its own folder, so a working CMake build is never clobbered.
  if step build-direct 240 bash scripts/gpu/build-direct.sh build/direct; then
    BUILT=direct
    export ROOTS_NATIVE_PATH=$REPO/build/direct/roots_native.node
  fi
fi
echo "$BUILT" > "$OUT/build-path.txt"
echo "roots: addon built by: $BUILT"

# ---- 3. smoke: load the addon, print what it sees -------------------------------------------------------
step info 60 node --import tsx scripts/gpu/info-smoke.ts

# ---- 4. GPU tests ----------------------------------------------------------------------------------------
# In a dry run the Transformers parity tests run on the CPU where Transformers is installed.
if [ "$DRY" = 1 ]; then export ROOTS_GPU_TEST_DEVICE=${ROOTS_GPU_TEST_DEVICE:-cpu}; fi
step gpu-tests 240 node --import tsx --test --test-reporter=spec test/gpu.test.ts

# ---- 5. benchmark -----------------------------------------------------------------------------------------
step bench 330 node --import tsx bench/gpu.bench.ts $([ "$DRY" = 1 ] && echo --dry-run)

# ---- 6. report (always) ------------------------------------------------------------------------------------
echo "== report"
node scripts/gpu/report.mjs "$OUT" || echo "roots: report.mjs failed"
if [ "$DRY" != 1 ] && [ -f "$OUT/REPORT.md" ] && command -v nvidia-smi >/dev/null; then
  name=$(node -e "const r=require('$OUT/results.json'); console.log(r.fileName)" 2>/dev/null || echo gpu)
  cp "$OUT/REPORT.md" "bench/results/$name.md" 2>/dev/null && echo "roots: copied to bench/results/$name.md"
fi
echo "roots: done in $(($(date +%s) - START))s; steps:"
column -t -s $'\t' "$STEPS" 2>/dev/null || cat "$STEPS"
# The device tool brings back at most 8 files: everything but REPORT.md goes into one archive (the
# pretraining script, when it runs in the same call, adds its 5).
if [ "$DRY" != 1 ] || [ -n "${ROOTS_GPU_PACK:-}" ]; then
  ( cd "$OUT" && files=$(ls -A | grep -v -x -e REPORT.md -e results.tar.gz -e pretrain.log -e 'model.tar.*' -e pretrain-results.json) &&
    [ -n "$files" ] && tar -czf results.tar.gz $files && rm -f $files ) && echo "roots: results packed into $OUT/results.tar.gz (tar -xzf it here)"
fi
