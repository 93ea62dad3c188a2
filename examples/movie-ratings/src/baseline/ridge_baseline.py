#!/usr/bin/env python3
"""Classical baselines for the movie-ratings example, on the split the build exports.

    python ridge_baseline.py [DATA_DIR]        (default target/data: run `mvn generate-resources` first)

Needs numpy, scipy and scikit-learn (not part of the build). Reads train/validation/test.csv (text, rating) and
prints, on the test split, RMSE, MAE, R², Pearson and Spearman of
  - the training mean for every movie (what any model must beat; its R² is about 0),
  - TF-IDF of word 1-2-grams + ridge regression, with the ridge strength chosen on the validation split.
The metrics are those of the plugin's regression gates (maximumRmse, maximumMae, minimumR2, minimumPearson,
minimumSpearman).
"""
import csv
import os
import sys

import numpy as np
from scipy.stats import pearsonr, spearmanr
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import Ridge


def read(path):
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], np.array([float(r["rating"]) for r in rows])


def metrics(y, p):
    err = p - y
    constant = np.ptp(p) == 0
    return {"RMSE": np.sqrt(np.mean(err ** 2)), "MAE": np.mean(np.abs(err)),
            "R2": 1 - np.sum(err ** 2) / np.sum((y - y.mean()) ** 2),
            "Pearson": float("nan") if constant else pearsonr(y, p)[0],
            "Spearman": float("nan") if constant else spearmanr(y, p)[0]}


def show(name, m):
    print("%-48s " % name + "  ".join("%s %.3f" % kv for kv in m.items()))


def main():
    data = sys.argv[1] if len(sys.argv) > 1 else "target/data"
    splits = ("train", "validation", "test")
    (xtr, ytr), (xva, yva), (xte, yte) = (read(os.path.join(data, s + ".csv")) for s in splits)
    print("%d train, %d validation, %d test rows; test ratings %.2f to %.2f, mean %.3f, standard deviation %.3f"
          % (len(xtr), len(xva), len(xte), yte.min(), yte.max(), yte.mean(), yte.std()))
    show("training mean (%.3f) for every movie" % ytr.mean(), metrics(yte, np.full(len(yte), ytr.mean())))

    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    ftr, fva, fte = vec.fit_transform(xtr), vec.transform(xva), vec.transform(xte)
    best = min((np.sqrt(np.mean((Ridge(alpha=a).fit(ftr, ytr).predict(fva) - yva) ** 2)), a)
               for a in (0.3, 1.0, 3.0, 10.0, 30.0))
    model = Ridge(alpha=best[1]).fit(ftr, ytr)
    show("TF-IDF + ridge (alpha %g, validation RMSE %.3f)" % (best[1], best[0]), metrics(yte, model.predict(fte)))


if __name__ == "__main__":
    main()
