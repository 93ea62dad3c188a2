#!/usr/bin/env python3
"""Makes the small, seeded data sets for the Invoker projects of the multi-label, regression and token
classification tasks (see README.md in this folder for what each file holds):

    python3 src/data/make_task_fixtures.py          (standard library only; the same bytes on every run)

Every text is made of words that the tiny test models' vocabulary (src/models/vocab.txt) holds whole, except the
first names and some place names of the NER data, which split into letters (`ann` -> a ##n ##n), as real names do
in a real vocabulary. Each label is a plain function of the words, so a 2-layer, 32-wide BERT learns it in a few
epochs at maxSequenceLength 32 (the longest text is 29 word pieces).

  tiny-topics[-test].csv/.jsonl   multi-label: 0 to 3 topics a text (film, music, books, city, work), each named by
                                  its own keywords; CSV cell `film|music` (empty: none), JSONL array
  tiny-scores[-test].csv          regression: score = 3 + 0.5 * (positive words - negative words) + noise
  tiny-ner[-test].conll/.jsonl    token classification: PER, LOC, ORG, MISC, IOB2, CoNLL-2003 columns
  tiny-ner-test-iob1.conll        the test sentences tagged IOB1 (B- only where an entity follows one of its type)
  tiny-ner-test-bioes.conll       the test sentences tagged BIOES
"""
import csv
import io
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20261126

POSITIVE = ["good", "great", "excellent", "wonderful", "amazing", "fun", "best", "happy"]
NEGATIVE = ["bad", "awful", "terrible", "boring", "poor", "worst", "sad", "dull"]
ADVERBS = ["", "", "really ", "very ", "quite ", "so "]


def write(name, text):
    with open(os.path.join(HERE, name), "w", encoding="utf-8", newline="") as f:
        f.write(text)


def csv_text(header, rows):
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return out.getvalue()


def jsonl_text(rows):
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def distinct(rng, make, n, taken):
    """n examples whose texts are not in `taken` nor repeated (adds them to it)."""
    out = []
    while len(out) < n:
        ex = make(rng)
        key = ex[0] if isinstance(ex[0], str) else " ".join(ex[0])
        if key not in taken:
            taken.add(key)
            out.append(ex)
    return out


# ---------------------------------------------------------------------------------------------------- multi-label
TOPICS = {  # label -> nouns, verbs (words that appear in no other topic nor in the filler)
    "film": (["movie", "film", "acting", "plot"], []),
    "music": (["music", "show"], ["play"]),
    "books": (["book", "story"], ["read", "write"]),
    "city": (["city", "house", "cafe", "water"], ["walk"]),
    "work": (["work", "people", "resume"], ["talk"]),
}
TOPIC_ORDER = list(TOPICS)
NOUN_CLAUSES = ["the {n} was {a}{j}", "we loved the {n}", "they hated the {n}", "this {n} is {a}{j}",
                "one {n} at night", "the {n} of the year", "it is the {j} {n}", "we love the {n} so"]
VERB_CLAUSES = ["we {v} at night", "they {v} in the day", "we {v} with people", "i {v} one time"]
FILLER = ["it was {a}{j}", "one day it was {j}", "this is {a}{j} too", "we loved it", "they hated it so",
          "it is not {j}", "one time at night"]


def topic_clause(rng, topic):
    nouns, verbs = TOPICS[topic]
    if topic == "work":
        nouns = [n for n in nouns if n != "people"]  # "people" is in a verb clause; keep it to this topic
        verbs = verbs + ["work"]
    if verbs and rng.random() < 0.3:
        return rng.choice(VERB_CLAUSES).format(v=rng.choice(verbs))
    if topic == "work" and rng.random() < 0.2:
        return "the people at work"
    j = rng.choice(POSITIVE + NEGATIVE)
    return rng.choice(NOUN_CLAUSES).format(n=rng.choice(nouns), a=rng.choice(ADVERBS), j=j)


def topics_example(rng):
    k = rng.choices([0, 1, 2, 3], weights=[10, 40, 35, 15])[0]
    chosen = rng.sample(TOPIC_ORDER, k)
    clauses = [topic_clause(rng, t) for t in chosen]
    # people appears in the work topic only: drop the verb clause that names it when work is not chosen
    clauses = [c.replace("with people", "at night") if "work" not in chosen else c for c in clauses]
    if k == 0 or rng.random() < 0.3:
        clauses.insert(rng.randrange(len(clauses) + 1),
                       rng.choice(FILLER).format(a=rng.choice(ADVERBS), j=rng.choice(POSITIVE + NEGATIVE)))
    text = clauses[0]
    for c in clauses[1:]:
        text += rng.choice([" and ", " but ", " , "]) + c
    return text, [t for t in TOPIC_ORDER if t in chosen]


def make_topics(rng):
    taken = set()
    train = distinct(rng, topics_example, 400, taken)
    test = distinct(rng, topics_example, 120, taken)
    for name, rows in (("tiny-topics", train), ("tiny-topics-test", test)):
        write(name + ".csv", csv_text(["text", "labels"], [(t, "|".join(ls)) for t, ls in rows]))
        write(name + ".jsonl", jsonl_text({"text": t, "labels": ls} for t, ls in rows))
    return train, test


# ----------------------------------------------------------------------------------------------------- regression
NOUNS = ["movie", "film", "book", "story", "plot", "acting", "music", "show", "end", "city", "cafe", "house"]


def score_example(rng):
    while True:
        p, n = rng.randint(0, 3), rng.randint(0, 3)
        if 0 < p + n <= 4 or rng.random() < 0.05:
            break
    adjectives = rng.sample(POSITIVE, p) + rng.sample(NEGATIVE, n)
    rng.shuffle(adjectives)
    clauses = []
    while adjectives:
        take = 2 if len(adjectives) >= 2 and rng.random() < 0.4 else 1
        js, adjectives = adjectives[:take], adjectives[take:]
        clauses.append("the %s was %s%s" % (rng.choice(NOUNS), rng.choice(ADVERBS), " and ".join(js)))
    if not clauses:
        clauses = ["the %s was one %s" % (rng.choice(NOUNS), rng.choice(["year", "day", "night", "time"]))]
    text = clauses[0]
    for c in clauses[1:]:
        text += rng.choice([" and ", " but ", " , "]) + c
    score = 3 + 0.5 * (p - n) + rng.gauss(0, 0.1)
    return text, "%.2f" % score


def make_scores(rng):
    taken = set()
    train = distinct(rng, score_example, 400, taken)
    test = distinct(rng, score_example, 120, taken)
    write("tiny-scores.csv", csv_text(["text", "score"], train))
    write("tiny-scores-test.csv", csv_text(["text", "score"], test))
    return train, test


# --------------------------------------------------------------------------------------------------------- NER
FIRST = ["Ann", "Tom", "Eva", "Max", "Sam", "Joe", "Ada", "Ben", "Kim", "Lee", "Ida", "Otto"]
LAST = ["Walker", "Reader", "Player", "Worker", "Best", "Love"]
LOC = ["Paris", "Rome", "Oslo", "Lima", "New York", "Water City", "Night City", "Day City", "Over Water",
       "Hello World"]
ORG = ["Film House", "Music House", "Book House", "Water Works", "Token Works", "World Music", "Happy Cafe",
       "Great Film House", "Transformers"]
MISC = ["Music Night", "Film Year", "Book Day", "Play Time", "World Play Day"]

# {PER} {LOC} {ORG} {MISC}: an entity; {adj} {time} {noun}: a word of those lists (sentences without entities);
# the rest are words of the vocabulary. Entities start and end sentences.
TEMPLATES = [
    "{PER} was in {LOC} .",
    "{PER} and {PER} work for {ORG} .",
    "{ORG} is in {LOC} .",
    "we loved the {MISC} in {LOC} .",
    "{LOC} was great for the {MISC} .",
    "they walk to {LOC}",
    "the people of {LOC} love {ORG}",
    "{PER} read the book by {PER} .",
    "{MISC} was fun this year .",
    "at night {PER} talk with {PER}",
    "{ORG} show the film at {MISC}",
    "{PER} of {ORG} was at the {MISC} in {LOC} .",
    "in {LOC} , {ORG} is the best",
    "{PER} loved {LOC}",
    "the {MISC} was boring but {PER} was happy .",
    "the {time} was {adj} .",
    "we loved the {noun} and the {noun} .",
    "{PER} : the story of {LOC} is not over .",
    "in {LOC} {LOC} and {LOC} people love {ORG} .",
    "{ORG} and {ORG} play at the {MISC}",
]
TEMPLATE_WEIGHTS = [6, 5, 5, 4, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 3, 2]

POS = {"the": "DT", "a": "DT", "this": "DT", "was": "VBD", "is": "VBZ", "and": "CC", "but": "CC", "in": "IN",
       "at": "IN", "for": "IN", "of": "IN", "by": "IN", "with": "IN", "to": "TO", "we": "PRP", "they": "PRP",
       "it": "PRP", "people": "NNS", "loved": "VBD", "love": "VBP", "work": "VBP", "walk": "VBP", "read": "VBD",
       "talk": "VBP", "show": "VBP", "play": "VBP", "night": "NN", "year": "NN", "day": "NN", "book": "NN",
       "film": "NN", "music": "NN", "story": "NN", "great": "JJ", "fun": "JJ", "good": "JJ", "boring": "JJ",
       "happy": "JJ", "best": "JJS", "not": "RB", "over": "RP", ".": ".", ",": ",", ":": ":"}


def entity(rng, kind):
    if kind == "PER":
        r = rng.random()
        return (rng.choice(FIRST) + " " + rng.choice(LAST)) if r < 0.6 else rng.choice(FIRST if r < 0.85 else LAST)
    return rng.choice({"LOC": LOC, "ORG": ORG, "MISC": MISC}[kind])


def ner_example(rng):
    template = rng.choices(TEMPLATES, weights=TEMPLATE_WEIGHTS)[0]
    tokens, tags, used = [], [], {}
    for part in template.split():
        if part in ("{adj}", "{time}", "{noun}"):
            tokens.append(rng.choice({"{adj}": POSITIVE + NEGATIVE, "{time}": ["day", "night", "year", "time"],
                                      "{noun}": NOUNS}[part]))
            tags.append("O")
        elif part.startswith("{"):
            kind = part[1:-1]
            while True:  # the entities of one sentence differ (two persons are two persons)
                name = entity(rng, kind)
                if name not in used:
                    break
            used[name] = kind
            words = name.split()
            tokens += words
            tags += ["B-" + kind] + ["I-" + kind] * (len(words) - 1)
        else:
            tokens.append(part)
            tags.append("O")
    return tokens, tags


def pos_and_chunks(tokens, tags):
    """Penn Treebank tags and chunk tags as CoNLL-2003 has them, good enough for a fixture (the NER tag is the
    column that counts)."""
    pos = []
    for i, (tok, tag) in enumerate(zip(tokens, tags)):
        if tag != "O":
            pos.append("NNP")
        elif tok in NOUNS and i > 0 and pos[-1] == "DT":
            pos.append("NN")  # "the show", not "show the film"
        elif tok in POSITIVE + NEGATIVE:
            pos.append("JJS" if tok in ("best", "worst") else "JJ")
        else:
            pos.append(POS.get(tok, "NN"))
    chunks, previous = [], None
    for p in pos:
        if p in ("JJ", "JJS") and previous == "VP":
            kind = "ADJP"  # "was great"
        elif p in ("DT", "NN", "NNS", "NNP", "JJ", "JJS", "PRP"):
            kind = "NP"
        else:
            kind = ("VP" if p.startswith("VB") else "PP" if p in ("IN", "TO") else "ADVP" if p == "RB"
                    else "PRT" if p == "RP" else None)
        if kind is None:
            chunks.append("O")
        else:  # a noun phrase goes on over adjectives and nouns; a new one starts at a determiner or pronoun
            chunks.append(("I-" if kind == previous == "NP" and p not in ("DT", "PRP") else "B-") + kind)
        previous = kind
    return pos, chunks


def to_iob1(tags):
    out = []
    for i, tag in enumerate(tags):
        if tag.startswith("B-") and not (i > 0 and tags[i - 1] != "O" and tags[i - 1][2:] == tag[2:]):
            tag = "I-" + tag[2:]
        out.append(tag)
    return out


def to_bioes(tags):
    out = []
    for i, tag in enumerate(tags):
        ends = i + 1 == len(tags) or not tags[i + 1].startswith("I-")
        if tag.startswith("B-"):
            tag = ("S-" if ends else "B-") + tag[2:]
        elif tag.startswith("I-"):
            tag = ("E-" if ends else "I-") + tag[2:]
        out.append(tag)
    return out


def conll_text(rng, sentences, convert=None):
    """CoNLL-2003 layout: -DOCSTART- lines, then `token POS chunk tag` lines, a blank line after each sentence."""
    lines, i = [], 0
    while i < len(sentences):
        lines += ["-DOCSTART- -X- -X- O", ""]
        size = rng.randint(8, 20)
        for tokens, tags in sentences[i:i + size]:
            pos, chunks = pos_and_chunks(tokens, tags)
            shown = convert(tags) if convert else tags
            lines += ["%s %s %s %s" % row for row in zip(tokens, pos, chunks, shown)] + [""]
        i += size
    return "\n".join(lines) + "\n"


def make_ner(rng):
    taken = set()
    train = distinct(rng, ner_example, 400, taken)
    test = distinct(rng, ner_example, 120, taken)
    doc = random.Random(SEED + 1)  # document breaks: the same in every version of the test file
    write("tiny-ner.conll", conll_text(doc, train))
    write("tiny-ner.jsonl", jsonl_text({"tokens": t, "tags": g} for t, g in train))
    for suffix, convert in (("", None), ("-iob1", to_iob1), ("-bioes", to_bioes)):
        write("tiny-ner-test%s.conll" % suffix, conll_text(random.Random(SEED + 2), test, convert))
    write("tiny-ner-test.jsonl", jsonl_text({"tokens": t, "tags": g} for t, g in test))
    return train, test


def main():
    rng = random.Random(SEED)
    topics = make_topics(rng)
    scores = make_scores(rng)
    ner = make_ner(rng)
    for name, (train, test) in (("tiny-topics", topics), ("tiny-scores", scores), ("tiny-ner", ner)):
        print("%s: %d train, %d test" % (name, len(train), len(test)))


if __name__ == "__main__":
    main()
