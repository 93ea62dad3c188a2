"""The Python side of the serving benchmark (serving.sh): the same fine-tuned model served two ways, and the table.

  texts    writes the texts every system is measured on (test.csv's reviews) to one JSON file
  convert  the fine-tuned SavedModel's weights (encoder, pooler, head) into a Hugging Face
           BertForSequenceClassification with its tokenizer; checks its probabilities against the SavedModel's
  serve    one system as a worker that answers the driver (as ServingBench.java serve does for Java): tf (the exported
           SavedModel's serving_default signature, tokenized with tokenizers' BertWordPieceTokenizer) or hf
           (pipeline("text-classification") on the converted weights, PyTorch)
  bench    the driver: starts the Java, tf and hf workers (each under GNU time, for peak RSS), warms each up the same
           way, then measures in rounds that take the systems in turn (the machine's load changes, so each system
           gets its share of every period): latency of sequential single requests, throughput of 8 concurrent clients
           sending single requests, and at the end batched throughput (the whole list at once). Python's concurrent
           clients run twice, as plain threads calling the model and through a micro-batcher with the Java runtime's
           policy and defaults; the better one counts. Writes java.json, tf.json, hf.json.
  levers   the driver for the Java runtime's settings (ServingBench serve --settings levers), also in rounds
  startup  one system in a fresh process: load to first prediction
  table    the markdown table of every result, with ratios against the better Python system

Each system runs with `--threads` intra-op threads (2: every core here). Heavy imports happen inside the commands, so
`startup` times them and `table` needs none of them.
"""
import argparse
import concurrent.futures
import json
import math
import os
import queue
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(__file__))
import common  # noqa: E402

BATCH = 32  # as the Java runtime's default maxBatchSize
PYTHON_SYSTEMS = ("tf", "tf-bf16", "hf", "hf-bf16")
SYSTEMS = ("java", "java-f32") + PYTHON_SYSTEMS  # java: the defaults (precision auto); java-f32: precision float32


def labels_of(model):
    with open(os.path.join(model, "labels.json")) as f:
        return json.load(f)


def percentile(values, q):
    """Nearest rank, as ServingBench.java computes it."""
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q / 100 * len(s)) - 1))]


class TfSystem:
    """The exported SavedModel through its serving_default signature; each batch padded to its longest row."""
    name = "Python TensorFlow (SavedModel signature)"

    def __init__(self, model, threads, precision="float32"):
        import tensorflow as tf
        from tokenizers import BertWordPieceTokenizer
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        if precision == "bfloat16":
            # The rewrite the Java runtime's bfloat16 uses: Grappler's oneDNN auto mixed precision.
            tf.config.optimizer.set_experimental_options({"auto_mixed_precision_onednn_bfloat16": True})
            self.name = "Python TensorFlow, bfloat16 (oneDNN auto mixed precision)"
        self.tf = tf
        meta = labels_of(model)
        self.labels = meta["labels"]
        self.tok = BertWordPieceTokenizer(os.path.join(model, meta.get("tokenizer", "vocab.txt")), lowercase=meta.get("doLowerCase", True))
        self.tok.enable_truncation(meta["maxSequenceLength"])
        self.serve = tf.saved_model.load(os.path.join(model, "saved_model")).signatures["serving_default"]

    def lengths(self, texts):
        return [len(e.ids) for e in self.tok.encode_batch(texts)]

    def predict_batch(self, texts):
        """Probabilities, one row per text."""
        ids = [e.ids for e in self.tok.encode_batch(texts)] if len(texts) > 1 else [self.tok.encode(texts[0]).ids]
        width = max(len(r) for r in ids)
        x = self.tf.constant([r + [0] * (width - len(r)) for r in ids], self.tf.int32)
        mask = self.tf.constant([[1] * len(r) + [0] * (width - len(r)) for r in ids], self.tf.int32)
        return self.serve(input_ids=x, input_mask=mask, segment_ids=self.tf.zeros_like(x))["probabilities"].numpy().tolist()

    def predict_one(self, text):
        return self.predict_batch([text])[0]


class HfSystem:
    """Hugging Face's text-classification pipeline on the converted weights (PyTorch, CPU), all labels' scores."""
    name = "Hugging Face pipeline (PyTorch)"

    def __init__(self, model, threads, hf, precision="float32"):
        import contextlib
        import torch
        from transformers import pipeline
        torch.set_num_threads(threads)
        # bfloat16: CPU autocast around each call (it is per thread), matmuls in bfloat16, weights float32.
        self.autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if precision == "bfloat16" else contextlib.nullcontext
        if precision == "bfloat16":
            self.name = "Hugging Face pipeline (PyTorch), bfloat16 autocast"
        self.labels = labels_of(model)["labels"]
        self.max_length = labels_of(model)["maxSequenceLength"]
        self.pipe = pipeline("text-classification", model=hf, tokenizer=hf, device="cpu", top_k=None)

    def lengths(self, texts):
        return [len(r) for r in self.pipe.tokenizer(texts, truncation=True, max_length=self.max_length)["input_ids"]]

    def row(self, scores):
        if scores and isinstance(scores[0], list):  # one text may come back as a list of one
            scores = scores[0]
        by = {s["label"]: s["score"] for s in scores}
        return [by[label] for label in self.labels]

    def predict_batch(self, texts):
        with self.autocast():
            out = self.pipe(texts, batch_size=len(texts), truncation=True, max_length=self.max_length)
        return [self.row(s) for s in out]

    def predict_one(self, text):
        with self.autocast():
            return self.row(self.pipe(text, truncation=True, max_length=self.max_length))


def system(a):
    kind, _, precision = a.system.partition("-")
    precision = "bfloat16" if precision == "bf16" else "float32"
    return TfSystem(a.model, a.threads, precision) if kind == "tf" else HfSystem(a.model, a.threads, a.hf, precision)


class MicroBatcher:
    """The Java runtime's policy in Python: a worker takes the oldest request, drains the queue, waits until the oldest
    has waited max_wait for more (or the batch is full), and runs one batch."""

    def __init__(self, run, max_batch, max_wait):
        self.run, self.max_batch, self.max_wait = run, max_batch, max_wait
        self.q = queue.Queue()
        self.sizes = []
        self.closed = False
        self.worker = threading.Thread(target=self.loop, daemon=True)
        self.worker.start()

    def submit(self, text):
        f = concurrent.futures.Future()
        self.q.put((text, time.perf_counter(), f))
        return f.result()

    def loop(self):
        while not self.closed:
            try:
                first = self.q.get(timeout=0.1)
            except queue.Empty:
                continue
            batch = [first]
            deadline = first[1] + self.max_wait
            while len(batch) < self.max_batch:
                try:
                    batch.append(self.q.get_nowait())
                    continue
                except queue.Empty:
                    pass
                left = deadline - time.perf_counter()
                if left <= 0:
                    break
                try:
                    batch.append(self.q.get(timeout=left))
                except queue.Empty:
                    break
            self.sizes.append(len(batch))
            try:
                rows = self.run([t for t, _, _ in batch])
                for (_, _, f), r in zip(batch, rows):
                    f.set_result(r)
            except Exception as e:  # noqa: BLE001
                for _, _, f in batch:
                    f.set_exception(e)

    def close(self):
        self.closed = True
        self.worker.join()


def latency(predict, texts):
    """Seconds of each of a sequence of single requests, one text each."""
    out = []
    for t in texts:
        start = time.perf_counter()
        predict(t)
        out.append(time.perf_counter() - start)
    return out


def concurrent_clients(predict, texts, clients):
    """Every text sent once as a single request by `clients` threads, each taking the next text when it has its
    answer: the wall time, and each request's seconds."""
    lock = threading.Lock()
    nxt = [0]
    seconds = [0.0] * len(texts)

    def client():
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= len(texts):
                return
            t = time.perf_counter()
            predict(texts[i])
            seconds[i] = time.perf_counter() - t

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, seconds


def batched(s, texts):
    """The whole list at once, as its own best: sorted by token count, batches of BATCH, answers in the texts' order."""
    order = sorted(range(len(texts)), key=s.lengths(texts).__getitem__)
    out = [None] * len(texts)
    for start in range(0, len(order), BATCH):
        rows = order[start:start + BATCH]
        for i, p in zip(rows, s.predict_batch([texts[i] for i in rows])):
            out[i] = p
    return out


def summary(seconds):
    ms = [1000 * x for x in seconds]
    return {"p50_ms": percentile(ms, 50), "p99_ms": percentile(ms, 99), "mean_ms": sum(ms) / len(ms)}


def read_texts(path):
    with open(path) as f:
        return json.load(f)


def cmd_texts(a):
    texts, _ = common.read(os.path.join(a.data, "test.csv"))
    with open(a.out, "w") as f:
        json.dump(texts[:a.count], f)
    print(f"{min(a.count, len(texts))} texts in {a.out}")


def cmd_convert(a):
    import numpy as np
    import tensorflow as tf
    import torch
    from transformers import BertForSequenceClassification, BertTokenizerFast
    import hf_weights

    meta = labels_of(a.model)
    labels = meta["labels"]
    reader = tf.train.load_checkpoint(os.path.join(a.model, "saved_model", "variables", "variables"))
    shapes = reader.get_variable_to_shape_map()
    config = hf_weights.bert_config(shapes, num_labels=len(labels), id2label=dict(enumerate(labels)),
                                    label2id={n: i for i, n in enumerate(labels)}, classifier_dropout=0.0)
    model = BertForSequenceClassification(config)
    used = hf_weights.copy_encoder(reader, model.bert)
    # The plugin's head (ClassifierGraph, pooling "pooled"): softmax(pooled_output · kernel + bias).
    with torch.no_grad():
        model.classifier.weight.copy_(torch.from_numpy(np.ascontiguousarray(reader.get_tensor("finetune_head/kernel").T)))
        model.classifier.bias.copy_(torch.from_numpy(reader.get_tensor("finetune_head/bias")))
    left = sorted(set(shapes) - used - {"finetune_head/kernel", "finetune_head/bias"})
    if left:
        sys.exit(f"checkpoint weights not mapped: {left}")
    model.eval()
    shutil.rmtree(a.out, ignore_errors=True)
    model.save_pretrained(a.out)
    # The model's own vocab.txt, read the way every transformers version reads a folder that holds only it.
    with tempfile.TemporaryDirectory() as vocab:
        shutil.copyfile(os.path.join(a.model, meta.get("tokenizer", "vocab.txt")), os.path.join(vocab, "vocab.txt"))
        tok = BertTokenizerFast.from_pretrained(vocab, do_lower_case=meta.get("doLowerCase", True),
                                                model_max_length=meta["maxSequenceLength"])
    tok.save_pretrained(a.out)
    print(f"{len(used) + 2} weights mapped into BertForSequenceClassification ({config.num_hidden_layers} layers, "
          f"labels {labels}), saved to {a.out}")

    texts = read_texts(a.texts)
    tf_system = TfSystem(a.model, a.threads)
    theirs = [e.ids for e in tf_system.tok.encode_batch(texts)]
    ours = tok(texts, truncation=True, max_length=meta["maxSequenceLength"])["input_ids"]
    differ = sum(x != y for x, y in zip(ours, theirs))
    print(f"token ids: the pipeline's tokenizer and BertWordPieceTokenizer differ on {differ} of {len(texts)} texts")
    if differ:
        sys.exit("the converted tokenizer does not reproduce BertWordPieceTokenizer")
    texts = texts[:32]
    tf_probs = np.array(tf_system.predict_batch(texts))
    enc = tok(texts, truncation=True, padding=True, return_tensors="pt")
    with torch.no_grad():
        torch_probs = torch.softmax(model(**enc).logits, -1).numpy()
    hf_probs = np.array(HfSystem(a.model, a.threads, a.out).predict_batch(texts))
    d1 = float(np.abs(torch_probs - tf_probs).max())
    d2 = float(np.abs(hf_probs - tf_probs).max())
    print(f"probabilities, {len(texts)} reviews in one batch: largest difference PyTorch - SavedModel {d1:.2e}, "
          f"pipeline - SavedModel {d2:.2e}")
    with open(os.path.join(a.out, "check.json"), "w") as f:
        json.dump({"texts": len(texts), "token_ids_differ": differ, "max_diff_torch_vs_savedmodel": d1, "max_diff_pipeline_vs_savedmodel": d2}, f)
    if max(d1, d2) > 1e-4:
        sys.exit("the converted weights do not reproduce the SavedModel")


def cmd_serve(a):
    """The worker: one JSON command a line on stdin, one JSON answer a line on stdout; all else goes to stderr."""
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    texts = read_texts(a.texts)
    s = system(a)
    protocol.write(json.dumps({"ready": True, "name": s.name, "settings": ["defaults"]}) + "\n")
    for line in sys.stdin:
        c = json.loads(line)
        if c["op"] == "quit":
            break
        some = [texts[(c.get("start", 0) + i) % len(texts)] for i in range(c.get("count", len(texts)))]
        r = {"batches": []}
        if c["op"] == "warmup":
            for t in texts[:10]:
                s.predict_one(t)
            for n in (2, 4, 8, 16, 32):
                s.predict_batch(texts[:n])
        elif c["op"] == "latency":
            r["seconds"] = latency(s.predict_one, some)
        elif c["op"] == "concurrent" and c.get("mode") == "micro_batcher":
            mb = MicroBatcher(s.predict_batch, BATCH, a.max_wait_ms / 1000)
            r["wall"], r["seconds"] = concurrent_clients(mb.submit, some, c.get("clients", 8))
            mb.close()
            r["batches"] = mb.sizes
        elif c["op"] == "concurrent":
            r["wall"], r["seconds"] = concurrent_clients(s.predict_one, some, c.get("clients", 8))
        elif c["op"] == "batched":
            start = time.perf_counter()
            r["probabilities"] = batched(s, some)
            r["wall"] = time.perf_counter() - start
        protocol.write(json.dumps(r) + "\n")


class Worker:
    """A serving process under GNU time (its peak RSS), spoken to through its stdin and stdout."""

    def __init__(self, key, cmd, directory):
        self.key = key
        self.log = open(os.path.join(directory, f"{key}.log"), "w")
        self.time_file = os.path.join(directory, f"{key}.run.time")
        self.p = subprocess.Popen(["/usr/bin/time", "-v", "-o", self.time_file] + cmd, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=self.log, text=True, bufsize=1, env=worker_env(key))
        self.ready = self.read()

    def read(self):
        line = self.p.stdout.readline()
        if not line:
            sys.exit(f"the {self.key} worker stopped: see {self.log.name}")
        return json.loads(line)

    def ask(self, **command):
        self.p.stdin.write(json.dumps(command) + "\n")
        self.p.stdin.flush()
        return self.read()

    def quit(self):
        self.p.stdin.write(json.dumps({"op": "quit"}) + "\n")
        self.p.stdin.close()
        self.p.wait()
        return peak_mib(self.time_file)


def worker_env(key):
    """PyTorch's OpenMP threads wait passively: spinning ones collapse when another process holds the cores (on this
    shared machine, a batch-1 forward took 1.06 s at the median spinning and 0.14 s passive)."""
    env = dict(os.environ)
    if key.startswith("hf"):
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return env


def rotated(items, r):
    return items[r % len(items):] + items[:r % len(items)]


class Tally:
    """Concurrent runs added up: texts over wall seconds, request seconds, batch sizes."""

    def __init__(self):
        self.wall, self.seconds, self.batches = 0.0, [], []

    def add(self, answer):
        self.wall += answer["wall"]
        self.seconds += answer["seconds"]
        self.batches += answer["batches"]

    def result(self, clients):
        r = {"clients": clients, "texts_per_s": len(self.seconds) / self.wall, **summary(self.seconds)}
        if self.batches:
            r["mean_batch"] = sum(self.batches) / len(self.batches)
        return r


def commands(a, key):
    here = os.path.dirname(os.path.abspath(__file__))
    if key.startswith("java"):
        return shlex.split(a.java) + ["serve", "--model", a.model, "--texts", a.texts, "--threads", str(a.threads),
                                      "--precision", "float32" if key == "java-f32" else "auto"]
    return [sys.executable, os.path.join(here, "serving.py"), "serve", "--system", key, "--model", a.model,
            "--texts", a.texts, "--threads", str(a.threads), "--max-wait-ms", str(a.max_wait_ms)] + (["--hf", a.hf] if a.hf else [])


def cmd_bench(a):
    texts = read_texts(a.texts)
    keys = a.systems.split(",")
    workers = {}
    for key in keys:  # one after the other: loading is measured apart (startup)
        workers[key] = Worker(key, commands(a, key), a.dir)
        workers[key].ask(op="warmup")
        print(f"{key}: loaded and warmed up", flush=True)
    modes = {k: ["runtime"] if k.startswith("java") else ["threads", "micro_batcher"] for k in keys}
    lat = {k: [] for k in keys}
    conc = {k: {m: Tally() for m in modes[k]} for k in keys}
    for r in range(a.rounds):
        for key in rotated(keys, r):
            w = workers[key]
            lat[key] += w.ask(op="latency", start=r * a.latency_requests, count=a.latency_requests)["seconds"]
            for m in modes[key]:
                conc[key][m].add(w.ask(op="concurrent", mode=m, start=r * a.concurrent_texts, count=a.concurrent_texts,
                                       clients=a.clients))
        print(f"round {r + 1}/{a.rounds}: " + ", ".join(
            f"{k} p50 {summary(lat[k])['p50_ms']:.0f} ms, 8 clients "
            + "/".join(f"{t.result(a.clients)['texts_per_s']:.1f}" for t in conc[k].values()) + " texts/s" for k in keys), flush=True)
    results = {}
    for key in rotated(keys, a.rounds):
        b = workers[key].ask(op="batched", start=0, count=len(texts))
        w = workers[key]
        res = {"system": key, "name": w.ready["name"], "threads": a.threads, "texts": len(texts),
               "requests": len(lat[key]), "rounds": a.rounds, "latency": summary(lat[key])}
        if key.startswith("java"):
            res["concurrent"] = conc[key]["runtime"].result(a.clients)
            res["options"] = w.ready.get("options")
        else:
            c = {m: conc[key][m].result(a.clients) for m in modes[key]}
            best = max(c, key=lambda m: c[m]["texts_per_s"])
            res["concurrent"] = {"clients": a.clients, "best": best, "texts_per_s": c[best]["texts_per_s"], **c}
            res["concurrent"]["micro_batcher"]["max_wait_ms"] = a.max_wait_ms
        res["batched"] = {"texts_per_s": len(texts) / b["wall"], "batch": BATCH,
                          **({"mean_batch": sum(b["batches"]) / len(b["batches"])} if b["batches"] else {})}
        res["probabilities"] = b["probabilities"]
        results[key] = res
        print(f"{key}: batched {res['batched']['texts_per_s']:.1f} texts/s", flush=True)
    for key in keys:
        peak = workers[key].quit()
        with open(os.path.join(a.dir, f"{key}.run.peak"), "w") as f:
            f.write(f"{peak}\n")
        with open(os.path.join(a.dir, f"{key}.json"), "w") as f:
            json.dump(results[key], f)


def cmd_levers(a):
    w = Worker("levers", shlex.split(a.java) + ["serve", "--model", a.model, "--texts", a.texts, "--threads", str(a.threads),
                                                "--settings", "levers"], a.dir)
    names = w.ready["settings"]
    for i in range(len(names)):
        w.ask(op="warmup", setting=i)
    lat = [[] for _ in names]
    conc = [Tally() for _ in names]
    lists = [[0.0, 0] for _ in names]
    # Single requests for the serving settings; a list (predict(List)) for the defaults and the list batch sizes.
    serving = [not n.startswith("predict(List)") for n in names]
    listing = [i == 0 or not serving[i] for i in range(len(names))]
    for r in range(a.rounds):
        for i in rotated(list(range(len(names))), r):
            if serving[i]:
                lat[i] += w.ask(op="latency", setting=i, start=r * a.latency_requests, count=a.latency_requests)["seconds"]
                conc[i].add(w.ask(op="concurrent", setting=i, start=r * a.concurrent_texts, count=a.concurrent_texts,
                                  clients=a.clients))
            if listing[i]:
                lists[i][0] += w.ask(op="batched", setting=i, start=r * a.concurrent_texts, count=a.concurrent_texts)["wall"]
                lists[i][1] += a.concurrent_texts
        print(f"levers round {r + 1}/{a.rounds} done", flush=True)
    w.quit()
    out = []
    for i, n in enumerate(names):
        r = {"setting": n}
        if serving[i]:
            r["latency"] = summary(lat[i])
            r["concurrent"] = conc[i].result(a.clients)
        if listing[i]:
            r["batched"] = {"texts_per_s": lists[i][1] / lists[i][0], "texts": lists[i][1]}
        out.append(r)
    for r in out:
        print(json.dumps(r))
    with open(os.path.join(a.dir, "levers.json"), "w") as f:
        json.dump(out, f, indent=1)


def cmd_startup(a):
    begin = time.perf_counter()
    text = read_texts(a.texts)[0]
    if a.system.startswith("tf"):
        import tensorflow  # noqa: F401
    else:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    imported = time.perf_counter()
    s = system(a)
    s.predict_one(text)
    done = time.perf_counter()
    result = {"system": a.system, "imports_s": imported - begin, "load_to_first_prediction_s": done - imported,
              "process_start_to_first_prediction_s": time.time() - a.t0 if a.t0 else None}
    with open(a.out, "w") as f:
        json.dump(result, f)
    print(json.dumps(result))


def peak_mib(time_file):
    """Peak RSS in MiB from GNU time's report."""
    with open(time_file) as f:
        for line in f:
            if "Maximum resident set size" in line:
                return int(line.split(":")[1]) // 1024
    return None


def fmt(x, digits=1):
    return "–" if x is None else f"{x:,.{digits}f}"


def cmd_table(a):
    import statistics

    def load(path):
        with open(path) as f:
            return json.load(f)

    d = a.dir
    rows = {}
    for key in SYSTEMS:
        if not os.path.exists(os.path.join(d, f"{key}.json")):
            continue
        r = load(os.path.join(d, f"{key}.json"))
        starts = [load(os.path.join(d, n)) for n in sorted(os.listdir(d)) if n.startswith(f"{key}-startup-") and n.endswith(".json")]
        r["startup"] = {k: statistics.median(s[k] for s in starts) if starts and all(s.get(k) is not None for s in starts) else None
                        for k in ("load_to_first_prediction_s", "process_start_to_first_prediction_s")}
        r["startup"]["runs"] = len(starts)
        p = os.path.join(d, f"{key}.run.peak")
        r["peak_run_mib"] = int(open(p).read().strip()) if os.path.exists(p) else None
        peaks = [peak_mib(os.path.join(d, n)) for n in os.listdir(d) if n.startswith(f"{key}-startup-") and n.endswith(".time")]
        r["peak_startup_mib"] = max(peaks) if peaks else None
        r["precision"] = ("bfloat16" if r["name"].endswith("bfloat16") else "float32") if key.startswith("java") \
            else ("bfloat16" if key.endswith("bf16") else "float32")
        rows[key] = r
    measures = {  # name: (value, lower is better)
        "p50": (lambda x: x["latency"]["p50_ms"], True),
        "p99": (lambda x: x["latency"]["p99_ms"], True),
        "conc": (lambda x: x["concurrent"]["texts_per_s"], False),
        "batch": (lambda x: x["batched"]["texts_per_s"], False),
        "start": (lambda x: x["startup"]["load_to_first_prediction_s"], True),
    }

    def better_python(measure, precision=None):
        """The Python system that does best on `measure`, among those of `precision` (None: all)."""
        value, lower = measures[measure]
        py = [k for k in rows if not k.startswith("java") and (precision is None or rows[k]["precision"] == precision)
              and value(rows[k]) is not None]
        return (min if lower else max)(py, key=lambda k: value(rows[k])) if py else None

    def ratio(key, measure):
        """Java against the better Python system of the same precision: above 1, Java does better."""
        if not key.startswith("java"):
            return ""
        other = better_python(measure, rows[key]["precision"])
        value, lower = measures[measure]
        if other is None or value(rows[key]) is None:
            return ""
        r = value(rows[other]) / value(rows[key]) if lower else value(rows[key]) / value(rows[other])
        return f" (**{r:.2f}×**)"

    first = rows[next(iter(rows))]
    n = first["texts"]
    lines = [f"{n} fine-food reviews (cut to 64 tokens), BERT-base fine-tuned by the plugin, CPU, {first['threads']} intra-op "
             f"threads each; latency over {first['requests']} sequential requests, the systems taken in turn in "
             f"{first['rounds']} rounds. In brackets, Java against the better Python system of the same precision "
             f"(above 1: Java does better).", "",
             f"| system | precision | latency p50 / p99, ms (1 client) | 8 concurrent clients, texts/s | batched ({n}), texts/s "
             "| load → first prediction, s | process start → first prediction, s | peak RSS, MiB (run / start-up) |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for key, r in rows.items():
        c = r["concurrent"]
        if key.startswith("java"):
            how = f"mean batch {c.get('mean_batch', 0):.1f}"
        else:
            other = "threads" if c["best"] == "micro_batcher" else "micro_batcher"
            label = {"threads": "plain threads", "micro_batcher": "micro-batcher"}
            how = (f"{label[c['best']]}" + (f", mean batch {c['micro_batcher']['mean_batch']:.1f}" if c["best"] == "micro_batcher" else "")
                   + f"; {label[other]} {c[other]['texts_per_s']:.1f}")
        lines.append(
            f"| {r['name']} | {r['precision']} | {fmt(r['latency']['p50_ms'])}{ratio(key, 'p50')}"
            f" / {fmt(r['latency']['p99_ms'])}{ratio(key, 'p99')}"
            f" | {fmt(c['texts_per_s'])}{ratio(key, 'conc')} ({how})"
            f" | {fmt(r['batched']['texts_per_s'])}{ratio(key, 'batch')}"
            f" | {fmt(r['startup']['load_to_first_prediction_s'], 2)}{ratio(key, 'start')}"
            f" | {fmt(r['startup']['process_start_to_first_prediction_s'], 2)}"
            f" | {fmt(r['peak_run_mib'], 0)} / {fmt(r['peak_startup_mib'], 0)} |")
    # Do the systems agree? Each one's batched probabilities against the exported SavedModel's in Python TensorFlow.
    if "tf" in rows:
        ref = rows["tf"]["probabilities"]
        agree = [f"{rows[k]['name']} {max(abs(x - y) for p, q in zip(rows[k]['probabilities'], ref) for x, y in zip(p, q)):.1e}"
                 for k in rows if k != "tf"]
        lines += ["", f"Largest probability difference from Python TensorFlow (float32) over the {n} texts: {'; '.join(agree)}."]
    javas = [k for k in rows if k.startswith("java")]
    if javas and len(rows) > len(javas):
        lines += ["", "| target | Java | Python | met |", "| --- | --- | --- | --- |"]
        for k in javas:
            j = rows[k]
            prec = j["precision"]
            tf_key = "tf" if prec == "float32" else "tf-bf16"
            if tf_key in rows:
                t = rows[tf_key]["latency"]["p50_ms"]
                lines.append(f"| p50 latency no worse than Python TensorFlow's ({prec}) | {j['latency']['p50_ms']:.1f} ms "
                             f"| {t:.1f} ms | {'yes' if j['latency']['p50_ms'] <= t else 'no'} |")
            for scope in (prec, None):
                b = better_python("conc", scope)
                if b is None or (scope is None and rows[b]["precision"] == prec):
                    continue
                bc, jc = rows[b]["concurrent"]["texts_per_s"], j["concurrent"]["texts_per_s"]
                lines.append(f"| 8 concurrent clients ≥ 1.5× the better Python ({'any precision' if scope is None else prec}) "
                             f"| {jc:.1f} texts/s, {prec} ({jc / bc:.2f}×) | {bc:.1f} texts/s ({rows[b]['name']}) "
                             f"| {'yes' if jc >= 1.5 * bc else 'no'} |")
            js = j["startup"]["load_to_first_prediction_s"]
            if js is not None:
                lines.append(f"| load → first prediction < 3 s, unpacked folder ({prec}) | {js:.2f} s | – | {'yes' if js < 3 else 'no'} |")
    if os.path.exists(os.path.join(d, "levers.json")):
        lv = load(os.path.join(d, "levers.json"))
        lines += ["", "Java levers: one JVM holding a classifier per setting, the settings taken in turn in rounds; "
                  "latency: 1 client; throughput: 8 clients; a list: predict(List) of 128 texts a round.", "",
                  "| setting | p50 / p99 ms, 1 client | 8 clients, texts/s | mean batch | p50 / p99 ms under 8 clients "
                  "| predict(List), texts/s |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for r in lv:
            lat, c, b = r.get("latency"), r.get("concurrent"), r.get("batched")
            lines.append(f"| {r['setting']} "
                         + (f"| {lat['p50_ms']:.1f} / {lat['p99_ms']:.1f} | {c['texts_per_s']:.1f} | {c.get('mean_batch', 0):.1f} "
                            f"| {c['p50_ms']:.0f} / {c['p99_ms']:.0f} " if lat else "| – | – | – | – ")
                         + (f"| {b['texts_per_s']:.1f} |" if b else "| – |"))
    text = "\n".join(lines)
    print(text)
    with open(os.path.join(d, "results.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(d, "results.json"), "w") as f:
        json.dump({k: {kk: vv for kk, vv in v.items() if kk != "probabilities"} for k, v in rows.items()}, f, indent=2)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("texts")
    t.add_argument("--data", required=True)
    t.add_argument("--count", type=int, default=512)
    t.add_argument("--out", required=True)
    for name in ("convert", "serve", "bench", "levers", "startup"):
        s = sub.add_parser(name)
        s.add_argument("--model", required=True, help="the plugin's output folder (target/finetune)")
        s.add_argument("--hf", help="the converted Hugging Face model folder")
        s.add_argument("--texts", required=True, help="JSON list of texts (the texts command)")
        s.add_argument("--threads", type=int, default=2, help="intra-op threads of every system")
        if name in ("convert", "startup"):
            s.add_argument("--out", required=True)
        if name in ("serve", "startup"):
            s.add_argument("--system", choices=PYTHON_SYSTEMS, required=True)
        if name == "serve":
            s.add_argument("--max-wait-ms", type=float, default=2.0, help="the micro-batcher's wait (as the Java default)")
        if name in ("bench", "levers"):
            s.add_argument("--dir", required=True, help="where results and worker logs go")
            s.add_argument("--java", required=True, help="the command that runs ServingBench (java -cp ... ServingBench)")
            s.add_argument("--rounds", type=int, default=4)
            s.add_argument("--latency-requests", type=int, default=50, help="sequential requests per system and round")
            s.add_argument("--concurrent-texts", type=int, default=128, help="texts the clients send per system and round")
            s.add_argument("--clients", type=int, default=8)
        if name == "bench":
            s.add_argument("--systems", default=",".join(SYSTEMS))
            s.add_argument("--max-wait-ms", type=float, default=2.0, help="what the tf and hf workers were given")
        if name == "startup":
            s.add_argument("--t0", type=float, help="the shell's clock (seconds since the epoch) just before it started us")
    tb = sub.add_parser("table")
    tb.add_argument("--dir", required=True)
    a = p.parse_args()
    {"texts": cmd_texts, "convert": cmd_convert, "serve": cmd_serve, "bench": cmd_bench, "levers": cmd_levers,
     "startup": cmd_startup, "table": cmd_table}[a.cmd](a)


if __name__ == "__main__":
    main()
