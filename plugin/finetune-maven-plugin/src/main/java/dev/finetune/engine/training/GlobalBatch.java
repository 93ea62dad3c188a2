package dev.finetune.engine.training;

import dev.finetune.engine.distributed.AllReduce;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * The gradients and loss of the whole global batch from each worker's share: every worker sends
 * {@code count × (gradients, loss)} and {@code count}, flattened into one vector, through one all-reduce (one collective
 * per step rather than one per variable: a single ring of large messages, the cheapest), and divides the sums by the
 * total count. So the result is the mean over all the step's examples, equal to one process with the whole batch
 * whatever the shards' sizes, and the same on every worker.
 */
record GlobalBatch(List<Operand<TFloat32>> gradients, Operand<TFloat32> loss) {
    /** {@code shapes}: each gradient's variable's shape (a gradient's own static shape may be unknown). */
    static GlobalBatch allReduce(Ops tf, List<Operand<TFloat32>> grads, List<Shape> shapes, Operand<TFloat32> loss,
                                 Operand<TFloat32> count, DataParallel parallel) {
        Operand<TInt32> flatShape = tf.constant(new int[] {-1});
        List<Operand<TFloat32>> parts = new ArrayList<>(grads.size() + 2);
        long[] sizes = new long[grads.size() + 1];
        for (int i = 0; i < grads.size(); i++) {
            parts.add(tf.reshape(tf.math.mul(grads.get(i), count), flatShape));
            sizes[i] = shapes.get(i).size();
        }
        sizes[grads.size()] = 2;
        parts.add(tf.reshape(tf.math.mul(loss, count), flatShape));
        parts.add(tf.reshape(count, flatShape));
        Operand<TFloat32> sent = tf.withName("sent").concat(parts, tf.constant(0));
        Operand<TFloat32> summed = AllReduce.sum(tf, sent, parallel.workers(), AllReduce.GRADIENTS, parallel.timeoutSeconds());
        // Counts are whole numbers: at least one example in any batch (a token batch may label none, as alone).
        long length = java.util.Arrays.stream(sizes).sum();
        Operand<TFloat32> total = tf.math.maximum(tf.slice(summed, tf.constant(new long[] {length - 1}),
                tf.constant(new long[] {1})), tf.constant(1f));
        Operand<TFloat32> mean = tf.math.div(summed, total);
        List<org.tensorflow.Output<TFloat32>> pieces = tf.splitV(mean, tf.constant(sizes), tf.constant(0), (long) sizes.length).output();
        List<Operand<TFloat32>> out = new ArrayList<>(grads.size());
        for (int i = 0; i < grads.size(); i++) {
            out.add(tf.reshape(pieces.get(i), tf.constant(shapes.get(i).asArray())));
        }
        Operand<TFloat32> globalLoss = tf.withName("global_loss").squeeze(tf.slice(pieces.get(grads.size()),
                tf.constant(new long[] {0}), tf.constant(new long[] {1})));
        return new GlobalBatch(out, globalLoss);
    }

}
