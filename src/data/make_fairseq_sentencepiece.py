#!/usr/bin/env python3
"""A SentencePiece model numbered as XLM-R's is, and its reference ids on the tokenizer corpus.

fairseq-trained models (XLM-R) ship a SentencePiece `sentencepiece.bpe.model` with SentencePiece's default pieces
(<unk>=0, <s>=1, </s>=2) but number their embedding rows <s>=0, <pad>=1, </s>=2, <unk>=3 and every other piece one
higher (XLMRobertaTokenizer's `fairseq_offset`), with <mask> last. This trains a small Unigram model with those
defaults on the committed training texts and writes, for every text of tokenizer-texts.jsonl.gz, the ids XLM-R's
tokenizer gives: <s> a </s> and, every 10th line, <s> a </s></s> b </s> (type ids 0), from `sentencepiece`'s own ids
shifted by that rule. Run from the repository root with the venv of src/models/generate_families.py:

    /tmp/venv/bin/python src/data/make_fairseq_sentencepiece.py
"""
import gzip
import json
import os

import sentencepiece

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "tokenizer-reference")
TEXTS = os.path.join("src", "models", "tokenizer-training-texts.txt")
PAIR_EVERY = 10


def fairseq(sp, text):
    """XLM-R's ids of text's pieces: SentencePiece's id + 1, its <unk> (0) as 3."""
    return [i + 1 if i else 3 for i in sp.encode(text)]


def main():
    sentencepiece.set_random_generator_seed(20261126)
    prefix = os.path.join(OUT, "sentencepiece.bpe")
    sentencepiece.SentencePieceTrainer.train(input=TEXTS, model_prefix=prefix, vocab_size=600, model_type="unigram",
                                             character_coverage=0.9995, num_threads=1, shuffle_input_sentence=False)
    os.remove(prefix + ".vocab")
    sp = sentencepiece.SentencePieceProcessor(model_file=prefix + ".model")
    with gzip.open(os.path.join(HERE, "tokenizer-texts.jsonl.gz"), "rt", encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f if line.strip()]
    lines = []
    for i, text in enumerate(texts):
        ids = [0] + fairseq(sp, text) + [2]
        row = {"ids": ids, "type_ids": [0] * len(ids)}
        if i % PAIR_EVERY == 0:
            pair = ids + [2] + fairseq(sp, texts[(i + 1) % len(texts)]) + [2]
            row.update({"pair_ids": pair, "pair_type_ids": [0] * len(pair)})
        lines.append(json.dumps(row, separators=(",", ":")))
    with gzip.GzipFile(os.path.join(OUT, "sentencepiece-fairseq.jsonl.gz"), "wb", mtime=0) as f:
        f.write(("\n".join(lines) + "\n").encode("utf-8"))
    print(len(texts), "texts,", sp.get_piece_size(), "pieces")


if __name__ == "__main__":
    main()
