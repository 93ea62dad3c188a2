#!/usr/bin/env python3
"""Encodes every text of tokenizer-texts.jsonl.gz with the Python reference tokenizers of the test models.

Writes src/data/tokenizer-reference/<kind>.jsonl.gz, one line per corpus line and in the same order:

    {"ids": [...], "type_ids": [...]}                                    the text alone
    {"ids": [...], "type_ids": [...], "pair_ids": [...], "pair_type_ids": [...]}
                                                                         lines with index % 10 == 0 also hold
                                                                         the pair (text i, text (i+1) % n)

always with the tokenizer's special tokens and without truncation or padding, and README.md beside them
(generator versions, tokenizer file hashes, corpus composition, [UNK] shares). The kinds:

  wordpiece-vocab  tokenizers.BertWordPieceTokenizer(bert-keras/assets/vocab.txt, lowercase=True)
  wordpiece-json   tokenizers.Tokenizer.from_file(distilbert-keras/assets/tokenizer.json)  (cased WordPiece)
  bpe-roberta      tokenizers.Tokenizer.from_file(roberta-keras/assets/tokenizer.json)     (RobertaProcessing)
  bpe-gpt          tokenizers.Tokenizer.from_file(gpt-keras/assets/tokenizer.json)         (adds no specials)
  sentencepiece    sentencepiece.SentencePieceProcessor(albert-keras/assets/spiece.model) on the text lower-cased
                   by Python's str.lower() (the model was trained lower-cased, as ALBERT's is), in ALBERT's layout:
                   [CLS] a [SEP] (type 0) and b [SEP] (type 1)

Run (needs `tokenizers` and `sentencepiece`, e.g. the venv of src/models/generate_families.py):

    /tmp/venv/bin/python src/data/make_tokenizer_reference.py

A text a tokenizer raises on gets {"error": "..."} instead of ids on that line (none did when this was made).
"""
import collections
import gzip
import hashlib
import io
import json
import os
import re
import sys
import textwrap
import unicodedata

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
import sentencepiece  # noqa: E402
import tokenizers  # noqa: E402
from tokenizers import BertWordPieceTokenizer, Tokenizer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "tokenizer-texts.jsonl.gz")
OUT = os.path.join(HERE, "tokenizer-reference")
FAMILIES = os.path.join(ROOT, "src", "models", "families")
PAIR_EVERY = 10
WORDS_NOTE = ("`words.jsonl.gz` is made by `../make_word_reference.py` (not by this script): ids and word ids of 61 "
              "sentences given as words (token classification), for the same tokenizers; its docstring says how.")

FILES = {
    "wordpiece-vocab": "bert-keras/assets/vocab.txt",
    "wordpiece-json": "distilbert-keras/assets/tokenizer.json",
    "bpe-roberta": "roberta-keras/assets/tokenizer.json",
    "bpe-gpt": "gpt-keras/assets/tokenizer.json",
    "sentencepiece": "albert-keras/assets/spiece.model",
}

EMOJI_RE = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B50\u2B55\u231A\u231B\u23E9-\u23FA]")
OTHER = "other letters (modifier letters, \u00aa \u00ba \u00b5 \u2139, ...)"
# First word of a letter's Unicode name -> the script name reported (others: the word, capitalised).
SCRIPT_NAMES = {
    "CJK": "CJK (Han)", "IDEOGRAPHIC": "CJK (Han)", "HIRAGANA": "CJK (Kana)", "KATAKANA": "CJK (Kana)",
    "KATAKANA-HIRAGANA": "CJK (Kana)", "HALFWIDTH": "CJK (Kana)", "HANGUL": "CJK (Hangul)",
    "BOPOMOFO": "CJK (Bopomofo)", "FULLWIDTH": "CJK (fullwidth forms)",
    "MODIFIER": OTHER, "FEMININE": OTHER, "MASCULINE": OTHER, "MICRO": OTHER, "INFORMATION": OTHER,
    "ANGSTROM": OTHER, "KELVIN": OTHER,
    "CANADIAN": "Canadian syllabics", "OL": "Ol Chiki", "MEETEI": "Meetei Mayek", "TAI": "Tai",
}


class HfTokenizer:
    def __init__(self, tok):
        self.tok = tok
        tok.no_truncation()
        tok.no_padding()

    def single(self, text):
        e = self.tok.encode(text)
        return e.ids, e.type_ids

    def pair(self, a, b):
        e = self.tok.encode(a, b)
        return e.ids, e.type_ids

    def unk_id(self):
        for t in ("[UNK]", "<unk>"):
            i = self.tok.token_to_id(t)
            if i is not None:
                return i
        return None


class AlbertSentencePiece:
    def __init__(self, path):
        self.sp = sentencepiece.SentencePieceProcessor(model_file=path)
        self.cls = self.sp.piece_to_id("[CLS]")
        self.sep = self.sp.piece_to_id("[SEP]")
        assert self.cls != self.sp.unk_id() and self.sep != self.sp.unk_id(), "no [CLS]/[SEP] piece"

    def single(self, text):
        ids = [self.cls] + self.sp.encode(text.lower()) + [self.sep]
        return ids, [0] * len(ids)

    def pair(self, a, b):
        first = [self.cls] + self.sp.encode(a.lower()) + [self.sep]
        second = self.sp.encode(b.lower()) + [self.sep]
        return first + second, [0] * len(first) + [1] * len(second)

    def unk_id(self):
        return self.sp.unk_id()


def load(kind, path):
    if kind == "wordpiece-vocab":
        tok = BertWordPieceTokenizer(path, lowercase=True)
        tok.no_truncation()
        tok.no_padding()
        return HfTokenizer(tok)
    if kind == "sentencepiece":
        return AlbertSentencePiece(path)
    return HfTokenizer(Tokenizer.from_file(path))


def scripts_of(text):
    found = set()
    for ch in text:
        if EMOJI_RE.match(ch):
            found.add("emoji")
            continue
        if not ch.isalpha():
            continue
        if ch.isascii():
            found.add("Latin (ASCII letters)")
            continue
        word = unicodedata.name(ch, "UNKNOWN").split()[0]
        if word == "LATIN":
            found.add("Latin (accented/extended letters)")
        else:
            found.add(SCRIPT_NAMES.get(word, word.capitalize()))
    return found


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    texts = [r["text"] for r in rows]
    n = len(texts)
    os.makedirs(OUT, exist_ok=True)

    results = {}
    for kind, rel in FILES.items():
        path = os.path.join(FAMILIES, rel)
        tok = load(kind, path)
        unk = tok.unk_id()
        buf = io.BytesIO()
        failures, with_unk, ascii_unk, total_ids = [], 0, 0, 0
        with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=9, filename="") as gz:
            for i, text in enumerate(texts):
                try:
                    ids, type_ids = tok.single(text)
                    line = {"ids": ids, "type_ids": type_ids}
                    if i % PAIR_EVERY == 0:
                        pair_ids, pair_type_ids = tok.pair(text, texts[(i + 1) % n])
                        line["pair_ids"] = pair_ids
                        line["pair_type_ids"] = pair_type_ids
                    total_ids += len(ids)
                    if unk is not None and unk in ids:
                        with_unk += 1
                        ascii_unk += text.isascii()
                except Exception as e:  # report, keep the line count
                    failures.append((i, repr(e)))
                    line = {"error": repr(e)}
                gz.write((json.dumps(line, separators=(",", ":")) + "\n").encode("ascii"))
        out = os.path.join(OUT, kind + ".jsonl.gz")
        with open(out, "wb") as f:
            f.write(buf.getvalue())
        with gzip.open(out, "rt") as f:
            assert sum(1 for _ in f) == n, out
        results[kind] = dict(path=rel, sha256=sha256(path), unk=unk, with_unk=with_unk, ascii_unk=ascii_unk,
                             total_ids=total_ids, failures=failures, size=len(buf.getvalue()))
        print("%-16s %s: %d lines, %d bytes, unk id %s in %d texts (%.1f%%), %.1f ids/text, %d failures"
              % (kind, out, n, len(buf.getvalue()), unk, with_unk, 100.0 * with_unk / n, total_ids / n,
                 len(failures)))
        for i, err in failures[:20]:
            print("   failed on line %d: %s: %r" % (i, err, texts[i][:120]))

    write_readme(rows, results)


def write_readme(rows, results):
    n = len(rows)
    kinds = collections.Counter(r["source"].split(":")[0] for r in rows)
    langs = collections.defaultdict(collections.Counter)
    for r in rows:
        parts = r["source"].split(":")
        if len(parts) > 1:
            langs[parts[0]][parts[1]] += 1
    scripts = collections.Counter()
    for r in rows:
        found = scripts_of(r["text"])
        scripts.update(found)
        if any(s.startswith("CJK") for s in found):
            scripts["any CJK"] += 1
        if any(not s.startswith(("Latin", "emoji", "other")) for s in found):
            scripts["any non-Latin script"] += 1
    ascii_only = sum(r["text"].isascii() for r in rows)
    en_desc = [r for r in rows if r["source"].startswith("deb-desc:en:")]
    en_non_ascii = sum(not r["text"].isascii() for r in en_desc)
    ws = dict(
        newline=sum("\n" in r["text"] for r in rows),
        tab=sum("\t" in r["text"] for r in rows),
        lead_trail=sum(r["text"] != r["text"].strip() for r in rows),
        double_space=sum("  " in r["text"] for r in rows),
        control=sum(any(ord(c) < 32 and c not in "\t\n" for c in r["text"]) for r in rows),
    )
    lengths = sorted(len(r["text"]) for r in rows)

    def top_langs(kind):
        return ", ".join("%s %d" % kv for kv in sorted(langs[kind].items(), key=lambda kv: (-kv[1], kv[0])))

    lines = []
    w = lines.append
    w("Reference token ids for the plugin's tokenizer tests, made by `make_tokenizer_reference.py` from")
    w("`../tokenizer-texts.jsonl.gz` (%d real texts from Debian, built by `../make_tokenizer_texts.py`;" % n)
    w("its docstring has the apt commands). Each `<kind>.jsonl.gz` has one JSON line per corpus line, in the")
    w("same order: `ids` and `type_ids` of the text alone, and on lines whose index %% %d == 0 also" % PAIR_EVERY)
    w("`pair_ids` and `pair_type_ids` of the pair (text i, text (i+1) %% %d). All with the tokenizer's special" % n)
    w("tokens, no truncation, no padding; no lower-casing beyond what the tokenizer itself does, except for")
    w("SentencePiece, whose model was trained lower-cased: its text goes through `str.lower()` first.")
    w("")
    w("Generated with Python %s, tokenizers %s, sentencepiece %s:"
      % (sys.version.split()[0], tokenizers.__version__, sentencepiece.__version__))
    w("")
    w("    /tmp/venv/bin/python src/data/make_tokenizer_reference.py")
    w("")
    desc = {
        "wordpiece-vocab": "`BertWordPieceTokenizer(vocab.txt, lowercase=True)` (uncased: also strips accents), "
                           "`.encode(text)` / `.encode(a, b)`: `[CLS] a [SEP] b [SEP]`, type ids 0 then 1",
        "wordpiece-json": "`Tokenizer.from_file(tokenizer.json)`, cased WordPiece with `BertProcessing`",
        "bpe-roberta": "`Tokenizer.from_file(tokenizer.json)`, byte-level BPE with `RobertaProcessing`: "
                       "`<s> a </s>` and `<s> a </s></s> b </s>`",
        "bpe-gpt": "`Tokenizer.from_file(tokenizer.json)`, GPT-2 style byte-level BPE, `ByteLevel` post-processor "
                   "(adds no special tokens; pair = a then b, type ids 0 then 1)",
        "sentencepiece": "`SentencePieceProcessor(model_file=spiece.model)`, on the lower-cased text "
                         "(`str.lower()`), ALBERT layout: `[CLS] sp.encode(text.lower()) [SEP]` with type ids 0; pair `[CLS] a [SEP]` "
                         "type 0 then `b [SEP]` type 1",
    }
    w("The files (tokenizer paths under `src/models/families/`; size is of the .jsonl.gz; \"unk\" is the share of")
    w("texts whose single encoding holds the unknown-token id):")
    w("")
    for kind, res in results.items():
        unk = ("No unknown token" if res["unk"] is None else "Unknown id %d in %d texts (%.1f%%)"
               % (res["unk"], res["with_unk"], 100.0 * res["with_unk"] / n))
        w("- `%s.jsonl.gz` (%d bytes): %s. Tokenizer `%s`, sha256 `%s`. %s; %.1f ids per text on average; "
          "%d texts failed." % (kind, res["size"], desc[kind], res["path"], res["sha256"][:16], unk,
                                res["total_ids"] / n, len(res["failures"])))
    w("")
    n_ascii = sum(r["text"].isascii() for r in rows)
    w("Of the %d pure-ASCII texts, %s hold the unknown id. The WordPiece vocabularies (1500 ids, trained on "
      "English package descriptions) lack most non-Latin characters; the SentencePiece model was trained on "
      "lower-cased text, so the reference lower-cases first (the plugin's doLowerCase=true for this model)."
      % (n_ascii, ", ".join("%s %d" % (k, r["ascii_unk"]) for k, r in results.items() if r["unk"] is not None)))
    w("")
    w("Corpus composition (%d texts, lengths %d to %d characters, median %d):"
      % (n, lengths[0], lengths[-1], lengths[n // 2]))
    w("")
    w("- `deb-desc:LANG:PKG`, package descriptions from the archive's Translation files: %d (%s). Of the English "
      "ones, %d hold non-ASCII characters (accents, typographic quotes and dashes, symbols)."
      % (kinds["deb-desc"], top_langs("deb-desc"), en_non_ascii))
    w("- `gettext:LANG:DOMAIN`, program messages from Debian packages' .mo files: %d, in %d locales (%s)."
      % (kinds["gettext"], len(langs["gettext"]), top_langs("gettext")))
    w("- `emoji-test`, lines of Unicode's emoji-test.txt (package unicode-data): %d." % kinds["emoji-test"])
    w("- `cldr-annotations:LANG`, raw XML lines of CLDR's emoji annotations (package unicode-cldr-core): %d (%s)."
      % (kinds["cldr-annotations"], top_langs("cldr-annotations")))
    w("")
    w("Texts containing each script (a text can count under several; letters only, plus emoji):")
    w("")
    for name, count in scripts.most_common():
        w("- %s: %d" % (name, count))
    w("")
    w("Pure-ASCII texts: %d. Whitespace and control characters as found in the sources: %d texts with a "
      "newline, " % (ascii_only, ws["newline"]) +
      "%d with a tab, %d with leading or trailing whitespace, %d with two or more spaces in a row, %d with other "
      "control characters (ANSI escapes, BEL and the like in program messages)."
      % (ws["tab"], ws["lead_trail"], ws["double_space"], ws["control"]))
    w("")
    w(WORDS_NOTE)
    w("")
    wrapped = []
    for line in lines:
        if len(line) <= 110 or line.startswith("    "):
            wrapped.append(line)
        else:
            wrapped.append(textwrap.fill(line, width=110, subsequent_indent="  " if line.startswith("- ") else "",
                                         break_long_words=False, break_on_hyphens=False))
    with open(os.path.join(OUT, "README.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(wrapped))


if __name__ == "__main__":
    main()
