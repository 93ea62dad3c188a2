#!/usr/bin/env python3
"""Fixed predictions and their metrics as scikit-learn computes them: the reference for MetricsTest.

    /tmp/venv/bin/pip install scikit-learn numpy && /tmp/venv/bin/python src/data/generate_metrics_fixture.py
"""
import json
import os

import numpy as np
from sklearn import metrics


def case(name, y, p):
    pred = p.argmax(1)
    k = p.shape[1]
    out = {"name": name, "labels": y.tolist(), "probabilities": p.round(6).tolist()}
    p = np.array(out["probabilities"])  # the rounded values, exactly as Java reads them
    prf = metrics.precision_recall_fscore_support(y, pred, labels=list(range(k)), zero_division=0)
    out["expected"] = {
        "accuracy": metrics.accuracy_score(y, pred),
        "precision": prf[0].tolist(), "recall": prf[1].tolist(), "f1": prf[2].tolist(), "support": prf[3].tolist(),
        "macroF1": metrics.f1_score(y, pred, average="macro", zero_division=0),
        "microF1": metrics.f1_score(y, pred, average="micro", zero_division=0),
        "weightedF1": metrics.f1_score(y, pred, average="weighted", zero_division=0),
        "macroPrecision": metrics.precision_score(y, pred, average="macro", zero_division=0),
        "weightedRecall": metrics.recall_score(y, pred, average="weighted", zero_division=0),
        "confusion": metrics.confusion_matrix(y, pred, labels=list(range(k))).tolist(),
        "logLoss": metrics.log_loss(y, p, labels=list(range(k))),
    }
    if k == 2:
        out["expected"]["rocAuc"] = metrics.roc_auc_score(y, p[:, 1])
        out["expected"]["prAuc"] = metrics.average_precision_score(y, p[:, 1])
    else:
        onehot = np.eye(k)[y]
        out["expected"]["rocAuc"] = metrics.roc_auc_score(y, p, multi_class="ovr", average="macro")
        out["expected"]["prAuc"] = metrics.average_precision_score(onehot, p, average="macro")
    # Confidences as float32, as the model emits them: 0.7 sits just below the 0.7 bin edge, as in Java.
    conf = p.max(1).astype(np.float32).astype(np.float64)
    correct = (pred == y).astype(float)
    bins = np.minimum((conf * 10).astype(int), 9)
    ece = sum(abs(correct[bins == b].mean() - conf[bins == b].mean()) * (bins == b).sum() for b in range(10) if (bins == b).any())
    out["expected"]["ece"] = ece / len(y)
    return out


def main():
    rng = np.random.default_rng(7)
    y2 = rng.integers(0, 2, 60)
    logits2 = rng.normal(size=(60, 2)) + np.eye(2)[y2] * 1.2
    p2 = np.exp(logits2) / np.exp(logits2).sum(1, keepdims=True)
    y3 = rng.integers(0, 3, 90)
    logits3 = rng.normal(size=(90, 3)) + np.eye(3)[y3] * 1.5
    p3 = np.exp(logits3) / np.exp(logits3).sum(1, keepdims=True)
    # Ties in scores: ROC and PR handle them by threshold, not by order.
    y4 = np.array([0, 1, 1, 0, 1, 0, 1, 1])
    s4 = np.array([0.2, 0.7, 0.7, 0.7, 0.4, 0.4, 0.9, 0.1])
    p4 = np.stack([1 - s4, s4], 1)
    cases = [case("binary", y2, p2), case("three-class", y3, p3), case("ties", y4, p4)]
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "metrics-reference.json"), "w") as f:
        json.dump({"generator": "scikit-learn " + __import__("sklearn").__version__, "cases": cases}, f, indent=1)


if __name__ == "__main__":
    main()
