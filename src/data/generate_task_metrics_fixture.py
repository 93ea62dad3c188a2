#!/usr/bin/env python3
"""Fixed multi-label and regression cases and their metrics as scikit-learn and SciPy compute them: the reference for
MultiLabelMetricsTest and RegressionMetricsTest.

    /tmp/venv/bin/pip install scikit-learn scipy numpy && /tmp/venv/bin/python src/data/generate_task_metrics_fixture.py

Scores are float32 values (as the model emits them, and as Java reads them back into a float[][]), written as the
float64 that equals them, so both sides compare exactly the same numbers with the thresholds. NaN is written as null.
"""
import json
import math
import os
import warnings

import numpy as np
from scipy import stats
from sklearn import metrics


def num(x):
    x = float(x)
    return None if math.isnan(x) else x


def average(y, pred, kind):
    p, r, f, _ = metrics.precision_recall_fscore_support(y, pred, average=kind, zero_division=0)
    return {"precision": p, "recall": r, "f1": f}


def multilabel_case(name, y, s, thresholds):
    s = s.astype(np.float32).astype(np.float64)
    thresholds = np.asarray(thresholds, dtype=np.float64)
    pred = (s >= thresholds).astype(int)
    p, r, f, support = metrics.precision_recall_fscore_support(y, pred, average=None, zero_division=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a label with one class only: NaN, with a warning
        roc = metrics.roc_auc_score(y, s, average=None)
    defined = [v for v in roc if not math.isnan(v)]
    return {
        "name": name, "truth": y.tolist(), "scores": s.tolist(), "thresholds": thresholds.tolist(),
        "expected": {
            "subsetAccuracy": metrics.accuracy_score(y, pred),
            "hammingLoss": metrics.hamming_loss(y, pred),
            "precision": p.tolist(), "recall": r.tolist(), "f1": f.tolist(), "support": support.tolist(),
            "rocAuc": [num(v) for v in roc],
            # The mean over the labels where it is defined; roc_auc_score(average="macro") gives NaN instead.
            "macroRocAuc": float(np.mean(defined)) if defined else None,
            **{k: average(y, pred, k) for k in ("micro", "macro", "weighted", "samples")},
        },
    }


def best_f1(y, s):
    """The highest F1 any threshold reaches on one label: brute force over every distinct score (and above them)."""
    best = 0.0
    for t in list(np.unique(s)) + [np.inf]:
        best = max(best, metrics.f1_score(y, (s >= t).astype(int), zero_division=0))
    return best


def tuning_case(name, y, s):
    s = s.astype(np.float32).astype(np.float64)
    return {"name": name, "truth": y.tolist(), "scores": s.tolist(),
            "expected": {"bestF1": [best_f1(y[:, j], s[:, j]) for j in range(y.shape[1])]}}


def regression_case(name, t, p):
    t = np.asarray(t, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input: NaN, with a warning
        pearson = stats.pearsonr(t, p).statistic
        spearman = stats.spearmanr(t, p).statistic
    return {"name": name, "truth": t.tolist(), "predicted": p.tolist(), "expected": {
        "rmse": metrics.mean_squared_error(t, p) ** 0.5, "mae": metrics.mean_absolute_error(t, p),
        "r2": metrics.r2_score(t, p), "pearson": num(pearson), "spearman": num(spearman)}}


def main():
    rng = np.random.default_rng(11)
    # Five labels of different frequency, scores that lean towards the truth.
    y1 = (rng.random((50, 5)) < [0.5, 0.3, 0.15, 0.6, 0.05]).astype(int)
    s1 = 1 / (1 + np.exp(-(rng.normal(size=(50, 5)) + (2 * y1 - 1) * 1.3)))
    # Edge cases, one label each: c0 never predicted (all scores below its threshold); c1 never true (ROC-AUC
    # undefined); c2 tied scores, some exactly on the threshold (>= counts them); c3 constant scores exactly on the
    # threshold (always predicted, ROC-AUC 0.5); c4 an ordinary label, one score exactly on the threshold. Example 2
    # has no true label. The thresholds and the scores on them are exact in float32, so "exactly" holds on both sides.
    y2 = np.array([
        [1, 0, 1, 1, 0],
        [0, 0, 1, 0, 1],
        [0, 0, 0, 0, 0],
        [1, 0, 0, 1, 1],
        [0, 0, 1, 0, 0],
        [1, 0, 0, 0, 1],
        [0, 0, 1, 1, 0],
        [1, 0, 0, 0, 0],
    ])
    s2 = np.array([
        [0.60, 0.10, 0.375, 0.25, 0.20],
        [0.20, 0.90, 0.375, 0.25, 0.80],
        [0.10, 0.20, 0.125, 0.25, 0.40],
        [0.65, 0.30, 0.125, 0.25, 0.50],
        [0.30, 0.95, 0.375, 0.25, 0.10],
        [0.69, 0.05, 0.125, 0.25, 0.30],
        [0.40, 0.50, 0.700, 0.25, 0.60],
        [0.50, 0.60, 0.375, 0.25, 0.45],
    ])
    t2 = [0.7, 0.5, 0.375, 0.25, 0.5]
    assert (s2[:, 0].astype(np.float32) < t2[0]).all() and y2[:, 1].sum() == 0 and y2[2].sum() == 0
    assert (s2[:, 3] == t2[3]).all() and (s2[:, 2] == t2[2]).sum() == 4 and (s2[:, 4] == t2[4]).sum() == 1
    # No label ever true: weighted average over no support is 0, no ROC-AUC at all.
    y3 = np.zeros((4, 3), dtype=int)
    s3 = np.array([[0.6, 0.2, 0.1], [0.4, 0.7, 0.2], [0.1, 0.1, 0.9], [0.5, 0.5, 0.5]])
    assert ((s1 < 0.5).all(1)).any() and (y1.sum(1) == 0).any()  # an example with nothing predicted, one with no label
    multilabel = [multilabel_case("random", y1, s1, [0.5] * 5),
                  multilabel_case("random-thresholds", y1, s1, [0.3, 0.4, 0.5, 0.6, 0.7]),
                  multilabel_case("edge", y2, s2, t2),
                  multilabel_case("never-true", y3, s3, [0.5] * 3)]
    # Threshold tuning: the F1 the tuned thresholds reach must be the best any threshold reaches. Label 3 has no
    # positive example (threshold stays 0.5); label 2's scores are quantised, so many tie.
    y4 = (rng.random((60, 4)) < [0.4, 0.2, 0.5, 0.0]).astype(int)
    s4 = 1 / (1 + np.exp(-(rng.normal(size=(60, 4)) + (2 * y4 - 1) * 0.8 - 1.0)))
    s4[:, 2] = np.round(s4[:, 2] * 5) / 5
    tuning = [tuning_case("tuning", y4, s4)]

    t = rng.normal(3, 2, 40)
    regression = [
        regression_case("random", t, t + rng.normal(0, 1, 40)),
        regression_case("anti-correlated", t[:12], -0.5 * t[:12] + rng.normal(0, 0.3, 12)),
        # Ties on both sides: Spearman with average ranks.
        regression_case("ties", [1, 2, 2, 3, 3, 3, 4, 5, 5, 1], [1, 1, 2, 2, 3, 3, 3, 3, 5, 2]),
        # Constant predictions: Pearson and Spearman undefined (NaN), R² negative.
        regression_case("constant-predictions", [1.5, 2.0, 4.0, 0.5, 3.0], [2.5] * 5),
        # Constant truth: R² is 0 unless the predictions are exact (scikit-learn's force_finite); correlations NaN.
        regression_case("constant-truth", [3.0] * 4, [2.0, 3.0, 4.0, 3.5]),
        regression_case("constant-exact", [3.0] * 3, [3.0] * 3),
        regression_case("two", [1.0, 2.0], [5.0, 3.0]),
    ]
    out = {"generator": "scikit-learn %s, scipy %s" % (__import__("sklearn").__version__, __import__("scipy").__version__),
           "multilabel": multilabel, "tuning": tuning, "regression": regression}
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "task-metrics-reference.json"), "w") as f:
        json.dump(out, f, indent=1, allow_nan=False)


if __name__ == "__main__":
    main()
