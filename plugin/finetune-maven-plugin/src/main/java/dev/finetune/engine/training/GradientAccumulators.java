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
 * Gradient accumulation inside the graph, in one of two forms.
 *
 * <p>{@link #ofGradients} (one process on one device): a zero-initialised sum per trained weight. Each micro-batch but
 * the last of an effective batch runs {@link #accumulate} ({@code sum += share × gradient}); the last runs the optimizer
 * step on {@link #totals} ({@code sum + share × gradient}), which then empties the sums. {@code share} is the
 * micro-batch's part of the effective batch (its rows, or labelled words, over the whole's): each micro-batch's loss is
 * a mean, so the shares make the total the gradient of the whole batch's mean loss, as if it had run at once.
 *
 * <p>{@link #ofContributions} (replicas or workers): one sum of what {@link GlobalBatch#contribution} sends, the
 * count-weighed gradients, loss and count as one vector. Those carry their own weights, so there is no share: the last
 * micro-batch's step hands {@code sum + contribution} to {@link GlobalBatch#combine}, which all-reduces it across the
 * workers once and divides by the total count of every worker's every micro-batch. Why not all-reduce each micro-batch
 * (the gradients ready, then accumulated as above): N collectives per step instead of one, when a smaller batch per
 * step is all that accumulation changes and the network is what workers wait on; and every worker would have to run as
 * many micro-batches as the others, stand-ins included, where here only the step's one collective must match. A worker
 * whose share of a short last step has fewer micro-batches (or a stand-in only) just adds fewer.
 *
 * <p>The sums cost one more copy of the trained weights in memory, which is why a graph without accumulation (N = 1)
 * has none. They are in the checkpoints, so a restored session has them initialised (they are zero at every epoch end);
 * the last checkpoint, after which no step follows, leaves them out with the slots and a resume from it starts them fresh.
 */
final class GradientAccumulators {
    /** What the micro-batch's values are multiplied by before they are added; null when they are contributions. */
    final Placeholder<TFloat32> share;
    final Op accumulate;
    final List<Operand<TFloat32>> totals = new ArrayList<>();
    final List<Operand<?>> sums = new ArrayList<>();
    final List<String> names = new ArrayList<>();
    private final List<Shape> shapes;

    /** Per-weight sums of {@code gradients} (of weights saved as {@code names}, of {@code shapes}), each fed a share. */
    static GradientAccumulators ofGradients(Ops tf, List<Operand<TFloat32>> gradients, List<String> names, List<Shape> shapes,
                                            List<Op> freshInit) {
        return new GradientAccumulators(tf, gradients, names, shapes, true, freshInit);
    }

    /** One sum of {@code contribution}, this worker's {@link GlobalBatch#contribution} for variables of {@code shapes}. */
    static GradientAccumulators ofContributions(Ops tf, Operand<TFloat32> contribution, List<Shape> shapes, List<Op> freshInit) {
        return new GradientAccumulators(tf, List.of(contribution), List.of("finetune_contributions"),
                List.of(Shape.of(GlobalBatch.length(shapes))), false, freshInit);
    }

    /** Sums of {@code values}, weighed by a fed share if {@code weighed}; their zeroing goes to {@code freshInit}. */
    private GradientAccumulators(Ops tf, List<Operand<TFloat32>> values, List<String> names, List<Shape> shapes, boolean weighed,
                                 List<Op> freshInit) {
        Ops acc = tf.withSubScope("finetune_accumulate");
        this.shapes = shapes;
        share = weighed ? acc.withName("share").placeholder(TFloat32.class, Placeholder.shape(Shape.scalar())) : null;
        List<Op> adds = new ArrayList<>();
        for (int k = 0; k < values.size(); k++) {
            VarHandleOp sum = acc.withName("sum_" + k).varHandleOp(TFloat32.class, shapes.get(k),
                    VarHandleOp.sharedName(names.get(k) + "/accumulated"));
            freshInit.add(acc.assignVariableOp(sum, zeros(acc, shapes.get(k))));
            Operand<TFloat32> scaled = weighed ? acc.math.mul(values.get(k), share) : values.get(k);
            adds.add(acc.assignAddVariableOp(sum, scaled));
            totals.add(acc.math.add(acc.readVariableOp(sum, TFloat32.class), scaled));
            sums.add(sum);
            this.names.add(names.get(k) + "/accumulated");
        }
        accumulate = acc.withControlDependencies(adds).withName("add").noOp();
    }

    /** Whether {@link #totals} are {@link GlobalBatch#contribution}s, still to be combined, rather than gradients. */
    boolean contributions() {
        return share == null;
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
