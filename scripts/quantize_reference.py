#!/usr/bin/env python3
"""int8 reference for test/quantize.test.ts: PyTorch's own dynamic quantisation of the independent
torch.nn BERT (parity_reference.Model) with the weights of an fp32 model folder.

torch.ao.quantization.quantize_dynamic with per_channel_dynamic_qconfig on the encoder's linear layers
(query, key, value, attention.output.dense, intermediate.dense, output.dense of every layer), the
heads and embeddings left fp32, as roots quantizes. Writes the eval-mode logits of the batches, and
for every quantized module its int8 weight (as float) and per-channel scales under roots' checkpoint
names (<module>.weight, <module>.weight_scale). Tests only.

usage: quantize_reference.py MODEL_DIR HEAD BATCHES_SAFETENSORS OUT_SAFETENSORS ENGINE
"""
import json
import os
import re
import sys

import torch
from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

sys.path.insert(0, os.path.dirname(__file__))
from parity_reference import Model, read_safetensors, write_safetensors  # noqa: E402

MODULES = re.compile(r"^bert\.encoder\.layer\.\d+\.(attention\.self\.(query|key|value)|attention\.output\.dense|intermediate\.dense|output\.dense)$")


def main():
    model_dir, head, batches, out, engine = sys.argv[1:6]
    torch.backends.quantized.engine = engine  # the engine that packs the weights, as roots was told
    c = json.load(open(os.path.join(model_dir, "config.json")))
    c["head"] = head
    sd = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    m = Model(c)
    m.load_state_dict({k: v for k, v in sd.items() if not k.endswith("position_ids")}, strict=True)
    m.eval()
    names = [n for n, mod in m.named_modules() if isinstance(mod, torch.nn.Linear) and MODULES.match(n)]
    q = quantize_dynamic(m, {n: per_channel_dynamic_qconfig for n in names}, dtype=torch.qint8)
    b = {k: v.long() for k, v in read_safetensors(batches).items()}
    with torch.no_grad():
        x = q.bert(b["input_ids"], b["attention_mask"], b["token_type_ids"])
        logits = q.classifier(x) if head == "token" else q.classifier(q.bert.pooler(x))
    res = {"logits": logits}
    mods = dict(q.named_modules())
    for n in names:
        w = mods[n].weight()
        assert w.qscheme() == torch.per_channel_symmetric or w.qscheme() == torch.per_channel_affine, w.qscheme()
        res[n + ".weight"] = w.int_repr().float()
        res[n + ".weight_scale"] = w.q_per_channel_scales().float()
    write_safetensors(out, res)


if __name__ == "__main__":
    main()
