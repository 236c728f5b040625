#!/usr/bin/env python3
"""PyTorch reference for relation classification (test/relation-parity.test.ts).

Marker insertion, written independently of roots: the markers [E1] [/E1] [E2] [/E2] are put into the
text at the spans' character offsets (a span that ends where the other starts is closed first), the
marked text is split into words, punctuation and markers (the test's vocabulary holds whole
lower-case words, so this is BERT's basic tokenizer there) and mapped to ids, [CLS] and [SEP] are
added, and the entity-start positions are where [E1] and [E2] landed.

The model: the BERT encoder of parity_reference.py (torch.nn modules, HF names) with the entity-start
head of Baldini Soares et al. (2019): the hidden states at [E1] and [E2], concatenated row by row in
a Python loop, into nn.Linear(2H, L); or, with relation_pooling "cls", BertForSequenceClassification's
pooler and nn.Linear(H, L). Writes the encoded ids and positions, the eval logits, the loss
(cross-entropy) and every parameter gradient of one training forward/backward.

usage: relation_reference.py CASE_DIR   (case.json: config, vocab, examples [{text, e1, e2, label}];
                                         weights.safetensors -> reference.safetensors)
"""
import json
import os
import re
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parity_reference import Bert, read_safetensors, write_safetensors  # noqa: E402


def mark(text, e1, e2):
    cuts = [(e1[0], 1, "[E1]"), (e1[1], 0, "[/E1]"), (e2[0], 1, "[E2]"), (e2[1], 0, "[/E2]")]
    out, last = [], 0
    for at, _, m in sorted(cuts):
        out.append(text[last:at])
        out.append(" " + m + " ")
        last = at
    out.append(text[last:])
    return "".join(out)


def encode(vocab, text, e1, e2):
    ids = {w: i for i, w in enumerate(vocab)}
    words = re.findall(r"\[/?E[12]\]|\w+|[^\w\s]", mark(text, e1, e2))
    toks = ["[CLS]"] + [w if w.startswith("[") else w.lower() for w in words] + ["[SEP]"]
    return [ids.get(t, ids["[UNK]"]) for t in toks], [toks.index("[E1]"), toks.index("[E2]")]


class RelationModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.entity_start = c["relation_pooling"] == "entity-start"
        self.bert = Bert(c, pooler=not self.entity_start)
        H = c["hidden_size"]
        self.classifier = nn.Linear(2 * H if self.entity_start else H, len(c["id2label"]))

    def forward(self, ids, mask, tt, positions):
        x = self.bert(ids, mask, tt)
        if self.entity_start:
            feats = torch.stack([torch.cat([x[r, positions[r][0]], x[r, positions[r][1]]]) for r in range(x.shape[0])])
        else:
            feats = self.bert.pooler(x)
        return self.classifier(feats)


def main():
    case = sys.argv[1]
    spec = json.load(open(f"{case}/case.json"))
    c = spec["config"]
    encoded = [encode(spec["vocab"], e["text"], e["e1"], e["e2"]) for e in spec["examples"]]
    T = max(len(ids) for ids, _ in encoded)
    B = len(encoded)
    ids = torch.full((B, T), c["pad_token_id"], dtype=torch.long)
    mask = torch.zeros((B, T), dtype=torch.long)
    for r, (row, _) in enumerate(encoded):
        ids[r, : len(row)] = torch.tensor(row)
        mask[r, : len(row)] = 1
    positions = [p for _, p in encoded]
    labels = torch.tensor([e["label"] for e in spec["examples"]])
    model = RelationModel(c)
    missing, unexpected = model.load_state_dict(read_safetensors(f"{case}/weights.safetensors"), strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    tt = torch.zeros_like(ids)
    out = {"ids": ids.float(), "positions": torch.tensor(positions).float()}
    model.eval()
    with torch.no_grad():
        out["logits"] = model(ids, mask, tt, positions)
    model.train()  # dropout probabilities are 0 in the test's config
    loss = F.cross_entropy(model(ids, mask, tt, positions), labels)
    loss.backward()
    out["loss"] = loss.detach().reshape(1)
    for n, p in model.named_parameters():
        out[f"grad.{n}"] = p.grad if p.grad is not None else torch.zeros_like(p)
    write_safetensors(f"{case}/reference.safetensors", out)


if __name__ == "__main__":
    main()
