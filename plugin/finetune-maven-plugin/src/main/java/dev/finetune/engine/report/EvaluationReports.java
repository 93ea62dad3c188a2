package dev.finetune.engine.report;

import com.fasterxml.jackson.databind.JsonNode;
import dev.finetune.engine.evaluation.EntityMetrics;
import dev.finetune.engine.evaluation.Evaluation;
import dev.finetune.engine.evaluation.Metrics;
import dev.finetune.engine.evaluation.MultiLabelMetrics;
import dev.finetune.engine.evaluation.QualityGates;
import dev.finetune.engine.evaluation.RegressionMetrics;
import dev.finetune.runtime.FineTuneException;
import dev.finetune.runtime.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Writes the four evaluation reports into a folder: {@code evaluation.json} (machine-readable),
 * {@code evaluation.html} (for people), {@code TEST-finetune-quality-gates.xml} (JUnit format, so CI servers show
 * the gates beside unit tests) and {@code evaluation.md} (for a pull-request comment). Each file is written
 * to a temporary name and renamed into place.
 */
public final class EvaluationReports {
    public static final String JSON = "evaluation.json";
    public static final String HTML = "evaluation.html";
    public static final String JUNIT = "TEST-finetune-quality-gates.xml";
    public static final String MARKDOWN = "evaluation.md";

    private EvaluationReports() {
    }

    public static void write(Path directory, Evaluation e, List<QualityGates.Result> gates) {
        write(directory, e, gates, null);
    }

    /**
     * Writes the reports, naming the model and the test file relative to {@code projectDirectory} (when not null): the
     * reports travel with the model artifact, which should not tell where it was built.
     */
    public static void write(Path directory, Evaluation e, List<QualityGates.Result> gates, Path projectDirectory) {
        try {
            Files.createDirectories(directory);
            JsonNode history = null;
            Path historyFile = e.modelDirectory().resolve("training-history.json");
            if (Files.isRegularFile(historyFile)) {
                history = Json.MAPPER.readTree(historyFile.toFile());
            }
            write(directory.resolve(JSON), Json.MAPPER.writeValueAsString(EvaluationJson.of(e, gates, projectDirectory)));
            JsonNode leaderboard = null;
            Path leaderboardFile = e.modelDirectory().resolve(dev.finetune.engine.tuning.Tuner.LEADERBOARD);
            if (Files.isRegularFile(leaderboardFile)) {
                leaderboard = Json.MAPPER.readTree(leaderboardFile.toFile());
            }
            write(directory.resolve(HTML), Html.page(e, gates, history, leaderboard, projectDirectory));
            write(directory.resolve(JUNIT), junit(e, gates));
            write(directory.resolve(MARKDOWN), markdown(e, gates));
        } catch (IOException ex) {
            throw new FineTuneException("Cannot write evaluation reports to " + directory + ": " + ex.getMessage(), ex);
        }
    }


    private static void write(Path target, String content) throws IOException {
        Path tmp = Files.createTempFile(target.getParent(), "." + target.getFileName(), ".tmp");
        try {
            Files.writeString(tmp, content, StandardCharsets.UTF_8);
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    static String junit(Evaluation e, List<QualityGates.Result> gates) {
        long failures = gates.stream().filter(g -> !g.passed()).count();
        StringBuilder b = new StringBuilder("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        b.append(String.format(Locale.ROOT, "<testsuite name=\"finetune.quality-gates\" tests=\"%d\" failures=\"%d\" errors=\"0\" skipped=\"0\" time=\"%.3f\">%n",
                gates.size(), failures, e.seconds()));
        for (QualityGates.Result g : gates) {
            b.append("  <testcase classname=\"finetune.quality-gates\" name=\"").append(Html.escape(g.name())).append("\" time=\"0\"");
            if (g.passed()) {
                b.append("/>\n");
            } else {
                b.append(">\n    <failure message=\"").append(Html.escape(g.message())).append("\" type=\"QualityGate\">")
                        .append(Html.escape(g.message())).append("</failure>\n  </testcase>\n");
            }
        }
        return b.append("</testsuite>\n").toString();
    }

    /** What was measured: examples, or sentences and words for token classification. */
    static String size(Evaluation e) {
        if (e.entities() != null) {
            return String.format(Locale.ROOT, "%d sentences, %d words", e.entities().sentences(), e.entities().tokens());
        }
        int n = e.multiLabel() != null ? e.multiLabel().examples() : e.regression() != null ? e.regression().examples() : e.metrics().examples();
        return n + " examples";
    }

    /** The task's headline metrics, in the order reports show them; a null value is one that is not defined here. */
    static Map<String, Double> headline(Evaluation e) {
        Map<String, Double> m = new LinkedHashMap<>();
        if (e.multiLabel() != null) {
            MultiLabelMetrics.Summary s = e.multiLabel();
            m.put("micro F1", s.micro().f1());
            m.put("macro F1", s.macro().f1());
            m.put("weighted F1", s.weighted().f1());
            m.put("samples F1", s.samples().f1());
            m.put("subset accuracy", s.subsetAccuracy());
            m.put("Hamming loss", s.hammingLoss());
            m.put("macro ROC-AUC", s.macroRocAuc());
        } else if (e.regression() != null) {
            RegressionMetrics.Summary s = e.regression();
            m.put("RMSE", s.rmse());
            m.put("MAE", s.mae());
            m.put("R²", s.r2());
            m.put("Pearson", s.pearson());
            m.put("Spearman", s.spearman());
        } else if (e.entities() != null) {
            EntityMetrics.Summary s = e.entities();
            m.put("entity micro F1", s.micro().f1());
            m.put("entity macro F1", s.macro().f1());
            m.put("entity precision", s.micro().precision());
            m.put("entity recall", s.micro().recall());
            m.put("token accuracy", s.tokenAccuracy());
        } else {
            Metrics.Summary s = e.metrics();
            m.put("accuracy", s.accuracy());
            m.put("macro F1", s.macro().f1());
            m.put("weighted F1", s.weighted().f1());
            m.put("log loss", s.logLoss());
            m.put("ROC-AUC", s.rocAuc());
            m.put("PR-AUC", s.prAuc());
            m.put("calibration error", s.expectedCalibrationError());
        }
        return m;
    }

    static String markdown(Evaluation e, List<QualityGates.Result> gates) {
        StringBuilder b = new StringBuilder("### Fine-tuned model evaluation\n\n");
        b.append(String.format(Locale.ROOT, "%s from `%s`%s.%n%n", size(e), e.testFile().getFileName(),
                e.task().equals("single-label") ? "" : " (" + e.task() + ")"));
        b.append("| metric | value |\n| --- | ---: |\n");
        Map<String, Double> headline = headline(e);
        if (e.metrics() != null) {
            // Single-label keeps its table as it was: ROC/PR-AUC only where defined, calibration last.
            headline.forEach((name, v) -> {
                if (v != null && !name.equals("calibration error")) {
                    b.append(row(name, v));
                }
            });
            b.append(row("calibration error (ECE)", e.metrics().expectedCalibrationError()));
        } else {
            headline.forEach((name, v) -> b.append(v == null ? "| " + name + " | n/a |\n" : row(name, v)));
        }
        if (!gates.isEmpty()) {
            b.append("\n| quality gate | limit | value | |\n| --- | ---: | ---: | --- |\n");
            for (QualityGates.Result g : gates) {
                b.append("| ").append(g.metric()).append(" (").append(g.comparison()).append(") | ").append(Html.f(g.limit()))
                        .append(" | ").append(Html.f(g.value())).append(" | ").append(g.passed() ? "✅ passed" : "❌ failed").append(" |\n");
            }
        }
        if (e.metrics() != null) {
            b.append("\n| class | precision | recall | F1 | support |\n| --- | ---: | ---: | ---: | ---: |\n");
            for (Metrics.ClassMetrics c : e.metrics().perClass()) {
                b.append(classRow(c.label(), c.precision(), c.recall(), c.f1(), c.support()));
            }
        } else if (e.multiLabel() != null) {
            b.append("\n| label | threshold | precision | recall | F1 | support |\n| --- | ---: | ---: | ---: | ---: | ---: |\n");
            for (MultiLabelMetrics.LabelMetrics l : e.multiLabel().perLabel()) {
                b.append("| ").append(l.label().replace("|", "\\|")).append(" | ").append(Html.f(l.threshold()))
                        .append(classRow("", l.precision(), l.recall(), l.f1(), l.support()).substring(2));
            }
        } else if (e.entities() != null) {
            b.append("\n| entity type | precision | recall | F1 | support |\n| --- | ---: | ---: | ---: | ---: |\n");
            for (EntityMetrics.TypeMetrics t : e.entities().perType()) {
                b.append(classRow(t.type(), t.precision(), t.recall(), t.f1(), t.support()));
            }
        }
        if (!e.unknownLabels().isEmpty()) {
            b.append("\nLeft out (labels the model does not know): ").append(e.unknownLabels()).append('\n');
        }
        return b.toString();
    }

    private static String classRow(String label, double precision, double recall, double f1, int support) {
        return "| " + label.replace("|", "\\|") + " | " + Html.f(precision) + " | " + Html.f(recall) + " | " + Html.f(f1) + " | " + support + " |\n";
    }

    private static String row(String name, double v) {
        return "| " + name + " | " + Html.f(v) + " |\n";
    }
}
