package dev.finetune.engine.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.FineTuneEngine;
import dev.finetune.engine.TestFiles;
import dev.finetune.engine.config.FineTuneConfig;
import dev.finetune.engine.model.EncoderGraph;
import dev.finetune.engine.model.SignatureNames;
import dev.finetune.runtime.model.SavedModelFile;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** AdamW's decoupled weight decay, applied by the trainer every few steps for the sum of their learning rates. */
class WeightDecayTest {
    private static final String MATRIX = "finetune_head/kernel";
    private static final String BIAS = "finetune_head/bias";

    @Test
    void decaysWeightMatricesByRateTimesLambdaAndLeavesVectors() {
        EncoderGraph encoder = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model("tiny-bert-tf1")), SignatureNames.auto());
        ClassifierGraph.Settings settings = new ClassifierGraph.Settings("pooled", 0.0, 7, 0.9, 0.999, 1e-6, 0.1, 1.0);
        try (ClassifierGraph g = new ClassifierGraph(encoder, 2, settings);
             ClassifierSession s = new ClassifierSession(g, 1, 1)) {
            s.initializeFromPretrained();
            String encoderMatrix = g.variableNames.stream().filter(n -> !n.startsWith("finetune") && g.shapes.get(g.variableNames.indexOf(n)).numDimensions() == 2)
                    .findFirst().orElseThrow();
            float[] matrix = s.variable(MATRIX);
            float[] bias = s.variable(BIAS);
            float[] encoderWeights = s.variable(encoderMatrix);
            s.applyWeightDecay(0.5f);
            // 0.5 × λ 0.1: every weight matrix (the head's and the encoder's) shrinks by 5 %.
            assertScaled(matrix, s.variable(MATRIX), 0.95f);
            assertScaled(encoderWeights, s.variable(encoderMatrix), 0.95f);
            assertScaled(bias, s.variable(BIAS), 1f);
            assertTrue(g.weightDecay.variables > 2, "decayed matrices: " + g.weightDecay.variables);
        }
    }

    @Test
    void theTrainerAppliesTheDecayOwedAtStepCountsValidationsAndEpochEnds(@TempDir Path tmp) {
        Map<String, float[]> everyStep = train(tmp.resolve("1"), 1, 0.1, 0);
        // Validating after every step applies the decay owed before each validation: the same as every step.
        Map<String, float[]> validatingEachStep = train(tmp.resolve("4v"), 4, 0.1, 1);
        Map<String, float[]> everyFourth = train(tmp.resolve("4"), 4, 0.1, 0);
        // An interval longer than an epoch still decays at the epoch's end.
        Map<String, float[]> epochEnds = train(tmp.resolve("1000"), 1000, 0.1, 0);
        Map<String, float[]> none = train(tmp.resolve("none"), 1, 0, 0);
        double decayed = difference(everyStep, none);
        assertTrue(decayed > 1e-4, "weight decay changed the weights by only " + decayed);
        assertEquals(0, difference(everyStep, validatingEachStep), 1e-7);
        assertTrue(difference(epochEnds, none) > decayed / 4, "decay at epoch ends only: " + difference(epochEnds, none));
        // Later decays move the trajectory a little (training amplifies any change); at this test's rates (learning
        // rate 3e-3, λ 0.1: 60 times a usual fine-tuning's per-step decay) still well under the decay itself.
        double apart = difference(everyStep, everyFourth);
        assertTrue(apart > 0 && apart < decayed / 2, "every 4 steps against every step: " + apart + " (decay itself: " + decayed + ")");
    }

    private static Map<String, float[]> train(Path root, int interval, double lambda, int evaluateEverySteps) {
        FineTuneConfig c = TestFiles.repeatableConfig(root);
        c.weightDecay = lambda;
        c.weightDecayInterval = interval;
        c.evaluateEverySteps = evaluateEverySteps;
        FineTuneEngine.train(c, ProgressListener.SILENT);
        return TestFiles.weights(c.outputDirectory.resolve("saved_model"));
    }

    /** The largest difference of any weight. */
    private static double difference(Map<String, float[]> a, Map<String, float[]> b) {
        double max = 0;
        for (String name : a.keySet()) {
            max = Math.max(max, maxDifference(a.get(name), b.get(name)));
        }
        return max;
    }

    private static double maxDifference(float[] a, float[] b) {
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }

    private static void assertScaled(float[] before, float[] after, float factor) {
        assertEquals(before.length, after.length);
        for (int i = 0; i < before.length; i++) {
            assertEquals(before[i] * factor, after[i], 1e-6f * Math.max(1f, Math.abs(before[i])), "element " + i);
        }
    }
}
