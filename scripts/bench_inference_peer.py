#!/usr/bin/env python3
"""Benchmark peer for the NER pipeline (bench/inference.bench.ts): Hugging Face Transformers'
token-classification pipeline, as a user writes it, over the model folder roots saved.

usage: bench_inference_peer.py MODEL_DIR TEXTS_JSON AGGREGATION THREADS
  Prints one JSON line when ready ({"ready", "torch", "transformers", "threads"}), then answers each
  stdin line {"batch": K} with one JSON line {"seconds": s, "entities": [[...] per text]}: every text
  of TEXTS_JSON through the pipeline, one call per text (K = 1) or one call per K texts with
  batch_size=K. An empty line or EOF ends it.
"""
import json
import sys
import time

import torch
import transformers
from transformers import pipeline


def main():
    model_dir, texts_file, aggregation, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    torch.set_num_threads(threads)
    with open(texts_file) as f:
        texts = json.load(f)
    ner = pipeline("token-classification", model=model_dir, aggregation_strategy=aggregation, device="cpu")
    ner(texts[0])  # load everything lazily loaded
    print(json.dumps({"ready": True, "torch": torch.__version__, "transformers": transformers.__version__,
                      "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            break
        k = json.loads(line)["batch"]
        out = []
        t = time.perf_counter()
        if k == 1:
            for text in texts:
                out.append(ner(text))
        else:
            for i in range(0, len(texts), k):
                out.extend(ner(texts[i:i + k], batch_size=k))
        seconds = time.perf_counter() - t
        ents = [[{"entity_group": e["entity_group"], "start": e["start"], "end": e["end"], "score": float(e["score"])} for e in r] for r in out]
        print(json.dumps({"seconds": seconds, "entities": ents}), flush=True)


if __name__ == "__main__":
    main()
