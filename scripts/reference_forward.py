#!/usr/bin/env python3
"""Eval-mode logits of a Hugging Face BERT folder computed by the independent PyTorch reference
(parity_reference.Model). Reads weights with torch.load (pytorch_model.bin) or the safetensors
reader, so it checks our own checkpoint readers too. Tests only.

usage: reference_forward.py MODEL_DIR HEAD BATCHES_SAFETENSORS OUT_SAFETENSORS
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from parity_reference import Model, read_safetensors, write_safetensors  # noqa: E402


def main():
    model_dir, head, batches, out = sys.argv[1:5]
    c = json.load(open(os.path.join(model_dir, "config.json")))
    c["head"] = head
    bin_path = os.path.join(model_dir, "pytorch_model.bin")
    if os.path.exists(bin_path):
        sd = torch.load(bin_path, map_location="cpu")
    else:
        sd = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    sd = {k: v for k, v in sd.items() if not k.endswith("position_ids")}
    m = Model(c)
    m.load_state_dict(sd, strict=True)
    m.eval()
    b = {k: v.long() for k, v in read_safetensors(batches).items()}
    with torch.no_grad():
        x = m.bert(b["input_ids"], b["attention_mask"], b["token_type_ids"])
        logits = m.classifier(x) if head == "token" else m.classifier(m.bert.pooler(x))
    write_safetensors(out, {"logits": logits})


if __name__ == "__main__":
    main()
