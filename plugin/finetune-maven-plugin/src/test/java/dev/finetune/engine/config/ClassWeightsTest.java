package dev.finetune.engine.config;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.finetune.engine.TestFiles;
import dev.finetune.runtime.FineTuneException;
import dev.finetune.runtime.Json;
import dev.finetune.runtime.Task;
import java.util.List;
import org.junit.jupiter.api.Test;

/** classWeights from its text forms to one weight per label, and through finetune-config.json. */
class ClassWeightsTest {
    private static final List<String> LABELS = List.of("ham", "spam", "eggs");

    /** scikit-learn: compute_class_weight("balanced", classes, y) = n_samples / (n_classes * bincount(y)). */
    @Test
    void autoIsScikitLearnsBalanced() {
        double[] counts = {60, 30, 10};
        float[] w = ClassWeights.resolve("auto", Task.SINGLE_LABEL, LABELS, counts, 100);
        assertArrayEquals(new float[] {100f / 180, 100f / 90, 100f / 30}, w, 1e-6f);
        double mean = 0;
        for (int j = 0; j < 3; j++) {
            mean += w[j] * counts[j] / 100;
        }
        assertEquals(1.0, mean, 1e-6, "the mean weight over the data is 1: the loss keeps its scale");
        assertArrayEquals(new float[] {100f / 180, 1f, 100f / 30}, ClassWeights.resolve("AUTO", Task.TOKEN_CLASSIFICATION, LABELS,
                new double[] {60, 0, 10}, 100), 1e-6f, "a class that never occurs keeps 1");
    }

    /** Multi-label: per label, negatives over positives on the positive cases (PyTorch's pos_weight recipe). */
    @Test
    void autoForMultiLabelBalancesEachLabelsPositivesAndNegatives() {
        float[] w = ClassWeights.resolve("auto", Task.MULTI_LABEL, LABELS, new double[] {10, 0, 40}, 40);
        assertArrayEquals(new float[] {3f, 1f, 1f}, w, 1e-6f);
    }

    @Test
    void perLabelWeightsNameLabelsAndDefaultToOne() {
        assertArrayEquals(new float[] {1f, 3f, 0.5f}, ClassWeights.resolve("spam=3, eggs = 0.5", Task.SINGLE_LABEL, LABELS,
                new double[3], 0), 0f);
        assertNull(ClassWeights.resolve("none", Task.SINGLE_LABEL, LABELS, new double[3], 0));
        FineTuneException e = assertThrows(FineTuneException.class,
                () -> ClassWeights.resolve("spma=3", Task.SINGLE_LABEL, LABELS, new double[3], 0));
        assertEquals("classWeights names [spma], which is not a label; the labels are [ham, spam, eggs].", e.getMessage());
    }

    @Test
    void problemsAreListedWithTheOthers() {
        FineTuneConfig c = TestFiles.unreadConfig();
        c.classWeights = "spam=lots";
        c.headLayers = "512,,256";
        c.headActivation = "swish";
        c.labelSmoothing = 1;
        c.gradientAccumulationSteps = 0;
        assertEquals(List.of("headLayers '512,,256' is neither none nor hidden layer sizes separated by commas, such as 512,256.",
                "headActivation 'swish' is unknown: use gelu, relu or tanh.",
                "classWeights: the weight of 'spam' must be a positive number, not 'lots'.",
                "labelSmoothing must be in [0, 1), not 1.0.",
                "gradientAccumulationSteps must be at least 1, not 0."), c.problems());
        c.task = "regression";
        c.classWeights = "auto";
        c.headLayers = "64";
        c.headActivation = "tanh";
        c.labelSmoothing = 0.1;
        c.gradientAccumulationSteps = 4;
        assertEquals(List.of("classWeights cannot be used with task regression: there are no classes to weigh.",
                "labelSmoothing cannot be used with task regression: it smooths class targets."), c.problems());
        assertArrayEquals(new int[] {64}, c.headLayerSizes());
    }

    @Test
    void perLabelWeightsAreAJsonObjectInTheRecordAndCopyBack() {
        FineTuneConfig c = new FineTuneConfig();
        c.classWeights = "spam=3.0,ham=1";
        var json = Json.MAPPER.valueToTree(c);
        assertEquals("{\"spam\":3.0,\"ham\":1.0}", json.get("classWeights").toString());
        assertEquals("spam=3.0,ham=1.0", c.copy().classWeights);
        c.classWeights = "auto";
        assertEquals("\"auto\"", Json.MAPPER.valueToTree(c).get("classWeights").toString());
        assertEquals("auto", c.copy().classWeights);
    }
}
