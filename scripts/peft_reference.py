#!/usr/bin/env python3
"""Independent PyTorch reference for the adapter parity test (test/peft-parity.test.ts).

BERT written out with torch.nn.functional over Hugging Face's parameter names (separate query, key
and value projections, not roots' fused one), with the adapter math of Hugging Face PEFT written out:
LoRA (y = W x + b + scaling * B A x), (IA)3 (output scaled by l, or for feed-forward modules the input),
prefix tuning (per-layer key/value prefixes from the embedding or its MLP, the attention mask extended
by ones, positions numbered after the prefix as BertEmbeddings does with past_key_values), and trained
copies of base parameters (modules_to_save, BitFit). Only the adapter's parameters are leaves that
require gradients; torch.optim.AdamW (biases without weight decay), clip_grad_norm_, gradient
accumulation over micro-batches.

usage: peft_reference.py CASE_DIR  (reads case.json, weights.safetensors, adapter.safetensors,
                                    batches.safetensors; writes reference.safetensors)
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from parity_reference import read_safetensors, write_safetensors  # noqa: E402

QKV = ("query", "key", "value")


def main():
    d = sys.argv[1]
    case = json.load(open(os.path.join(d, "case.json")))
    c, ad = case["config"], case["adapter"]
    base = read_safetensors(os.path.join(d, "weights.safetensors"))
    params = {k: torch.nn.Parameter(v) for k, v in read_safetensors(os.path.join(d, "adapter.safetensors")).items()}
    batches = read_safetensors(os.path.join(d, "batches.safetensors"))
    H, L, nh = c["hidden_size"], c["num_hidden_layers"], c["num_attention_heads"]
    hd = H // nh
    eps = c["layer_norm_eps"]
    ff = set(ad.get("feedforward", []))
    P = ad.get("numVirtualTokens", 0) if ad["type"] == "prefix" else 0

    def p(name):  # a trained copy (modules_to_save, BitFit) wins over the frozen base
        return params[name] if name in params else base[name]

    def linear(x, module):
        w, b = p(module + ".weight"), p(module + ".bias")
        ia3 = params.get(module + ".ia3_l")
        if ia3 is not None and module in ff:
            return F.linear(x * ia3.view(-1), w, b)
        y = F.linear(x, w, b)
        if module + ".lora_A.weight" in params:
            y = y + F.linear(F.linear(x, params[module + ".lora_A.weight"]), params[module + ".lora_B.weight"]) * ad["scaling"]
        if ia3 is not None:
            y = y * ia3.view(-1)
        return y

    def prefix():
        e = params["prompt_encoder.embedding.weight"]
        if ad.get("prefixProjection"):
            e = F.linear(torch.tanh(F.linear(e, params["prompt_encoder.transform.0.weight"], params["prompt_encoder.transform.0.bias"])),
                         params["prompt_encoder.transform.2.weight"], params["prompt_encoder.transform.2.bias"])
        return e.view(P, 2 * L, nh, hd)

    def forward(ids, mask, tt):
        B, T = ids.shape
        pos = torch.arange(P, P + T).unsqueeze(0)
        x = F.embedding(ids, p("bert.embeddings.word_embeddings.weight")) + F.embedding(tt, p("bert.embeddings.token_type_embeddings.weight"))
        x = x + F.embedding(pos, p("bert.embeddings.position_embeddings.weight"))
        x = F.layer_norm(x, (H,), p("bert.embeddings.LayerNorm.weight"), p("bert.embeddings.LayerNorm.bias"), eps)
        if P:
            past = prefix()
            mask = torch.cat([torch.ones(B, P, dtype=mask.dtype), mask], 1)
        m = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        sh = lambda t: t.view(B, T, nh, hd).permute(0, 2, 1, 3)
        for i in range(L):
            l = f"bert.encoder.layer.{i}."
            q, k, v = (sh(linear(x, l + "attention.self." + n)) for n in QKV)
            if P:
                k = torch.cat([past[:, 2 * i].permute(1, 0, 2).unsqueeze(0).expand(B, -1, -1, -1), k], 2)
                v = torch.cat([past[:, 2 * i + 1].permute(1, 0, 2).unsqueeze(0).expand(B, -1, -1, -1), v], 2)
            s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(hd) + m
            ctx = torch.matmul(torch.softmax(s, -1), v).permute(0, 2, 1, 3).reshape(B, T, H)
            a = F.layer_norm(linear(ctx, l + "attention.output.dense") + x, (H,), p(l + "attention.output.LayerNorm.weight"), p(l + "attention.output.LayerNorm.bias"), eps)
            h = F.gelu(linear(a, l + "intermediate.dense"))
            x = F.layer_norm(linear(h, l + "output.dense") + a, (H,), p(l + "output.LayerNorm.weight"), p(l + "output.LayerNorm.bias"), eps)
        if case["head"] == "sequence":
            pooled = torch.tanh(F.linear(x[:, 0], p("bert.pooler.dense.weight"), p("bert.pooler.dense.bias")))
            return F.linear(pooled, p("classifier.weight"), p("classifier.bias"))
        return F.linear(x, p("classifier.weight"), p("classifier.bias"))

    def batch(i):
        g = lambda k: batches[f"b{i}.{k}"].long()
        return g("ids"), g("mask"), g("tt"), g("labels")

    def loss_of(i):
        ids, mask, tt, labels = batch(i)
        logits = forward(ids, mask, tt)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)

    out = {}
    with torch.no_grad():
        ids, mask, tt, _ = batch(0)
        out["logits"] = forward(ids, mask, tt)
    names = sorted(params)
    decay = [params[n] for n in names if not (n.endswith("bias") or "LayerNorm" in n)]
    no_decay = [params[n] for n in names if n.endswith("bias") or "LayerNorm" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": case["weightDecay"]}, {"params": no_decay, "weight_decay": 0.0}], lr=case["lr"])
    for s, micro in enumerate(case["steps"]):
        opt.zero_grad()
        for i in micro:
            (loss_of(i) / len(micro)).backward()
        torch.nn.utils.clip_grad_norm_(list(params.values()), case["maxGradNorm"])
        if s == 0:
            for n in names:
                out["grad." + n] = params[n].grad.clone()
        opt.step()
    for n in names:
        out["after." + n] = params[n].detach().clone()
    write_safetensors(os.path.join(d, "reference.safetensors"), out)


if __name__ == "__main__":
    main()
