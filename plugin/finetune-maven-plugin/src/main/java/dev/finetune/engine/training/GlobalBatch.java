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
 * The gradients and loss of the whole global batch from each share of it (a replica's, a worker's): every share sends
 * {@code count × (gradients, loss)} and {@code count}, flattened into one vector ({@link #contribution}); the vectors of
 * one worker's replicas are added up, those of the workers all-reduced (one collective per step rather than one per
 * variable: a single ring of large messages, the cheapest), and the sums divided by the total count
 * ({@link #combine}). So the result is the mean over all the step's examples, equal to one process with the whole
 * batch whatever the shares' sizes, and the same on every worker. With gradient accumulation a worker's vectors of every
 * micro-batch are summed first ({@link GradientAccumulators#ofContributions}), so the all-reduce still runs once per
 * optimizer step.
 */
record GlobalBatch(List<Operand<TFloat32>> gradients, Operand<TFloat32> loss) {
    /**
     * What one share sends: {@code count × gradient} for each, {@code count × loss}, and {@code count}, as one vector.
     * {@code count} is what the share's loss is the mean of (0 for a stand-in that must weigh nothing).
     */
    static Operand<TFloat32> contribution(Ops tf, List<Operand<TFloat32>> grads, Operand<TFloat32> loss, Operand<TFloat32> count) {
        Operand<TInt32> flatShape = tf.constant(new int[] {-1});
        List<Operand<TFloat32>> parts = new ArrayList<>(grads.size() + 2);
        for (Operand<TFloat32> g : grads) {
            parts.add(tf.reshape(tf.math.mul(g, count), flatShape));
        }
        parts.add(tf.reshape(tf.math.mul(loss, count), flatShape));
        parts.add(tf.reshape(count, flatShape));
        return tf.withName("sent").concat(parts, tf.constant(0));
    }

    /**
     * The mean over every share: this worker's {@code contributions} (one per replica) added here, then all-reduced
     * over {@code parallel}'s workers when there are several; {@code shapes} are the gradients' variables' shapes (a
     * gradient's own static shape may be unknown).
     *
     * <p>Why the replicas are added with a local {@code AddN} and not made members of the collective (group size
     * workers × replicas): the sum is exact and the same in any order of arrival, it needs no collective executor,
     * run options or timeout in a single process (whose devices cannot be lost apart), and across machines it sends one
     * vector per worker instead of one per device, which is what a hierarchical all-reduce does anyway. Both give the
     * same numbers; this one is the smaller change to a run of one process.
     */
    static GlobalBatch combine(Ops tf, List<Operand<TFloat32>> contributions, List<Shape> shapes, DataParallel parallel) {
        Operand<TFloat32> local = local(tf, contributions);
        Operand<TFloat32> summed = parallel.distributed()
                ? AllReduce.sum(tf, local, parallel.workers(), AllReduce.GRADIENTS, parallel.timeoutSeconds()) : local;
        long[] sizes = sizes(shapes);
        // Counts are whole numbers: at least one example in any batch (a token batch may label none, as alone).
        long length = length(shapes);
        Operand<TFloat32> total = tf.math.maximum(tf.slice(summed, tf.constant(new long[] {length - 1}),
                tf.constant(new long[] {1})), tf.constant(1f));
        Operand<TFloat32> mean = tf.math.div(summed, total);
        List<org.tensorflow.Output<TFloat32>> pieces = tf.splitV(mean, tf.constant(sizes), tf.constant(0), (long) sizes.length).output();
        List<Operand<TFloat32>> out = new ArrayList<>(shapes.size());
        for (int i = 0; i < shapes.size(); i++) {
            out.add(tf.reshape(pieces.get(i), tf.constant(shapes.get(i).asArray())));
        }
        Operand<TFloat32> globalLoss = tf.withName("global_loss").squeeze(tf.slice(pieces.get(shapes.size()),
                tf.constant(new long[] {0}), tf.constant(new long[] {1})));
        return new GlobalBatch(out, globalLoss);
    }

    /** This worker's part of the step: its {@code contributions} (one per replica) added up. */
    static Operand<TFloat32> local(Ops tf, List<Operand<TFloat32>> contributions) {
        return contributions.size() == 1 ? contributions.get(0) : tf.withName("replica_sum").math.addN(contributions);
    }

    /** How long a {@link #contribution} to gradients of variables of {@code shapes} is. */
    static long length(List<Shape> shapes) {
        return java.util.Arrays.stream(sizes(shapes)).sum();
    }

    /** The lengths of a contribution's pieces: each gradient's, then 2 for the weighed loss and the count. */
    private static long[] sizes(List<Shape> shapes) {
        long[] sizes = new long[shapes.size() + 1];
        for (int i = 0; i < shapes.size(); i++) {
            sizes[i] = shapes.get(i).size();
        }
        sizes[shapes.size()] = 2;
        return sizes;
    }
}
