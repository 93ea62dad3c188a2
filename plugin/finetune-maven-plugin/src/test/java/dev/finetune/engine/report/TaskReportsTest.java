package dev.finetune.engine.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.finetune.engine.evaluation.EntityMetrics;
import dev.finetune.engine.evaluation.Evaluation;
import dev.finetune.engine.evaluation.MultiLabelMetrics;
import dev.finetune.engine.evaluation.QualityGates;
import dev.finetune.engine.evaluation.RegressionMetrics;
import dev.finetune.runtime.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The four reports for the tasks beyond single-label, from evaluations of small fixed cases. */
class TaskReportsTest {
    @TempDir
    Path tmp;

    private static Evaluation evaluation(String task, MultiLabelMetrics.Summary multi, RegressionMetrics.Summary regression,
                                         List<Evaluation.Point> points, EntityMetrics.Summary entities,
                                         List<Evaluation.SentenceErrors> sentences, List<String> labels, List<Evaluation.Mistake> worst) {
        return new Evaluation(Path.of("model"), Path.of("test.csv"), labels, null, Map.of(), worst, 0.5, 12.5, task, multi, regression,
                points, entities, sentences);
    }

    private Map<String, String> write(Evaluation e, List<QualityGates.Result> gates) throws IOException {
        Path dir = tmp.resolve(e.task());
        EvaluationReports.write(dir, e, gates);
        return Map.of("md", Files.readString(dir.resolve(EvaluationReports.MARKDOWN)), "html", Files.readString(dir.resolve(EvaluationReports.HTML)),
                "json", Files.readString(dir.resolve(EvaluationReports.JSON)), "junit", Files.readString(dir.resolve(EvaluationReports.JUNIT)));
    }

    @Test
    void multiLabel() throws IOException {
        boolean[][] truth = {{true, false, true}, {false, true, false}, {true, true, false}, {false, false, false}};
        float[][] scores = {{0.9f, 0.2f, 0.7f}, {0.1f, 0.8f, 0.6f}, {0.6f, 0.3f, 0.1f}, {0.2f, 0.1f, 0.3f}};
        List<String> labels = List.of("a<b>", "music", "story & plot");
        MultiLabelMetrics.Summary m = MultiLabelMetrics.compute(labels, truth, scores, new double[] {0.5, 0.5, 0.5});
        Evaluation e = evaluation("multi-label", m, null, null, null, null, labels,
                List.of(new Evaluation.Mistake(3, "a text with <b>bold</b> & more", "a<b>|music", "a<b>", 0.2)));
        List<QualityGates.Result> gates = new QualityGates(null, null, null, null, 0.5, null, null, null, null, null).check(e);
        Map<String, String> r = write(e, gates);
        assertTrue(r.get("md").contains("| micro F1 | " + Html.f(m.micro().f1()) + " |"), r.get("md"));
        assertTrue(r.get("md").contains("| music | 0.5000 | "), r.get("md"));
        assertTrue(r.get("md").contains("4 examples from `test.csv` (multi-label)."), r.get("md"));
        String html = r.get("html");
        assertTrue(html.contains("<h2>Per label</h2>") && html.contains("a&lt;b&gt;") && html.contains("story &amp; plot"));
        assertTrue(html.contains("<h2>Worst label sets</h2>") && html.contains("a text with &lt;b&gt;bold&lt;/b&gt; &amp; more"));
        assertFalse(html.contains("<b>bold") || html.contains("<script"));
        JsonNode json = Json.MAPPER.readTree(r.get("json"));
        assertEquals("multi-label", json.get("task").asText());
        assertEquals(3, json.get("perLabel").size());
        assertTrue(r.get("junit").contains("tests=\"1\""));
    }

    @Test
    void regressionPlotsPredictedAgainstTrueAndResiduals() throws IOException {
        double[] truth = {1, 2, 3, 4, 5};
        double[] predicted = {1.2, 1.9, 3.4, 3.6, 4.8};
        List<Evaluation.Point> points = new java.util.ArrayList<>();
        for (int i = 0; i < truth.length; i++) {
            points.add(new Evaluation.Point(i + 2, truth[i], predicted[i]));
        }
        RegressionMetrics.Summary m = RegressionMetrics.compute(truth, predicted);
        Evaluation e = evaluation("regression", null, m, points, null, null, List.of("score"), List.of());
        Map<String, String> r = write(e, new QualityGates(null, null, null, null, null, 0.5, null, 0.8, null, null).check(e));
        assertTrue(r.get("md").contains("| RMSE | " + Html.f(m.rmse()) + " |") && r.get("md").contains("| Spearman | 1.0000 |"), r.get("md"));
        String html = r.get("html");
        assertTrue(html.contains("aria-label=\"predicted against true values\"") && html.contains("aria-label=\"residuals\""));
        // One dot per point in each plot (there are no training charts: no training-history.json next to "model").
        assertEquals(2 * truth.length, html.split("<circle ", -1).length - 1);
        assertTrue(html.contains("<h2>Largest errors</h2>"));
        assertFalse(html.contains("<script"));
    }

    @Test
    void tokenClassificationHighlightsTrueAndPredictedSpans() throws IOException {
        List<String> words = List.of("Walker", "&", "Sons", "visit", "<Oslo>", "today");
        List<String> truth = List.of("B-ORG", "I-ORG", "I-ORG", "O", "B-LOC", "O");
        List<String> predicted = List.of("B-PER", "O", "B-ORG", "O", "B-LOC", "O");
        EntityMetrics.Summary m = EntityMetrics.compute(List.of(truth), List.of(predicted));
        Evaluation e = evaluation("token-classification", null, null, null, m,
                List.of(new Evaluation.SentenceErrors(7, words, truth, predicted, 3)), List.of("B-LOC", "B-ORG", "B-PER", "I-ORG", "O"), List.of());
        Map<String, String> r = write(e, List.of());
        assertTrue(r.get("md").contains("1 sentences, 6 words from `test.csv` (token-classification)."), r.get("md"));
        assertTrue(r.get("md").contains("| LOC | 1.0000 | 1.0000 | 1.0000 | 1 |"), r.get("md"));
        String html = r.get("html");
        assertTrue(html.contains("<mark class=\"ok\" title=\"ORG\">Walker &amp; Sons<sub>ORG</sub></mark>"), html);
        assertTrue(html.contains("<mark class=\"wrong\" title=\"PER\">Walker<sub>PER</sub></mark>"), html);
        assertTrue(html.contains("<mark class=\"ok\" title=\"LOC\">&lt;Oslo&gt;<sub>LOC</sub></mark>"), html);
        assertFalse(html.contains("<Oslo>") || html.contains("<script"));
        assertEquals(1, Json.MAPPER.readTree(r.get("json")).get("worstSentences").size());
    }
}
