package dev.finetune.engine.report;

import com.fasterxml.jackson.databind.JsonNode;
import dev.finetune.engine.evaluation.EntityMetrics;
import dev.finetune.engine.evaluation.EntitySpans;
import dev.finetune.engine.evaluation.Evaluation;
import dev.finetune.engine.evaluation.Metrics;
import dev.finetune.engine.evaluation.MultiLabelMetrics;
import dev.finetune.engine.evaluation.QualityGates;
import dev.finetune.engine.export.PortablePaths;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** {@code evaluation.html}: one self-contained page (inline CSS and SVG, no script, nothing fetched). */
final class Html {
    private static final String CSS = """
            body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1100px;color:#1f2937;padding:0 16px}
            h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #e5e7eb;padding-bottom:4px}
            .sub{color:#6b7280;margin:0 0 16px;word-break:break-all}
            .cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #e5e7eb;border-radius:8px;padding:10px 14px;min-width:120px}
            .card .v{font-size:22px;font-weight:600}.card .k{color:#6b7280;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
            table{border-collapse:collapse;margin:6px 0}th,td{border-bottom:1px solid #e5e7eb;padding:5px 10px;text-align:right}
            th:first-child,td:first-child{text-align:left}th{background:#f9fafb;font-weight:600}
            td.text,th.text{text-align:left;max-width:520px}
            .pass{color:#15803d;font-weight:600}.fail{color:#b91c1c;font-weight:600}
            .banner{padding:10px 14px;border-radius:8px;margin:12px 0;font-weight:600}
            .banner.pass{background:#dcfce7}.banner.fail{background:#fee2e2}
            .charts{display:flex;flex-wrap:wrap;gap:16px}
            svg text{font:11px system-ui,sans-serif;fill:#374151}svg .title{font-size:13px;font-weight:600}
            svg .plot{fill:#fff;stroke:#d1d5db}svg .grid{stroke:#f3f4f6}svg .cell{font-size:13px;fill:#111827}svg .cell.light{fill:#fff}
            .warn{background:#fef3c7;padding:8px 12px;border-radius:6px}
            mark{border-radius:3px;padding:0 2px}mark.ok{background:#dbeafe}mark.wrong{background:#fecaca}mark sub{font-size:9px;color:#374151;margin-left:2px}
            """;

    private Html() {
    }

    static String escape(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (char c : s.toCharArray()) {
            switch (c) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                default -> b.append(c);
            }
        }
        return b.toString();
    }

    static String page(Evaluation e, List<QualityGates.Result> gates, JsonNode history) {
        return page(e, gates, history, null);
    }

    static String page(Evaluation e, List<QualityGates.Result> gates, JsonNode history, JsonNode leaderboard) {
        return page(e, gates, history, leaderboard, null);
    }

    /** The page, with paths relative to {@code project} and no clock readings: it travels with the model artifact. */
    static String page(Evaluation e, List<QualityGates.Result> gates, JsonNode history, JsonNode leaderboard, Path project) {
        StringBuilder b = new StringBuilder("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">");
        b.append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Evaluation: ")
                .append(escape(e.modelDirectory().getFileName().toString())).append("</title><style>").append(CSS).append("</style></head><body>");
        b.append("<h1>Fine-tuned model evaluation</h1><p class=\"sub\">").append(escape(PortablePaths.relative(e.modelDirectory(), project)))
                .append(" on ").append(escape(PortablePaths.relative(e.testFile(), project)))
                .append(String.format(Locale.ROOT, " · %s · %s</p>", e.task(), EvaluationReports.size(e)));
        if (!gates.isEmpty()) {
            boolean passed = gates.stream().allMatch(QualityGates.Result::passed);
            long failed = gates.stream().filter(g -> !g.passed()).count();
            b.append("<div class=\"banner ").append(passed ? "pass\">All " + gates.size() + " quality gates passed"
                    : "fail\">" + failed + " of " + gates.size() + " quality gates failed").append("</div>");
        }
        b.append("<div class=\"cards\">");
        EvaluationReports.headline(e).forEach((name, value) -> card(b, name, value));
        b.append("</div>");
        if (!e.unknownLabels().isEmpty()) {
            b.append("<p class=\"warn\">Rows with labels the model does not know were left out of the metrics: ")
                    .append(escape(e.unknownLabels().toString())).append("</p>");
        }
        if (!gates.isEmpty()) {
            b.append("<h2>Quality gates</h2><table><tr><th>gate</th><th>limit</th><th>value</th><th>result</th></tr>");
            for (QualityGates.Result g : gates) {
                b.append("<tr><td>").append(escape(g.metric())).append(" (").append(g.comparison()).append(")</td><td>")
                        .append(f(g.limit())).append("</td><td>").append(f(g.value())).append("</td><td class=\"")
                        .append(g.passed() ? "pass\">passed" : "fail\">failed").append("</td></tr>");
            }
            b.append("</table>");
        }
        if (e.multiLabel() != null) {
            multiLabel(b, e.multiLabel());
        } else if (e.regression() != null) {
            regression(b, e);
        } else if (e.entities() != null) {
            entities(b, e);
        } else {
            singleLabel(b, e);
        }
        if (history != null) {
            b.append("<h2>Training</h2><div class=\"charts\">").append(trainingCharts(history)).append("</div>");
        }
        if (leaderboard != null) {
            b.append("<h2>Hyperparameter search</h2><p>").append(escape(leaderboard.path("strategy").asText())).append(" search, ")
                    .append(leaderboard.path("trials").size()).append(" trials of ").append(leaderboard.path("combinations").asLong())
                    .append(" combinations, ranked by ").append(escape(leaderboard.path("metric").asText())).append(".</p>");
            b.append("<table><tr><th>rank</th><th>trial</th><th class=\"text\">values</th><th>validation loss</th><th>validation accuracy</th></tr>");
            for (JsonNode t : leaderboard.path("trials")) {
                b.append("<tr><td>").append(t.path("rank").asInt()).append("</td><td>").append(t.path("trial").asInt())
                        .append("</td><td class=\"text\">").append(escape(values(t.path("values")))).append("</td><td>")
                        .append(f(t.path("validationLoss").asDouble())).append("</td><td>").append(f(t.path("validationAccuracy").asDouble()))
                        .append("</td></tr>");
            }
            b.append("</table>");
        }
        if (e.entities() != null) {
            return b.append("</body></html>\n").toString();
        }
        boolean regression = e.regression() != null;
        b.append(regression ? "<h2>Largest errors</h2>" : e.multiLabel() != null ? "<h2>Worst label sets</h2>" : "<h2>Most confident mistakes</h2>");
        if (e.worstErrors().isEmpty()) {
            b.append("<p>None: every example was classified correctly.</p>");
        } else {
            b.append("<table><tr><th>line</th><th class=\"text\">text</th><th>true</th><th>predicted</th><th>")
                    .append(regression ? "error" : e.multiLabel() != null ? "margin" : "confidence").append("</th></tr>");
            for (Evaluation.Mistake x : e.worstErrors()) {
                b.append("<tr><td>").append(x.line()).append("</td><td class=\"text\">").append(escape(x.text())).append("</td><td>")
                        .append(escape(x.trueLabel())).append("</td><td>").append(escape(x.predictedLabel())).append("</td><td>")
                        .append(f(x.confidence())).append("</td></tr>");
            }
            b.append("</table>");
        }
        return b.append("</body></html>\n").toString();
    }

    private static void singleLabel(StringBuilder b, Evaluation e) {
        Metrics.Summary m = e.metrics();
        b.append("<h2>Per class</h2><table><tr><th>label</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>");
        for (Metrics.ClassMetrics c : m.perClass()) {
            b.append("<tr><td>").append(escape(c.label())).append("</td><td>").append(f(c.precision())).append("</td><td>")
                    .append(f(c.recall())).append("</td><td>").append(f(c.f1())).append("</td><td>").append(c.support()).append("</td></tr>");
        }
        average(b, "macro average", m.macro(), m.examples());
        average(b, "micro average", m.micro(), m.examples());
        average(b, "weighted average", m.weighted(), m.examples());
        b.append("</table>");
        b.append("<h2>Confusion matrix</h2>").append(Svg.confusionMatrix(e.labels(), m.confusion()));
    }

    private static void multiLabel(StringBuilder b, MultiLabelMetrics.Summary m) {
        b.append("<h2>Per label</h2><table><tr><th>label</th><th>threshold</th><th>precision</th><th>recall</th><th>F1</th>"
                + "<th>support</th><th>ROC-AUC</th></tr>");
        for (MultiLabelMetrics.LabelMetrics l : m.perLabel()) {
            b.append("<tr><td>").append(escape(l.label())).append("</td><td>").append(f(l.threshold())).append("</td><td>")
                    .append(f(l.precision())).append("</td><td>").append(f(l.recall())).append("</td><td>").append(f(l.f1()))
                    .append("</td><td>").append(l.support()).append("</td><td>").append(l.rocAuc() == null ? "n/a" : f(l.rocAuc()))
                    .append("</td></tr>");
        }
        b.append("</table><table><tr><th>average</th><th>precision</th><th>recall</th><th>F1</th><th>examples</th></tr>");
        average(b, "micro", m.micro(), m.examples());
        average(b, "macro", m.macro(), m.examples());
        average(b, "weighted", m.weighted(), m.examples());
        average(b, "samples", m.samples(), m.examples());
        b.append("</table>");
    }

    private static void regression(StringBuilder b, Evaluation e) {
        int n = e.points().size();
        double[] truth = new double[n];
        double[] predicted = new double[n];
        double[] residual = new double[n];
        for (int i = 0; i < n; i++) {
            truth[i] = e.points().get(i).truth();
            predicted[i] = e.points().get(i).predicted();
            residual[i] = predicted[i] - truth[i];
        }
        b.append("<h2>Predictions</h2><p>").append(n).append(" examples").append(n < e.regression().examples() ? " (a sample spread over the file)" : "")
                .append(": predicted (up) against true ").append(escape(e.labels().get(0))).append(" (across), and the residuals "
                + "(predicted minus true) against the prediction. Points on the dashed line are exact.</p><div class=\"charts\">");
        b.append(Svg.scatter("predicted against true values", "true " + e.labels().get(0), truth, predicted, true, 520, 360));
        b.append(Svg.scatter("residuals", "predicted " + e.labels().get(0), predicted, residual, false, 520, 360));
        b.append("</div>");
    }

    private static void entities(StringBuilder b, Evaluation e) {
        EntityMetrics.Summary m = e.entities();
        b.append("<h2>Per entity type</h2><table><tr><th>type</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>");
        int support = 0;
        for (EntityMetrics.TypeMetrics t : m.perType()) {
            b.append("<tr><td>").append(escape(t.type())).append("</td><td>").append(f(t.precision())).append("</td><td>")
                    .append(f(t.recall())).append("</td><td>").append(f(t.f1())).append("</td><td>").append(t.support()).append("</td></tr>");
            support += t.support();
        }
        average(b, "micro average", m.micro(), support);
        average(b, "macro average", m.macro(), support);
        average(b, "weighted average", m.weighted(), support);
        b.append("</table>");
        b.append("<h2>Worst sentences</h2>");
        if (e.worstSentences().isEmpty()) {
            b.append("<p>None: every entity was found exactly.</p>");
            return;
        }
        b.append("<p>Entities marked with their type: the true ones above, the predicted ones below; a predicted entity that "
                + "is not exactly a true one is marked as wrong.</p><table><tr><th>line</th><th class=\"text\">sentence</th><th>wrong</th></tr>");
        for (Evaluation.SentenceErrors s : e.worstSentences()) {
            List<EntitySpans.Span> truth = EntitySpans.of(s.trueTags());
            List<EntitySpans.Span> predicted = EntitySpans.of(s.predictedTags());
            b.append("<tr><td>").append(s.line()).append("</td><td class=\"text\"><div>true: ").append(marked(s.words(), truth, truth))
                    .append("</div><div>predicted: ").append(marked(s.words(), predicted, truth)).append("</div></td><td>")
                    .append(s.errors()).append("</td></tr>");
        }
        b.append("</table>");
    }

    /** The words with each span in a {@code <mark>} titled by its type; a span not among {@code truth} is marked wrong. */
    static String marked(List<String> words, List<EntitySpans.Span> spans, List<EntitySpans.Span> truth) {
        StringBuilder b = new StringBuilder();
        int w = 0;
        for (EntitySpans.Span span : spans) {
            for (; w < span.start(); w++) {
                b.append(escape(words.get(w))).append(' ');
            }
            b.append("<mark class=\"").append(truth.contains(span) ? "ok" : "wrong").append("\" title=\"").append(escape(span.type()))
                    .append("\">");
            for (; w < span.end(); w++) {
                b.append(escape(words.get(w))).append(w + 1 < span.end() ? " " : "");
            }
            b.append("<sub>").append(escape(span.type())).append("</sub></mark> ");
        }
        for (; w < words.size(); w++) {
            b.append(escape(words.get(w))).append(' ');
        }
        return b.toString().strip();
    }

    private static String trainingCharts(JsonNode history) {
        JsonNode steps = history.path("steps");
        JsonNode epochs = history.path("epochs");
        double[] step = new double[steps.size()];
        double[] loss = new double[steps.size()];
        double[] lr = new double[steps.size()];
        for (int i = 0; i < steps.size(); i++) {
            step[i] = steps.get(i).path("step").asDouble();
            loss[i] = steps.get(i).path("loss").asDouble();
            lr[i] = steps.get(i).path("learningRate").asDouble();
        }
        double[] epoch = new double[epochs.size()];
        double[] trainLoss = new double[epochs.size()];
        double[] valLoss = new double[epochs.size()];
        double[] valAcc = new double[epochs.size()];
        for (int i = 0; i < epochs.size(); i++) {
            epoch[i] = epochs.get(i).path("epoch").asDouble();
            trainLoss[i] = epochs.get(i).path("trainLoss").asDouble(Double.NaN);
            valLoss[i] = epochs.get(i).path("validationLoss").asDouble(Double.NaN);
            valAcc[i] = epochs.get(i).path("validationAccuracy").asDouble(Double.NaN);
        }
        List<String> charts = new ArrayList<>();
        charts.add(Svg.lineChart("Training loss per step", "step", List.of(new Svg.Series("loss", step, loss, false)), 520, 240));
        charts.add(Svg.lineChart("Learning rate", "step", List.of(new Svg.Series("learning rate", step, lr, false)), 520, 240));
        charts.add(Svg.lineChart("Loss per epoch", "epoch", List.of(new Svg.Series("train", epoch, trainLoss, true),
                new Svg.Series("validation", epoch, valLoss, true)), 520, 240));
        charts.add(Svg.lineChart("Validation accuracy per epoch", "epoch", List.of(new Svg.Series("accuracy", epoch, valAcc, true)), 520, 240));
        return String.join("", charts);
    }

    /** {"learningRate":0.003,"epochs":6} as "learningRate 0.003, epochs 6". */
    private static String values(JsonNode values) {
        List<String> parts = new ArrayList<>();
        values.fields().forEachRemaining(e -> parts.add(e.getKey() + " " + e.getValue().asText()));
        return String.join(", ", parts);
    }

    private static void card(StringBuilder b, String name, Double value) {
        b.append("<div class=\"card\"><div class=\"v\">").append(value == null ? "n/a" : f(value)).append("</div><div class=\"k\">")
                .append(name).append("</div></div>");
    }

    private static void average(StringBuilder b, String name, Metrics.Average a, int support) {
        b.append("<tr><th>").append(name).append("</th><td>").append(f(a.precision())).append("</td><td>").append(f(a.recall()))
                .append("</td><td>").append(f(a.f1())).append("</td><td>").append(support).append("</td></tr>");
    }

    static String f(double v) {
        return String.format(Locale.ROOT, "%.4f", v);
    }
}
