#!/usr/bin/env bash
# Puts together the model that scripts/gpu/pretrain-gpu.sh sent back in pieces, checks its digest,
# and unpacks it into a model folder (fine-tune it with `roots train --model DIR`).
#
#   bash scripts/gpu/unpack-pretrained.sh FILES_AT DIR
set -euo pipefail
src=${1:?usage: bash scripts/gpu/unpack-pretrained.sh FILES_AT DIR}
dst=${2:?usage: bash scripts/gpu/unpack-pretrained.sh FILES_AT DIR}
ls "$src"/model.tar.part-* >/dev/null 2>&1 || { echo "no model.tar.part-* in $src" >&2; exit 2; }
mkdir -p "$dst"
tmp=$(mktemp "$dst/.model.tar.XXXXXX")
trap 'rm -f "$tmp"' EXIT
cat "$src"/model.tar.part-* > "$tmp"
if [ -f "$src/model.tar.sha256" ]; then
  [ "$(sha256sum "$tmp" | cut -d' ' -f1)" = "$(cat "$src/model.tar.sha256")" ] || { echo "model.tar: digest mismatch (a piece is missing or damaged)" >&2; exit 1; }
fi
tar -xf "$tmp" -C "$dst"
echo "model in $dst"
