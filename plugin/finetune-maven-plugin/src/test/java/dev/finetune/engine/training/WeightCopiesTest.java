package dev.finetune.engine.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.finetune.engine.TestFiles;
import dev.finetune.engine.model.EncoderGraph;
import dev.finetune.engine.model.Pooling;
import dev.finetune.engine.model.SignatureNames;
import dev.finetune.engine.model.TrainingKernels;
import dev.finetune.runtime.encoding.Batch;
import dev.finetune.runtime.model.GraphDefs;
import dev.finetune.runtime.model.SavedModelFile;
import dev.finetune.runtime.model.ServingSignature;
import dev.finetune.runtime.model.SessionSettings;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.op.Ops;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TFloat32;

/**
 * bfloat16 weight copies ({@link WeightCopies}) in bfloat16 mixed precision, on models made by the real exporters,
 * against the same graph without copies: a step computes the same loss, gradients and update, each copy is its weight
 * rounded to nearest even after every step and every restore, and the export reads the float32 weights.
 */
class WeightCopiesTest {
    /** Two batches of three short rows (those of {@link LazyEmbeddingsTest}). */
    private static final Batch BATCH = LazyEmbeddingsTest.FIRST;

    private static SessionSettings bfloat16() {
        return new SessionSettings("cpu", 1, 1, "bfloat16", false);
    }

    private static ClassifierGraph.Settings settings(EncoderGraph enc, double weightDecay) {
        // Clipping at 0.05, below the step's norm here, so that the kernel's scale is not 1.
        return new ClassifierGraph.Settings(Pooling.resolve("auto", enc), 0.0, 7, 0.9, 0.999, 1e-6, weightDecay, 0.05);
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-bert-tf1", "tiny-bert-tf2", "tiny-bert-keras", "families/gpt-keras", "families/albert-keras"})
    void aStepIsTheStepWithoutCopies(String name) {
        assumeTrue(TrainingKernels.available(), TrainingKernels.unavailable());
        EncoderGraph enc = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model(name)), SignatureNames.auto());
        ClassifierGraph.Settings plain = settings(enc, 0.01);
        try (ClassifierGraph without = new ClassifierGraph(enc, 2, plain);
             ClassifierGraph with = new ClassifierGraph(enc, 2, plain.withWeightCopies(true));
             ClassifierSession w = new ClassifierSession(without, bfloat16());
             ClassifierSession c = new ClassifierSession(with, bfloat16())) {
            System.out.println(name + ": bfloat16 copies of " + with.weightCopies());
            assertEquals(List.of(), without.weightCopies());
            // Every dense layer's kernel (as all these exporters name them; Keras' attention projections are 3-D), and
            // nothing else: not the embedding tables (looked up, sliced), not EinsumDense's 2-D biases (added).
            List<String> kernels = with.encoderVariables().stream().map(EncoderVariable::key).filter(k -> k.contains("kernel")).toList();
            assertEquals(kernels, with.weightCopies(), name);
            w.initializeFromPretrained();
            c.initializeFromPretrained();
            assertCopiesRound(c, with, name + ": after loading the pretrained weights");
            float[][] plainPredictions = evaluate(w);
            float[][] copyPredictions = evaluate(c);
            for (int row = 0; row < plainPredictions.length; row++) {
                assertClose(plainPredictions[row], copyPredictions[row], 1e-6, name + ": the copies predict what the weights do in bfloat16");
            }

            float rate = 1e-2f;
            var plainStep = w.train(BATCH, rate, 1, 0.9, 0.999);
            var copyStep = c.train(BATCH, rate, 1, 0.9, 0.999);
            assertEquals(plainStep.loss(), copyStep.loss(), 1e-6, name + ": loss");
            assertEquals(plainStep.gradientNorm(), copyStep.gradientNorm(), 1e-4 * plainStep.gradientNorm(), name + ": global norm");
            assertCopiesRound(c, with, name + ": after a step");
        }
    }

    /**
     * Two steps with copies are Adam (with the global-norm clipping's factor, and AdamW's decay taken from the weight
     * before the step) on the very gradients the steps computed, fetched in the same runs, recomputed here in double.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tiny-bert-tf1", "families/gpt-keras"})
    void stepsAreAdamOnTheirGradients(String name) {
        assumeTrue(TrainingKernels.available(), TrainingKernels.unavailable());
        EncoderGraph enc = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model(name)), SignatureNames.auto());
        double lambda = 0.5;  // large, so that a decay left out or doubled shows
        double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-6, clip = 0.05;
        try (ClassifierGraph g = new ClassifierGraph(enc, 2, settings(enc, lambda).withWeightCopies(true));
             ClassifierSession s = new ClassifierSession(g, bfloat16())) {
            s.initializeFromPretrained();
            List<String> keys = g.weightCopies();
            java.util.Map<String, double[]> weights = new java.util.HashMap<>(), m = new java.util.HashMap<>(), v = new java.util.HashMap<>();
            for (String key : keys) {
                weights.put(key, doubles(s.variable(key)));
                m.put(key, new double[weights.get(key).length]);
                v.put(key, new double[weights.get(key).length]);
            }
            float[] rates = {1e-2f, 3e-3f};
            for (int step = 1; step <= 2; step++) {
                Batch batch = step == 1 ? BATCH : LazyEmbeddingsTest.SECOND;
                float rate = rates[step - 1];
                java.util.Map<String, float[]> grads = new java.util.HashMap<>();
                double norm = trainFetchingGradients(s, g, batch, rate, step, keys, grads);
                if (name.equals("tiny-bert-tf1") && SessionSettings.cpuHasNativeBfloat16()) {
                    // The products left the weight gradients in bfloat16, and the update read them so (the production path).
                    for (String key : keys) {
                        for (float x : grads.get(key)) {
                            assertEquals(0, Float.floatToIntBits(x) & 0xFFFF, name + ": " + key + " gradient " + x + " is not a bfloat16");
                        }
                    }
                }
                double scale = clip / Math.max(norm, clip);
                double b1p = Math.pow(beta1, step), b2p = Math.pow(beta2, step);
                double alpha = rate * Math.sqrt(1 - b2p) / (1 - b1p);
                for (String key : keys) {
                    double[] w = weights.get(key), mk = m.get(key), vk = v.get(key);
                    float[] gk = grads.get(key);
                    for (int i = 0; i < w.length; i++) {
                        double gi = gk[i] * scale;
                        mk[i] += (gi - mk[i]) * (1 - beta1);
                        vk[i] += (gi * gi - vk[i]) * (1 - beta2);
                        w[i] -= rate * lambda * w[i] + alpha * mk[i] / (Math.sqrt(vk[i]) + epsilon);
                    }
                    float[] actual = s.variable(key);
                    for (int i = 0; i < w.length; i++) {
                        assertEquals(w[i], actual[i], 1e-6 * Math.abs(w[i]) + 1e-7, name + ": " + key + " after step " + step + " [" + i + "]");
                    }
                }
                assertCopiesRound(s, g, name + ": after step " + step);
            }
        }
    }

    /** One training step that also fetches the gradients of {@code keys}, as they enter the update, and the global norm. */
    private static double trainFetchingGradients(ClassifierSession s, ClassifierGraph g, Batch batch, float rate, long step,
                                                 List<String> keys, java.util.Map<String, float[]> grads) {
        List<org.tensorflow.Tensor> feeds = new java.util.ArrayList<>();
        try {
            var r = s.feedTraining(s.session().runner(), batch, true, feeds);
            TFloat32 lr = TFloat32.scalarOf(rate), p1 = TFloat32.scalarOf((float) Math.pow(0.9, step)),
                    p2 = TFloat32.scalarOf((float) Math.pow(0.999, step));
            feeds.addAll(List.of(lr, p1, p2));
            r.feed(g.learningRate, lr).feed(g.beta1Power, p1).feed(g.beta2Power, p2).fetch(g.gradientNorm).addTarget(g.trainStep);
            // Through an identity: mixed precision leaves a fetched node in float32, which would change the step.
            Ops tf = Ops.create(g.graph()).withSubScope("test_fetch");
            keys.forEach(k -> r.fetch(tf.identity(g.gradients.get(g.variableNames.indexOf(k)))));
            try (Result out = r.run()) {
                for (int k = 0; k < keys.size(); k++) {
                    grads.put(keys.get(k), ServingSignature.floats(out.get(k + 1)));
                }
                return ((TFloat32) out.get(0)).getFloat();
            }
        } finally {
            feeds.forEach(org.tensorflow.Tensor::close);
        }
    }

    private static double[] doubles(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    /**
     * With gradient accumulation the kernel updates from the float32 sums: two micro-batches then the step give the loss,
     * norm and (to bfloat16's effect on Adam's first step, under a fiftieth of the learning rate; 7e-6 seen) weights of
     * the same graph without copies; an update from the last micro-batch's gradient alone moves some weights by up to
     * twice the rate.
     */
    @Test
    void accumulatedStepsUpdateFromTheSums() {
        assumeTrue(TrainingKernels.available(), TrainingKernels.unavailable());
        EncoderGraph enc = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model("tiny-bert-tf1")), SignatureNames.auto());
        ClassifierGraph.Settings plain = settings(enc, 0).withAccumulation(true);
        try (ClassifierGraph without = new ClassifierGraph(enc, 2, plain);
             ClassifierGraph with = new ClassifierGraph(enc, 2, plain.withWeightCopies(true));
             ClassifierSession w = new ClassifierSession(without, bfloat16());
             ClassifierSession c = new ClassifierSession(with, bfloat16())) {
            assertFalse(with.weightCopies().isEmpty());
            w.initializeFromPretrained();
            c.initializeFromPretrained();
            float rate = 1e-2f;
            assertEquals(w.accumulate(BATCH, 0.5f), c.accumulate(BATCH, 0.5f), 1e-6, "first micro-batch's loss");
            var plainStep = w.train(LazyEmbeddingsTest.SECOND, 0.5f, rate, 1, 0.9, 0.999);
            var copyStep = c.train(LazyEmbeddingsTest.SECOND, 0.5f, rate, 1, 0.9, 0.999);
            assertEquals(plainStep.loss(), copyStep.loss(), 1e-6, "loss");
            assertEquals(plainStep.gradientNorm(), copyStep.gradientNorm(), 1e-4 * plainStep.gradientNorm(), "norm of the summed gradient");
            for (String key : with.weightCopies()) {
                assertClose(w.variable(key), c.variable(key), rate / 50, key + " after the step");
            }
            assertCopiesRound(c, with, "after an accumulated step");
        }
    }

    /**
     * With encoder dropout the step runs a training copy of the encoder, which reads the weights through the same reads:
     * its products read the copies too, and every copied weight trains.
     */
    @Test
    void encoderDropoutTrainsThroughTheCopies() {
        assumeTrue(TrainingKernels.available(), TrainingKernels.unavailable());
        EncoderGraph enc = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model("tiny-bert-tf1")), SignatureNames.auto());
        try (ClassifierGraph g = new ClassifierGraph(enc, 2, settings(enc, 0).withEncoderDropout(0.1).withWeightCopies(true));
             ClassifierSession s = new ClassifierSession(g, bfloat16())) {
            assertTrue(g.encoderDropoutSites().count() > 0);
            assertFalse(g.weightCopies().isEmpty());
            s.initializeFromPretrained();
            java.util.Map<String, float[]> before = new java.util.HashMap<>();
            g.weightCopies().forEach(k -> before.put(k, s.variable(k)));
            s.train(BATCH, 1e-2f, 1, 0.9, 0.999);
            for (String key : g.weightCopies()) {
                assertFalse(java.util.Arrays.equals(before.get(key), s.variable(key)), key + " trained");
            }
            assertCopiesRound(s, g, "after a step with encoder dropout");
        }
    }

    @Test
    void restoresRefreshTheCopies(@TempDir Path dir) {
        assumeTrue(TrainingKernels.available(), TrainingKernels.unavailable());
        EncoderGraph enc = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model("tiny-bert-tf1")), SignatureNames.auto());
        try (ClassifierGraph g = new ClassifierGraph(enc, 2, settings(enc, 0.01).withWeightCopies(true));
             ClassifierSession s = new ClassifierSession(g, bfloat16())) {
            s.initializeFromPretrained();
            s.train(BATCH, 1e-2f, 1, 0.9, 0.999);
            s.saveCheckpoint(dir.resolve("checkpoint"));
            s.saveWeights(dir.resolve("weights"));
            float[][] atCheckpoint = evaluate(s);
            s.train(BATCH, 1e-2f, 2, 0.9, 0.999);
            assertFalse(java.util.Arrays.deepEquals(atCheckpoint, evaluate(s)), "a second step changes the predictions");
            s.restoreCheckpoint(dir.resolve("checkpoint"));
            assertCopiesRound(s, g, "after restoring a checkpoint");
            assertEquals(java.util.Arrays.deepToString(atCheckpoint), java.util.Arrays.deepToString(evaluate(s)), "after restoring a checkpoint");
            s.train(BATCH, 1e-2f, 2, 0.9, 0.999);
            s.restoreWeights(dir.resolve("weights"));
            assertCopiesRound(s, g, "after restoring the best weights");
            assertEquals(java.util.Arrays.deepToString(atCheckpoint), java.util.Arrays.deepToString(evaluate(s)), "after restoring weights");
        }
    }

    /** The export reads the float32 weights: none of the copies' variables, reads or casts is left in it. */
    @Test
    void theExportReadsTheFloatWeights() {
        assumeTrue(TrainingKernels.available(), TrainingKernels.unavailable());
        EncoderGraph enc = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model("tiny-bert-keras")), SignatureNames.auto());
        try (ClassifierGraph plain = new ClassifierGraph(enc, 2, settings(enc, 0));
             ClassifierGraph g = new ClassifierGraph(enc, 2, settings(enc, 0).withWeightCopies(true))) {
            GraphDef served = g.inferenceGraphDef();
            assertTrue(served.getNodeList().stream().noneMatch(n -> n.getName().contains("finetune_bf16_cop")
                    || n.getName().endsWith(WeightCopies.FLOAT_READ) || n.getOp().equals(TrainingKernels.ADAM)), "copies left in the export");
            try (org.tensorflow.Graph fresh = new org.tensorflow.Graph()) {
                fresh.importGraphDef(served);  // every reference resolves
            }
            var nodes = GraphDefs.byName(served);
            for (EncoderVariable v : g.encoderVariables()) {
                for (String read : v.reads()) {
                    var n = nodes.get(GraphDefs.nodeName(read));
                    assertEquals("ReadVariableOp", n.getOp(), read);
                    assertEquals(GraphDefs.byName(plain.graph().toGraphDef()).get(n.getName()), n, read + " as the model had it");
                }
            }
        }
    }

    private static float[][] evaluate(ClassifierSession s) {
        return s.evaluate(BATCH, false).probabilities();
    }

    /** Every copy holds its float32 weight rounded to nearest even, bit for bit. */
    private static void assertCopiesRound(ClassifierSession s, ClassifierGraph g, String what) {
        Ops tf = Ops.create(g.graph()).withSubScope("test_copies");
        for (WeightCopies.Copy copy : g.copies()) {
            String key = g.encoderVariables().get(copy.variable()).key();
            Operand<TFloat32> value = tf.dtypes.cast(
                    tf.readVariableOp(g.graph().operationOrThrow(copy.handleOp()).output(0), TBfloat16.class), TFloat32.class);
            float[] weights = s.variable(key);
            try (Result out = s.session().runner().fetch(value).run()) {
                float[] copied = ServingSignature.floats(out.get(0));
                assertEquals(weights.length, copied.length, what + ": " + key);
                for (int i = 0; i < weights.length; i++) {
                    assertEquals(Float.floatToIntBits(TestFiles.bfloat16(weights[i])), Float.floatToIntBits(copied[i]), what + ": " + key + " [" + i + "]");
                }
            }
        }
    }

    private static void assertClose(float[] expected, float[] actual, double tolerance, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], tolerance + 1e-5 * Math.abs(expected[i]), what + " [" + i + "]");
        }
    }
}
