#!/usr/bin/env python3
"""Benchmark peer for the pipelines (bench/inference.bench.ts): Hugging Face Transformers'
token-classification (NER) or text-classification pipeline, as a user writes it, over the model
folder roots saved; int8: PyTorch's quantize_dynamic (per-channel int8 weights) on the encoder's
linear layers, the layers roots quantizes.

usage: bench_inference_peer.py MODEL_DIR TEXTS_JSON AGGREGATION THREADS [TASK [PRECISION]]
  TASK: token-classification (default) or text-classification; PRECISION: fp32 (default) or int8.
  Prints one JSON line when ready ({"ready", "torch", "transformers", "threads", "engine"}), then
  answers each stdin line {"batch": K} with one JSON line {"seconds": s, "entities": [[...] per text]}
  (text-classification: [{label, score}] per text): every text of TEXTS_JSON through the pipeline,
  one call per text (K = 1) or one call per K texts with batch_size=K. An empty line or EOF ends it.
"""
import json
import re
import sys
import time

import torch
import transformers
from transformers import pipeline


# The layers roots quantizes (lib/models/quantize.ts QUANTIZATION_CONFIG.modules).
ENCODER_LINEAR = re.compile(r"^bert\.encoder\.layer\.\d+\.(attention\.self\.(query|key|value)|attention\.output\.dense|intermediate\.dense|output\.dense)$")


def main():
    model_dir, texts_file, aggregation, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    task = sys.argv[5] if len(sys.argv) > 5 else "token-classification"
    precision = sys.argv[6] if len(sys.argv) > 6 else "fp32"
    torch.set_num_threads(threads)
    with open(texts_file) as f:
        texts = json.load(f)
    if task == "token-classification":
        ner = pipeline(task, model=model_dir, aggregation_strategy=aggregation, device="cpu")
    else:
        ner = pipeline(task, model=model_dir, device="cpu")
    if precision == "int8":
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic
        names = [n for n, m in ner.model.named_modules() if isinstance(m, torch.nn.Linear) and ENCODER_LINEAR.match(n)]
        ner.model = quantize_dynamic(ner.model, {n: per_channel_dynamic_qconfig for n in names}, dtype=torch.qint8)
    ner(texts[0])  # load everything lazily loaded
    print(json.dumps({"ready": True, "torch": torch.__version__, "transformers": transformers.__version__,
                      "threads": torch.get_num_threads(), "engine": torch.backends.quantized.engine}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            break
        k = json.loads(line)["batch"]
        out = []
        t, c = time.perf_counter(), time.process_time()
        if k == 1:
            for text in texts:
                out.append(ner(text))
        else:
            for i in range(0, len(texts), k):
                out.extend(ner(texts[i:i + k], batch_size=k))
        seconds, cpu = time.perf_counter() - t, time.process_time() - c
        if task == "token-classification":
            ents = [[{"entity_group": e["entity_group"], "start": e["start"], "end": e["end"], "score": float(e["score"])} for e in r] for r in out]
        else:
            top = [r[0] if isinstance(r, list) else r for r in out]  # one text: [{label, score}]; a list of texts: {label, score} each
            ents = [[{"label": r["label"], "score": float(r["score"])}] for r in top]
        print(json.dumps({"seconds": seconds, "cpu": cpu, "entities": ents}), flush=True)


if __name__ == "__main__":
    main()
