package dev.finetune.engine.evaluation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import dev.finetune.engine.TestFiles;
import dev.finetune.runtime.Json;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class MultiLabelMetricsTest {
    private static final double EPS = 1e-12;

    /** Fixed cases whose metrics scikit-learn computed (src/data/generate_task_metrics_fixture.py). */
    @Test
    void agreesWithScikitLearn() throws IOException {
        for (JsonNode c : fixture().get("multilabel")) {
            String name = c.get("name").asText();
            boolean[][] truth = truth(c.get("truth"));
            float[][] scores = scores(c.get("scores"));
            double[] thresholds = new double[c.get("thresholds").size()];
            for (int j = 0; j < thresholds.length; j++) {
                thresholds[j] = c.get("thresholds").get(j).asDouble();
            }
            MultiLabelMetrics.Summary s = MultiLabelMetrics.compute(labels(thresholds.length), truth, scores, thresholds);
            JsonNode e = c.get("expected");
            assertEquals(truth.length, s.examples(), name);
            assertEquals(e.get("subsetAccuracy").asDouble(), s.subsetAccuracy(), EPS, name + " subset accuracy");
            assertEquals(e.get("hammingLoss").asDouble(), s.hammingLoss(), EPS, name + " Hamming loss");
            for (int j = 0; j < thresholds.length; j++) {
                MultiLabelMetrics.LabelMetrics m = s.perLabel().get(j);
                assertEquals("c" + j, m.label());
                assertEquals(thresholds[j], m.threshold(), name + " threshold " + j);
                assertEquals(e.get("precision").get(j).asDouble(), m.precision(), EPS, name + " precision " + j);
                assertEquals(e.get("recall").get(j).asDouble(), m.recall(), EPS, name + " recall " + j);
                assertEquals(e.get("f1").get(j).asDouble(), m.f1(), EPS, name + " f1 " + j);
                assertEquals(e.get("support").get(j).asInt(), m.support(), name + " support " + j);
                JsonNode roc = e.get("rocAuc").get(j);
                if (roc.isNull()) {
                    assertNull(m.rocAuc(), name + " ROC-AUC " + j + " undefined");
                } else {
                    assertEquals(roc.asDouble(), m.rocAuc(), 1e-9, name + " ROC-AUC " + j);
                }
            }
            assertAverage(e.get("micro"), s.micro(), name + " micro");
            assertAverage(e.get("macro"), s.macro(), name + " macro");
            assertAverage(e.get("weighted"), s.weighted(), name + " weighted");
            assertAverage(e.get("samples"), s.samples(), name + " samples");
            if (e.get("macroRocAuc").isNull()) {
                assertNull(s.macroRocAuc(), name + " macro ROC-AUC undefined");
            } else {
                assertEquals(e.get("macroRocAuc").asDouble(), s.macroRocAuc(), 1e-9, name + " macro ROC-AUC");
            }
        }
    }

    /** The tuned thresholds reach, per label, the best F1 any threshold reaches (brute force in the fixture). */
    @Test
    void tunedThresholdsReachTheBestF1() throws IOException {
        JsonNode c = fixture().get("tuning").get(0);
        boolean[][] truth = truth(c.get("truth"));
        float[][] scores = scores(c.get("scores"));
        double[] thresholds = MultiLabelMetrics.tuneThresholds(truth, scores);
        MultiLabelMetrics.Summary s = MultiLabelMetrics.compute(labels(thresholds.length), truth, scores, thresholds);
        for (int j = 0; j < thresholds.length; j++) {
            assertEquals(c.get("expected").get("bestF1").get(j).asDouble(), s.perLabel().get(j).f1(), EPS, "label " + j);
            assertEquals(thresholds[j], s.perLabel().get(j).threshold());
        }
        assertEquals(0.5, thresholds[3], "label 3 has no positive example: 0.5 stays");
    }

    @Test
    void tuningFindsASeparatingThresholdAndComputeUsesIt() {
        // Label 0: negatives score 0.1–0.3, positives 0.35 and 0.4: 0.5 misses both positives (F1 0); the
        // midpoint (0.3 + 0.35) / 2 separates them (F1 1). Label 1: positives 0.6, 0.9 and negatives 0.1, 0.3 are
        // separated by anything in (0.3, 0.6], 0.5 included: 0.5 stays.
        boolean[][] truth = {{false, true}, {false, false}, {false, true}, {true, false}, {true, false}};
        float[][] scores = {{0.1f, 0.6f}, {0.2f, 0.1f}, {0.3f, 0.9f}, {0.35f, 0.3f}, {0.4f, 0.3f}};
        double[] t = MultiLabelMetrics.tuneThresholds(truth, scores);
        assertArrayEquals(new double[] {((double) 0.3f + 0.35f) / 2, 0.5}, t);
        MultiLabelMetrics.Summary tuned = MultiLabelMetrics.compute(List.of("a", "b"), truth, scores, t);
        assertEquals(1.0, tuned.perLabel().get(0).f1(), EPS);
        assertEquals(t[0], tuned.perLabel().get(0).threshold());
        assertEquals(1.0, tuned.subsetAccuracy(), EPS);
        MultiLabelMetrics.Summary fixed = MultiLabelMetrics.compute(List.of("a", "b"), truth, scores, new double[] {0.5, 0.5});
        assertEquals(0.0, fixed.perLabel().get(0).f1(), EPS, "at 0.5 label a is never predicted");
        assertEquals(0.6, fixed.subsetAccuracy(), EPS, "examples 3 and 4 miss label a");
    }

    @Test
    void tuningBreaksTiesTowardsHalfThenLower() {
        // Scores are binary fractions so every candidate is exact. Label 0: positives 0.125 and 0.75, negatives
        // 0.375 and 0.625. "≥ 0.75" gives tp 1 of 1 predicted, F1 2·1/(1+2) = 2/3 at the midpoint 0.6875; all
        // positive gives F1 2·2/(4+2) = 2/3 at 0.125; 0.5 gives 2·1/(2+2) = 1/2. Equal F1: 0.6875 is closer to 0.5.
        // Label 1: positives 0.25 and 0.875, negatives 0.375 and 0.625: "≥ 0.875" at midpoint 0.75 and all positive
        // at 0.25 both give 2/3 and lie 0.25 from 0.5: the lower one wins.
        boolean[][] truth = {{true, true}, {false, false}, {false, false}, {true, true}};
        float[][] scores = {{0.125f, 0.25f}, {0.375f, 0.375f}, {0.625f, 0.625f}, {0.75f, 0.875f}};
        assertArrayEquals(new double[] {0.6875, 0.25}, MultiLabelMetrics.tuneThresholds(truth, scores));
    }

    @Test
    void tuningKeepsHalfWithoutPositivesAndRefusesNoExamples() {
        boolean[][] truth = {{false}, {false}};
        assertArrayEquals(new double[] {0.5}, MultiLabelMetrics.tuneThresholds(truth, new float[][] {{0.9f}, {0.1f}}));
        assertThrows(IllegalArgumentException.class, () -> MultiLabelMetrics.tuneThresholds(new boolean[0][], new float[0][]));
        assertThrows(IllegalArgumentException.class,
                () -> MultiLabelMetrics.tuneThresholds(truth, new float[][] {{Float.NaN}, {0.1f}}));
    }

    @Test
    void refusesMismatchedShapes() {
        boolean[][] truth = {{true, false}};
        float[][] scores = {{0.9f, 0.1f}};
        assertThrows(IllegalArgumentException.class,
                () -> MultiLabelMetrics.compute(List.of("a", "b"), truth, scores, new double[] {0.5}));
        assertThrows(IllegalArgumentException.class,
                () -> MultiLabelMetrics.compute(List.of("a", "b"), truth, new float[][] {{0.9f}}, new double[] {0.5, 0.5}));
    }

    private static void assertAverage(JsonNode expected, Metrics.Average actual, String what) {
        assertEquals(expected.get("precision").asDouble(), actual.precision(), EPS, what + " precision");
        assertEquals(expected.get("recall").asDouble(), actual.recall(), EPS, what + " recall");
        assertEquals(expected.get("f1").asDouble(), actual.f1(), EPS, what + " F1");
    }

    static JsonNode fixture() throws IOException {
        return Json.MAPPER.readTree(TestFiles.data("task-metrics-reference.json").toFile());
    }

    private static List<String> labels(int k) {
        List<String> labels = new ArrayList<>();
        for (int j = 0; j < k; j++) {
            labels.add("c" + j);
        }
        return labels;
    }

    private static boolean[][] truth(JsonNode rows) {
        boolean[][] out = new boolean[rows.size()][];
        for (int i = 0; i < out.length; i++) {
            out[i] = new boolean[rows.get(i).size()];
            for (int j = 0; j < out[i].length; j++) {
                out[i][j] = rows.get(i).get(j).asInt() == 1;
            }
        }
        return out;
    }

    /** The fixture's scores are float32 values written exactly, so the cast loses nothing. */
    private static float[][] scores(JsonNode rows) {
        float[][] out = new float[rows.size()][];
        for (int i = 0; i < out.length; i++) {
            out[i] = new float[rows.get(i).size()];
            for (int j = 0; j < out[i].length; j++) {
                out[i][j] = (float) rows.get(i).get(j).asDouble();
            }
        }
        return out;
    }
}
