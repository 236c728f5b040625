#!/usr/bin/env bash
# Run HERE (the development machine) before a GPU run: fills .device/ (git-ignored) with what the GPU
# machine needs and does not have, so that the device run carries only `.device`:
#   .device/node.xz, .device/node-env.sh   this machine's Node (../shared/device/pack-node.sh)
#   .device/node_modules.tar.xz            the runtime node_modules: tsx + esbuild, node-addon-api,
#                                          node-api-headers, cmake-js and the production dependencies
#                                          (no TypeScript compiler, type packages, fast-check, linters,
#                                          browser or load-test tools)
# and .device/conll2003-train-lengths.json (token lengths only, made from ../shared/data here: the
# dataset itself may not be copied, and the GPU machine does not have it).
# The whole of .device must stay under the device tool's 64 MiB carry limit; this checks it.
#
# With --pretrain it also packs .device/pretrain.tar.xz for scripts/gpu/pretrain-gpu.sh: the pretraining
# corpus (scripts/pretraining-corpus.mjs: training splits' text + Brown, held-out Brown), a cased WordPiece
# vocabulary of PRETRAIN_VOCAB tokens (default 16384) trained on it by `roots vocab`, and an empty
# H256 L4 model over it (`roots init`): about 4 MiB compressed.
#
#   bash scripts/gpu/prepare-device.sh [--pretrain]
set -euo pipefail
cd "$(dirname "$0")/../.."
bash ../shared/device/pack-node.sh >/dev/null
rm -rf .device/bin   # an unpacked Node (98 MB) from a local node-env.sh would not fit the carry limit
[ -d node_modules/tsx ] || { echo "node_modules lacks tsx: run npm ci first" >&2; exit 1; }
tar -cf - --exclude=node_modules/typescript --exclude=node_modules/fast-check --exclude=node_modules/pure-rand \
  --exclude='node_modules/@types' --exclude=node_modules/undici-types --exclude=node_modules/.cache \
  --exclude=node_modules/.package-lock.json --exclude='node_modules/@biomejs' --exclude='node_modules/@arethetypeswrong' \
  --exclude=node_modules/playwright-core --exclude=node_modules/publint --exclude=node_modules/autocannon node_modules | xz -T2 -6 > .device/node_modules.tar.xz
if [ -f ../shared/data/ner/conll2003/eng.train ]; then node --import tsx scripts/gpu/conll-lengths.ts; fi
if [ "${1:-}" = --pretrain ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  node scripts/pretraining-corpus.mjs --out "$work/text" >/dev/null
  node bin/roots.js vocab "$work/text/train" -o "$work/vocab" --vocab-size "${PRETRAIN_VOCAB:-16384}" --no-lowercase >/dev/null
  node bin/roots.js init --vocab "$work/vocab/vocab.txt" --hidden 256 --layers 4 --heads 4 --intermediate 1024 --cased \
    --out "$work/init" --force >/dev/null
  tar -C "$work" -cf - text init | xz -T2 -6 > .device/pretrain.tar.xz
fi
size=$(du -sb .device | cut -f1)
ls -la .device
echo "roots: .device is $((size / 1024 / 1024)) MiB (carry limit 64 MiB for all carried paths)"
[ "$size" -lt $((60 * 1024 * 1024)) ] || { echo "roots: .device is too big to carry" >&2; exit 1; }
