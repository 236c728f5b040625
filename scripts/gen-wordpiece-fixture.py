#!/usr/bin/env python3
"""Generates test/fixtures/wordpiece/: a small synthetic corpus and the vocabularies Hugging Face's
WordPieceTrainer (the `tokenizers` package) learns from it under several option sets, for
test/wordpiece-trainer.test.ts. The corpus is made here from a seeded generator (Zipf-distributed
words of random syllables, with accents, CJK ideographs, punctuation and digits), so nothing real is
copied into the repo.

HF's trainer gives the `##c` tokens ids in hash-map order, which changes from run to run, and
merges of equal count are taken in id order, so two HF runs can learn different vocabularies. The
fixture stores one run's whole vocabulary in id order; the test passes that run's `##c` order to our
trainer (`continuationOrder`) and must then reproduce it token for token. A configuration whose
alphabet (limit_alphabet's cut among equally frequent characters) changes between runs is refused.

Usage: python3 scripts/gen-wordpiece-fixture.py [OUT_DIR]   (needs `pip install tokenizers`)
"""
import json
import os
import random
import sys

from tokenizers import Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import WordPiece
from tokenizers.trainers import WordPieceTrainer

RUNS = 5
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
CONFIGS = {
    # name: (normalizer options, trainer options)
    "uncased": (dict(lowercase=True, strip_accents=None), dict(vocab_size=100000, min_frequency=2)),
    "cased": (dict(lowercase=False, strip_accents=False), dict(vocab_size=100000, min_frequency=3)),
    "cased-limit-alphabet": (dict(lowercase=False, strip_accents=False), dict(vocab_size=100000, min_frequency=5, limit_alphabet=40)),
    "uncased-cut-800": (dict(lowercase=True, strip_accents=None), dict(vocab_size=800, min_frequency=2)),
    "uncased-min0": (dict(lowercase=True, strip_accents=True), dict(vocab_size=100000, min_frequency=0)),
}


def make_corpus(seed=1234, lines=700):
    rng = random.Random(seed)
    onsets = ["", "b", "k", "d", "f", "g", "h", "l", "m", "n", "p", "r", "s", "t", "v", "st", "tr", "ch", "sh", "pl"]
    vowels = ["a", "e", "i", "o", "u", "é", "ö", "ai", "ou", "ä"]
    codas = ["", "", "n", "r", "s", "t", "ng", "x", "ck"]
    lexicon = []
    for _ in range(600):
        word = "".join(rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas) for _ in range(rng.randint(1, 4)))
        if rng.random() < 0.15:
            word = word.capitalize()
        lexicon.append(word)
    lexicon += ["東京", "大学", "中国人", "Zürich", "naïve", "Ångström", "e-mail", "U.S.", "1984", "3.14", "rock'n'roll"]
    weights = [1.0 / (rank + 1) for rank in range(len(lexicon))]
    punct = [",", ".", "!", "?", ";", ":", "(", ")", "\"", "-"]
    out = []
    for _ in range(lines):
        n = rng.randint(3, 18)
        words = rng.choices(lexicon, weights=weights, k=n)
        text = " ".join(w + (rng.choice(punct) if rng.random() < 0.12 else "") for w in words)
        if rng.random() < 0.05:
            text = "\t" + text + "  "
        out.append(text)
    return "\n".join(out) + "\n"


def train(corpus_path, norm, opts):
    tok = Tokenizer(WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, **norm)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = WordPieceTrainer(special_tokens=SPECIALS, show_progress=False, **opts)
    tok.train([corpus_path], trainer)
    vocab = tok.get_vocab()
    return [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "wordpiece")
    os.makedirs(out_dir, exist_ok=True)
    corpus_path = os.path.join(out_dir, "corpus.txt")
    with open(corpus_path, "w", encoding="utf-8") as f:
        f.write(make_corpus())
    expected = {}
    for name, (norm, opts) in CONFIGS.items():
        runs = [train(corpus_path, norm, opts) for _ in range(RUNS)]
        heads = {tuple(r[: next(i for i, t in enumerate(r) if t.startswith("##"))]) for r in runs}
        if len(heads) != 1:
            sys.exit(f"{name}: the alphabet changed between HF runs (ties at limit_alphabet's cut); choose another limit")
        first = runs[0]
        expected[name] = {"normalizer": norm, "trainer": opts, "vocab": first}
        print(f"{name}: {len(first)} tokens; {len({tuple(sorted(r)) for r in runs})} distinct token sets in {RUNS} HF runs")
    import tokenizers
    with open(os.path.join(out_dir, "hf-vocab.json"), "w", encoding="utf-8") as f:
        json.dump({"generator": "scripts/gen-wordpiece-fixture.py", "tokenizers": tokenizers.__version__, "configs": expected}, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
