package dev.finetune.engine.training;

import dev.finetune.engine.model.TrainingKernels;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.TensorFlow;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.family.TType;

/**
 * Java gradients for ops of real encoders that TensorFlow's C++ gradient registry lacks. Registered once per
 * JVM; {@code registerCustomGradient} returns false for an op that already has one, which is fine.
 */
public final class CustomGradients {
    private static boolean registered;

    private CustomGradients() {
    }

    @SuppressWarnings("unchecked")
    public static synchronized void register() {
        if (registered) {
            return;
        }
        registered = true;
        // erfc'(x) = -2/sqrt(pi) * exp(-x^2): exact GELU in TF2 exports is 0.5 * x * erfc(-x / sqrt(2)).
        TensorFlow.registerCustomGradient("Erfc", (tf, op, grads) -> {
            Operand<TFloat32> x = (Operand<TFloat32>) op.input(0);
            Operand<TFloat32> dy = (Operand<TFloat32>) grads.get(0);
            Operand<TFloat32> slope = tf.math.mul(tf.constant((float) (-2.0 / Math.sqrt(Math.PI))),
                    tf.math.exp(tf.math.neg(tf.math.square(x))));
            return List.of(tf.math.mul(dy, slope));
        });
        // erf'(x) = 2/sqrt(pi) * exp(-x^2), in case a TensorFlow build lacks it.
        TensorFlow.registerCustomGradient("Erf", (tf, op, grads) -> {
            Operand<TFloat32> x = (Operand<TFloat32>) op.input(0);
            Operand<TFloat32> dy = (Operand<TFloat32>) grads.get(0);
            Operand<TFloat32> slope = tf.math.mul(tf.constant((float) (2.0 / Math.sqrt(Math.PI))),
                    tf.math.exp(tf.math.neg(tf.math.square(x))));
            return List.of(tf.math.mul(dy, slope));
        });
        // This plugin's GELU kernel (TrainingKernels) hands its derivative out as its second output: the gradient is one
        // product, and no gradient flows into the derivative, which nothing but this reads.
        TensorFlow.registerCustomGradient(TrainingKernels.GELU, (tf, op, grads) -> {
            Operand<TType> dy = (Operand<TType>) grads.get(0);
            Operand<TType> dydx = (Operand<TType>) op.output(1);
            return List.of(tf.math.mul(dy, dydx));
        });
        // IdentityN (tf.custom_gradient, Keras) passes each gradient through.
        TensorFlow.registerCustomGradient("IdentityN", (tf, op, grads) -> passThrough(tf, op.numInputs(), grads));
        // EnsureShape only checks a shape at run time (Keras exports use it; so does mean pooling here).
        TensorFlow.registerCustomGradient("EnsureShape", (tf, op, grads) -> passThrough(tf, 1, grads));
    }

    private static List<Operand<?>> passThrough(Ops tf, int inputs, List<Output<?>> grads) {
        List<Operand<?>> out = new ArrayList<>(inputs);
        for (int i = 0; i < inputs; i++) {
            out.add(grads.get(i));
        }
        return out;
    }
}
