"""Writes the benchmark's short-text task: Debian packages' one-line descriptions, labelled by their debtags use:: facet.

Why this set: the issue asks for real short texts (a mean under 32 tokens) and the fine-food reviews in Debian's
r-cran-modeldata have no summaries or titles (modeldata's other text, tate_text, pairs artwork titles with a medium
that a title does not tell). Every Debian system carries its package index, and its "Description:" first lines are
real, human-written short texts (about 6 words, 11 WordPiece tokens with [CLS] and [SEP]); debtags' use:: facet
says what a package is for ("gameplaying", "converting", "checking", "editing", "monitor", "configuring", ...), a
topic a reader can tell from the description, so a fine-tuned model has something to learn.

Rows: packages (each name once) that carry exactly one use:: tag among the CLASSES most frequent ones, and a
description no other such package has (no "transitional package" twins). Sibling packages of one source package
stay on one side of the train/test split (else "foo" and "foo-data" would leak the answer): rows are ordered by a
hash of the source package, the first source packages fill the training rows, the next the test rows (each side may get a few
rows more than asked, to keep a source package whole); every tenth
training row is held out for validation, as export-fine-foods.R does. The index changes with `apt-get update`, so
the files carry the package names.

  debian_descriptions.py OUT_DIR TRAIN_ROWS TEST_ROWS   (reads `apt-cache dumpavail`; --index FILE reads a saved one)
"""
import argparse
import collections
import csv
import hashlib
import itertools
import os
import re
import subprocess
import sys

FACET = "use::"
CLASSES = 6


def stanzas(text):
    """Each package stanza of a Packages-format index as a dict of its fields (continuation lines joined)."""
    for block in text.split("\n\n"):
        fields, last = {}, None
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and last:
                fields[last] += " " + line.strip()
            elif ":" in line:
                last, value = line.split(":", 1)
                fields[last] = value.strip()
        if "Package" in fields:
            yield fields


def rows(index_text):
    by_name = {}
    for s in stanzas(index_text):
        tags = [t.strip() for t in s.get("Tag", "").split(",")]
        uses = [t[len(FACET):] for t in tags if t.startswith(FACET)]
        if len(uses) == 1 and s.get("Description") and s["Package"] not in by_name:
            source = s.get("Source", s["Package"]).split(" ")[0]
            by_name[s["Package"]] = (s["Description"], uses[0], source)
    top = {u for u, _ in collections.Counter(u for _, u, _ in by_name.values()).most_common(CLASSES)}
    twins = collections.Counter(d for d, _, _ in by_name.values())
    kept = [(name, d, u, src) for name, (d, u, src) in by_name.items() if u in top and twins[d] == 1]
    return sorted(kept, key=lambda r: (hashlib.sha256(r[3].encode()).hexdigest(), r[0]))


def split(ordered, n_train, n_test):
    """Whole source packages, in order, to training until it has n_train rows, then to test until n_test."""
    train, test = [], []
    for _, group in itertools.groupby(ordered, key=lambda r: r[3]):
        side = train if len(train) < n_train else test if len(test) < n_test else None
        if side is None:
            break
        side.extend(group)
    return train, test


def save(rows_, path):
    tmp = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label", "package"])
        w.writerows([d, u, name] for name, d, u, _ in rows_)
    os.replace(tmp, path)  # a build never reads a half-written file


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    p.add_argument("train", type=int)
    p.add_argument("test", type=int)
    p.add_argument("--index", help="a Packages-format file (default: the output of apt-cache dumpavail)")
    a = p.parse_args()
    if a.index:
        with open(a.index, encoding="utf-8", errors="replace") as f:
            text = f.read()
    else:
        try:
            text = subprocess.run(["apt-cache", "dumpavail"], check=True, capture_output=True).stdout.decode("utf-8", "replace")
        except (OSError, subprocess.CalledProcessError) as e:
            sys.exit(f"debian_descriptions.py: cannot read the package index with apt-cache dumpavail ({e})")
    ordered = rows(text)
    train, test = split(ordered, a.train, a.test)
    if len(train) < a.train or len(test) < a.test:
        sys.exit(f"debian_descriptions.py: the package index has {len(ordered)} usable packages, fewer than "
                 f"{a.train} + {a.test} asked for (run apt-get update, or ask for fewer rows)")
    os.makedirs(a.out, exist_ok=True)
    held = [i % 10 == 9 for i in range(len(train))]
    save([r for r, h in zip(train, held) if not h], os.path.join(a.out, "train.csv"))
    save([r for r, h in zip(train, held) if h], os.path.join(a.out, "validation.csv"))
    save(test, os.path.join(a.out, "test.csv"))
    labels = collections.Counter(u for _, _, u, _ in train + test)
    print(f"Debian descriptions: {len(train) - sum(held)} train, {sum(held)} validation, {len(test)} test rows in "
          f"{a.out}; {FACET} {', '.join(f'{u} {n}' for u, n in labels.most_common())}")


if __name__ == "__main__":
    main()
