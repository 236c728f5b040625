#!/usr/bin/env python3
"""Generates test/fixtures/bert-pretraining/: a tiny, randomly initialised Transformers
BertForPreTraining checkpoint (MLM head + next-sentence head + pooler), its tokenizer, and what
Transformers computes from it, for test/fill-mask.test.ts:
- expected.json: BertForMaskedLM.from_pretrained's unexpected keys, its MLM logits on fixed inputs,
  and Transformers' fill-mask pipeline output on a few texts.

Usage: python3 scripts/gen-bert-pretraining-fixture.py [OUT_DIR]   (needs torch and transformers)
"""
import json
import os
import sys

import torch
from transformers import BertConfig, BertForMaskedLM, BertForPreTraining, BertTokenizerFast, pipeline


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "bert-pretraining")
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    words = ["the", "a", "cat", "dog", "sat", "ran", "on", "mat", "far", "home", "##s", "##ing", "."]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words
    with open(os.path.join(out, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab) + "\n")
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=32, max_position_embeddings=16)
    model = BertForPreTraining(cfg).eval()
    # Larger weights than the initialiser's, so the predictions are far from uniform.
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(8.0)
    model.save_pretrained(out)
    BertTokenizerFast(os.path.join(out, "vocab.txt"), do_lower_case=True).save_pretrained(out)

    mlm, info = BertForMaskedLM.from_pretrained(out, output_loading_info=True)
    mlm.eval()
    ids = [[2, 5, 4, 9, 17, 3], [2, 6, 8, 4, 4, 3]]
    with torch.no_grad():
        logits = mlm(input_ids=torch.tensor(ids)).logits
    texts = ["the [MASK] sat on the mat .", "a dog [MASK] [MASK] ."]
    fill = pipeline("fill-mask", model=out, device="cpu")
    expected = {
        "generator": "scripts/gen-bert-pretraining-fixture.py",
        "unexpected_keys": sorted(info["unexpected_keys"]),
        "missing_keys": sorted(info["missing_keys"]),
        "input_ids": ids,
        "logits": [round(x, 6) for x in logits.flatten().tolist()],
        "fill_mask": {"texts": texts, "top_k": 3, "results": [fill(t, top_k=3) for t in texts]},
    }
    for r in expected["fill_mask"]["results"]:
        for item in (r if isinstance(r[0], dict) else [x for row in r for x in row]):
            item["score"] = round(item["score"], 7)
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    for name in ("special_tokens_map.json",):
        path = os.path.join(out, name)
        if os.path.exists(path):
            os.remove(path)
    print(sorted(os.listdir(out)))


if __name__ == "__main__":
    main()
