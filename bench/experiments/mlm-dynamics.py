"""Transformers' side of bench/experiments/mlm-dynamics.ts (see there): BertForMaskedLM from the same
initial weights, trained on the batches roots wrote, with the same AdamW (decay off for biases and
LayerNorm), schedule and clipping.

  python bench/experiments/mlm-dynamics.py OUT STEPS LR [BATCH] [SEQ]
  python bench/experiments/mlm-dynamics.py --compare OUT
"""
import json
import os
import sys
import time


def compare(d, w=50):
    def losses(name):
        with open(os.path.join(d, name)) as f:
            return [json.loads(line)['loss'] for line in f if line.strip()]
    r, h = losses('loss.jsonl'), losses('hf-loss.jsonl')
    n = min(len(r), len(h))
    print('| steps | roots | Transformers | difference |\n| --- | --- | --- | --- |')
    for s in range(0, n - w + 1, w):
        a, b = sum(r[s:s + w]) / w, sum(h[s:s + w]) / w
        print(f'| {s}-{s + w} | {a:.4f} | {b:.4f} | {a - b:+.4f} |')


def train(d, steps, lr, batch, seq):
    import numpy as np
    import torch
    from transformers import BertForMaskedLM
    torch.manual_seed(0)
    m = BertForMaskedLM.from_pretrained(os.path.join(d, 'init'), attn_implementation='eager')
    m.train()
    no_decay = lambda n: n.endswith('bias') or 'LayerNorm' in n
    groups = [{'params': [p for n, p in m.named_parameters() if not no_decay(n)], 'weight_decay': 0.01},
              {'params': [p for n, p in m.named_parameters() if no_decay(n)], 'weight_decay': 0.0}]
    opt = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.999), eps=1e-8)
    warm = round(steps * 0.06)
    per = batch * seq * 4 * 3
    path = os.path.join(d, 'batches.bin')
    with open(path, 'rb') as f, open(os.path.join(d, 'hf-loss.jsonl'), 'w') as out:
        for s in range(steps):
            while os.path.getsize(path) < (s + 1) * per:
                time.sleep(1)
            f.seek(s * per)
            ids, mask, labels = (torch.from_numpy(a.astype(np.int64)) for a in np.frombuffer(f.read(per), dtype=np.int32).reshape(3, batch, seq))
            rate = lr * (s + 1) / warm if s < warm else lr * max(0, (steps - s) / (steps - warm))
            for g in opt.param_groups:
                g['lr'] = rate
            opt.zero_grad()
            loss = m(input_ids=ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            opt.step()
            out.write(json.dumps({'step': s, 'loss': loss.item(), 'grad': norm.item()}) + '\n')
            out.flush()


if __name__ == '__main__':
    if sys.argv[1] == '--compare':
        compare(sys.argv[2])
    else:
        a = sys.argv[1:]
        train(a[0], int(a[1]), float(a[2]), int(a[3]) if len(a) > 3 else 32, int(a[4]) if len(a) > 4 else 128)
