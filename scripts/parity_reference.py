#!/usr/bin/env python3
"""Independent PyTorch reference for the engine parity tests (test/engine-parity.test.ts).

Builds BERT from PyTorch's own modules (nn.Embedding, nn.Linear, nn.LayerNorm, F.gelu, separate
query/key/value projections, HF's module tree and names), loads the weights roots saved, runs the
batches the test wrote, and writes: logits, loss, every parameter gradient of the first step, and
the weights after N AdamW steps (torch.optim.AdamW, clip_grad_norm_, gradient accumulation over
micro-batches). Used by tests only; never by the product.

usage: parity_reference.py CASE_DIR   (reads case.json, weights.safetensors, batches.safetensors;
                                       writes reference.safetensors)
"""
import json
import math
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    out = {}
    base = 8 + n
    dtypes = {"F32": torch.float32, "I32": torch.int32, "I64": torch.int64}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, en = e["data_offsets"]
        t = torch.frombuffer(bytearray(data[base + b : base + en]), dtype=dtypes[e["dtype"]]) if en > b else torch.empty(0, dtype=dtypes[e["dtype"]])
        out[name] = t.reshape(e["shape"]).clone()
    return out


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().to(torch.float32).contiguous()
        b = t.numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


class Embeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c["vocab_size"], c["hidden_size"], padding_idx=c["pad_token_id"])
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], c["hidden_size"])
        self.token_type_embeddings = nn.Embedding(c["type_vocab_size"], c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.dropout = nn.Dropout(c.get("hidden_dropout_prob", 0.0))

    def forward(self, ids, tt):
        pos = torch.arange(ids.shape[1]).unsqueeze(0)
        x = self.word_embeddings(ids) + self.token_type_embeddings(tt)
        x = x + self.position_embeddings(pos)
        return self.dropout(self.LayerNorm(x))


class SelfAttn(nn.Module):
    def __init__(self, c):
        super().__init__()
        H = c["hidden_size"]
        self.nh, self.hd = c["num_attention_heads"], H // c["num_attention_heads"]
        self.query, self.key, self.value = nn.Linear(H, H), nn.Linear(H, H), nn.Linear(H, H)
        self.dropout = nn.Dropout(c.get("attention_probs_dropout_prob", 0.0))

    def forward(self, x, mask):
        B, T, H = x.shape
        sh = lambda t: t.view(B, T, self.nh, self.hd).permute(0, 2, 1, 3)
        q, k, v = sh(self.query(x)), sh(self.key(x)), sh(self.value(x))
        s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.hd) + mask
        p = self.dropout(torch.softmax(s, dim=-1))
        return torch.matmul(p, v).permute(0, 2, 1, 3).reshape(B, T, H)


class DenseLN(nn.Module):
    def __init__(self, i, o, eps, p=0.0):
        super().__init__()
        self.dense = nn.Linear(i, o)
        self.LayerNorm = nn.LayerNorm(o, eps=eps)
        self.dropout = nn.Dropout(p)

    def forward(self, h, res):
        return self.LayerNorm(self.dropout(self.dense(h)) + res)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        setattr(self, "self", SelfAttn(c))
        self.output = DenseLN(c["hidden_size"], c["hidden_size"], c["layer_norm_eps"], c.get("hidden_dropout_prob", 0.0))

    def forward(self, x, mask):
        return self.output(getattr(self, "self")(x, mask), x)


class Intermediate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["intermediate_size"])

    def forward(self, x):
        return F.gelu(self.dense(x))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = Attention(c)
        self.intermediate = Intermediate(c)
        self.output = DenseLN(c["intermediate_size"], c["hidden_size"], c["layer_norm_eps"], c.get("hidden_dropout_prob", 0.0))

    def forward(self, x, mask):
        a = self.attention(x, mask)
        return self.output(self.intermediate(a), a)


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([Layer(c) for _ in range(c["num_hidden_layers"])])


class Pooler(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["hidden_size"])

    def forward(self, x):
        return torch.tanh(self.dense(x[:, 0]))


class Bert(nn.Module):
    def __init__(self, c, pooler):
        super().__init__()
        self.embeddings = Embeddings(c)
        self.encoder = Encoder(c)
        if pooler:
            self.pooler = Pooler(c)

    def forward(self, ids, mask, tt):
        x = self.embeddings(ids, tt)
        m = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for layer in self.encoder.layer:
            x = layer(x, m)
        return x


class Transform(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])


class Predictions(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.transform = Transform(c)
        self.bias = nn.Parameter(torch.zeros(c["vocab_size"]))


class Cls(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.predictions = Predictions(c)


def label_count(c, key="id2label"):
    """The number of labels as config.json states it: id2label's size, else num_labels."""
    if c.get(key):
        return len(c[key])
    if key == "id2label" and "num_labels" in c:
        return c["num_labels"]
    raise ValueError(f"config has no {key}")


class Model(nn.Module):
    """c: a config.json (Hugging Face's names) plus "head"."""

    def __init__(self, c):
        super().__init__()
        self.c, self.head = c, c["head"]
        H = c["hidden_size"]
        self.drop = nn.Dropout(c.get("hidden_dropout_prob", 0.0))
        self.bert = Bert(c, pooler=self.head in ("sequence", "intent-slots", "base"))
        if self.head in ("token", "sequence"):
            self.classifier = nn.Linear(H, label_count(c))
        elif self.head == "mlm":
            self.cls = Cls(c)
        elif self.head == "qa":
            self.qa_outputs = nn.Linear(H, 2)
        elif self.head == "intent-slots":
            self.intent_classifier = nn.Linear(H, label_count(c))
            self.slot_classifier = nn.Linear(H, label_count(c, "slot_id2label"))

    def forward(self, b):
        x = self.bert(b["input_ids"], b["attention_mask"], b["token_type_ids"])
        c, h = self.c, self.head
        if h == "token":
            logits = self.classifier(self.drop(x))
            return logits, F.cross_entropy(logits.view(-1, label_count(c)), b["labels"].view(-1), ignore_index=-100)
        if h == "sequence":
            logits = self.classifier(self.drop(self.bert.pooler(x)))
            return logits, F.cross_entropy(logits, b["labels"].view(-1))
        if h == "mlm":
            t = self.cls.predictions.transform
            y = t.LayerNorm(F.gelu(t.dense(x)))
            logits = F.linear(y, self.bert.embeddings.word_embeddings.weight, self.cls.predictions.bias)
            return logits, F.cross_entropy(logits.view(-1, c["vocab_size"]), b["labels"].view(-1), ignore_index=-100)
        if h == "qa":
            lg = self.qa_outputs(x)
            s, e = lg[..., 0], lg[..., 1]
            T = s.shape[1]
            ls = F.cross_entropy(s, b["start_positions"].view(-1).clamp(0, T), ignore_index=T)
            le = F.cross_entropy(e, b["end_positions"].view(-1).clamp(0, T), ignore_index=T)
            return s, (ls + le) / 2
        if h == "intent-slots":
            il = self.intent_classifier(self.drop(self.bert.pooler(x)))
            sl = self.slot_classifier(self.drop(x))
            loss = F.cross_entropy(il, b["labels"].view(-1)) + c.get("slot_loss_weight", 1.0) * F.cross_entropy(
                sl.reshape(-1, label_count(c, "slot_id2label")), b["slot_labels"].view(-1), ignore_index=-100)
            return il, loss
        raise ValueError(h)


def main():
    case = sys.argv[1]
    spec = json.load(open(f"{case}/case.json"))
    c = spec["config"]
    torch.manual_seed(0)
    model = Model(c)
    weights = read_safetensors(f"{case}/weights.safetensors")
    missing, unexpected = model.load_state_dict(weights, strict=False)
    assert not unexpected, unexpected
    assert not missing, missing
    raw = read_safetensors(f"{case}/batches.safetensors")

    def batch(i):
        pre = f"b{i}."
        return {k[len(pre):]: v.long() for k, v in raw.items() if k.startswith(pre)}

    out = {}
    model.eval()
    with torch.no_grad():
        logits, loss = model(batch(0))
    out["forward.logits"] = logits
    out["forward.loss"] = loss.reshape(1)

    decay = [p for n, p in model.named_parameters() if not (n.endswith("bias") or "LayerNorm.weight" in n)]
    nodecay = [p for n, p in model.named_parameters() if n.endswith("bias") or "LayerNorm.weight" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": spec["weight_decay"]}, {"params": nodecay, "weight_decay": 0.0}],
                            lr=spec["lr"], betas=(0.9, 0.999), eps=1e-8)
    model.train()  # dropout probabilities are 0 in parity configs
    for step, micro in enumerate(spec["steps"]):
        opt.zero_grad()
        total = 0.0
        for i in micro:
            _, l = model(batch(i))
            (l / len(micro)).backward()
            total += l.item() / len(micro)
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), spec["max_grad_norm"])
        out[f"step{step}.loss"] = torch.tensor([total])
        out[f"step{step}.grad_norm"] = torch.tensor([float(norm)])
        if step == 0:
            for n, p in model.named_parameters():
                out[f"grad.{n}"] = p.grad.clone()
        opt.step()
    for n, p in model.named_parameters():
        out[f"final.{n}"] = p
    write_safetensors(f"{case}/reference.safetensors", out)


if __name__ == "__main__":
    main()
