#!/usr/bin/env python3
"""Benchmark peers for the MLM training step (bench/mlm-step.bench.ts), as a PyTorch user writes them.

  --impl hf     Hugging Face Transformers' BertForMaskedLM (needs transformers; run it with the
                PyTorch 2.x venv). Its loss takes the vocabulary projection at every position and
                ignores the -100 labels.
  --impl eager  torch.nn modules (parity_reference.Model: HF's structure, separate query/key/value)
                on the interpreter's torch (Debian's 1.13, the LibTorch roots links). Its decoder runs
                at every position like HF's (the loss ignores the -100 labels), or, with "maskedOnly" in a command, only at the masked
                positions (what roots does), to tell the engine's share of the gap from the algorithm's.

Both train with torch.optim.AdamW (lr 5e-5, weight decay 0.01 except biases and LayerNorm weights),
clip_grad_norm_(1.0), dropout 0.1, and torch.autocast(bf16) for bf16 commands, on the batches roots
wrote (BATCHES: safetensors of b{i}.input_ids, attention_mask, token_type_ids, labels), cycled.

usage: bench_mlm_peer.py --impl hf|eager CONFIG_JSON BATCHES
  Prints one JSON line when ready ({"ready", "torch", "transformers", "attention", "threads"}), then
  answers each stdin line {"steps": K, "bf16": bool, "maskedOnly": bool} with one JSON line
  {"times": [seconds per step], "loss": last loss}. An empty line or EOF ends it.
"""
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from parity_reference import Model, read_safetensors  # noqa: E402


def optimizer(model):
    decay = [p for n, p in model.named_parameters() if not (n.endswith("bias") or "LayerNorm.weight" in n)]
    nodecay = [p for n, p in model.named_parameters() if n.endswith("bias") or "LayerNorm.weight" in n]
    return torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": nodecay, "weight_decay": 0.0}], lr=5e-5)


def hf_model(c):
    from transformers import BertConfig, BertForMaskedLM

    cfg = BertConfig(**{k: v for k, v in c.items() if k != "head"})
    model = BertForMaskedLM(cfg)

    def loss(b, masked_only):
        if masked_only:
            raise ValueError("maskedOnly is for the eager peer")
        return model(input_ids=b["input_ids"], attention_mask=b["attention_mask"], token_type_ids=b["token_type_ids"], labels=b["labels"]).loss

    return model, loss, getattr(model.config, "_attn_implementation", "eager")


def eager_model(c):
    model = Model({**c, "head": "mlm"})
    for m in model.modules():  # Hugging Face's initialisation (_init_weights), as roots and Transformers use
        if isinstance(m, (torch.nn.Linear, torch.nn.Embedding)):
            m.weight.data.normal_(0.0, 0.02)
        if isinstance(m, torch.nn.Linear):
            m.bias.data.zero_()

    def loss(b, masked_only):
        x = model.bert(b["input_ids"], b["attention_mask"], b["token_type_ids"])
        x, labels = x.reshape(-1, x.shape[-1]), b["labels"].view(-1)
        if masked_only:
            idx = (labels != -100).nonzero().squeeze(-1)
            x, labels = x.index_select(0, idx), labels.index_select(0, idx)
        t = model.cls.predictions.transform
        # .float(): torch 1.13's CPU autocast has no rule for layer_norm, which then fails on a bf16
        # input with fp32 weights (2.x runs it in fp32 itself); a no-op in fp32.
        y = t.LayerNorm(F.gelu(t.dense(x)).float())
        logits = F.linear(y, model.bert.embeddings.word_embeddings.weight, model.cls.predictions.bias)
        return F.cross_entropy(logits.float(), labels, ignore_index=-100)

    return model, loss, "matmul + softmax (parity_reference)"


def main():
    impl, c, path = sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
    torch.set_num_threads(int(os.environ.get("ROOTS_NUM_THREADS", os.cpu_count())))
    torch.manual_seed(0)
    model, loss_of, attention = (hf_model if impl == "hf" else eager_model)(c)
    model.train()
    opt = optimizer(model)
    raw = read_safetensors(path)
    batches = []
    while f"b{len(batches)}.input_ids" in raw:
        pre = f"b{len(batches)}."
        batches.append({k[len(pre):]: v.long() for k, v in raw.items() if k.startswith(pre)})
    try:
        import transformers
        tv = transformers.__version__
    except ImportError:
        tv = None
    print(json.dumps({"ready": True, "torch": torch.__version__, "transformers": tv, "attention": attention, "threads": torch.get_num_threads()}), flush=True)
    k = 0
    for line in sys.stdin:
        if not line.strip():
            break
        cmd = json.loads(line)
        times, loss = [], None
        for _ in range(cmd["steps"]):
            b = batches[k % len(batches)]
            k += 1
            t = time.perf_counter()
            opt.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cmd["bf16"]):
                loss = loss_of(b, cmd.get("maskedOnly", False))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            times.append(time.perf_counter() - t)
        print(json.dumps({"times": times, "loss": loss.item()}), flush=True)


if __name__ == "__main__":
    main()
