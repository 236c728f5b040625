#!/usr/bin/env bash
# Installs what roots-nlp needs from Debian's packages, only what is missing:
#   libtorch-dev    LibTorch (C++), the engine the addon links
#   python3-torch   PyTorch for Python: the independent reference in tests and the peer in benchmarks
#   cmake, g++      the native build
#   libgloo-dev     Gloo's headers, for data-parallel training (c10d's Gloo process group)
#   chromium        the headless browser the serving page's test drives
# Other ways to provide LibTorch (a PyTorch wheel, an unpacked LibTorch zip): see README.
set -euo pipefail
need=()
[ -f /usr/lib/x86_64-linux-gnu/cmake/Torch/TorchConfig.cmake ] || [ -f /usr/lib/aarch64-linux-gnu/cmake/Torch/TorchConfig.cmake ] || [ -n "${LIBTORCH:-}" ] || [ -n "${LIBTORCH_USE_PYTORCH:-}" ] || need+=(libtorch-dev)
if [ "${ROOTS_SKIP_PYTHON_TORCH:-}" != 1 ] && ! /usr/bin/python3 -c 'import torch' >/dev/null 2>&1; then need+=(python3-torch); fi
# fp32 matrix products go to the system BLAS; Debian's default reference BLAS is ~25x slower than
# OpenBLAS (5 vs 130+ GFLOP/s measured here), so install OpenBLAS when no optimised BLAS is selected.
blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || true)
case "$blas" in *openblas*|*blis*|*mkl*) ;; *) need+=(libopenblas0-pthread) ;; esac
# CI's LibTorch 2.x leg (scripts/ci-torch2.sh) makes a venv where a local package index exists.
if [ -d /opt/pypi/simple ] && ! /usr/bin/python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then need+=(python3-venv); fi
# The serving page's browser test (test/serve-page.test.ts) drives Debian's chromium with playwright-core.
command -v chromium >/dev/null 2>&1 || [ -n "${ROOTS_CHROMIUM:-}" ] || need+=(chromium)
# Gloo's headers: the addon's data parallelism (native/distributed.cc) builds on c10d's Gloo process group.
[ -f /usr/include/gloo/algorithm.h ] || need+=(libgloo-dev)
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
if [ ${#need[@]} -gt 0 ]; then
  echo "roots: installing ${need[*]} from Debian's packages"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
