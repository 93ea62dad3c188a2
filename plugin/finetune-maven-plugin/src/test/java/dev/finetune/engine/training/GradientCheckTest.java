package dev.finetune.engine.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.TestFiles;
import dev.finetune.engine.model.EncoderGraph;
import dev.finetune.engine.model.Pooling;
import dev.finetune.engine.model.SignatureNames;
import dev.finetune.runtime.encoding.Batch;
import dev.finetune.runtime.model.SavedModelFile;
import dev.finetune.runtime.model.ServingSignature;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * The gradients the graph computes (through inlined TF2 functions, the rewritten embedding look-up, the Java
 * Erfc gradient) agree with central finite differences of the loss, for weights of every kind.
 */
class GradientCheckTest {
    private static final float H = 1e-2f;

    @ParameterizedTest
    @ValueSource(strings = {"tiny-bert-tf1", "tiny-bert-tf2", "tiny-bert-keras", "families/bert-keras", "families/roberta-keras",
        "families/gpt-keras", "families/albert-keras", "families/distilbert-keras", "families/bert-garden"})
    void analyticGradientsMatchFiniteDifferences(String name) {
        EncoderGraph enc = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model(name)), SignatureNames.auto());
        ClassifierGraph.Settings noDropout = new ClassifierGraph.Settings(Pooling.resolve("auto", enc), 0.0, 7, 0.9, 0.999,
                1e-6, 0.0, 0.0);
        try (ClassifierGraph g = new ClassifierGraph(enc, 2, noDropout);
             ClassifierSession s = new ClassifierSession(g, 1, 1)) {
            s.initializeFromPretrained();
            // At the random initialisation most gradients are below float32's resolution of the loss; some training
            // grows the weights, and checking against flipped labels makes the loss (and its gradients) large.
            for (int step = 1; step <= 15; step++) {
                s.train(ClassifierGraphTest.toyBatch(), 5e-3f, step, 0.9, 0.999);
            }
            Ops tf = Ops.create(g.graph());
            Placeholder<TFloat32> value = tf.placeholder(TFloat32.class);
            java.util.List<String> checked = new java.util.ArrayList<>();
            Set<Integer> candidates = variablesToCheck(s, g);
            for (int v : candidates) {
                String key = g.variableNames.get(v);
                float[] grad = fetch(s, g, g.gradients.get(v));
                int j = argmaxAbs(grad);
                float[] w = s.variable(key);
                Op assign = tf.assignVariableOp(g.handles.get(v), value);
                // Richardson's extrapolation of central differences at H and H/2 cancels the step's second-order error,
                // which a step of 1e-2 makes visible where weights are small and the loss curved (factorised and causal
                // embeddings); a smaller step alone would drown small gradients in float32's resolution of the loss.
                double wide = difference(s, g, assign, value, shape(g, v), w, j, H);
                double narrow = difference(s, g, assign, value, shape(g, v), w, j, H / 2);
                lossWith(s, g, assign, value, shape(g, v), w, j, w[j]);
                double numeric = (4 * narrow - wide) / 3;
                double loss = fetch(s, g, g.loss)[0];
                // Float32 resolves the loss only to its ulp, so the extrapolated quotient only to about 3 ulp / H.
                double resolution = 3 * Math.ulp((float) loss) / H;
                System.out.printf("gradient check %s %s[%d]: analytic %.6g, numeric %.6g (loss %.4f, resolution %.2g)%n",
                        name, key, j, grad[j], numeric, loss, resolution);
                if (Math.abs(grad[j]) < 10 * resolution) {
                    continue;
                }
                assertEquals(grad[j], numeric, 0.02 * Math.abs(grad[j]) + resolution, name + ": d loss / d " + key + "[" + j + "]");
                checked.add(key);
            }
            // The embedding table and the feed-forward kernel must be among the checked: they are the risky paths.
            java.util.List<Integer> order = new java.util.ArrayList<>(candidates);
            assertTrue(checked.contains(g.variableNames.get(order.get(0))) && checked.contains(g.variableNames.get(order.get(1)))
                    && checked.size() >= 4, name + ": checked only " + checked);
        }
    }

    /**
     * The embedding table; the feed-forward expansion kernel with the largest gradient (its gradient passes wholly
     * through GELU, hence through the Java Erfc gradient in TF2 exports); the encoder matrix and the vector (bias or
     * LayerNorm) with the largest gradients; the head's kernel and bias.
     */
    private static Set<Integer> variablesToCheck(ClassifierSession s, ClassifierGraph g) {
        int encoderCount = g.encoderVariables().size();
        int largest = 0;
        double[] peak = new double[encoderCount];
        // One run for all gradients: every new set of fetches costs TensorFlow a new executor.
        List<float[]> grads = fetch(s, g, g.gradients.subList(0, encoderCount));
        for (int i = 0; i < encoderCount; i++) {
            if (g.encoderVariables().get(i).size() > g.encoderVariables().get(largest).size()) {
                largest = i;
            }
            float[] grad = grads.get(i);
            peak[i] = Math.abs(grad[argmaxAbs(grad)]);
        }
        int expansion = -1;
        int matrix = -1;
        int vector = -1;
        for (int i = 0; i < encoderCount; i++) {
            long[] d = g.encoderVariables().get(i).shape();
            if (d.length == 2 && d[0] == g.hiddenSize() && d[1] > g.hiddenSize() && (expansion < 0 || peak[i] > peak[expansion])) {
                expansion = i;
            } else if (d.length == 2 && i != largest && (matrix < 0 || peak[i] > peak[matrix])) {
                matrix = i;
            } else if (d.length == 1 && (vector < 0 || peak[i] > peak[vector])) {
                vector = i;
            }
        }
        return new LinkedHashSet<>(java.util.List.of(largest, expansion, matrix, vector, encoderCount, encoderCount + 1));
    }

    private static long[] shape(ClassifierGraph g, int v) {
        return g.shapes.get(v).asArray();
    }

    private static double difference(ClassifierSession s, ClassifierGraph g, Op assign, Placeholder<TFloat32> value,
                                     long[] shape, float[] w, int j, float h) {
        double up = lossWith(s, g, assign, value, shape, w, j, w[j] + h);
        double down = lossWith(s, g, assign, value, shape, w, j, w[j] - h);
        return (up - down) / (2 * h);
    }

    private static double lossWith(ClassifierSession s, ClassifierGraph g, Op assign, Placeholder<TFloat32> value,
                                   long[] shape, float[] w, int j, float x) {
        float[] copy = w.clone();
        copy[j] = x;
        try (TFloat32 t = TFloat32.tensorOf(Shape.of(shape), DataBuffers.of(copy, true, false))) {
            s.session().runner().feed(value, t).addTarget(assign).run().close();
        }
        return fetch(s, g, g.loss)[0];
    }

    private static float[] fetch(ClassifierSession s, ClassifierGraph g, Operand<TFloat32> t) {
        return fetch(s, g, List.of(t)).get(0);
    }

    private static List<float[]> fetch(ClassifierSession s, ClassifierGraph g, List<Operand<TFloat32>> ts) {
        Batch toy = ClassifierGraphTest.toyBatch();
        int[] flipped = toy.labels().clone();
        for (int i = 0; i < flipped.length; i++) {
            flipped[i] = 1 - flipped[i];
        }
        Batch b = new Batch(toy.rows(), toy.length(), toy.inputIds(), toy.inputMask(), toy.segmentIds(), flipped);
        Shape shape = Shape.of(b.rows(), b.length());
        try (TInt32 ids = TInt32.tensorOf(shape, DataBuffers.of(b.inputIds(), true, false));
             TInt32 mask = TInt32.tensorOf(shape, DataBuffers.of(b.inputMask(), true, false));
             TInt32 seg = TInt32.tensorOf(shape, DataBuffers.of(b.segmentIds(), true, false));
             TInt32 labels = TInt32.vectorOf(b.labels())) {
            var r = s.session().runner().feed(g.inputIds, ids).feed(g.inputMask, mask).feed(g.labels, labels);
            if (g.segmentIds != null) {
                r.feed(g.segmentIds, seg);
            }
            ts.forEach(r::fetch);
            try (Result out = r.run()) {
                List<float[]> values = new java.util.ArrayList<>();
                for (int i = 0; i < ts.size(); i++) {
                    values.add(ServingSignature.floats(out.get(i)));
                }
                return values;
            }
        }
    }

    private static int argmaxAbs(float[] a) {
        int best = 0;
        for (int i = 1; i < a.length; i++) {
            if (Math.abs(a[i]) > Math.abs(a[best])) {
                best = i;
            }
        }
        return best;
    }
}
