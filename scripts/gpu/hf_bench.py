#!/usr/bin/env python3
"""The Hugging Face Transformers side of bench/gpu.bench.ts, written as Transformers' docs recommend
for GPU training: BertForTokenClassification built with attn_implementation="sdpa", fp32 weights,
bf16 autocast, torch.optim.AdamW(fused=True) with decay / no-decay groups (the Trainer's grouping),
clip_grad_norm_(1.0), zero_grad(set_to_none=True), batches from pinned host memory copied with
non_blocking=True. No per-step host synchronisation (the strongest form of the loop).

usage: hf_bench.py --matmul [--device cuda] [--n 8192]
           the bf16 (and fp32) matrix-multiply rate of this device in TFLOP/s (one JSON line)
       hf_bench.py SPEC.json
           trains the rows of the spec and prints one JSON line: {"rows": [...], "versions": {...}}
spec: {"device": "cuda", "config": {BertConfig fields}, "num_labels": 9, "lr": 5e-5, "weight_decay": 0.01,
       "max_grad_norm": 1.0, "rows": [
         {"name", "kind": "fixed", "batch": 32, "seq": 128, "warmup": 5, "steps": 30},
         {"name", "kind": "lengths", "lengths_file": path, "batch": 32, "pad_multiple": 8, "warmup": 10,
          "max_batches": null, "seed": 1}]}
A "lengths" row trains one epoch over sentences of the given token lengths in random order, each
batch padded to its longest row (rounded up to pad_multiple), as DataCollatorForTokenClassification
does; the ids and labels are random (the lengths are what the speed depends on).
Exit status 3: Transformers is not installed.
"""
import json
import sys
import time

import torch


def sync(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def matmul_rate(device, n):
    out = {"device": str(device), "n": n}
    if str(device).startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = False
    for name, dt in (("bf16", torch.bfloat16), ("fp32", torch.float32)):
        a = torch.randn(n, n, dtype=dt, device=device)
        b = torch.randn(n, n, dtype=dt, device=device)
        for _ in range(3):
            torch.mm(a, b)
        sync(device)
        reps = 20 if str(device).startswith("cuda") else 3
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            torch.mm(a, b)
            sync(device)
            times.append(time.perf_counter() - t)
        times.sort()
        out[f"{name}_tflops"] = 2 * n ** 3 / times[len(times) // 2] / 1e12
    return out


def make_model(spec, device):
    import transformers
    cfg = transformers.BertConfig(**spec["config"], num_labels=spec["num_labels"])
    model = transformers.AutoModelForTokenClassification.from_config(cfg, attn_implementation="sdpa")
    model = model.to(device).train()
    no_decay = [p for n, p in model.named_parameters() if n.endswith("bias") or "LayerNorm.weight" in n]
    decay = [p for n, p in model.named_parameters() if not (n.endswith("bias") or "LayerNorm.weight" in n)]
    kw = {"fused": True} if str(device).startswith("cuda") else {}
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": spec.get("weight_decay", 0.01)},
                             {"params": no_decay, "weight_decay": 0.0}], lr=spec.get("lr", 5e-5), **kw)
    return model, opt, getattr(model.config, "_attn_implementation", "?")


def fixed_batches(spec, row, gen, pin):
    B, T, V, L = row["batch"], row["seq"], spec["config"]["vocab_size"], spec["num_labels"]
    b = {
        "input_ids": torch.randint(1, V, (B, T), generator=gen),
        "attention_mask": torch.ones(B, T, dtype=torch.long),
        "token_type_ids": torch.zeros(B, T, dtype=torch.long),
        "labels": torch.randint(0, L, (B, T), generator=gen),
    }
    if pin:
        b = {k: v.pin_memory() for k, v in b.items()}
    return [b]


def length_batches(spec, row, gen, pin):
    lengths = json.load(open(row["lengths_file"]))["lengths"]
    V, L, B, mult = spec["config"]["vocab_size"], spec["num_labels"], row["batch"], row.get("pad_multiple", 1)
    order = torch.randperm(len(lengths), generator=gen).tolist()
    batches = []
    for k in range(0, len(order), B):
        rows = [lengths[i] for i in order[k:k + B]]
        T = max(rows)
        T = -(-T // mult) * mult
        ids = torch.zeros(len(rows), T, dtype=torch.long)
        mask = torch.zeros(len(rows), T, dtype=torch.long)
        labels = torch.full((len(rows), T), -100, dtype=torch.long)
        for r, n in enumerate(rows):
            ids[r, :n] = torch.randint(1, V, (n,), generator=gen)
            mask[r, :n] = 1
            labels[r, :n] = torch.randint(0, L, (n,), generator=gen)
        b = {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids), "labels": labels}
        batches.append({k: v.pin_memory() for k, v in b.items()} if pin else b)
    if row.get("max_batches"):
        batches = batches[: row["max_batches"]]
    return batches


def train(model, opt, batches, device, max_norm):
    dev_type = "cuda" if str(device).startswith("cuda") else "cpu"
    loss = None
    for b in batches:
        b = {k: v.to(device, non_blocking=True) for k, v in b.items()}
        with torch.autocast(dev_type, dtype=torch.bfloat16):
            out = model(**b)
        loss = out.loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        opt.step()
        opt.zero_grad(set_to_none=True)
    return loss


def run_row(spec, row, model, opt, device):
    cuda = str(device).startswith("cuda")
    gen = torch.Generator().manual_seed(row.get("seed", 1))
    if row["kind"] == "fixed":
        batches = fixed_batches(spec, row, gen, cuda)
        warm = batches * row["warmup"]
        timed = batches * row["steps"]
    else:
        batches = length_batches(spec, row, gen, cuda)
        warm = batches[: row.get("warmup", 10)]
        timed = batches
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    train(model, opt, warm, device, spec.get("max_grad_norm", 1.0))
    sync(device)
    t = time.perf_counter()
    loss = train(model, opt, timed, device, spec.get("max_grad_norm", 1.0))
    sync(device)
    seconds = time.perf_counter() - t
    lens = [int(n) for b in timed for n in b["attention_mask"].sum(1).tolist()]
    return {
        "name": row["name"], "steps": len(timed), "samples": len(lens), "seconds": seconds,
        "sum_len": sum(lens), "sum_len2": sum(n * n for n in lens),
        "padded_tokens": sum(b["input_ids"].numel() for b in timed),
        "peak_allocated": torch.cuda.max_memory_allocated() if cuda else None,
        "peak_reserved": torch.cuda.max_memory_reserved() if cuda else None,
        "loss": float(loss.detach()) if loss is not None else None,
    }


def main():
    if sys.argv[1] == "--matmul":
        args = dict(zip(sys.argv[2::2], sys.argv[3::2]))
        device = args.get("--device", "cuda" if torch.cuda.is_available() else "cpu")
        print(json.dumps(matmul_rate(device, int(args.get("--n", 8192)))))
        return
    try:
        import transformers
    except ImportError as e:
        print(json.dumps({"error": f"transformers is not installed: {e}"}))
        sys.exit(3)
    spec = json.load(open(sys.argv[1]))
    device = spec.get("device", "cuda")
    torch.manual_seed(0)
    model, opt, attn = make_model(spec, device)
    rows = []
    for row in spec["rows"]:
        r = run_row(spec, row, model, opt, device)
        r["attn_implementation"] = attn
        rows.append(r)
        print(f"hf {r['name']}: {r['samples'] / r['seconds']:.1f} samples/s", file=sys.stderr)
    print(json.dumps({"rows": rows, "versions": {
        "torch": torch.__version__, "transformers": transformers.__version__, "cuda": torch.version.cuda,
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"}}))


if __name__ == "__main__":
    main()
