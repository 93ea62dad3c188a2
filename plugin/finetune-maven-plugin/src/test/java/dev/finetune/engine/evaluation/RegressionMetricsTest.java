package dev.finetune.engine.evaluation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import org.junit.jupiter.api.Test;

class RegressionMetricsTest {
    /** Fixed cases whose metrics scikit-learn and SciPy computed (src/data/generate_task_metrics_fixture.py). */
    @Test
    void agreesWithScikitLearnAndSciPy() throws IOException {
        for (JsonNode c : MultiLabelMetricsTest.fixture().get("regression")) {
            String name = c.get("name").asText();
            double[] truth = values(c.get("truth"));
            double[] predicted = values(c.get("predicted"));
            RegressionMetrics.Summary s = RegressionMetrics.compute(truth, predicted);
            JsonNode e = c.get("expected");
            assertEquals(truth.length, s.examples(), name);
            assertEquals(expected(e, "rmse"), s.rmse(), 1e-12, name + " RMSE");
            assertEquals(expected(e, "mae"), s.mae(), 1e-12, name + " MAE");
            assertEquals(expected(e, "r2"), s.r2(), 1e-12, name + " R²");
            // NaN is expected as NaN: assertEquals treats two NaNs as equal.
            assertEquals(expected(e, "pearson"), s.pearson(), 1e-12, name + " Pearson");
            assertEquals(expected(e, "spearman"), s.spearman(), 1e-12, name + " Spearman");
        }
    }

    @Test
    void undefinedIsNaN() {
        RegressionMetrics.Summary none = RegressionMetrics.compute(new double[0], new double[0]);
        assertEquals(0, none.examples());
        assertTrue(Double.isNaN(none.rmse()) && Double.isNaN(none.mae()) && Double.isNaN(none.r2()));
        // One example: errors are defined, R² and the correlations are not.
        RegressionMetrics.Summary one = RegressionMetrics.compute(new double[] {2}, new double[] {3.5});
        assertEquals(1.5, one.rmse(), 0);
        assertEquals(1.5, one.mae(), 0);
        assertTrue(Double.isNaN(one.r2()) && Double.isNaN(one.pearson()) && Double.isNaN(one.spearman()));
        // Constant 0.1 three times: its float mean is not exactly 0.1, yet it counts as constant.
        RegressionMetrics.Summary constant = RegressionMetrics.compute(new double[] {1, 2, 3}, new double[] {0.1, 0.1, 0.1});
        assertTrue(Double.isNaN(constant.pearson()) && Double.isNaN(constant.spearman()));
        assertThrows(IllegalArgumentException.class, () -> RegressionMetrics.compute(new double[2], new double[3]));
    }

    @Test
    void tiesShareTheirAverageRank() {
        // Sorted: 1 (rank 1), 2, 2 (ranks 2 and 3 → 2.5 each), 5 (rank 4).
        assertArrayEquals(new double[] {2.5, 4, 1, 2.5}, RegressionMetrics.ranks(new double[] {2, 5, 1, 2}));
    }

    private static double expected(JsonNode e, String key) {
        return e.get(key).isNull() ? Double.NaN : e.get(key).asDouble();
    }

    private static double[] values(JsonNode a) {
        double[] out = new double[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).asDouble();
        }
        return out;
    }
}
