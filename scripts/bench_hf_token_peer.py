#!/usr/bin/env python3
"""The Transformers peer of the LibTorch 2.x benchmark (bench/libtorch2.bench.ts): Hugging Face's
BertForTokenClassification (its default attention: SDPA on torch 2.x) with torch.optim.AdamW, on
random batches of the shape bench_peer.py takes, as a Transformers user writes a training step.

usage: bench_hf_token_peer.py '{"config": {...}, "batch": 32, "seq": 128, "steps": 5, "warmup": 2}'
Prints one JSON line: {"times": [...], "loss", "torch", "transformers", "attention"}.
"""
import json
import os
import sys
import time

import torch
import transformers
from transformers import BertConfig, BertForTokenClassification


def main():
    spec = json.loads(sys.argv[1])
    torch.set_num_threads(int(os.environ.get("ROOTS_NUM_THREADS", os.cpu_count())))
    torch.manual_seed(0)
    c = spec["config"]
    model = BertForTokenClassification(BertConfig(**{k: v for k, v in c.items() if k != "head"}))
    model.train()
    named = list(model.named_parameters())
    decay = [p for n, p in named if not (n.endswith("bias") or "LayerNorm.weight" in n)]
    nodecay = [p for n, p in named if n.endswith("bias") or "LayerNorm.weight" in n]
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
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if i >= spec["warmup"]:
            times.append(time.perf_counter() - t)
    attention = getattr(model.config, "_attn_implementation", "eager")
    print(json.dumps({"times": times, "loss": loss.item(), "torch": torch.__version__, "transformers": transformers.__version__, "attention": attention}))


if __name__ == "__main__":
    main()
