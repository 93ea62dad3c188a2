package dev.finetune.engine.training;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * The per-example losses of the tasks beyond single-label classification, from the head's logits, built of ops
 * every one of which has a C++ gradient (TF Java has no sigmoid cross-entropy or Huber op of its own).
 */
final class TaskLoss {
    private final Ops tf;
    private final ClassifierGraph.Settings s;

    TaskLoss(Ops tf, ClassifierGraph.Settings s) {
        this.tf = tf;
        this.s = s;
    }

    /**
     * Multi-label: binary cross-entropy of each label's sigmoid, averaged over the labels, in the stable form
     * {@code max(x, 0) - x·z + log(1 + exp(-|x|))} (TensorFlow's {@code sigmoid_cross_entropy_with_logits}).
     */
    Operand<TFloat32> binaryCrossEntropy(Operand<TFloat32> logits, Operand<TFloat32> targets) {
        Operand<TFloat32> perLabel = tf.math.add(tf.math.sub(tf.nn.relu(logits), tf.math.mul(logits, targets)),
                tf.math.log1p(tf.math.exp(tf.math.neg(tf.math.abs(logits)))));
        return tf.math.mean(perLabel, tf.constant(1));
    }

    /**
     * Regression: the error of the one output against the standardised target {@code (y - mean) / scale}, squared
     * (mse) or Huber's (δ 1: squared near zero, linear beyond, so outliers pull less).
     */
    Operand<TFloat32> regression(Operand<TFloat32> logits, Operand<TFloat32> targets) {
        Operand<TFloat32> standardized = tf.math.div(tf.math.sub(targets, tf.constant((float) s.targetMean())),
                tf.constant((float) s.targetScale()));
        Operand<TFloat32> error = tf.reshape(tf.math.sub(logits, standardized), tf.constant(new int[] {-1}));
        if (s.regressionLoss().equals("huber")) {
            Operand<TFloat32> abs = tf.math.abs(error);
            Operand<TFloat32> quadratic = tf.math.minimum(abs, tf.constant(1f));
            return tf.math.add(tf.math.mul(tf.constant(0.5f), tf.math.square(quadratic)), tf.math.sub(abs, quadratic));
        }
        return tf.math.square(error);
    }

    /** Token classification's cross-entropies: the mean over every labelled position, and per example. */
    record PerToken(Operand<TFloat32> mean, Operand<TFloat32> perExample) {
    }

    /**
     * Cross-entropy at each position whose label is not -1 (special tokens, padding and a word's later sub-tokens are
     * -1 and count for nothing): the batch loss averages over labelled positions, as Hugging Face's token
     * classification does with its -100 labels, so long and short sentences weigh by their words.
     */
    PerToken perToken(Operand<TFloat32> logits, Operand<TInt32> labels, int classes) {
        Operand<TFloat32> labelled = tf.dtypes.cast(tf.math.greaterEqual(labels, tf.constant(0)), TFloat32.class);
        Operand<TFloat32> oneHot = tf.oneHot(tf.math.maximum(labels, tf.constant(0)), tf.constant(classes), tf.constant(1f),
                tf.constant(0f));
        Operand<TInt32> flatShape = tf.constant(new int[] {-1, classes});
        Operand<TFloat32> flat = tf.nn.softmaxCrossEntropyWithLogits(tf.reshape(logits, flatShape), tf.reshape(oneHot, flatShape)).loss();
        Operand<TFloat32> masked = tf.math.mul(tf.reshape(flat, tf.shape(labels)), labelled);
        Operand<TFloat32> one = tf.constant(1f);
        Operand<TFloat32> mean = tf.math.div(tf.sum(masked, tf.constant(new int[] {0, 1})),
                tf.math.maximum(tf.sum(labelled, tf.constant(new int[] {0, 1})), one));
        Operand<TFloat32> perExample = tf.math.div(tf.sum(masked, tf.constant(1)), tf.math.maximum(tf.sum(labelled, tf.constant(1)), one));
        return new PerToken(mean, perExample);
    }
}
