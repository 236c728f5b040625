#!/usr/bin/env python3
"""PyTorch reference for the prompt-classification loss (test/prompt-loss.test.ts).

The BERT masked-LM of parity_reference.py (torch.nn modules, HF names) projects every position onto
the vocabulary, as Transformers does; the label scores are then computed as the issue states them,
with Python loops over the verbalizer's words rather than roots' padded weight matrix: at each row's
mask, a word's score is the mean log-probability of its pieces, a label's the mean of its words',
and the loss is cross-entropy over the labels. Writes the scores of an eval forward, the loss and
every parameter gradient of one training forward/backward. With a soft prompt (the weights hold
soft_prompt.embeddings, the batch soft_prompt_slots), the word embedding of every slotted token is
replaced, token by token, by its soft prompt row before the embeddings' sums and LayerNorm.

usage: prompt_reference.py CASE_DIR   (case.json: config, verbalizer [label][word][piece];
                                       weights.safetensors, batch.safetensors -> reference.safetensors)
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parity_reference import Model, read_safetensors, write_safetensors  # noqa: E402


def encode(model, b, soft):
    if soft is None:
        return model.bert(b["input_ids"], b["attention_mask"], b["token_type_ids"])
    emb = model.bert.embeddings
    w = emb.word_embeddings(b["input_ids"])
    slots = b["soft_prompt_slots"]
    w = torch.stack([
        torch.stack([soft[int(slots[r, t])] if int(slots[r, t]) >= 0 else w[r, t] for t in range(w.shape[1])])
        for r in range(w.shape[0])
    ])
    pos = torch.arange(w.shape[1]).unsqueeze(0)
    x = emb.dropout(emb.LayerNorm(w + emb.token_type_embeddings(b["token_type_ids"]) + emb.position_embeddings(pos)))
    m = (1.0 - b["attention_mask"][:, None, None, :].float()) * torch.finfo(torch.float32).min
    for layer in model.bert.encoder.layer:
        x = layer(x, m)
    return x


def label_scores(model, b, verbalizer, soft=None):
    x = encode(model, b, soft)
    t = model.cls.predictions.transform
    y = t.LayerNorm(F.gelu(t.dense(x)))
    logits = F.linear(y, model.bert.embeddings.word_embeddings.weight, model.cls.predictions.bias)  # [B, T, V]
    rows = []
    for r in range(logits.shape[0]):
        logp = F.log_softmax(logits[r, int(b["mask_positions"][r])], dim=-1)
        rows.append(torch.stack([
            torch.stack([torch.stack([logp[p] for p in word]).mean() for word in words]).mean()
            for words in verbalizer
        ]))
    return torch.stack(rows)  # [B, C]


def main():
    case = sys.argv[1]
    spec = json.load(open(f"{case}/case.json"))
    model = Model(spec["config"])
    weights = read_safetensors(f"{case}/weights.safetensors")
    soft = torch.nn.Parameter(weights.pop("soft_prompt.embeddings")) if "soft_prompt.embeddings" in weights else None
    missing, unexpected = model.load_state_dict(weights, strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    b = {k: v.long() for k, v in read_safetensors(f"{case}/batch.safetensors").items()}
    out = {}
    model.eval()
    with torch.no_grad():
        out["forward.scores"] = label_scores(model, b, spec["verbalizer"], soft)
    model.train()  # dropout probabilities are 0 in the test's config
    scores = label_scores(model, b, spec["verbalizer"], soft)
    loss = F.cross_entropy(scores, b["labels"], ignore_index=-100)
    loss.backward()
    out["loss"] = loss.detach().reshape(1)
    for n, p in model.named_parameters():
        out[f"grad.{n}"] = p.grad if p.grad is not None else torch.zeros_like(p)
    if soft is not None:
        out["grad.soft_prompt.embeddings"] = soft.grad
    write_safetensors(f"{case}/reference.safetensors", out)


if __name__ == "__main__":
    main()
