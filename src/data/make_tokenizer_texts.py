#!/usr/bin/env python3
"""Builds src/data/tokenizer-texts.jsonl.gz: real texts from Debian, for checking the plugin's tokenizers.

Every text is taken verbatim from something Debian ships or serves (bookworm), as it occurs there:

  deb-desc:LANG:PKG     package descriptions from the archive's i18n/Translation-LANG files (English and
                        28 translations): the synopsis line, a newline, then the long description decoded as
                        Debian policy 5.6.13 says (the one leading space of each continuation line removed,
                        " ." lines turned into empty lines, deeper indentation kept); long ones are cut at a
                        paragraph boundary (or, if the first paragraph is too long, at a line end) to stay
                        under MAX_CHARS; about a quarter of them are the synopsis line alone. Quotas per
                        language are in DESC_QUOTA; every description holding an emoji is taken, and of the
                        English ones EN_NON_ASCII are drawn from the ~1,200 holding non-ASCII characters
                        (accents, typographic quotes and dashes, no-break spaces) and cut so as to keep them.
  gettext:LANG:DOMAIN   translated program messages (msgstr; and, as LANG "en", some English msgid, msgctxt
                        dropped) from the .mo files of a fixed list of Debian packages (PACKAGES below), kept
                        with their leading/trailing spaces, tabs, newlines and control characters; up to 45
                        per locale of a non-Latin script, 12 per Latin-script locale, 15% of them names from
                        iso-codes. This is where Arabic, Hebrew, Persian, the Indic scripts, Thai, Georgian,
                        Armenian, Ethiopic, ... come from (Debian has no description translations for them).
  emoji-test            lines of Unicode's emoji-test.txt (package unicode-data), e.g.
                        "1F600    ; fully-qualified     # 😀 E1.0 grinning face".
  cldr-annotations:LANG lines of CLDR's emoji annotation files (package unicode-cldr-core), raw XML lines
                        with their leading tabs, e.g. '\\t\\t<annotation cp="😀" type="tts">…</annotation>'.

The selection is seeded (random.Random(SEED) per source), so the same inputs give the same file, line for
line. The inputs change only with Debian point releases; the committed file is the reference, this script
is how it was made. System python3 only (no pip packages); it needs apt-get, dpkg-deb and apt-helper.

Commands (as root; the apt lists go to /tmp so the system's apt state is untouched):

    mkdir -p /tmp/aptlists/partial /tmp/aptcache/archives/partial
    echo 'deb http://deb.debian.org/debian bookworm main' > /tmp/bookworm.list
    apt-get update -o Dir::State::Lists=/tmp/aptlists -o Dir::Etc::SourceList=/tmp/bookworm.list \\
        -o Dir::Etc::SourceParts=/nonexistent -o Dir::Cache=/tmp/aptcache \\
        -o Acquire::Languages="en,de,fr,es,it,pt_BR,pl,cs,sk,nl,sv,da,fi,hu,ro,ca,eu,gl,tr,vi,ru,uk,sr,el,ja,zh_CN,zh_TW,ko,km"
    python3 src/data/make_tokenizer_texts.py --lists /tmp/aptlists --work /tmp/tokenizer-texts-work

The script runs `apt-get download` (with the same -o options) for PACKAGES into --work/debs (apt warns
"Download is performed unsandboxed as root": harmless), unpacks them with `dpkg-deb -x`, writes
src/data/tokenizer-texts.jsonl.gz (gzip mtime 0, so the bytes are reproducible too) and prints the
composition. Then regenerate the reference ids: see make_tokenizer_reference.py.
"""
import argparse
import collections
import gettext
import glob
import gzip
import io
import json
import os
import random
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "tokenizer-texts.jsonl.gz")
SEED = 20240611
MAX_CHARS = 400

# Package descriptions: how many to take per language (None = all there are).
DESC_QUOTA = {
    "en": 4000,
    "de": 400, "fr": 400, "es": 300, "it": 250, "pt_BR": 300, "pl": 200, "cs": 200, "sk": 150,
    "da": 150, "nl": 150, "sv": 120, "fi": 120, "hu": 100, "ca": None, "eu": None, "gl": None,
    "ro": None, "tr": None, "vi": None,
    "ru": 500, "uk": 400, "sr": 200, "el": None, "km": None,
    "ja": 500, "zh_CN": 400, "zh_TW": None, "ko": 400,
}
# Of the English ones, this many are drawn from descriptions that hold non-ASCII characters (accents,
# typographic punctuation, no-break and hair spaces, ...; about 1,200 of 64,000 do), so that such English is
# well represented; for these the kept paragraphs are the first ones that hold a non-ASCII character.
EN_NON_ASCII = 900
SYNOPSIS_ONLY_SHARE = 0.25

# Debian packages whose gettext catalogues are used.
PACKAGES = [
    "coreutils", "grep", "sed", "tar", "findutils", "diffutils", "bash", "dpkg", "apt", "libapt-pkg6.0",
    "wget", "gnupg-l10n", "libc-l10n", "systemd", "procps", "debconf-i18n", "tasksel-data",
    "libglib2.0-data", "libgtk2.0-common", "libgtk-3-common", "libgdk-pixbuf2.0-common", "at-spi2-common",
    "shared-mime-info", "xdg-user-dirs", "libpam-runtime", "python-apt-common", "software-properties-common",
    "packagekit", "appstream", "libavahi-common-data", "gsettings-desktop-schemas", "xkb-data", "iso-codes",
    "unicode-data", "unicode-cldr-core",
]
# Messages per language: more for languages whose scripts the descriptions lack or have few of.
GETTEXT_QUOTA_NON_LATIN = 45
GETTEXT_QUOTA_LATIN = 12
GETTEXT_EN_MSGIDS = 400
GETTEXT_MIN_CHARS = 3
# Domains whose messages are mostly single names (countries, languages, currencies, scripts); capped.
ISO_DOMAIN = re.compile(r"^iso_")
ISO_SHARE = 0.15

EMOJI_TEST_LINES = 700
CLDR_PER_LANG = 30
CLDR_LANGS = [
    "en", "de", "fr", "es", "pt", "it", "pl", "tr", "vi", "ru", "uk", "bg", "sr", "el", "ar", "fa", "ur",
    "he", "hi", "mr", "ne", "bn", "ta", "te", "ml", "kn", "gu", "pa", "si", "th", "lo", "my", "km", "ka",
    "hy", "am", "ja", "zh", "zh_Hant", "ko", "mn",
]

# Emoji and pictographs (not ZWJ/VS16 alone: Indic scripts use U+200D too).
EMOJI_RE = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B50\u2B55\u231A\u231B\u23E9-\u23FA]")


def apt_options(lists):
    return ["-o", "Dir::State::Lists=" + lists, "-o", "Dir::Etc::SourceList=/tmp/bookworm.list",
            "-o", "Dir::Etc::SourceParts=/nonexistent", "-o", "Dir::Cache=/tmp/aptcache"]


def lz4_cat(path):
    return subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", path], check=True,
                          stdout=subprocess.PIPE).stdout.decode("utf-8")


def parse_stanzas(text):
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        fields, key = {}, None
        for line in block.split("\n"):
            if line.startswith((" ", "\t")) and key:
                fields[key].append(line)
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = [value[1:] if value.startswith(" ") else value]
        yield {k: v for k, v in fields.items()}


def decode_description(lines):
    """Synopsis plus list of paragraphs (each a list of lines), per Debian policy 5.6.13."""
    synopsis = lines[0]
    paragraphs, current = [], []
    for raw in lines[1:]:
        line = raw[1:]
        if raw.rstrip() == " .":
            paragraphs.append(current)
            current = []
        else:
            current.append(line)
    paragraphs.append(current)
    return synopsis, [p for p in paragraphs if p]


def description_text(synopsis, paragraphs, synopsis_only, want_non_ascii=False):
    if want_non_ascii and synopsis.isascii():
        # start at the first paragraph (or, in a long one, the line) that holds a non-ASCII character
        synopsis_only = False
        k = next((k for k, p in enumerate(paragraphs) if not "\n".join(p).isascii()), None)
        if k is not None:
            para = paragraphs[k]
            if len(synopsis) + 1 + len("\n".join(para)) > MAX_CHARS:
                para = para[next(j for j, line in enumerate(para) if not line.isascii()):]
            paragraphs = [para] + paragraphs[k + 1:]
    if synopsis_only or not paragraphs:
        return synopsis
    text = synopsis
    for i, para in enumerate(paragraphs):
        block = "\n".join(para)
        candidate = text + ("\n" if i == 0 else "\n\n") + block
        if len(candidate) <= MAX_CHARS:
            text = candidate
            continue
        if i == 0:  # first paragraph too long: keep whole lines of it
            for line in para:
                candidate = text + "\n" + line
                if len(candidate) > MAX_CHARS:
                    break
                text = candidate
        break
    return text


def cut_message(msg):
    """Keeps a message under MAX_CHARS by cutting at a blank line, else at a line end."""
    if len(msg) <= MAX_CHARS:
        return msg
    for sep in ("\n\n", "\n"):
        cut = msg.rfind(sep, 0, MAX_CHARS)
        if cut > 0:
            return msg[:cut + len(sep)]
    return None


def descriptions(lists):
    out = []
    for lang, quota in DESC_QUOTA.items():
        path = os.path.join(lists, "deb.debian.org_debian_dists_bookworm_main_i18n_Translation-%s.lz4"
                            % lang.replace("_", "%5f"))
        entries, seen = [], set()
        for st in parse_stanzas(lz4_cat(path)):
            lines = st.get("Description-" + lang)
            if not lines or st["Package"][0] in seen:
                continue
            seen.add(st["Package"][0])
            entries.append((st["Package"][0], lines))
        rng = random.Random("%d:desc:%s" % (SEED, lang))
        want_non_ascii = set()
        if quota is None or quota >= len(entries):
            chosen = list(entries)
        else:
            chosen = []
            emoji = [e for e in entries if any(EMOJI_RE.search(l) for l in e[1])]
            chosen += emoji
            rest = [e for e in entries if e not in emoji] if emoji else entries
            if lang == "en":
                non_ascii = [e for e in rest if any(not l.isascii() for l in e[1])]
                chosen += rng.sample(non_ascii, min(EN_NON_ASCII, len(non_ascii)))
                want_non_ascii.update(p for p, _ in chosen)
                picked = set(p for p, _ in chosen)
                rest = [e for e in rest if e[0] not in picked]
            chosen += rng.sample(rest, quota - len(chosen))
            chosen.sort(key=lambda e: e[0])
        for pkg, lines in chosen:
            synopsis, paragraphs = decode_description(lines)
            text = description_text(synopsis, paragraphs, rng.random() < SYNOPSIS_ONLY_SHARE,
                                    pkg in want_non_ascii)
            if text.strip():
                out.append({"text": text, "source": "deb-desc:%s:%s" % (lang, pkg)})
    return out


def fetch_packages(lists, work):
    debs = os.path.join(work, "debs")
    root = os.path.join(work, "root")
    os.makedirs(debs, exist_ok=True)
    missing = [p for p in PACKAGES if not glob.glob(os.path.join(debs, p + "_*.deb"))]
    if missing:
        subprocess.run(["apt-get", "download"] + apt_options(lists) + missing, check=True, cwd=debs)
    versions = {}
    for p in PACKAGES:
        deb = sorted(glob.glob(os.path.join(debs, p + "_*.deb")))[-1]
        versions[p] = os.path.basename(deb).split("_")[1]
        subprocess.run(["dpkg-deb", "-x", deb, root], check=True)
    return root, versions


def is_latin_language(lang):
    return lang.split("_")[0].split("@")[0] in {
        "af", "ast", "az", "bs", "ca", "cs", "cy", "da", "de", "en", "eo", "es", "et", "eu", "fi", "fil", "fr",
        "fur", "fy", "ga", "gd", "gl", "ha", "hr", "hu", "id", "ig", "is", "it", "jv", "ku", "la", "lb", "lt",
        "lv", "mg", "mi", "ms", "mt", "nb", "nds", "nl", "nn", "no", "nso", "oc", "pl", "pt", "rm", "ro", "rw",
        "sc", "sk", "sl", "sq", "sv", "sw", "tk", "tl", "tn", "tr", "uz", "vi", "wa", "wo", "xh", "yo", "zu",
        "an", "ay", "br", "ch", "co", "csb", "ee", "ff", "fo", "gn", "gv", "ht", "ia", "ie", "ik", "io", "kl",
        "kw", "li", "ln", "lg", "mh", "na", "nr", "ny", "om", "qu", "rn", "sg", "sm", "sn", "so", "ss", "st",
        "su", "to", "ts", "tw", "ty", "ve", "vo", "wal", "za", "ace", "ach", "ak", "bar", "bi", "ceb", "crh",
        "frp", "haw", "hsb", "kab", "lij", "lmo", "mus", "nap", "nah", "pap", "pms", "sco", "szl", "vec", "hil",
    }


def gettext_messages(root):
    per_lang = collections.defaultdict(list)  # lang -> [(domain, msgid, msgstr)]
    for mo in sorted(glob.glob(os.path.join(root, "usr/share/locale/*/LC_MESSAGES/*.mo"))):
        lang = mo.split(os.sep)[-3]
        domain = os.path.basename(mo)[:-3]
        try:
            with open(mo, "rb") as fp:
                catalog = gettext.GNUTranslations(fp)._catalog
        except Exception as e:  # a broken or non-UTF-8-decodable catalogue: skip it
            print("skip %s: %s" % (mo, e), file=sys.stderr)
            continue
        for key in sorted(catalog, key=repr):
            msgid = key if isinstance(key, str) else key[0]
            msgid = msgid.split("\x04")[-1]  # drop a msgctxt ("context\x04msgid")
            msgstr = catalog[key]
            if not msgid or not isinstance(msgstr, str) or msgstr == msgid:
                continue
            per_lang[lang].append((domain, msgid, msgstr))
    out = []
    english = {}
    for lang in sorted(per_lang):
        msgs = per_lang[lang]
        for domain, msgid, _ in msgs:
            english.setdefault((domain, msgid), None)
        quota = GETTEXT_QUOTA_LATIN if is_latin_language(lang) else GETTEXT_QUOTA_NON_LATIN
        rng = random.Random("%d:gettext:%s" % (SEED, lang))
        iso = [m for m in msgs if ISO_DOMAIN.match(m[0])]
        other = [m for m in msgs if not ISO_DOMAIN.match(m[0])]
        chosen = [m for m in msgs if EMOJI_RE.search(m[2])]
        n_iso = min(len(iso), int(round(quota * ISO_SHARE)))
        chosen += rng.sample(iso, n_iso)
        rest = [m for m in other if m not in chosen]
        chosen += rng.sample(rest, max(0, min(len(rest), quota - len(chosen))))
        for domain, msgid, msgstr in chosen:
            text = cut_message(msgstr)
            if text is not None and len(text.strip()) >= GETTEXT_MIN_CHARS:
                out.append({"text": text, "source": "gettext:%s:%s" % (lang, domain)})
    rng = random.Random("%d:gettext:en" % SEED)
    ids = sorted(k for k in english if not ISO_DOMAIN.match(k[0]))
    for domain, msgid in rng.sample(ids, GETTEXT_EN_MSGIDS):
        text = cut_message(msgid)
        if text is not None and len(text.strip()) >= GETTEXT_MIN_CHARS:
            out.append({"text": text, "source": "gettext:en:%s" % domain})
    return out


def emoji_test(root):
    path = os.path.join(root, "usr/share/unicode/emoji/emoji-test.txt")
    with open(path, encoding="utf-8") as f:
        lines = [l.rstrip("\n") for l in f if not l.startswith("#") and "#" in l and l.strip()]
    rng = random.Random("%d:emoji-test" % SEED)
    idx = sorted(rng.sample(range(len(lines)), EMOJI_TEST_LINES))
    return [{"text": lines[i], "source": "emoji-test"} for i in idx]


def cldr_annotations(root):
    out = []
    for lang in CLDR_LANGS:
        path = os.path.join(root, "usr/share/unicode/cldr/common/annotations/%s.xml" % lang)
        with open(path, encoding="utf-8") as f:
            lines = [l.rstrip("\n") for l in f
                     if "<annotation cp=" in l and EMOJI_RE.search(l.split('"')[1])]
        rng = random.Random("%d:cldr:%s" % (SEED, lang))
        idx = sorted(rng.sample(range(len(lines)), min(CLDR_PER_LANG, len(lines))))
        out += [{"text": lines[i], "source": "cldr-annotations:%s" % lang} for i in idx]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lists", default="/tmp/aptlists", help="apt lists dir holding the Translation files")
    ap.add_argument("--work", default="/tmp/tokenizer-texts-work", help="scratch dir for .deb files")
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()

    root, versions = fetch_packages(args.lists, args.work)
    texts = descriptions(args.lists) + gettext_messages(root) + emoji_test(root) + cldr_annotations(root)
    seen, unique = set(), []
    for t in texts:
        if t["text"] not in seen:
            seen.add(t["text"])
            unique.append(t)
    random.Random("%d:order" % SEED).shuffle(unique)

    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=9, filename="") as gz:
        for t in unique:
            gz.write((json.dumps(t, ensure_ascii=False) + "\n").encode("utf-8"))
    with open(args.out, "wb") as f:
        f.write(buf.getvalue())

    kinds = collections.Counter(t["source"].split(":")[0] for t in unique)
    langs = collections.Counter(":".join(t["source"].split(":")[:2]) for t in unique)
    print("wrote %s: %d texts, %d bytes" % (args.out, len(unique), len(buf.getvalue())))
    print("per source kind:", dict(kinds))
    print("per source:language:", dict(sorted(langs.items())))
    print("package versions:", " ".join("%s=%s" % kv for kv in sorted(versions.items())))


if __name__ == "__main__":
    main()
