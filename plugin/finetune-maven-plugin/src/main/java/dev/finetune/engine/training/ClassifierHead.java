package dev.finetune.engine.training;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.VarHandleOp;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/**
 * The new layers on top of the encoder: optional hidden layers ({@code dense → activation → dropout} each), then the
 * output layer. Dropout acts on the head's input and after every hidden layer, in the training path only; the
 * evaluation path (what is exported) is the same weights without it. Each layer works on the last axis, so the same
 * head serves a vector per text and a vector per token.
 *
 * <p>Dropout masks are drawn statelessly, keyed by the run's seed, the layer and the draw number each training run feeds
 * (as {@link dev.finetune.engine.model.EncoderDropout}'s are): a stateful generator restarts its sequence when a run
 * resumes, and draws the same masks on every replica and worker, where the draw number tells each apart.
 */
final class ClassifierHead {
    /** Hidden layer sizes before the output layer (none: empty) and their activation: gelu, relu or tanh. */
    record Layers(int[] sizes, String activation) {
        static final Layers NONE = new Layers(new int[0], "gelu");
    }

    /** One of the head's weights: its saved name, handle, shape and read. */
    record Variable(String name, VarHandleOp handle, Shape shape, Operand<TFloat32> read) {
    }

    final List<Variable> variables = new ArrayList<>();
    final Operand<TFloat32> trainLogits;
    final Operand<TFloat32> evalLogits;

    /**
     * Builds the head on {@code features} ({@code [rows, hidden]} or {@code [rows, length, hidden]}), whose training path
     * reads {@code trainFeatures} (the same, or those of the encoder's training copy); the ops that give
     * its weights their first values go to {@code freshInit}. The output layer keeps the names it has always had
     * ({@code finetune_head/kernel}, {@code /bias}) and its seed, so a head without hidden layers is what it was.
     * {@code draw}: the training run's draw number (a scalar), which keys the dropout masks; unused when dropout is
     * 0 (and then null unless the encoder drops).
     */
    ClassifierHead(Ops tf, Operand<TFloat32> trainFeatures, Operand<TFloat32> features, int inputSize, int outputs, Layers layers,
                   double dropout, long seed, Operand<TInt64> draw, float[] initialBias, List<Op> freshInit) {
        Ops head = tf.withSubScope("finetune_head");
        Operand<TFloat32> train = dropout(head, trainFeatures, dropout, seed, draw);
        Operand<TFloat32> eval = features;
        int in = inputSize;
        for (int k = 0; k < layers.sizes().length; k++) {
            int out = layers.sizes()[k];
            Ops scope = head.withSubScope("hidden_" + k);
            // Each layer draws its own weights: seeds apart from the output layer's and from each other.
            Variable w = variable(scope, "finetune_head/hidden_" + k + "/kernel", Shape.of(in, out), glorotUniform(in, out, seed + 1 + k), freshInit);
            Variable b = variable(scope, "finetune_head/hidden_" + k + "/bias", Shape.of(out), new float[out], freshInit);
            train = dropout(scope, activation(scope, dense(scope, train, w.read(), b.read(), out), layers.activation()),
                    dropout, seed + 2L * (k + 1), draw);
            eval = activation(scope, dense(scope, eval, w.read(), b.read(), out), layers.activation());
            in = out;
        }
        float[] bias0 = initialBias != null && initialBias.length == outputs ? initialBias : new float[outputs];
        Variable w = variable(head, "finetune_head/kernel", Shape.of(in, outputs), truncatedNormal(in, outputs, seed), freshInit);
        Variable b = variable(head, "finetune_head/bias", Shape.of(outputs), bias0, freshInit);
        trainLogits = dense(head, train, w.read(), b.read(), outputs);
        evalLogits = dense(head, eval, w.read(), b.read(), outputs);
    }

    /** Weights of the head, all of them trained. */
    long parameters() {
        long n = 0;
        for (Variable v : variables) {
            n += v.shape().size();
        }
        return n;
    }

    private Variable variable(Ops scope, String name, Shape shape, Object initial, List<Op> freshInit) {
        String local = name.substring(name.lastIndexOf('/') + 1);
        VarHandleOp handle = scope.withName(local).varHandleOp(TFloat32.class, shape, VarHandleOp.sharedName(name));
        Operand<TFloat32> value = initial instanceof float[][] m ? scope.constant(m) : scope.constant((float[]) initial);
        freshInit.add(scope.assignVariableOp(handle, value));
        Variable v = new Variable(name, handle, shape, scope.withName(local + "_read").readVariableOp(handle, TFloat32.class));
        variables.add(v);
        return v;
    }

    /** {@code x·w + b} over the last axis: {@code [rows, hidden]}, or {@code [rows, length, hidden]} per token. */
    static Operand<TFloat32> dense(Ops tf, Operand<TFloat32> x, Operand<TFloat32> w, Operand<TFloat32> b, int outputs) {
        if (x.shape().numDimensions() == 2) {
            return tf.math.add(tf.linalg.matMul(x, w), b);
        }
        long hidden = x.shape().get(2);
        Operand<TFloat32> flat = tf.reshape(x, tf.constant(new long[] {-1, hidden}));
        Operand<TFloat32> y = tf.math.add(tf.linalg.matMul(flat, w), b);
        Operand<TInt32> rowsAndLength = tf.slice(tf.shape(x), tf.constant(new int[] {0}), tf.constant(new int[] {2}));
        return tf.reshape(y, tf.concat(List.of(rowsAndLength, tf.constant(new int[] {outputs})), tf.constant(0)));
    }

    /** GELU is the exact one, {@code x·Φ(x) = 0.5·x·(1 + erf(x/√2))}, as Hugging Face's "gelu"; Erf has a gradient. */
    static Operand<TFloat32> activation(Ops tf, Operand<TFloat32> x, String name) {
        return switch (name) {
            case "relu" -> tf.nn.relu(x);
            case "tanh" -> tf.math.tanh(x);
            default -> tf.math.mul(tf.math.mul(tf.constant(0.5f), x),
                    tf.math.add(tf.constant(1f), tf.math.erf(tf.math.mul(x, tf.constant((float) (1 / Math.sqrt(2)))))));
        };
    }

    /**
     * Inverted dropout: kept values are scaled by {@code 1 / (1 - rate)}, so evaluation needs no rescaling. The mask is
     * uniform noise keyed by {@code [siteSeed, draw]}.
     */
    static Operand<TFloat32> dropout(Ops tf, Operand<TFloat32> x, double rate, long siteSeed, Operand<TInt64> draw) {
        if (rate <= 0) {
            return x;
        }
        Operand<TFloat32> keep = tf.constant((float) (1 - rate));
        Operand<TInt64> key = tf.stack(List.of(tf.constant(siteSeed), draw));
        Operand<TFloat32> noise = tf.random.statelessRandomUniform(tf.shape(x), key, TFloat32.class);
        Operand<TFloat32> mask = tf.math.floor(tf.math.add(noise, keep));
        return tf.math.div(tf.math.mul(x, mask), keep);
    }

    /**
     * Glorot (Xavier) uniform, Keras' Dense default, for the hidden layers: limits ±√(6 / (in + out)) keep the signal's
     * scale through the stack, where BERT's σ 0.02 shrinks it layer by layer (by 0.02·√in: a tenth on a 32-wide encoder)
     * and the head then barely learns. Seeded, so runs repeat.
     */
    static float[][] glorotUniform(int rows, int cols, long seed) {
        Random r = new Random(seed);
        double limit = Math.sqrt(6.0 / (rows + cols));
        float[][] out = new float[rows][cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                out[i][j] = (float) ((2 * r.nextDouble() - 1) * limit);
            }
        }
        return out;
    }

    /** Truncated normal (σ 0.02, cut at 2σ) as BERT initialises its heads' output layer; seeded, so runs repeat. */
    static float[][] truncatedNormal(int rows, int cols, long seed) {
        Random r = new Random(seed);
        float[][] out = new float[rows][cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                double g;
                do {
                    g = r.nextGaussian();
                } while (Math.abs(g) > 2);
                out[i][j] = (float) (0.02 * g);
            }
        }
        return out;
    }
}
