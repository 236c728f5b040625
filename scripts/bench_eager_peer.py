#!/usr/bin/env python3
"""Benchmark peer for bench/inference.bench.ts: PyTorch eager on the LibTorch roots links (Debian's
python3-torch 1.13), the torch.nn BERT of the parity tests (parity_reference.Model) over the model
folder roots saved, in fp32 or int8 (quantize_dynamic, per-channel, on the encoder's linear layers).
No tokenizer or post-processing here (python3-torch has no Transformers): it takes the token ids roots'
tokenizer made, pads each batch to its longest row, and runs the model and the softmax. So it times
the model alone, the lower bound of a pipeline on this LibTorch.

usage: bench_eager_peer.py MODEL_DIR IDS_JSON HEAD THREADS PRECISION
  HEAD: token or sequence. Same line protocol as bench_inference_peer.py: a ready line, then
  {"batch": K} -> {"seconds": s, "entities": [[] per text]}.
"""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(__file__))
from parity_reference import Model, read_safetensors  # noqa: E402
from quantize_reference import MODULES  # noqa: E402


def main():
    model_dir, ids_file, head, threads, precision = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
    torch.set_num_threads(threads)
    c = json.load(open(os.path.join(model_dir, "config.json")))
    c["head"] = head
    m = Model(c)
    sd = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    m.load_state_dict({k: v for k, v in sd.items() if not k.endswith("position_ids")}, strict=True)
    m.eval()
    if precision == "int8":
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic
        names = [n for n, mod in m.named_modules() if isinstance(mod, torch.nn.Linear) and MODULES.match(n)]
        m = quantize_dynamic(m, {n: per_channel_dynamic_qconfig for n in names}, dtype=torch.qint8)
    rows = json.load(open(ids_file))

    def run(batch, rows=rows):
        with torch.no_grad():
            for i in range(0, len(rows), batch):
                chunk = rows[i:i + batch]
                T = max(len(r) for r in chunk)
                ids = torch.zeros(len(chunk), T, dtype=torch.long)
                mask = torch.zeros(len(chunk), T, dtype=torch.long)
                for j, r in enumerate(chunk):
                    ids[j, :len(r)] = torch.tensor(r)
                    mask[j, :len(r)] = 1
                x = m.bert(ids, mask, torch.zeros_like(ids))
                logits = m.classifier(x) if head == "token" else m.classifier(m.bert.pooler(x))
                logits.softmax(-1).argmax(-1).tolist()

    run(1, rows[:8])  # warm-up: the bench's own first pass warms every shape
    print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "engine": torch.backends.quantized.engine}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            break
        k = json.loads(line)["batch"]
        t, c = time.perf_counter(), time.process_time()
        run(k)
        print(json.dumps({"seconds": time.perf_counter() - t, "cpu": time.process_time() - c, "entities": [[] for _ in rows]}), flush=True)


if __name__ == "__main__":
    main()
