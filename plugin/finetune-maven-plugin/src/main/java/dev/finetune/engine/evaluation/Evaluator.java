package dev.finetune.engine.evaluation;

import dev.finetune.engine.data.DataReader;
import dev.finetune.engine.data.RegressionTargets;
import dev.finetune.engine.data.TextFormat;
import dev.finetune.engine.data.TokenDataReader;
import dev.finetune.engine.training.ProgressListener;
import dev.finetune.runtime.FineTunedModel;
import dev.finetune.runtime.Task;
import dev.finetune.runtime.encoding.Batches;
import dev.finetune.runtime.encoding.EncodedExample;
import dev.finetune.runtime.encoding.LabeledText;
import dev.finetune.runtime.encoding.Scores;
import dev.finetune.runtime.encoding.TaggedSentence;
import dev.finetune.runtime.encoding.TokenExamples;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Runs a fine-tuned model over a labelled file and computes the {@link Evaluation} of its task. The file is read
 * as the task reads data: {@code reader} for texts (the caller makes it a multi-label reader for a multi-label
 * model), {@code tokenReader} for tagged sentences.
 */
public final class Evaluator {
    static final int WORST_ERRORS = 10;
    /** Points kept for the regression plots: enough to see the shape, few enough for a light report. */
    static final int MAX_POINTS = 2000;
    private static final int MAX_TEXT = 300;

    private Evaluator() {
    }

    /** A text task's evaluation (single-label, multi-label, regression). */
    public static Evaluation evaluate(FineTunedModel model, DataReader reader, Path testFile, TextFormat format, int batchSize,
                                      ProgressListener log) {
        return evaluate(model, reader, null, testFile, format, batchSize, log);
    }

    public static Evaluation evaluate(FineTunedModel model, DataReader reader, TokenDataReader tokenReader, Path testFile,
                                      TextFormat format, int batchSize, ProgressListener log) {
        long started = System.nanoTime();
        return switch (model.task()) {
            case MULTI_LABEL -> multiLabel(model, reader, testFile, format, batchSize, log, started);
            case REGRESSION -> regression(model, reader, testFile, format, batchSize, log, started);
            case TOKEN_CLASSIFICATION -> tokens(model, tokenReader, testFile, format, batchSize, log, started);
            default -> singleLabel(model, reader, testFile, format, batchSize, log, started);
        };
    }

    private static Evaluation singleLabel(FineTunedModel model, DataReader reader, Path testFile, TextFormat format, int batchSize,
                                          ProgressListener log, long started) {
        Map<String, Integer> index = index(model.labels());
        List<LabeledText> known = new ArrayList<>();
        List<Integer> truth = new ArrayList<>();
        Map<String, Integer> unknown = new TreeMap<>();
        for (LabeledText t : reader.read(testFile, format)) {
            Integer k = index.get(t.label());
            if (k == null) {
                unknown.merge(t.label(), 1, Integer::sum);
            } else {
                known.add(t);
                truth.add(k);
            }
        }
        warnUnknown(model, testFile, unknown, log, "labels", "left out of the metrics");
        List<EncodedExample> encoded = new ArrayList<>(known.size());
        for (int i = 0; i < known.size(); i++) {
            encoded.add(EncodedExample.of(model.tokenizer(), known.get(i), truth.get(i), model.maxSequenceLength()));
        }
        float[][] probs = Batches.predictInLengthOrder(encoded, batchSize, model.tokenizer().padId(), model::predict);
        int[] y = truth.stream().mapToInt(Integer::intValue).toArray();
        Metrics.Summary summary = Metrics.compute(model.labels(), y, probs);
        List<Evaluation.Mistake> mistakes = new ArrayList<>();
        for (int i = 0; i < y.length; i++) {
            int p = Scores.argmax(probs[i]);
            if (p != y[i]) {
                mistakes.add(new Evaluation.Mistake(known.get(i).line(), text(known.get(i)), model.labels().get(y[i]),
                        model.labels().get(p), probs[i][p]));
            }
        }
        double seconds = seconds(started);
        log.info(String.format("Evaluated %d examples of %s in %.1f s: accuracy %.4f, macro F1 %.4f, log loss %.4f.",
                y.length, testFile, seconds, summary.accuracy(), summary.macro().f1(), summary.logLoss()));
        return new Evaluation(model.directory(), testFile, model.labels(), summary, unknown, worst(mistakes), seconds);
    }

    private static Evaluation multiLabel(FineTunedModel model, DataReader reader, Path testFile, TextFormat format, int batchSize,
                                         ProgressListener log, long started) {
        Map<String, Integer> index = index(model.labels());
        int k = model.labels().size();
        List<LabeledText> rows = reader.read(testFile, format);
        Map<String, Integer> unknown = new TreeMap<>();
        boolean[][] truth = new boolean[rows.size()][k];
        List<EncodedExample> encoded = new ArrayList<>(rows.size());
        for (int i = 0; i < rows.size(); i++) {
            // An unknown label is left out of that row's truth (and counted), the row's known labels still count.
            for (String l : rows.get(i).labelList()) {
                Integer j = index.get(l);
                if (j == null) {
                    unknown.merge(l, 1, Integer::sum);
                } else {
                    truth[i][j] = true;
                }
            }
            encoded.add(EncodedExample.of(model.tokenizer(), rows.get(i), -1, model.maxSequenceLength()));
        }
        warnUnknown(model, testFile, unknown, log, "labels", "left out of the metrics");
        float[][] scores = Batches.predictInLengthOrder(encoded, batchSize, model.tokenizer().padId(), model::predict);
        double[] thresholds = model.taskInfo().thresholds();
        MultiLabelMetrics.Summary summary = MultiLabelMetrics.compute(model.labels(), truth, scores, thresholds);
        String separator = model.taskInfo().labelSeparator();
        List<Evaluation.Mistake> mistakes = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            List<String> t = new ArrayList<>();
            List<String> p = new ArrayList<>();
            double worst = 0;
            for (int j = 0; j < k; j++) {
                boolean predicted = scores[i][j] >= thresholds[j];
                if (truth[i][j]) {
                    t.add(model.labels().get(j));
                }
                if (predicted) {
                    p.add(model.labels().get(j));
                }
                if (predicted != truth[i][j]) {
                    worst = Math.max(worst, Math.abs(scores[i][j] - thresholds[j]));
                }
            }
            if (!t.equals(p)) {
                mistakes.add(new Evaluation.Mistake(rows.get(i).line(), text(rows.get(i)), String.join(separator, t),
                        String.join(separator, p), worst));
            }
        }
        double seconds = seconds(started);
        log.info(String.format("Evaluated %d examples of %s in %.1f s: micro F1 %.4f, macro F1 %.4f, subset accuracy %.4f, "
                + "Hamming loss %.4f.", rows.size(), testFile, seconds, summary.micro().f1(), summary.macro().f1(),
                summary.subsetAccuracy(), summary.hammingLoss()));
        return new Evaluation(model.directory(), testFile, model.labels(), null, unknown, worst(mistakes), seconds,
                Task.MULTI_LABEL.id(), summary, null, null, null, null);
    }

    private static Evaluation regression(FineTunedModel model, DataReader reader, Path testFile, TextFormat format, int batchSize,
                                         ProgressListener log, long started) {
        List<LabeledText> rows = reader.read(testFile, format);
        double[] truth = RegressionTargets.of(rows, testFile, model.labels().get(0));
        List<EncodedExample> encoded = new ArrayList<>(rows.size());
        for (LabeledText row : rows) {
            encoded.add(EncodedExample.of(model.tokenizer(), row, -1, model.maxSequenceLength()));
        }
        float[][] out = Batches.predictInLengthOrder(encoded, batchSize, model.tokenizer().padId(), model::predict);
        double[] predicted = new double[rows.size()];
        List<Evaluation.Point> points = new ArrayList<>();
        List<Evaluation.Mistake> mistakes = new ArrayList<>();
        // Every n-th example for the plots: spread over the file, not its first rows.
        int every = Math.max(1, (rows.size() + MAX_POINTS - 1) / MAX_POINTS);
        for (int i = 0; i < rows.size(); i++) {
            predicted[i] = out[i][0];
            if (i % every == 0) {
                points.add(new Evaluation.Point(rows.get(i).line(), truth[i], predicted[i]));
            }
            mistakes.add(new Evaluation.Mistake(rows.get(i).line(), text(rows.get(i)), number(truth[i]), number(predicted[i]),
                    Math.abs(predicted[i] - truth[i])));
        }
        RegressionMetrics.Summary summary = RegressionMetrics.compute(truth, predicted);
        double seconds = seconds(started);
        log.info(String.format("Evaluated %d examples of %s in %.1f s: RMSE %.4f, MAE %.4f, R² %.4f, Spearman %.4f.", rows.size(),
                testFile, seconds, summary.rmse(), summary.mae(), summary.r2(), summary.spearman()));
        return new Evaluation(model.directory(), testFile, model.labels(), null, Map.of(), worst(mistakes), seconds,
                Task.REGRESSION.id(), null, summary, points, null, null);
    }

    private static Evaluation tokens(FineTunedModel model, TokenDataReader reader, Path testFile, TextFormat format, int batchSize,
                                     ProgressListener log, long started) {
        List<TaggedSentence> sentences = reader.read(testFile, format);
        List<TokenExamples.WordTags> tagged = model.tagWords(sentences, batchSize);
        Map<String, Integer> unknown = new TreeMap<>();
        List<List<String>> truth = new ArrayList<>();
        List<List<String>> predicted = new ArrayList<>();
        for (int i = 0; i < sentences.size(); i++) {
            TaggedSentence s = sentences.get(i);
            truth.add(s.tags());
            predicted.add(wordTags(model.labels(), tagged.get(i).tags()));
            s.tags().stream().filter(t -> !model.labels().contains(t)).forEach(t -> unknown.merge(t, 1, Integer::sum));
        }
        warnUnknown(model, testFile, unknown, log, "tags", "their words count as wrongly tagged");
        EntityMetrics.Summary summary = EntityMetrics.compute(truth, predicted);
        List<Evaluation.SentenceErrors> worst = new ArrayList<>();
        for (int i = 0; i < sentences.size(); i++) {
            var t = new java.util.HashSet<>(EntitySpans.of(truth.get(i)));
            var p = new java.util.HashSet<>(EntitySpans.of(predicted.get(i)));
            int errors = 0;
            for (EntitySpans.Span span : t) {
                errors += p.contains(span) ? 0 : 1;
            }
            for (EntitySpans.Span span : p) {
                errors += t.contains(span) ? 0 : 1;
            }
            if (errors > 0) {
                worst.add(new Evaluation.SentenceErrors(sentences.get(i).line(), sentences.get(i).tokens(), truth.get(i),
                        predicted.get(i), errors));
            }
        }
        worst.sort(Comparator.comparingInt(Evaluation.SentenceErrors::errors).reversed()
                .thenComparingLong(Evaluation.SentenceErrors::line));
        double seconds = seconds(started);
        log.info(String.format("Evaluated %d sentences (%d words) of %s in %.1f s: entity micro F1 %.4f, macro F1 %.4f, "
                + "token accuracy %.4f.", sentences.size(), summary.tokens(), testFile, seconds, summary.micro().f1(),
                summary.macro().f1(), summary.tokenAccuracy()));
        return new Evaluation(model.directory(), testFile, model.labels(), null, unknown, List.of(), seconds,
                Task.TOKEN_CLASSIFICATION.id(), null, null, null, summary, List.copyOf(worst.subList(0, Math.min(WORST_ERRORS, worst.size()))));
    }

    /** Tag names per word; a word the model saw no token of is outside any entity. */
    public static List<String> wordTags(List<String> labels, int[] tags) {
        List<String> out = new ArrayList<>(tags.length);
        for (int t : tags) {
            out.add(t < 0 ? "O" : labels.get(t));
        }
        return out;
    }

    private static Map<String, Integer> index(List<String> labels) {
        Map<String, Integer> index = new HashMap<>();
        for (int i = 0; i < labels.size(); i++) {
            index.put(labels.get(i), i);
        }
        return index;
    }

    private static void warnUnknown(FineTunedModel model, Path testFile, Map<String, Integer> unknown, ProgressListener log, String what,
                                    String consequence) {
        if (!unknown.isEmpty()) {
            log.warn(testFile + " has " + what + " the model does not know, " + consequence + ": " + unknown
                    + "; the model knows " + model.labels() + ".");
        }
    }

    private static List<Evaluation.Mistake> worst(List<Evaluation.Mistake> mistakes) {
        mistakes.sort(Comparator.comparingDouble(Evaluation.Mistake::confidence).reversed());
        return List.copyOf(mistakes.subList(0, Math.min(WORST_ERRORS, mistakes.size())));
    }

    private static String text(LabeledText row) {
        String text = row.text() + (row.pair() == null ? "" : " ‖ " + row.pair());
        return text.length() > MAX_TEXT ? text.substring(0, MAX_TEXT) + "…" : text;
    }

    private static String number(double v) {
        return String.format(java.util.Locale.ROOT, "%.4g", v);
    }

    private static double seconds(long started) {
        return (System.nanoTime() - started) / 1e9;
    }
}
