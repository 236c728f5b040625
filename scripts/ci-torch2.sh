#!/usr/bin/env bash
# The LibTorch 2.x leg of CI (.ci/run), beside the main run against Debian's LibTorch 1.13:
#   ci-torch2.sh venv   creates (or reuses) a venv with torch==2.13.0+cpu, transformers and peft from
#                       this machine's local package index (/opt/pypi, /opt/wheels) and prints its python;
#                       prints nothing, and says why on stderr, where there is no such index (CI machines
#                       reach no pypi.org), so the caller skips the leg.
#   ci-torch2.sh test   builds the addon against that venv's LibTorch into build-torch2/ (a second build
#                       folder: build/ stays Debian's) and runs the engine and parity tests with it, the
#                       venv's PyTorch 2.13 as the reference.
# ROOTS_TORCH2_VENV chooses the venv folder (default .venv-torch2, ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${ROOTS_TORCH2_VENV:-$PWD/.venv-torch2}"
TORCH_PIN="torch==2.13.0+cpu"
INDEX=(--index-url file:///opt/pypi/simple --extra-index-url file:///opt/pypi-more/simple --find-links /opt/wheels)

case "${1:-}" in
  venv)
    if [ ! -d /opt/pypi/simple ]; then
      echo "roots CI: skipping the LibTorch 2.x leg: no local package index at /opt/pypi/simple to install $TORCH_PIN, transformers and peft from" >&2
      exit 0
    fi
    if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import torch, transformers, peft; assert torch.__version__ == "2.13.0+cpu"' >/dev/null 2>&1; then
      echo "roots CI: creating $VENV with $TORCH_PIN, transformers and peft (local index)" >&2
      python=/usr/bin/python3
      [ -x "$python" ] || python=python3
      "$python" -m venv "$VENV" >&2
      # (pip warns once per package missing from one of the two indexes: noise, dropped)
      "$VENV/bin/pip" install -q --disable-pip-version-check "${INDEX[@]}" "$TORCH_PIN" transformers peft 2>&1 \
        | { grep -v 'is ignored: it is neither a file nor a directory' || true; } >&2
    fi
    echo "$VENV/bin/python"
    ;;
  test)
    py="$VENV/bin/python"
    [ -x "$py" ] || { echo "roots CI: $py is missing; run '$0 venv' first" >&2; exit 1; }
    LIBTORCH_USE_PYTORCH=1 PYTHON="$py" ROOTS_BUILD_DIR=build-torch2 node scripts/build-native.mjs
    export ROOTS_NATIVE_PATH="$PWD/build-torch2/Release/roots_native.node" ROOTS_PYTHON="$py" ROOTS_EXPECT_TORCH=2.13
    # package.test packs this build beside build/'s and installs the tarball: with LIBTORCH_USE_PYTORCH=1
    # the wheel's flavour is chosen (and loaded in place, or from a staged copy: scripts/prebuilt.mjs).
    LIBTORCH_USE_PYTORCH=1 PYTHON="$py" node scripts/run-tests.mjs engine.test package
    # int8 inference on the 2.x engines (x86 by default; the parity test packs with oneDNN on both sides).
    node scripts/run-tests.mjs quantize
    # The [CLS]-only last layer against the whole layer, with SDPA on 2.x (math only on 1.13).
    node scripts/run-tests.mjs cls-last-layer
    # The parity reference (scripts/parity_reference.py) computes attention as matmul + softmax; on 2.x
    # roots' default is the fused SDPA kernel, whose other summation order leaves one bias of the
    # sequence head 1.3e-4 off after 3 AdamW steps (the bound is 1e-4; gradients are within it). The
    # step parity is checked on the same arithmetic: roots' math attention path.
    ROOTS_ATTENTION=math node scripts/run-tests.mjs engine-parity
    ;;
  *)
    echo "usage: $0 venv|test" >&2
    exit 2
    ;;
esac
