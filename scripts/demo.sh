#!/usr/bin/env bash
# The main job on a fresh machine: install what is missing, build, run the demonstration.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOTS_SKIP_PYTHON_TORCH=1 bash scripts/setup-system.sh
[ -d node_modules ] && [ -f build/Release/roots_native.node ] && [ -d dist ] || npm ci
npm run demo
