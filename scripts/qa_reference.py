"""Transformers' question-answering preprocessing and decoding on a saved roots model, for
test/qa-hf.test.ts: run_qa.py's prepare_train_features / prepare_validation_features (windows with
stride, start/end positions from offsets), its postprocess_qa_predictions (n-best, max answer length),
and the question-answering pipeline's decoding (select_starts_ends from Transformers, word alignment
as QuestionAnsweringPipeline.get_indices does it). Reads a JSON job, prints a JSON result.

  python qa_reference.py MODEL_DIR JOB.json
"""
import json
import sys

import numpy as np
import torch
from transformers import AutoTokenizer, BertForQuestionAnswering
from transformers.pipelines.document_question_answering import select_starts_ends

model_dir, job_path = sys.argv[1], sys.argv[2]
job = json.load(open(job_path))
tok = AutoTokenizer.from_pretrained(model_dir)
model = BertForQuestionAnswering.from_pretrained(model_dir).eval()
max_len, stride = job["maxLength"], job["docStride"]
examples = job["examples"]

# run_qa.py: questions lstripped, truncation only_second, overflowing windows with stride.
enc = tok([e["question"].lstrip() for e in examples], [e["context"] for e in examples], truncation="only_second",
          max_length=max_len, stride=stride, return_overflowing_tokens=True, return_offsets_mapping=True)
features = []
for i in range(len(enc["input_ids"])):
    ex_i = enc["overflow_to_sample_mapping"][i]
    offsets = enc["offset_mapping"][i]
    seq = enc.sequence_ids(i)
    input_ids = enc["input_ids"][i]
    cls_index = input_ids.index(tok.cls_token_id)
    ans = examples[ex_i]["answers"][0]
    start_char = ans["answer_start"]
    end_char = start_char + len(ans["text"])
    ts = 0
    while seq[ts] != 1:
        ts += 1
    te = len(input_ids) - 1
    while seq[te] != 1:
        te -= 1
    if not (offsets[ts][0] <= start_char and offsets[te][1] >= end_char):
        sp = ep = cls_index
    else:
        while ts < len(offsets) and offsets[ts][0] <= start_char:
            ts += 1
        sp = ts - 1
        while offsets[te][1] >= end_char:
            te -= 1
        ep = te + 1
    with torch.no_grad():
        out = model(input_ids=torch.tensor([input_ids]), token_type_ids=torch.tensor([enc["token_type_ids"][i]]))
    start = out.start_logits[0].numpy().astype(np.float32)
    end = out.end_logits[0].numpy().astype(np.float32)
    features.append({"example": ex_i, "inputIds": input_ids, "typeIds": enc["token_type_ids"][i], "start": sp, "end": ep,
                     "contextOffsets": [o if seq[k] == 1 else None for k, o in enumerate(offsets)],
                     "startLogits": start.tolist(), "endLogits": end.tolist(), "seq": seq, "enc": enc[i]})

# postprocess_qa_predictions (v1: no null answer), on logits with the non-context positions masked.
n_best, max_answer = job["nBest"], job["maxAnswerLength"]
predictions = {}
for ex_i, ex in enumerate(examples):
    prelim = []
    for f in features:
        if f["example"] != ex_i:
            continue
        off = f["contextOffsets"]
        sl = np.array([v if off[k] is not None else -1e4 for k, v in enumerate(f["startLogits"])], dtype=np.float32)
        el = np.array([v if off[k] is not None else -1e4 for k, v in enumerate(f["endLogits"])], dtype=np.float32)
        for s in np.argsort(sl, kind="stable")[-1: -n_best - 1: -1].tolist():
            for e in np.argsort(el, kind="stable")[-1: -n_best - 1: -1].tolist():
                if off[s] is None or off[e] is None or e < s or e - s + 1 > max_answer:
                    continue
                prelim.append({"offsets": (off[s][0], off[e][1]), "score": float(sl[s] + el[e])})
    best = sorted(prelim, key=lambda x: x["score"], reverse=True)[:n_best]
    predictions[ex["id"]] = [ex["context"][p["offsets"][0]:p["offsets"][1]] for p in best]

# The question-answering pipeline's decoding (Transformers 4.x postprocess, fast tokenizer, align_to_words).
top_k, pipe_max_answer = job["topK"], job["pipelineMaxAnswerLength"]
pipeline = {}
for ex_i, ex in enumerate(examples):
    answers = []
    min_null = 1000000
    for f in features:
        if f["example"] != ex_i:
            continue
        p_mask = np.array([[s != 1 for s in f["seq"]]])
        p_mask[0, f["inputIds"].index(tok.cls_token_id)] = 0
        attention = np.ones((1, len(f["inputIds"])), dtype=np.int64)
        starts, ends, scores, min_null = select_starts_ends(np.array([f["startLogits"]], dtype=np.float32), np.array([f["endLogits"]], dtype=np.float32),
                                                            p_mask.astype(np.int64), attention, min_null, top_k, False, pipe_max_answer)
        e = f["enc"]
        for s, t, score in zip(starts, ends, scores):
            sw, tw = e.token_to_word(int(s)), e.token_to_word(int(t))
            a = e.word_to_chars(sw, sequence_index=1)[0]
            b = e.word_to_chars(tw, sequence_index=1)[1]
            answers.append({"score": float(score), "start": a, "end": b, "answer": ex["context"][a:b]})
    pipeline[ex["id"]] = sorted(answers, key=lambda x: x["score"], reverse=True)[:top_k]

for f in features:
    del f["enc"], f["seq"], f["contextOffsets"]
print(json.dumps({"features": features, "predictions": predictions, "pipeline": pipeline}))
