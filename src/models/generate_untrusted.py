#!/usr/bin/env python3
"""Makes `untrusted-finetuned/`: a fine-tuned model folder whose serving function writes a file.

Run once with TensorFlow 2.21 (see generate.py for the venv):

    /tmp/venv/bin/python src/models/generate_untrusted.py

It writes, next to this script:
  untrusted-finetuned/
    saved_model/     tf.saved_model.save of a tf.Module: signature serving_default takes input_ids, input_mask,
                     segment_ids (int32 [batch, length]) and returns probabilities and logits [batch, 2], plus
                     pooled_output [batch, 8] and sequence_output [batch, length, 8] like the plugin's own exports
                     (so it can also be named as the base model of train). Its serving function also calls
                     tf.io.write_file("finetune-untrusted-was-here.txt", ...): a RELATIVE path, written into the
                     working directory of whatever runs the model. assets/ holds vocab.txt and labels.json.
    labels.json      {"labels": ["negative", "positive"], "tokenizer": "vocab.txt", "doLowerCase": true,
                      "maxSequenceLength": 32}
    vocab.txt        a copy of vocab.txt (211 tokens; the embedding table has exactly 211 rows)

The plugin must refuse to run it (WriteFile, file system) unless <allowUnsafeOps> names WriteFile. Saving traces the
function without running it, so generating writes nothing; the script checks that, then runs the loaded model once
in a temporary folder to prove that the file does get written there.
"""
import json
import os
import shutil
import tempfile

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "untrusted-finetuned")
WRITTEN = "finetune-untrusted-was-here.txt"
HIDDEN = 8
SEED = 20261125
LABELS = {"labels": ["negative", "positive"], "tokenizer": "vocab.txt", "doLowerCase": True, "maxSequenceLength": 32}


class Untrusted(tf.Module):
    def __init__(self, vocab_size):
        super().__init__()
        rng = np.random.default_rng(SEED)
        self.word_embeddings = tf.Variable(rng.normal(0, 0.5, (vocab_size, HIDDEN)).astype("float32"), name="word_embeddings")
        self.kernel = tf.Variable(rng.normal(0, 0.5, (HIDDEN, 2)).astype("float32"), name="classifier_kernel")
        self.bias = tf.Variable(np.zeros(2, "float32"), name="classifier_bias")

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32, name="input_ids"),
                                  tf.TensorSpec([None, None], tf.int32, name="input_mask"),
                                  tf.TensorSpec([None, None], tf.int32, name="segment_ids")])
    def serve(self, input_ids, input_mask, segment_ids):
        tf.io.write_file(WRITTEN, "written by the untrusted test model in src/models/untrusted-finetuned\n")
        sequence = tf.gather(self.word_embeddings, input_ids) + 0.0 * tf.cast(segment_ids, tf.float32)[:, :, None]
        mask = tf.cast(input_mask, tf.float32)[:, :, None]
        pooled = tf.reduce_sum(sequence * mask, axis=1) / tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)
        logits = tf.matmul(pooled, self.kernel) + self.bias
        return {"probabilities": tf.nn.softmax(logits), "logits": logits, "pooled_output": pooled,
                "sequence_output": sequence}


def main():
    vocab = os.path.join(HERE, "vocab.txt")
    with open(vocab, encoding="utf-8") as f:
        vocab_size = sum(1 for _ in f)
    shutil.rmtree(OUT, ignore_errors=True)
    model_dir = os.path.join(OUT, "saved_model")
    module = Untrusted(vocab_size)
    tf.saved_model.save(module, model_dir, signatures={"serving_default": module.serve})
    assert not os.path.exists(WRITTEN), "saving must not run the function"
    assets = os.path.join(model_dir, "assets")
    os.makedirs(assets, exist_ok=True)
    for folder in (OUT, assets):
        shutil.copy(vocab, os.path.join(folder, "vocab.txt"))
        with open(os.path.join(folder, "labels.json"), "w") as f:
            json.dump(LABELS, f)
    # Run it once where it may write, to show that the fixture does what it is for.
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            serve = tf.saved_model.load(os.path.abspath(os.path.join(here, model_dir))).signatures["serving_default"]
            ids = tf.constant([[2, 60, 3]], tf.int32)
            out = serve(input_ids=ids, input_mask=tf.ones_like(ids), segment_ids=tf.zeros_like(ids))
            assert os.path.isfile(WRITTEN), "the serving function did not write its file"
            print("probabilities", out["probabilities"].numpy(), "and it wrote", os.path.join(tmp, WRITTEN))
        finally:
            os.chdir(here)


if __name__ == "__main__":
    main()
