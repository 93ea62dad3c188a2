package dev.finetune.engine.training;

import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.VarHandleOp;
import org.tensorflow.types.TFloat32;

/**
 * Gradient accumulation inside the graph: a zero-initialised sum per trained weight. Each micro-batch but the last of
 * an effective batch runs {@link #accumulate} ({@code sum += share × gradient}); the last runs the optimizer step on
 * {@link #totals} ({@code sum + share × gradient}), which then empties the sums. {@code share} is the micro-batch's part
 * of the effective batch (its rows, or labelled words, over the whole's): each micro-batch's loss is a mean, so the
 * shares make the total the gradient of the whole batch's mean loss, as if it had run at once.
 *
 * <p>The sums cost one more copy of the trained weights in memory, which is why a graph without accumulation (N = 1)
 * has none. They are in the checkpoints, so a restored session has them initialised (they are zero at every epoch end).
 */
final class GradientAccumulators {
    final Placeholder<TFloat32> share;
    final Op accumulate;
    final List<Operand<TFloat32>> totals = new ArrayList<>();
    final List<Operand<?>> sums = new ArrayList<>();
    final List<String> names = new ArrayList<>();
    private final List<Shape> shapes;

    /** Sums for {@code gradients} (of weights saved as {@code names}, of {@code shapes}); their zeroing goes to {@code freshInit}. */
    GradientAccumulators(Ops tf, List<Operand<TFloat32>> gradients, List<String> names, List<Shape> shapes, List<Op> freshInit) {
        Ops acc = tf.withSubScope("finetune_accumulate");
        this.shapes = shapes;
        share = acc.withName("share").placeholder(TFloat32.class, Placeholder.shape(Shape.scalar()));
        List<Op> adds = new ArrayList<>();
        for (int k = 0; k < gradients.size(); k++) {
            VarHandleOp sum = acc.withName("sum_" + k).varHandleOp(TFloat32.class, shapes.get(k),
                    VarHandleOp.sharedName(names.get(k) + "/accumulated"));
            freshInit.add(acc.assignVariableOp(sum, zeros(acc, shapes.get(k))));
            Operand<TFloat32> scaled = acc.math.mul(gradients.get(k), share);
            adds.add(acc.assignAddVariableOp(sum, scaled));
            totals.add(acc.math.add(acc.readVariableOp(sum, TFloat32.class), scaled));
            sums.add(sum);
            this.names.add(names.get(k) + "/accumulated");
        }
        accumulate = acc.withControlDependencies(adds).withName("add").noOp();
    }

    /** Ops that empty the sums once {@code updates} (which read them) have run. */
    List<Op> resetAfter(Ops tf, List<Op> updates) {
        Ops after = tf.withSubScope("finetune_accumulate").withControlDependencies(updates);
        List<Op> resets = new ArrayList<>();
        for (int k = 0; k < sums.size(); k++) {
            resets.add(after.assignVariableOp(sums.get(k), zeros(after, shapes.get(k))));
        }
        return resets;
    }

    /** Zeros of {@code shape}: tf.fill, not tf.zeros, which opens a sub-scope that scans every op of the graph through JNI. */
    static Operand<TFloat32> zeros(Ops tf, Shape shape) {
        long[] dims = shape.asArray();
        int[] intDims = new int[dims.length];
        for (int i = 0; i < dims.length; i++) {
            intDims[i] = (int) dims[i];
        }
        return tf.fill(tf.constant(intDims), tf.constant(0f));
    }
}
