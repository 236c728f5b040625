#!/usr/bin/env python3
"""The Hugging Face Transformers side of the GPU parity tests (test/gpu.test.ts).

For each case the test wrote (a model folder roots saved, a batch), loads the folder with
Transformers' from_pretrained and computes, on the same batch:
  fp32 (TF32 off, eager attention): eval logits and loss; train-mode loss and every gradient;
  bf16 (autocast, sdpa attention, fp32 weights): the same.
Then builds a fresh Transformers model, saves it with save_pretrained (for roots to load) and
records its fp32 logits on the token batch.

usage: hf_parity.py CASE_DIR   reads CASE_DIR/case.json and the files it names; writes
                               CASE_DIR/hf.safetensors and prints one JSON line (versions, loading
                               reports, attention implementations)
Exit status 3: Transformers is not installed.
"""
import json
import os
import sys

import torch

sys.dont_write_bytecode = True  # no __pycache__ left in the repository
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from parity_reference import read_safetensors, write_safetensors  # noqa: E402

try:
    import transformers
except ImportError as e:  # the caller reports it as a skip
    print(json.dumps({"error": f"transformers is not installed: {e}"}))
    sys.exit(3)


def tf32_off():
    """fp32 parity needs true fp32 matrix products (TF32 rounds inputs to 10 mantissa bits)."""
    torch.set_float32_matmul_precision("highest")
    for setter in (lambda: setattr(torch.backends.cuda.matmul, "allow_tf32", False),
                   lambda: setattr(torch.backends.cudnn, "allow_tf32", False)):
        try:
            setter()
        except Exception:  # newer PyTorch may prefer fp32_precision; "highest" above already covers matmul
            pass


def load(arch, model_dir, attn, device):
    cls = getattr(transformers, arch)
    info = {}
    try:
        model, info = cls.from_pretrained(model_dir, attn_implementation=attn, output_loading_info=True)
    except TypeError:
        model = cls.from_pretrained(model_dir, attn_implementation=attn)
    report = {k: [str(x) for x in v] for k, v in dict(info).items() if isinstance(v, (list, set, tuple))}
    used = getattr(model.config, "_attn_implementation", attn)
    return model.float().to(device), report, used


def batch_on(raw, device):
    return {k: v.long().to(device) for k, v in raw.items()}


def run(model, b, device, bf16):
    """Eval logits/loss, then one train-mode forward/backward; returns CPU float tensors."""
    kinds = {"input_ids", "attention_mask", "token_type_ids"}
    inputs = {k: v for k, v in b.items() if k in kinds}
    dev_type = "cuda" if str(device).startswith("cuda") else "cpu"
    model.eval()
    with torch.no_grad(), torch.autocast(dev_type, dtype=torch.bfloat16, enabled=bf16):
        out = model(**inputs, labels=b["labels"])
    res = {"logits": out.logits.float().cpu(), "loss": out.loss.float().reshape(1).cpu()}
    model.train()  # dropout probabilities are 0 in the parity configs
    model.zero_grad(set_to_none=True)
    with torch.autocast(dev_type, dtype=torch.bfloat16, enabled=bf16):
        out = model(**inputs, labels=b["labels"])
    out.loss.backward()
    res["train_loss"] = out.loss.detach().float().reshape(1).cpu()
    for n, p in model.named_parameters():
        if p.grad is not None:
            res[f"grad.{n}"] = p.grad.detach().float().cpu()
    model.zero_grad(set_to_none=True)
    return res


def main():
    case_dir = sys.argv[1]
    spec = json.load(open(os.path.join(case_dir, "case.json")))
    device = spec.get("device", "cuda")
    tf32_off()
    torch.manual_seed(0)
    out, meta = {}, {"cases": {}}
    for c in spec["cases"]:
        b = batch_on(read_safetensors(c["batch"]), device)
        m = {}
        for mode, attn, bf16 in (("fp32", "eager", False), ("bf16", "sdpa", True)):
            model, report, used = load(c["arch"], c["model_dir"], attn, device)
            for k, v in run(model, b, device, bf16).items():
                out[f"{c['name']}.{mode}.{k}"] = v
            m[mode] = {"attn_implementation": used, "loading": report}
            del model
        meta["cases"][c["name"]] = m

    h = spec.get("hf_saved")
    if h:
        cls = getattr(transformers, h["arch"])
        labels = h["labels"]
        cfg = transformers.BertConfig(**h["config"], id2label={i: l for i, l in enumerate(labels)},
                                      label2id={l: i for i, l in enumerate(labels)})
        torch.manual_seed(h.get("seed", 0))
        model = cls(cfg)
        model.save_pretrained(h["out_dir"])
        model = model.float().to(device).eval()
        b = batch_on(read_safetensors(h["batch"]), device)
        with torch.no_grad():
            o = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"], token_type_ids=b["token_type_ids"])
        out["hfsaved.logits"] = o.logits.float().cpu()
        meta["hf_saved"] = {"files": sorted(os.listdir(h["out_dir"]))}

    write_safetensors(os.path.join(case_dir, "hf.safetensors"), out)
    meta["versions"] = {
        "torch": torch.__version__, "transformers": transformers.__version__, "cuda": torch.version.cuda,
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
    }
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
