"""Useful FLOPs of BERT for sequence classification, counted from the model's shapes and real token counts.

Model FLOP utilisation (MFU) = useful FLOPs per second / the CPU's measured bfloat16 matmul peak (bf16_peak.py).
"Useful" counts the work the model needs for each example's real tokens ([CLS], WordPiece pieces, [SEP]; truncated
at the maximum length) and nothing spent on padding, so both sides of the benchmark get the same count for the
same data, and a side that pads less or runs faster scores higher. Only matrix products count (embedding look-ups,
LayerNorm, softmax, GELU and the optimizer are left out, as in the usual 6·N·tokens estimate).

For a sequence of L real tokens, with H hidden units, I intermediate units, N layers and C labels:

  forward(L) = 2·P·L + 4·N·L²·H + 2·(H² + H·C)
      P = N·(4·H² + 2·H·I)  the encoder's matmul weights (query, key, value, attention output; the two
                              feed-forward matrices), 85 M for BERT-base: 2 FLOPs per weight and token
      4·N·L²·H               attention: scores Q·Kᵀ and context P·V, each 2·L²·H per layer
      2·(H² + H·C)           the pooler and the classifier, once per sequence ([CLS] only)
  training(L) = 3 · forward(L)  (the backward pass computes gradients of both operands: twice the forward's work)

Per token that is 2·P + 4·N·L·H forward, 6·P + 12·N·L·H in training.
"""
import json
import os


def shapes(config_path):
    """(layers, hidden, intermediate) from a Hugging Face BertConfig's config.json (hf_weights.py writes it)."""
    with open(config_path) as f:
        c = json.load(f)
    return c["num_hidden_layers"], c["hidden_size"], c["intermediate_size"]


def matmul_weights(layers, hidden, intermediate):
    return layers * (4 * hidden * hidden + 2 * hidden * intermediate)


def forward_flops(length, layers, hidden, intermediate, labels):
    p = matmul_weights(layers, hidden, intermediate)
    return 2 * p * length + 4 * layers * length * length * hidden + 2 * (hidden * hidden + hidden * labels)


def training_flops(length, layers, hidden, intermediate, labels):
    return 3 * forward_flops(length, layers, hidden, intermediate, labels)


def mean_flops(lengths, per_example, model_dir_config, labels):
    """Mean useful FLOPs per example over `lengths` (real token counts), with `per_example` forward_ or training_flops."""
    layers, hidden, intermediate = shapes(model_dir_config)
    return sum(per_example(n, layers, hidden, intermediate, labels) for n in lengths) / len(lengths)


if __name__ == "__main__":  # a check of the formula against the figure: 28 examples/s of 29 tokens ≈ 415 GFLOP/s
    import sys
    config = sys.argv[1] if len(sys.argv) > 1 else os.path.join("target", "bench", "hf-weights", "config.json")
    print("%.0f GFLOP/s" % (28 * mean_flops([29], training_flops, config, 2) / 1e9))
