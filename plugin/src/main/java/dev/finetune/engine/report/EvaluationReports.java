package dev.finetune.engine.report;

import com.fasterxml.jackson.databind.JsonNode;
import dev.finetune.engine.FineTuneException;
import dev.finetune.engine.Json;
import dev.finetune.engine.evaluation.Evaluation;
import dev.finetune.engine.evaluation.Metrics;
import dev.finetune.engine.evaluation.QualityGates;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Locale;

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
        try {
            Files.createDirectories(directory);
            JsonNode history = null;
            Path historyFile = e.modelDirectory().resolve("training-history.json");
            if (Files.isRegularFile(historyFile)) {
                history = Json.MAPPER.readTree(historyFile.toFile());
            }
            write(directory.resolve(JSON), Json.MAPPER.writeValueAsString(EvaluationJson.of(e, gates)));
            JsonNode leaderboard = null;
            Path leaderboardFile = e.modelDirectory().resolve(dev.finetune.engine.tuning.Tuner.LEADERBOARD);
            if (Files.isRegularFile(leaderboardFile)) {
                leaderboard = Json.MAPPER.readTree(leaderboardFile.toFile());
            }
            write(directory.resolve(HTML), Html.page(e, gates, history, leaderboard));
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

    static String markdown(Evaluation e, List<QualityGates.Result> gates) {
        Metrics.Summary m = e.metrics();
        StringBuilder b = new StringBuilder("### Fine-tuned model evaluation\n\n");
        b.append(String.format(Locale.ROOT, "%d examples from `%s`.%n%n", m.examples(), e.testFile().getFileName()));
        b.append("| metric | value |\n| --- | ---: |\n");
        b.append(row("accuracy", m.accuracy())).append(row("macro F1", m.macro().f1())).append(row("weighted F1", m.weighted().f1()))
                .append(row("log loss", m.logLoss()));
        if (m.rocAuc() != null) {
            b.append(row("ROC-AUC", m.rocAuc())).append(row("PR-AUC", m.prAuc()));
        }
        b.append(row("calibration error (ECE)", m.expectedCalibrationError()));
        if (!gates.isEmpty()) {
            b.append("\n| quality gate | limit | value | |\n| --- | ---: | ---: | --- |\n");
            for (QualityGates.Result g : gates) {
                b.append("| ").append(g.metric()).append(" (").append(g.comparison()).append(") | ").append(Html.f(g.limit()))
                        .append(" | ").append(Html.f(g.value())).append(" | ").append(g.passed() ? "✅ passed" : "❌ failed").append(" |\n");
            }
        }
        b.append("\n| class | precision | recall | F1 | support |\n| --- | ---: | ---: | ---: | ---: |\n");
        for (Metrics.ClassMetrics c : m.perClass()) {
            b.append("| ").append(c.label().replace("|", "\\|")).append(" | ").append(Html.f(c.precision())).append(" | ")
                    .append(Html.f(c.recall())).append(" | ").append(Html.f(c.f1())).append(" | ").append(c.support()).append(" |\n");
        }
        if (!e.unknownLabels().isEmpty()) {
            b.append("\nLeft out (labels the model does not know): ").append(e.unknownLabels()).append('\n');
        }
        return b.toString();
    }

    private static String row(String name, double v) {
        return "| " + name + " | " + Html.f(v) + " |\n";
    }
}
