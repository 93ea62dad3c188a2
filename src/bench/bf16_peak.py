"""Measures this CPU's bfloat16 matrix-multiply peak with PyTorch: the denominator of the benchmark's MFU.

Two shapes, each as M×K×N (an M×K matrix times a K×N one, 2·M·K·N FLOPs): a large square product, 2048³, and the
product BERT-base's feed-forward layer makes for a batch of 16 rows of 29 tokens, 464×768×3072. For each, samples of
back-to-back products lasting at least --sample-seconds are timed, and the best sample counts (other work on a shared
machine only slows a sample down). The peak is the better of the two shapes. Threads: every core this process may
run on (two here), as the fine-tuning runs use.
"""
import argparse
import json
import os
import time

import torch

SHAPES = [(2048, 2048, 2048), (464, 768, 3072)]


def best_gflops(m, k, n, samples, sample_seconds):
    a = torch.randn(m, k).to(torch.bfloat16)
    b = torch.randn(k, n).to(torch.bfloat16)
    for _ in range(3):  # oneDNN picks and caches its kernel on the first products
        torch.matmul(a, b)
    start, repeats = time.perf_counter(), 0
    while time.perf_counter() - start < sample_seconds / 4:
        torch.matmul(a, b)
        repeats += 1
    repeats = max(1, 4 * repeats)
    best = float("inf")
    for _ in range(samples):
        start = time.perf_counter()
        for _ in range(repeats):
            torch.matmul(a, b)
        best = min(best, (time.perf_counter() - start) / repeats)
    return 2 * m * k * n / best / 1e9


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", required=True, help="where to write the result JSON")
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--samples", type=int, default=7)
    p.add_argument("--sample-seconds", type=float, default=0.5)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    shapes = {f"{m}x{k}x{n}": best_gflops(m, k, n, a.samples, a.sample_seconds) for m, k, n in SHAPES}
    result = {"threads": a.threads, "torch": torch.__version__, "gflops": shapes, "peak_gflops": max(shapes.values())}
    with open(a.out, "w") as f:
        json.dump(result, f, indent=2)
    print("bf16 matmul peak, %d threads: %s -> %.0f GFLOP/s" % (
        a.threads, ", ".join(f"{s} {g:.0f}" for s, g in shapes.items()), result["peak_gflops"]))


if __name__ == "__main__":
    main()
