#!/usr/bin/env python3
"""Exports Debian's package index as multi-label text: a package's description, labelled with its debtags.

    python3 export_debtags.py OUT_DIR TRAIN VALIDATION TEST SEED MAX_WORDS DESCRIPTIONS

Reads `apt-cache dumpavail` (every package apt knows: name, source, short description, Description-md5 and the
`Tag:` field of debtags) and, with DESCRIPTIONS `long`, the long descriptions from apt's Translation-en indexes
(found with `apt-get indextargets`, read with `apt-helper cat-file`, joined on Description-md5). `short` uses the
one-line descriptions alone. Writes OUT_DIR/{train,validation,test}.jsonl, one object a line:

    {"package": "vim", "text": "Vi IMproved - enhanced vi editor. Vim is an almost ...", "labels": ["program", ...]}

Labels: the 13 debtags of LABELS below (from the facets role::, interface:: and implemented-in::), renamed so that
each is a valid XML element name for <minimumClassF1>. A package is kept when it has at least one of them.
Deterministic: the same package index gives the same bytes.
  - text: the short description, then the long one (paragraph marks and list indentation flattened), cut to
    MAX_WORDS words; identical texts are kept once (the package first by name).
  - split by source package, so that libfoo1 and libfoo-dev (which share most of their long description) never
    land on both sides: a seeded hash of the source name puts 20% of the sources in the test pool, 10% in the
    validation pool and 70% in the training pool. At most PER_SOURCE binaries of one source are kept (by a seeded
    hash of the package name), so that big sources (dpdk, libreoffice, cross compilers) do not crowd the sample.
  - each split takes its first N packages in the order of a seeded hash of the package name, then is written in
    package-name order.
Needs only Python 3's standard library and apt (Debian or a derivative).
"""
import collections
import hashlib
import json
import os
import subprocess
import sys

# debtag -> label. Why these: the three facets say what a package is (role), how one uses it (interface) and what
# it is written in (implemented-in); these are the tags of those facets on at least ~500 of the ~30,000 tagged
# packages, less interface::x11 (the same packages as interface::graphical) and interface::text-mode (mostly
# ncurses programs, hard to tell from commandline). Implemented-in is the hard facet: a description seldom names
# the language (C and C++ least of all), while role and interface usually show in the wording.
LABELS = [
    ("role::program", "program"),
    ("role::shared-lib", "shared-lib"),
    ("role::devel-lib", "devel-lib"),
    ("role::documentation", "documentation"),
    ("role::app-data", "app-data"),
    ("role::plugin", "plugin"),
    ("interface::commandline", "commandline"),
    ("interface::graphical", "graphical"),
    ("interface::daemon", "daemon"),
    ("implemented-in::c", "lang-c"),
    ("implemented-in::c++", "lang-cxx"),
    ("implemented-in::perl", "lang-perl"),
    ("implemented-in::python", "lang-python"),
]
PER_SOURCE = 2
POOLS = (("test", 0, 20), ("validation", 20, 30), ("train", 30, 100))  # percent ranges of the source hash


def fail(message):
    sys.stderr.write(message.rstrip() + "\n")
    sys.exit(1)


def run(args):
    try:
        return subprocess.run(args, check=True, stdout=subprocess.PIPE, env=dict(os.environ, LC_ALL="C.UTF-8")).stdout
    except FileNotFoundError:
        fail("The example's data is Debian's package index, and this machine has no %s: it needs Debian or a "
             "derivative (e.g. Ubuntu)." % args[0])


def records(text):
    """Deb822 paragraphs as dicts; continuation lines kept with their newlines."""
    for para in text.split("\n\n"):
        fields, last = {}, None
        for line in para.split("\n"):
            if line.startswith((" ", "\t")) and last:
                fields[last] += "\n" + line
            elif ":" in line:
                last, value = line.split(":", 1)
                fields[last] = value.strip()
        if fields:
            yield fields


def long_descriptions():
    files = run(["apt-get", "indextargets", "--format", "$(FILENAME)", "Created-By: Translations", "Language: en"])
    files = [f for f in files.decode().split("\n") if f and os.path.exists(f)]
    if not files:
        fail("The example's texts include the long package descriptions, which apt keeps in its Translation-en\n"
             "indexes, and this machine has none (Debian's Docker images, for one, turn them off with\n"
             "Acquire::Languages \"none\" in /etc/apt/apt.conf.d/docker-no-languages). Download them (as root, or\n"
             "with sudo; a later plain apt-get update on such a machine removes them again):\n"
             "    apt-get update -o Acquire::Languages=en\n"
             "or use the one-line descriptions alone: -Ddescriptions=short")
    helper = "/usr/lib/apt/apt-helper"
    found = {}
    for f in sorted(files):
        for r in records(run([helper, "cat-file", f]).decode("utf-8", "replace")):
            if "Description-md5" in r and "Description-en" in r:
                found.setdefault(r["Description-md5"], r["Description-en"].split("\n", 1)[1:])
    return {md5: body[0] if body else "" for md5, body in found.items()}


def flatten(long_description):
    words = []
    for line in long_description.split("\n"):
        line = line.strip()
        if line == ".":
            continue
        words += line.split()
    return words


def digest(seed, name):
    return int(hashlib.sha256(("%s:%s" % (seed, name)).encode()).hexdigest()[:15], 16)


def main(argv):
    if len(argv) != 8:
        fail(__doc__.split("\n\n")[1])
    out, seed, descriptions = argv[1], argv[5], argv[7]
    sizes = {"train": int(argv[2]), "validation": int(argv[3]), "test": int(argv[4])}
    max_words = int(argv[6])
    if descriptions not in ("long", "short"):
        fail("descriptions must be long or short, not %r" % descriptions)
    longs = long_descriptions() if descriptions == "long" else {}
    tag_to_label = dict(LABELS)
    order = [label for _, label in LABELS]

    packages, missing_long = [], 0
    for r in records(run(["apt-cache", "dumpavail"]).decode("utf-8", "replace")):
        if "Tag" not in r or "Package" not in r:
            continue
        tags = {t.strip() for t in r["Tag"].replace("\n", " ").split(",")}
        labels = sorted({tag_to_label[t] for t in tags if t in tag_to_label}, key=order.index)
        if not labels:
            continue
        short = " ".join(r.get("Description", "").split())
        words = short.split()
        if descriptions == "long":
            body = longs.get(r.get("Description-md5"))
            if body is None:
                missing_long += 1
            elif body.strip():
                if words and words[-1][-1] not in ".!?:":
                    words[-1] += "."
                words += flatten(body)
        if not words:
            continue
        packages.append({"package": r["Package"], "source": r.get("Source", r["Package"]).split()[0],
                         "text": " ".join(words[:max_words]), "labels": labels})
    if not packages:
        fail("apt knows no package with debtags: is the package index empty? Run apt-get update.")

    packages.sort(key=lambda p: p["package"])
    seen, unique = set(), []
    for p in packages:
        if p["text"] not in seen:
            seen.add(p["text"])
            unique.append(p)
    by_source = collections.defaultdict(list)
    for p in unique:
        by_source[p["source"]].append(p)
    pools = {name: [] for name, _, _ in POOLS}
    for source, members in by_source.items():
        bucket = digest(seed, "source:" + source) % 100
        pool = next(name for name, lo, hi in POOLS if lo <= bucket < hi)
        pools[pool] += sorted(members, key=lambda p: digest(seed, p["package"]))[:PER_SOURCE]

    os.makedirs(out, exist_ok=True)
    summary = []
    for name in ("train", "validation", "test"):
        pool = sorted(pools[name], key=lambda p: digest(seed, p["package"]))
        if len(pool) < sizes[name]:
            fail("Only %d packages for the %s split, %d asked for." % (len(pool), name, sizes[name]))
        chosen = sorted(pool[:sizes[name]], key=lambda p: p["package"])
        tmp = os.path.join(out, ".%s.jsonl.tmp" % name)
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            for p in chosen:
                f.write(json.dumps({"package": p["package"], "text": p["text"], "labels": p["labels"]},
                                   ensure_ascii=False) + "\n")
        os.replace(tmp, os.path.join(out, name + ".jsonl"))
        counts = collections.Counter(label for p in chosen for label in p["labels"])
        summary.append((name, len(chosen), len(pool), counts,
                        sum(len(p["labels"]) for p in chosen) / len(chosen)))

    print("debtags: %d packages with a chosen tag, %d after removing repeated texts, %d sources%s"
          % (len(packages), len(unique), len(by_source),
             "; %d without a long description in the Translation-en index" % missing_long if missing_long else ""))
    width = max(len(label) for label in order + ["labels per row", "rows (of pool)"])
    print("%-*s  %s" % (width, "", "  ".join("%10s" % s[0] for s in summary)))
    print("%-*s  %s" % (width, "rows (of pool)", "  ".join("%10s" % ("%d/%d" % (s[1], s[2])) for s in summary)))
    print("%-*s  %s" % (width, "labels per row", "  ".join("%10.2f" % s[4] for s in summary)))
    for label in order:
        print("%-*s  %s" % (width, label, "  ".join("%10d" % s[3][label] for s in summary)))
    print("written to %s" % out)


if __name__ == "__main__":
    main(sys.argv)
