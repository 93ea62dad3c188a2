package dev.finetune.engine.training;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;

/**
 * AdamW's decoupled weight decay, {@code w ← w − rate · λ · w} on every weight matrix, as an op of its own that the
 * trainer runs every {@code weightDecayInterval} optimizer steps for the sum of those steps' learning rates.
 *
 * <p>Why not inside each step: on BERT-base the decay reads and writes 85 M weights through a temporary each step,
 * about a tenth of a step's time on a CPU (measured with {@code src/tools/profile-step.sh}). Its per-step factor is
 * tiny (a learning rate of 5e-5 times λ = 0.01 takes 5e-7 off each weight), so k steps' worth taken at once differs from
 * k single decays by terms of order (k · rate · λ)², under 1e-10 for k = 16: nothing that float32 weights hold. The
 * trainer runs it at the same steps on every worker (a step count, the end of every epoch and before every validation),
 * so workers keep identical weights, and checkpoints (taken at the ends of epochs) never hold a decay still owed.
 */
final class WeightDecay {
    /** The sum of the learning rates of the optimizer steps whose decay is applied now. */
    final Placeholder<TFloat32> learningRateSum;
    final Op apply;
    final int variables;

    private WeightDecay(Placeholder<TFloat32> learningRateSum, Op apply, int variables) {
        this.learningRateSum = learningRateSum;
        this.apply = apply;
        this.variables = variables;
    }

    /** Collects the weight matrices, each with its share of the learning rate (layer-wise decay). */
    static final class Builder {
        private final Ops tf;
        private final Placeholder<TFloat32> sum;
        private final float lambda;
        private final Map<Double, Operand<TFloat32>> rates = new HashMap<>();
        private final List<Op> updates = new ArrayList<>();

        Builder(Ops graph, double lambda) {
            this.tf = graph.withSubScope("finetune_weight_decay");
            this.lambda = (float) lambda;
            this.sum = tf.withName("learning_rate_sum").placeholder(TFloat32.class, Placeholder.shape(Shape.scalar()));
        }

        void add(Operand<?> handle, double share) {
            Operand<TFloat32> rate = rates.computeIfAbsent(share, k -> tf.math.mul(sum, tf.constant((float) (k * lambda))));
            Operand<TFloat32> value = tf.readVariableOp(handle, TFloat32.class);
            updates.add(tf.assignSubVariableOp(handle, tf.math.mul(rate, value)));
        }

        /** Whether no matrix was added (those with bfloat16 copies decay inside their update, {@link WeightCopies}). */
        boolean isEmpty() {
            return updates.isEmpty();
        }

        WeightDecay build() {
            return new WeightDecay(sum, tf.withControlDependencies(updates).withName("apply").noOp(), updates.size());
        }
    }
}
