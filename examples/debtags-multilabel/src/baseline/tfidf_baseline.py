#!/usr/bin/env python3
"""A classical baseline for the debtags example: TF-IDF and one logistic regression per label.

    python tfidf_baseline.py [DATA_DIR]        (default target/data: run `mvn generate-resources` first)

Needs numpy and scikit-learn (not part of the build). Reads train/validation/test.jsonl as the plugin does (text,
labels), fits word 1-2-gram TF-IDF + one-vs-rest logistic regression on train, and prints for the test split, with
a threshold of 0.5 and with a threshold per label tuned for F1 on the validation split (what the plugin's
<threshold>tuned</threshold> does): micro and macro F1, subset accuracy (every label of a row right) and F1 per
label; and the same figures for two trivial predictors, for scale.
"""
import json
import os
import sys

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import MultiLabelBinarizer


def read(path):
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [r["text"] for r in rows], [r["labels"] for r in rows]


def tune(y, p):
    """Per label, the threshold among the validation probabilities that gives the best F1 (0.5 without positives)."""
    out = []
    for j in range(y.shape[1]):
        best, best_f1 = 0.5, -1.0
        if y[:, j].any():
            for t in np.unique(np.concatenate([p[:, j], [0.5]])):
                f1 = f1_score(y[:, j], p[:, j] >= t, zero_division=0)
                if f1 > best_f1:
                    best, best_f1 = t, f1
        out.append(best)
    return np.array(out)


def report(name, y, pred, labels):
    print("%s: micro F1 %.3f, macro F1 %.3f, subset accuracy %.3f" % (
        name, f1_score(y, pred, average="micro", zero_division=0), f1_score(y, pred, average="macro", zero_division=0),
        accuracy_score(y, pred)))
    return f1_score(y, pred, average=None, zero_division=0)


def main():
    data = sys.argv[1] if len(sys.argv) > 1 else "target/data"
    splits = ("train", "validation", "test")
    (xtr, ytr), (xva, yva), (xte, yte) = (read(os.path.join(data, s + ".jsonl")) for s in splits)
    mlb = MultiLabelBinarizer()
    ytr = mlb.fit_transform(ytr)
    labels = list(mlb.classes_)
    yva, yte = mlb.transform(yva), mlb.transform(yte)
    print("%d train, %d validation, %d test rows; %d labels" % (len(xtr), len(xva), len(xte), len(labels)))

    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    clf = OneVsRestClassifier(LogisticRegression(C=10.0, max_iter=2000, solver="liblinear"))
    clf.fit(vec.fit_transform(xtr), ytr)
    pva, pte = clf.predict_proba(vec.transform(xva)), clf.predict_proba(vec.transform(xte))
    thresholds = tune(yva, pva)

    # For scale: the training set's most frequent label set for every row, and every label of training prevalence
    # at least 0.5 (here none).
    sets = {}
    for row in ytr:
        sets[tuple(row)] = sets.get(tuple(row), 0) + 1
    common = np.array(max(sets, key=sets.get))
    report("most frequent label set (%s)" % "|".join(l for l, v in zip(labels, common) if v),
           yte, np.tile(common, (len(yte), 1)), labels)
    f_half = report("TF-IDF + logistic regression, threshold 0.5", yte, pte >= 0.5, labels)
    f_tuned = report("TF-IDF + logistic regression, thresholds tuned on validation", yte, pte >= thresholds, labels)
    print("%-14s %7s %7s %9s %10s" % ("label", "support", "F1@0.5", "F1 tuned", "threshold"))
    for j, label in enumerate(labels):
        print("%-14s %7d %7.3f %9.3f %10.3f" % (label, yte[:, j].sum(), f_half[j], f_tuned[j], thresholds[j]))


if __name__ == "__main__":
    main()
