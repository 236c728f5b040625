#!/usr/bin/env python3
"""The benchmark peer: PyTorch eager from Python, as a PyTorch user writes it, on the same LibTorch.

Trains the reference BERT (parity_reference.Model: torch.nn modules, HF's structure, separate
query/key/value projections) with torch.optim.AdamW on random batches of the given shape, and
prints one JSON line with per-step times. Also measures the machine's matrix-multiply rate.

With "impl": "hf" in the spec, the model is Hugging Face Transformers' BertForTokenClassification
instead (run it with a Python that has transformers, e.g. the PyTorch 2.x venv).
usage: bench_peer.py '{"config": {...}, "batch": 32, "seq": 128, "steps": 5, "warmup": 2, "bf16": false, "impl": "eager"}'
       bench_peer.py --matmul N   (GFLOP/s of an NxN fp32 and bf16 matmul)
"""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(__file__))
from parity_reference import Model  # noqa: E402


def matmul_rate(n):
    out = {}
    for name, dt in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a, b = torch.randn(n, n, dtype=dt), torch.randn(n, n, dtype=dt)
        for _ in range(2):
            torch.mm(a, b)
        ts = []
        for _ in range(5):
            t = time.perf_counter()
            torch.mm(a, b)
            ts.append(time.perf_counter() - t)
        ts.sort()
        out[name] = 2 * n ** 3 / ts[len(ts) // 2] / 1e9
    return out


def main():
    if sys.argv[1] == "--matmul":
        torch.set_num_threads(int(os.environ.get("ROOTS_NUM_THREADS", os.cpu_count())))
        print(json.dumps(matmul_rate(int(sys.argv[2]))))
        return
    spec = json.loads(sys.argv[1])
    torch.set_num_threads(int(os.environ.get("ROOTS_NUM_THREADS", os.cpu_count())))
    torch.manual_seed(0)
    c = spec["config"]
    if spec.get("impl") == "hf":
        from transformers import BertConfig, BertForTokenClassification

        hf = BertForTokenClassification(BertConfig(**{k: v for k, v in c.items() if k != "head"}))

        def model(b):  # the reference Model's call convention: (logits, loss)
            out = hf(input_ids=b["input_ids"], attention_mask=b["attention_mask"], token_type_ids=b["token_type_ids"], labels=b["labels"])
            return out.logits, out.loss

        model.named_parameters, model.parameters, module = hf.named_parameters, hf.parameters, hf
    else:
        model = module = Model(c)
    module.train()
    decay = [p for n, p in model.named_parameters() if not (n.endswith("bias") or "LayerNorm.weight" in n)]
    nodecay = [p for n, p in model.named_parameters() if n.endswith("bias") or "LayerNorm.weight" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": nodecay, "weight_decay": 0.0}], lr=5e-5)
    B, T = spec["batch"], spec["seq"]
    g = torch.Generator().manual_seed(1)
    batch = {
        "input_ids": torch.randint(1, c["vocab_size"], (B, T), generator=g),
        "attention_mask": torch.ones(B, T, dtype=torch.long),
        "token_type_ids": torch.zeros(B, T, dtype=torch.long),
        "labels": torch.randint(0, c["num_labels"], (B, T), generator=g),
    }
    times = []
    for i in range(spec["warmup"] + spec["steps"]):
        t = time.perf_counter()
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=spec["bf16"]):
            _, loss = model(batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if i >= spec["warmup"]:
            times.append(time.perf_counter() - t)
    print(json.dumps({"times": times, "loss": loss.item()}))


if __name__ == "__main__":
    main()
