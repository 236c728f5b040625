#!/usr/bin/env python3
"""Independent PyTorch reference for test/continual-ewc.test.ts (Debian's python3-torch).

The model of parity_reference.py (torch.nn modules, Hugging Face's names). Computes:
  - the empirical diagonal Fisher: the mean over batches of the squared gradient of each batch's
    mean loss, at weights w0 (eval mode);
  - one step's loss and every gradient at weights w2 with, through autograd:
      task loss + LwF  weight * T^2 * KL(softmax(teacher/T) || softmax(student[..., :L_old]/T))
                       (mean over labelled tokens / rows)
                + EWC  lambda * sum F (theta - w0)^2
                + L2-SP alpha / 2 * ||theta - w1||^2

usage: continual_reference.py CASE_DIR   (case.json, w0/w1/w2.safetensors, batches.safetensors;
                                          writes reference.safetensors)
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parity_reference import Model, read_safetensors, write_safetensors  # noqa: E402


def main():
    case = sys.argv[1]
    spec = json.load(open(f"{case}/case.json"))
    c = spec["config"]
    model = Model(c)
    raw = read_safetensors(f"{case}/batches.safetensors")

    def batch(i):
        pre = f"b{i}."
        return {k[len(pre):]: v.long() for k, v in raw.items() if k.startswith(pre)}

    def load(name):
        missing, unexpected = model.load_state_dict(read_safetensors(f"{case}/{name}.safetensors"), strict=False)
        assert not missing and not unexpected, (missing, unexpected)

    out = {}
    load("w0")
    model.eval()
    fisher = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    for i in spec["fisher_batches"]:
        model.zero_grad()
        _, loss = model(batch(i))
        loss.backward()
        for n, p in model.named_parameters():
            fisher[n] += p.grad.detach() ** 2
    for n in fisher:
        fisher[n] /= len(spec["fisher_batches"])
        out[f"fisher.{n}"] = fisher[n]
    anchor = {n: p.detach().clone() for n, p in model.named_parameters()}
    load("w1")
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    load("w2")

    lam, alpha, T, w, L = spec["ewc_lambda"], spec["l2sp_alpha"], spec["temperature"], spec["distill_weight"], spec["old_labels"]
    b = batch(spec["step_batch"])
    teacher = raw["teacher_logits"].float()
    model.zero_grad()
    logits, task = model(b)
    s = logits[..., :L].reshape(-1, L)
    t = teacher.reshape(-1, L)
    kl = (F.softmax(t / T, -1) * (F.log_softmax(t / T, -1) - F.log_softmax(s / T, -1))).sum(-1)
    if logits.dim() == 3:
        m = (b["labels"].reshape(-1) != -100).float()
        distill = (kl * m).sum() / m.sum()
    else:
        distill = kl.mean()
    ewc = sum((fisher[n] * (p - anchor[n]) ** 2).sum() for n, p in model.named_parameters())
    l2sp = sum(((p - start[n]) ** 2).sum() for n, p in model.named_parameters())
    total = task + w * T * T * distill + lam * ewc + alpha / 2 * l2sp
    total.backward()
    out["step.loss"] = total.detach().reshape(1)
    out["step.task"] = task.detach().reshape(1)
    for n, p in model.named_parameters():
        out[f"grad.{n}"] = p.grad
    write_safetensors(f"{case}/reference.safetensors", out)


if __name__ == "__main__":
    main()
