#!/usr/bin/env bash
# The pretraining gain in one command: corpus -> (vocabulary) -> empty model -> MLM pretraining ->
# fine-tuning on CoNLL-2003, WNUT-17 and SST-2 with the README's from-scratch commands -> one table
# beside the from-scratch rows. Nothing is written into the repository; the data is read in place.
#
#   bash scripts/pretraining-gain.sh OUT            (OUT: a folder outside the repo, e.g. /tmp/gain)
#
# Settings (environment variables; the defaults are the run in README "Measured: pretraining"):
#   DATA=../shared/data          the shared datasets
#   STEPS=1600 BATCH=32 LR=7e-4 WARMUP=0.06 MLM_P=0.15 SEQ=128 PRECISION=bf16
#   SCHEDULER=linear BETA2=0.999   the learning-rate schedule and AdamW's beta2
#   VOCAB=bert-base-cased        a vocab.txt to start from, or a size (e.g. 8192) to train one on the corpus
#   HIDDEN=256 LAYERS=4 HEADS=4 INTERMEDIATE=1024
#   FT_LR_NER=1e-3 FT_LR_CLS=3e-4  the fine-tuning rates of the from-scratch tables
#   FT_DIV=1                     divide the fine-tuning steps (a quick smoke run of this script)
#   SKIP_PRETRAIN=1              reuse OUT/mlm (e.g. after `roots pretrain --resume` extended it)
# A long budget can be spent in pieces: rerun `roots pretrain ... --resume` with the command printed
# below, then SKIP_PRETRAIN=1 to fine-tune.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:?usage: bash scripts/pretraining-gain.sh OUT}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
case "$out/" in "$here"/*) echo "error: OUT must be outside the repository ($here)" >&2; exit 2 ;; esac
data="$(cd "${DATA:-$here/../shared/data}" && pwd)"
roots=(node "$here/bin/roots.js")
steps=${STEPS:-1600} batch=${BATCH:-32} lr=${LR:-7e-4} warm=${WARMUP:-0.06} mlmp=${MLM_P:-0.15}
seq=${SEQ:-128} precision=${PRECISION:-bf16} vocab=${VOCAB:-bert-base-cased}

if [ "${SKIP_PRETRAIN:-}" != 1 ]; then
  node "$here/scripts/pretraining-corpus.mjs" --data "$data" --out "$out/text"
  if [[ "$vocab" =~ ^[0-9]+$ ]]; then
    "${roots[@]}" vocab "$out/text/train" -o "$out/vocab" --vocab-size "$vocab" --no-lowercase
    vocabfile="$out/vocab/vocab.txt"
  else
    vocabfile="$data/vocab/$vocab/vocab.txt"
    [ -f "$vocabfile" ] || vocabfile="$vocab"
  fi
  "${roots[@]}" init --vocab "$vocabfile" --hidden "${HIDDEN:-256}" --layers "${LAYERS:-4}" --heads "${HEADS:-4}" \
    --intermediate "${INTERMEDIATE:-1024}" --cased --out "$out/init" --force
  pretrain=("${roots[@]}" pretrain --model "$out/init" --train "$out/text/train" --eval "$out/text/heldout.txt"
    --out "$out/mlm" --max-steps "$steps" --batch-size "$batch" --max-length "$seq" --lr "$lr" --warmup-ratio "$warm"
    --weight-decay 0.01 --mlm-probability "$mlmp" --eval-mlm-probability 0.15
    --scheduler "${SCHEDULER:-linear}" --adam-beta2 "${BETA2:-0.999}" --eval-steps $((steps / 4 > 0 ? steps / 4 : 1)) --save-total-limit 2
    --precision "$precision" --progress plain)
  echo "pretraining: ${pretrain[*]}"
  "${pretrain[@]}" --overwrite 2>&1 | tee "$out/pretrain.log"
fi

# Fine-tuning: the README's from-scratch commands with --model the pretrained folder, three runs side
# by side with one thread each (as the from-scratch rows ran).
m="$out/mlm"
div=${FT_DIV:-1}
ner() { # name train dev test steps eval-steps
  "${roots[@]}" train --task ner --model "$m" --train "$2" --dev "$3" --test "$4" --out "$out/ft-$1" \
    --max-steps $(($5 / div)) --batch-size 32 --lr "${FT_LR_NER:-1e-3}" --warmup-ratio 0.06 --weight-decay 0.01 \
    --eval-steps $(($6 / div > 0 ? $6 / div : 1)) --save-total-limit 1 --group-by-length --threads 1 --progress plain --overwrite > "$out/ft-$1.log" 2>&1
}
ner conll "$data/ner/conll2003/eng.train" "$data/ner/conll2003/eng.testa" "$data/ner/conll2003/eng.testb" 3600 500 &
ner wnut "$data/ner/wnut17/wnut17train.conll" "$data/ner/wnut17/emerging.dev.conll" "$data/ner/wnut17/emerging.test.annotated" 3200 250 &
"${roots[@]}" train --task text-classification --model "$m" --train "$data/textcls/sst2/train.tsv" --dev "$data/textcls/sst2/dev.tsv" \
  --out "$out/ft-sst2" --max-steps $((2000 / div)) --batch-size 32 --lr "${FT_LR_CLS:-3e-4}" --warmup-ratio 0.06 --weight-decay 0.01 \
  --eval-steps $((400 / div > 0 ? 400 / div : 1)) --save-total-limit 1 --group-by-length --threads 1 --progress plain --overwrite > "$out/ft-sst2.log" 2>&1 &
wait

node - "$out" <<'EOF'
const { readFileSync } = require('node:fs');
const out = process.argv[2];
const r = (n) => JSON.parse(readFileSync(`${out}/${n}/results.json`, 'utf8'));
const mlm = r('mlm'), c = r('ft-conll'), w = r('ft-wnut'), s = r('ft-sst2');
const f = (x) => x.toFixed(3);
console.log(`pretraining: ${mlm.result.globalStep} steps in ${(mlm.result.trainSeconds / 60).toFixed(1)} min; held-out perplexity ${mlm.eval.perplexity.toFixed(1)}, masked-token accuracy ${mlm.eval.accuracy.toFixed(3)}\n`);
console.log('| data | from scratch (README tables) | after this pretraining |\n| --- | --- | --- |');
console.log(`| CoNLL-2003 dev / test F1 | 0.716 / 0.646 | ${f(c.dev.f1)} / ${f(c.test.f1)} |`);
console.log(`| WNUT-17 dev / test F1 | 0.135 / 0.080 | ${f(w.dev.f1)} / ${f(w.test.f1)} |`);
console.log(`| SST-2 dev accuracy | 0.8165 | ${s.dev.accuracy.toFixed(4)} |`);
EOF
