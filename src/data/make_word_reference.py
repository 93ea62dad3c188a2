#!/usr/bin/env python3
"""Reference ids of sentences given as words (token classification, NER), from the Python tokenizers of the test models.

Writes src/data/tokenizer-reference/words.jsonl.gz, one JSON line per sentence:

    {"words": [...], "<kind>": {"ids": [...], "word_ids": [...]}, ...}

for every kind below: the ids of the sentence with the tokenizer's special tokens (as for a single text), without
truncation or padding, and for each id the index of the word it came from (-1 for special tokens). Byte-level kinds
also hold "<kind>-raw": what `encode(words, is_pretokenized=True)` gives for the words exactly as written (see below).

The sentences: hand-written ones (accents, punctuation, CJK, numbers, mixed case, emoji, words that give no token)
and the first line of every 500th text of tokenizer-texts.jsonl.gz, split at white space (at most 40 words).

The kinds (tokenizer paths under src/models/families/ or src/data/tokenizer-reference/):

  wordpiece-vocab   tokenizers.BertWordPieceTokenizer(bert-keras/assets/vocab.txt, lowercase=True)
                    .encode(words, is_pretokenized=True)
  wordpiece-json    tokenizers.Tokenizer.from_file(distilbert-keras/assets/tokenizer.json), the same call
  bpe-roberta       Tokenizer.from_file(roberta-keras/assets/tokenizer.json).encode(words', is_pretokenized=True)
  bpe-gpt           Tokenizer.from_file(gpt-keras/assets/tokenizer.json).encode(words', is_pretokenized=True)
  sentencepiece     SentencePieceProcessor(albert-keras/assets/spiece.model): [CLS] sp.encode(w.lower()) for
                    each word w [SEP] (ALBERT's layout, the model was trained lower-cased)
  sentencepiece-fairseq
                    SentencePieceProcessor(sentencepiece.bpe.model): <s> sp.encode(w) for each word </s>, ids
                    numbered as XLM-R's (SentencePiece's id + 1, its <unk> 0 as 3; make_fairseq_sentencepiece.py)

Byte-level BPE (RoBERTa, GPT-2): the pre-tokenizer keeps white space inside its tokens ("Ġworld" is " world"), and
with pre-tokenized input Hugging Face's library (the Rust core under both Python and the plugin's DJL binding)
encodes every word on its own, so a file with add_prefix_space=false (both test files) glues the words together:
"world" instead of "Ġworld". words' is therefore the words with a space before every word after the first, which
encodes the sentence as its words joined by single spaces would be (checked below), never merging across words.
The "-raw" entries keep the plain is_pretokenized=True result, to show the difference and to check that the
plugin's binding gives the same for the words as written.

A word that gives no token at all (empty, white space only, a control or format character only) gets one id: the
tokenizer's unknown token ([UNK], <unk>), or, for a tokenizer without one (GPT-2's), its padding id
(<|endoftext|>), placed where the word's tokens would be; the plugin does the same.

Run with the venv of src/models/generate_families.py:

    /tmp/venv/bin/python src/data/make_word_reference.py
"""
import gzip
import json
import os

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
import sentencepiece  # noqa: E402
import tokenizers  # noqa: E402
from tokenizers import BertWordPieceTokenizer, Tokenizer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FAMILIES = os.path.join(ROOT, "src", "models", "families")
REF = os.path.join(HERE, "tokenizer-reference")
OUT = os.path.join(REF, "words.jsonl.gz")
CORPUS_EVERY = 500
MAX_WORDS = 40

SENTENCES = [
    ["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."],
    ["Peter", "Blackburn"],
    ["BRUSSELS", "1996-08-22"],
    ["Hello"],
    ["Zürich", "café", "naïve", "Ångström", "façade", "résumé", "São", "Paulo", "Crème", "brûlée"],
    ["Straße", "Größe", "ÄÖÜ", "äöü", "Łódź", "Příliš", "žluťoučký", "kůň"],
    ["Việt", "Nam", "Hà", "Nội", "İstanbul", "ılık", "Ἀθῆναι"],
    ["Αθήνα", "είναι", "η", "πρωτεύουσα", "της", "Ελλάδας", "."],
    ["Москва", "—", "столица", "России", "."],
    ["東京", "は", "日本", "の", "首都", "です", "。"],
    ["北京大学", "成立于", "1898年", "，", "位于", "海淀区"],
    ["서울", "특별시", "는", "대한민국", "의", "수도", "이다", "."],
    ["ภาษาไทย", "ง่าย"],
    ["مرحبا", "بالعالم", "नमस्ते", "दुनिया", "שלום"],
    ["3.14159", "1,000,000", "42", "2024-01-01", "$5.99", "50%", "-7", "1e-5", "0x1F"],
    ["2024年", "3月", "15日", "ＡＢＣ", "１２３", "ﬁnance", "e\u0301te\u0301"],
    ["Don't", "stop", "(", "please", ")", "!", "?", "...", "\"quoted\"", "«guillemets»", "“curly”"],
    ["McDonald's", "iPhone", "eBay", "NASA", "GmbH", "O'Neill", "ThE", "QuIcK", "bRoWn", "FOX"],
    ["e-mail", "state-of-the-art", "U.S.", "Ph.D.", "C++", "foo_bar", "a/b", "user@example.com"],
    ["I", "❤️", "NY", "😀", "👍🏽", "★"],
    ["Pneumonoultramicroscopicsilicovolcanoconiosis", "supercalifragilisticexpialidocious", "x" * 120],
    ["New York", "City", "is", "big"],
    ["[SEP]", "is", "written", "[MASK]", "here"],
    # Words that give no token with some tokenizers: empty, white space only, control and format characters.
    ["start", "", "\x07", "middle", "\u200b", "\u00ad", " ", "end"],
    ["", "first", "word", "is", "empty"],
    ["\x07", "bell", "first"],
    ["last", "words", "vanish", "\u200b", ""],
    [" "],
    ["\x00"],
    ["the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog", ",", "and", "the", "dog", "sleeps",
     "on", "under", "the", "old", "oak", "tree", "near", "the", "river", "bank", "while", "children", "play",
     "football", "in", "the", "park", "across", "the", "street", "from", "the", "library", "."],
]


def fill(ids, word_ids, n, lead, unk):
    """ids and word_ids (-1 for special tokens) with `unk` for every word of n that has no id, where its ids would
    be: the `lead` special tokens the template puts before the text, each word's ids in order, the other special
    tokens. Also which words were filled."""
    assert all(w is None for w in word_ids[:lead]), (ids, word_ids, lead)
    by_word = [[] for _ in range(n)]
    for i, w in zip(ids[lead:], word_ids[lead:]):
        if w is not None:
            by_word[w].append(i)
    suffix = [i for i, w in zip(ids[lead:], word_ids[lead:]) if w is None]
    out_ids, out_words, filled = list(ids[:lead]), [-1] * lead, []
    for w in range(n):
        if not by_word[w]:
            by_word[w] = [unk]
            filled.append(w)
        out_ids += by_word[w]
        out_words += [w] * len(by_word[w])
    out_ids += suffix
    out_words += [-1] * len(suffix)
    return out_ids, out_words, filled


class Hf:
    def __init__(self, tok, byte_level):
        self.tok = tok
        self.byte_level = byte_level
        tok.no_truncation()
        tok.no_padding()
        unk = None
        for t in ("[UNK]", "<unk>", "<|unk|>"):
            unk = tok.token_to_id(t)
            if unk is not None:
                break
        if unk is None:
            for t in ("[PAD]", "<pad>", "<|pad|>", "<|endoftext|>", "</s>", "<eos>"):
                unk = tok.token_to_id(t)
                if unk is not None:
                    break
        self.unk = unk
        probe = tok.encode(["a"], is_pretokenized=True).word_ids
        self.lead = next(k for k, w in enumerate(probe) if w is not None)

    def raw(self, words):
        e = self.tok.encode(words, is_pretokenized=True)
        return e.ids, e.word_ids

    def words(self, words):
        given = [w if i == 0 or not self.byte_level else " " + w for i, w in enumerate(words)]
        ids, word_ids = self.raw(given)
        if self.byte_level and all(w.strip() == w and w for w in words):
            joined = self.tok.encode(" ".join(words)).ids
            assert joined == ids, (words, joined, ids)
        return ids, word_ids


class Sp:
    def __init__(self, path, lower, fairseq):
        self.sp = sentencepiece.SentencePieceProcessor(model_file=path)
        self.lower = lower
        self.fairseq = fairseq
        if fairseq:
            self.first, self.last, self.unk = [0], [2], 3
        else:
            self.first, self.last = [self.sp.piece_to_id("[CLS]")], [self.sp.piece_to_id("[SEP]")]
            self.unk = self.sp.unk_id()
        self.lead = len(self.first)

    def words(self, words):
        ids = list(self.first)
        word_ids = [None] * len(self.first)
        for k, w in enumerate(words):
            pieces = self.sp.encode(w.lower() if self.lower else w)
            if self.fairseq:
                pieces = [i + 1 if i else 3 for i in pieces]
            ids += pieces
            word_ids += [k] * len(pieces)
        return ids + self.last, word_ids + [None] * len(self.last)


def kinds():
    fam = lambda rel: os.path.join(FAMILIES, rel)  # noqa: E731
    return {
        "wordpiece-vocab": Hf(BertWordPieceTokenizer(fam("bert-keras/assets/vocab.txt"), lowercase=True), False),
        "wordpiece-json": Hf(Tokenizer.from_file(fam("distilbert-keras/assets/tokenizer.json")), False),
        "bpe-roberta": Hf(Tokenizer.from_file(fam("roberta-keras/assets/tokenizer.json")), True),
        "bpe-gpt": Hf(Tokenizer.from_file(fam("gpt-keras/assets/tokenizer.json")), True),
        "sentencepiece": Sp(fam("albert-keras/assets/spiece.model"), True, False),
        "sentencepiece-fairseq": Sp(os.path.join(REF, "sentencepiece.bpe.model"), False, True),
    }


def sentences():
    out = [list(s) for s in SENTENCES]
    with gzip.open(os.path.join(HERE, "tokenizer-texts.jsonl.gz"), "rt", encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f if line.strip()]
    for i in range(0, len(texts), CORPUS_EVERY):
        words = texts[i].strip().split("\n")[0].split()[:MAX_WORDS]
        if words:
            out.append(words)
    return out


def main():
    toks = kinds()
    lines = []
    filled_count = {k: 0 for k in toks}
    differ = 0
    for words in sentences():
        row = {"words": words}
        for kind, tok in toks.items():
            ids, word_ids = tok.words(words)
            ids, word_ids, filled = fill(ids, word_ids, len(words), tok.lead, tok.unk)
            assert sorted(set(w for w in word_ids if w >= 0)) == list(range(len(words))), (kind, words)
            row[kind] = {"ids": ids, "word_ids": word_ids}
            filled_count[kind] += len(filled)
            if isinstance(tok, Hf) and tok.byte_level:
                raw_ids, raw_words = tok.raw(words)
                row[kind + "-raw"] = {"ids": raw_ids, "word_ids": [-1 if w is None else w for w in raw_words]}
                differ += raw_ids != ids
        lines.append(json.dumps(row, ensure_ascii=True, separators=(",", ":")))
    with gzip.GzipFile(OUT, "wb", mtime=0, compresslevel=9) as f:
        f.write(("\n".join(lines) + "\n").encode("ascii"))
    print("%d sentences, %d words -> %s (%d bytes); tokenizers %s, sentencepiece %s"
          % (len(lines), sum(len(json.loads(l)["words"]) for l in lines), OUT, os.path.getsize(OUT),
             tokenizers.__version__, sentencepiece.__version__))
    print("words given the unknown id (no token of their own):", filled_count)
    print("byte-level encodings that differ from the words as written (-raw):", differ)


if __name__ == "__main__":
    main()
