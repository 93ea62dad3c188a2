#!/usr/bin/env python3
"""Loads models the plugin fine-tuned and exported with Python TensorFlow, and checks that they give the
probabilities the plugin recorded at export (reload-check.json): a user's Python serving stack sees the same model.

    /tmp/venv/bin/python src/models/check_exports.py plugin/finetune-maven-plugin/target/it/model-families/*/target/finetune

(the venv of generate_families.py; the folders are what `mvn verify` leaves after the model-families Invoker run).
Prints one line per model with the largest difference, and exits non-zero when one exceeds 1e-5.
"""
import json
import os
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402

TOLERANCE = 1e-5


def check(folder):
    with open(os.path.join(folder, "reload-check.json")) as f:
        ref = json.load(f)
    serve = tf.saved_model.load(os.path.join(folder, "saved_model")).signatures["serving_default"]
    names = serve.structured_input_signature[1].keys()
    feeds = {n: tf.constant(np.array(ref[n], np.int32).reshape(ref["rows"], ref["length"])) for n in names}
    got = serve(**feeds)["probabilities"].numpy()
    return float(np.max(np.abs(got - np.array(ref["probabilities"], np.float32)))), sorted(names)


def main(folders):
    worst = 0.0
    for folder in folders:
        diff, names = check(folder)
        worst = max(worst, diff)
        print(f"{folder}: inputs {names}, largest difference {diff:.2e}")
    return 0 if worst <= TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
