"""What a fused clip + Adam kernel could save per step: TensorFlow's own ResourceApplyAdam over BERT-base-like
variables (the 23.4 M word embedding and 49 matrices of a layer's shapes, 96 M parameters), alone and after clipping
by the global norm as the plugin's step does it (L2Loss of every gradient, their sum, one Mul per gradient).

A fused kernel still needs the norm, hence a pass over every gradient before any update; what it can remove is the
Mul pass. So the difference of the two rows bounds its gain.

    python src/bench/optimizer_side.py        (a Python with tensorflow-cpu, see requirements.txt; about a minute)
"""
import time

import tensorflow as tf

tf.config.threading.set_intra_op_parallelism_threads(2)
tf.config.threading.set_inter_op_parallelism_threads(2)
SIZES = [23440896] + [(2359296 if k % 4 == 0 else 589824 * (4 if k % 4 == 1 else 1)) for k in range(1, 50)]
weights = [tf.Variable(tf.ones([n])) for n in SIZES]
ms = [tf.Variable(tf.zeros([n])) for n in SIZES]
vs = [tf.Variable(tf.zeros([n])) for n in SIZES]
grads = [tf.fill([n], 0.01) for n in SIZES]


def adam(w, m, v, g):
    tf.raw_ops.ResourceApplyAdam(var=w.handle, m=m.handle, v=v.handle, beta1_power=0.9, beta2_power=0.99, lr=1e-5,
                                 beta1=0.9, beta2=0.999, epsilon=1e-6, grad=g)


@tf.function
def adam_alone():
    for w, m, v, g in zip(weights, ms, vs, grads):
        adam(w, m, v, g)


@tf.function
def clipped_adam():
    norm = tf.sqrt(2 * tf.add_n([tf.nn.l2_loss(g) for g in grads]))
    factor = 1.0 / tf.maximum(norm, 1.0)
    for w, m, v, g in zip(weights, ms, vs, grads):
        adam(w, m, v, g * factor)


print(f"{sum(SIZES) / 1e6:.1f} M parameters in {len(SIZES)} variables; milliseconds per update, 5 rounds")
for step in (adam_alone, clipped_adam):
    step()
    times = []
    for _ in range(5):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1e3)
    print(f"{step.__name__:14} " + " ".join(f"{t:6.1f}" for t in times))
