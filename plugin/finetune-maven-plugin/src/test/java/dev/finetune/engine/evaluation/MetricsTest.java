package dev.finetune.engine.evaluation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import com.fasterxml.jackson.databind.JsonNode;
import dev.finetune.engine.TestFiles;
import dev.finetune.runtime.Json;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class MetricsTest {
    /** Fixed predictions whose metrics scikit-learn computed (src/data/generate_metrics_fixture.py). */
    @Test
    void agreesWithScikitLearn() throws IOException {
        JsonNode fixture = Json.MAPPER.readTree(TestFiles.data("metrics-reference.json").toFile());
        for (JsonNode c : fixture.get("cases")) {
            String name = c.get("name").asText();
            int[] truth = new int[c.get("labels").size()];
            float[][] probs = new float[truth.length][];
            for (int i = 0; i < truth.length; i++) {
                truth[i] = c.get("labels").get(i).asInt();
                JsonNode row = c.get("probabilities").get(i);
                probs[i] = new float[row.size()];
                for (int j = 0; j < row.size(); j++) {
                    probs[i][j] = (float) row.get(j).asDouble();
                }
            }
            List<String> labels = new ArrayList<>();
            for (int j = 0; j < probs[0].length; j++) {
                labels.add("c" + j);
            }
            Metrics.Summary s = Metrics.compute(labels, truth, probs);
            JsonNode e = c.get("expected");
            assertEquals(e.get("accuracy").asDouble(), s.accuracy(), 1e-12, name);
            for (int j = 0; j < labels.size(); j++) {
                assertEquals(e.get("precision").get(j).asDouble(), s.perClass().get(j).precision(), 1e-12, name + " precision " + j);
                assertEquals(e.get("recall").get(j).asDouble(), s.perClass().get(j).recall(), 1e-12, name + " recall " + j);
                assertEquals(e.get("f1").get(j).asDouble(), s.perClass().get(j).f1(), 1e-12, name + " f1 " + j);
                assertEquals(e.get("support").get(j).asInt(), s.perClass().get(j).support(), name + " support " + j);
                int[] row = new int[labels.size()];
                for (int m = 0; m < row.length; m++) {
                    row[m] = e.get("confusion").get(j).get(m).asInt();
                }
                assertArrayEquals(row, s.confusion()[j], name + " confusion row " + j);
            }
            assertEquals(e.get("macroF1").asDouble(), s.macro().f1(), 1e-12, name + " macro F1");
            assertEquals(e.get("microF1").asDouble(), s.micro().f1(), 1e-12, name + " micro F1");
            assertEquals(e.get("weightedF1").asDouble(), s.weighted().f1(), 1e-12, name + " weighted F1");
            assertEquals(e.get("macroPrecision").asDouble(), s.macro().precision(), 1e-12, name + " macro precision");
            assertEquals(e.get("weightedRecall").asDouble(), s.weighted().recall(), 1e-12, name + " weighted recall");
            assertEquals(e.get("logLoss").asDouble(), s.logLoss(), 1e-6, name + " log loss");
            assertEquals(e.get("rocAuc").asDouble(), s.rocAuc(), 1e-9, name + " ROC-AUC");
            assertEquals(e.get("prAuc").asDouble(), s.prAuc(), 1e-9, name + " PR-AUC");
            assertEquals(e.get("ece").asDouble(), s.expectedCalibrationError(), 1e-6, name + " ECE");
        }
    }

    /** Small cases worked out by hand. */
    @Test
    void handComputedCases() {
        float[][] p = {{0.9f, 0.1f}, {0.2f, 0.8f}, {0.6f, 0.4f}, {0.3f, 0.7f}};
        int[] y = {0, 1, 1, 1};
        Metrics.Summary s = Metrics.compute(List.of("a", "b"), y, p);
        assertEquals(0.75, s.accuracy(), 1e-12);
        // class a: tp 1, predicted 2, support 1 → P 0.5, R 1, F1 2/3; class b: tp 2, predicted 2, support 3 → P 1, R 2/3, F1 0.8
        assertEquals(2.0 / 3, s.perClass().get(0).f1(), 1e-12);
        assertEquals(0.8, s.perClass().get(1).f1(), 1e-12);
        assertEquals((2.0 / 3 + 0.8) / 2, s.macro().f1(), 1e-12);
        // ROC-AUC: positive b scores {0.8, 0.4, 0.7} vs negative a {0.1}: every pair ordered → 1.0
        assertEquals(1.0, s.rocAuc(), 1e-12);
        assertEquals(-(Math.log(0.9) + Math.log(0.8) + Math.log(0.4) + Math.log(0.7)) / 4, s.logLoss(), 1e-6);
        assertNull(Metrics.compute(List.of("a", "b"), new int[] {1, 1}, new float[][] {{0.2f, 0.8f}, {0.6f, 0.4f}}).rocAuc(),
                "ROC-AUC is undefined with one class present");
    }
}
