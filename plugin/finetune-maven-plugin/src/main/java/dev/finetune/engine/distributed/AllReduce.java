package dev.finetune.engine.distributed;

import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.op.Ops;
import org.tensorflow.types.family.TNumber;

/**
 * TensorFlow's collective all-reduce ({@code CollectiveReduceV2}, what MultiWorkerMirroredStrategy runs on) as a graph
 * op: every worker adds the same op with the same group and instance key, and each gets the sum over all workers. TF
 * Java has no wrapper for the op, hence the raw builder. A run that executes one must carry
 * {@link Worker#runOptions()} (the collective graph key), on every worker alike.
 */
public final class AllReduce {
    /** All workers form one group. */
    static final int GROUP_KEY = 1;
    /** Instance keys tell the collectives of one graph apart; each must be the same on every worker. */
    public static final int GRADIENTS = 1;
    public static final int HANDSHAKE = 2;

    private AllReduce() {
    }

    /**
     * The element-wise sum of {@code value} over {@code workers} workers. A worker that has not joined within
     * {@code timeoutSeconds} turns into a DEADLINE_EXCEEDED error instead of a wait without end.
     */
    @SuppressWarnings("unchecked")
    public static <T extends TNumber> Operand<T> sum(Ops tf, Operand<T> value, int workers, int instanceKey, float timeoutSeconds) {
        return (Operand<T>) reduce(tf, value, workers, instanceKey, timeoutSeconds, "Add");
    }

    /** The element-wise maximum over the workers (see {@link #sum}). */
    @SuppressWarnings("unchecked")
    public static <T extends TNumber> Operand<T> max(Ops tf, Operand<T> value, int workers, int instanceKey, float timeoutSeconds) {
        return (Operand<T>) reduce(tf, value, workers, instanceKey, timeoutSeconds, "Max");
    }

    private static Output<?> reduce(Ops tf, Operand<?> value, int workers, int instanceKey, float timeoutSeconds, String merge) {
        Graph graph = (Graph) tf.scope().env();
        return graph.opBuilder("CollectiveReduceV2", "all_reduce_" + instanceKey, tf.scope())
                .addInput(value.asOutput())
                .addInput(tf.constant(workers).asOutput())
                .addInput(tf.constant(GROUP_KEY).asOutput())
                .addInput(tf.constant(instanceKey).asOutput())
                // No ordering tokens: the graph's own dependencies order the collectives.
                .addInputList(new Output<?>[0])
                .setAttr("merge_op", merge)
                .setAttr("final_op", "Id")
                .setAttr("timeout_seconds", timeoutSeconds)
                .build()
                .output(0);
    }
}
