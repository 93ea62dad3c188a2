package dev.finetune.engine.training;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * The per-example losses of every task, from the head's logits, built of ops every one of which has a C++ gradient
 * (TF Java has no sigmoid cross-entropy or Huber op of its own).
 *
 * <p>The training loss may depart from the plain one by {@link Options}: label smoothing and class weights. The
 * evaluation losses (validation, early stopping, the tuner's ranking) stay the plain ones, so runs with other options
 * are compared on the same scale. Weights multiply each example's loss and the batch loss stays a mean over examples
 * (Keras' {@code class_weight}), not a mean divided by the summed weights (PyTorch's weighted mean): so the gradient
 * of a batch is the example-weighted mean of its halves', which gradient accumulation relies on.
 */
final class TaskLoss {
    /**
     * Class weights (one per label in label order, null for none; multi-label: the weight of a label's positive cases)
     * and label smoothing ε (0: none).
     */
    record Options(float[] classWeights, double labelSmoothing) {
        static final Options NONE = new Options(null, 0);
    }

    private final Ops tf;
    private final ClassifierGraph.Settings s;
    private final Options o;

    TaskLoss(Ops tf, ClassifierGraph.Settings s) {
        this.tf = tf;
        this.s = s;
        this.o = s.lossOptions();
    }

    /**
     * Single-label cross-entropy per example. Training: against the smoothed target {@code (1 - ε)·onehot + ε / K}
     * (Szegedy et al., as Keras' and PyTorch's {@code label_smoothing}), times the weight of the true class.
     */
    Operand<TFloat32> crossEntropy(Operand<TFloat32> logits, Operand<TInt32> labels, int classes, boolean training) {
        Operand<TFloat32> oneHot = tf.oneHot(labels, tf.constant(classes), tf.constant(1f), tf.constant(0f));
        Operand<TFloat32> loss = tf.nn.softmaxCrossEntropyWithLogits(logits, training ? smoothed(oneHot, classes) : oneHot).loss();
        return training ? weighted(loss, oneHot) : loss;
    }

    /**
     * Multi-label: binary cross-entropy of each label's sigmoid, averaged over the labels, in the stable form
     * {@code max(x, 0) - x·z + log(1 + exp(-|x|))} (TensorFlow's {@code sigmoid_cross_entropy_with_logits}). Training:
     * the target smoothed towards one half, {@code z·(1 - ε) + ε/2} (Keras' binary label smoothing), and with class
     * weights the positive term weighted, {@code (1 - z)·x + (1 + (w - 1)·z)·softplus(-x)} (PyTorch's {@code pos_weight}).
     */
    Operand<TFloat32> binaryCrossEntropy(Operand<TFloat32> logits, Operand<TFloat32> targets, boolean training) {
        Operand<TFloat32> z = training && o.labelSmoothing() > 0
                ? tf.math.add(tf.math.mul(targets, tf.constant((float) (1 - o.labelSmoothing()))), tf.constant((float) (o.labelSmoothing() / 2)))
                : targets;
        Operand<TFloat32> log1pExp = tf.math.log1p(tf.math.exp(tf.math.neg(tf.math.abs(logits))));
        Operand<TFloat32> perLabel;
        if (training && o.classWeights() != null) {
            Operand<TFloat32> one = tf.constant(1f);
            Operand<TFloat32> softplusNeg = tf.math.add(tf.nn.relu(tf.math.neg(logits)), log1pExp);
            Operand<TFloat32> positiveScale = tf.math.add(one, tf.math.mul(tf.math.sub(tf.constant(o.classWeights()), one), z));
            perLabel = tf.math.add(tf.math.mul(tf.math.sub(one, z), logits), tf.math.mul(positiveScale, softplusNeg));
        } else {
            perLabel = tf.math.add(tf.math.sub(tf.nn.relu(logits), tf.math.mul(logits, z)), log1pExp);
        }
        return tf.math.mean(perLabel, tf.constant(1));
    }

    /** The target with ε of its mass spread evenly over the classes (unchanged when ε is 0 or outside training). */
    private Operand<TFloat32> smoothed(Operand<TFloat32> oneHot, int classes) {
        double e = o.labelSmoothing();
        if (e <= 0) {
            return oneHot;
        }
        return tf.math.add(tf.math.mul(oneHot, tf.constant((float) (1 - e))), tf.constant((float) (e / classes)));
    }

    /** {@code loss} times the weight of each position's true class (read off its one-hot row), or as it is without weights. */
    private Operand<TFloat32> weighted(Operand<TFloat32> loss, Operand<TFloat32> oneHot) {
        if (o.classWeights() == null) {
            return loss;
        }
        Operand<TFloat32> weight = tf.sum(tf.math.mul(oneHot, tf.constant(o.classWeights())), tf.constant(-1));
        return tf.math.mul(loss, weight);
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
     * classification does with its -100 labels, so long and short sentences weigh by their words. In training it is
     * smoothed and weighted as {@link #crossEntropy}.
     */
    PerToken perToken(Operand<TFloat32> logits, Operand<TInt32> labels, int classes, boolean training) {
        Operand<TFloat32> labelled = tf.dtypes.cast(tf.math.greaterEqual(labels, tf.constant(0)), TFloat32.class);
        Operand<TFloat32> oneHot = tf.oneHot(tf.math.maximum(labels, tf.constant(0)), tf.constant(classes), tf.constant(1f),
                tf.constant(0f));
        Operand<TInt32> flatShape = tf.constant(new int[] {-1, classes});
        Operand<TFloat32> target = training ? smoothed(oneHot, classes) : oneHot;
        Operand<TFloat32> flat = tf.nn.softmaxCrossEntropyWithLogits(tf.reshape(logits, flatShape), tf.reshape(target, flatShape)).loss();
        Operand<TFloat32> perPosition = tf.reshape(flat, tf.shape(labels));
        // Weighted words still count once in the mean: the mean is over labelled words, as without weights.
        Operand<TFloat32> masked = tf.math.mul(training ? weighted(perPosition, oneHot) : perPosition, labelled);
        Operand<TFloat32> one = tf.constant(1f);
        Operand<TFloat32> mean = tf.math.div(tf.sum(masked, tf.constant(new int[] {0, 1})),
                tf.math.maximum(tf.sum(labelled, tf.constant(new int[] {0, 1})), one));
        Operand<TFloat32> perExample = tf.math.div(tf.sum(masked, tf.constant(1)), tf.math.maximum(tf.sum(labelled, tf.constant(1)), one));
        return new PerToken(mean, perExample);
    }
}
