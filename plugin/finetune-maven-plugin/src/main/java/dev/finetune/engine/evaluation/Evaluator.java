package dev.finetune.engine.evaluation;

import dev.finetune.engine.data.DataException;
import dev.finetune.engine.data.DataReader;
import dev.finetune.engine.data.RegressionTargets;
import dev.finetune.engine.data.TextFormat;
import dev.finetune.engine.data.TokenDataReader;
import dev.finetune.engine.inference.PredictionWindow;
import dev.finetune.engine.inference.TaggingWindow;
import dev.finetune.engine.training.ProgressListener;
import dev.finetune.runtime.FineTunedModel;
import dev.finetune.runtime.Task;
import dev.finetune.runtime.encoding.BatchBudget;
import dev.finetune.runtime.encoding.LabeledText;
import dev.finetune.runtime.encoding.Scores;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.DoubleStream;
import java.util.stream.IntStream;

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
    public static Evaluation evaluate(FineTunedModel model, DataReader reader, Path testFile, TextFormat format, BatchBudget batches,
                                      ProgressListener log) {
        return evaluate(model, reader, null, testFile, format, batches, log);
    }

    public static Evaluation evaluate(FineTunedModel model, DataReader reader, TokenDataReader tokenReader, Path testFile,
                                      TextFormat format, BatchBudget batches, ProgressListener log) {
        long started = System.nanoTime();
        return switch (model.task()) {
            case MULTI_LABEL -> multiLabel(model, reader, testFile, format, batches, log, started);
            case REGRESSION -> regression(model, reader, testFile, format, batches, log, started);
            case TOKEN_CLASSIFICATION -> tokens(model, tokenReader, testFile, format, batches, log, started);
            default -> singleLabel(model, reader, testFile, format, batches, log, started);
        };
    }

    private static Evaluation singleLabel(FineTunedModel model, DataReader reader, Path testFile, TextFormat format, BatchBudget batches,
                                          ProgressListener log, long started) {
        List<String> labels = model.labels();
        Map<String, Integer> index = index(labels);
        IntStream.Builder truth = IntStream.builder();
        List<float[]> probs = new ArrayList<>();
        Map<String, Integer> unknown = new TreeMap<>();
        WorstMistakes mistakes = new WorstMistakes(WORST_ERRORS);
        PredictionWindow window = new PredictionWindow(model, batches, log, "evaluated", (i, row, p) -> {
            probs.add(p);
            int y = index.get(row.label());
            int best = Scores.argmax(p);
            if (best != y) {
                mistakes.offer(p[best], row.line(), () -> new Evaluation.Mistake(row.line(), text(row), labels.get(y),
                        labels.get(best), p[best]));
            }
        });
        reader.forEach(testFile, format, t -> {
            Integer k = index.get(t.label());
            if (k == null) {
                unknown.merge(t.label(), 1, Integer::sum);
            } else {
                truth.add(k);
                window.add(t);
            }
        });
        window.flush();
        warnUnknown(model, testFile, unknown, log, "labels", "left out of the metrics");
        int[] y = truth.build().toArray();
        Metrics.Summary summary = Metrics.compute(labels, y, probs.toArray(new float[0][]));
        double seconds = seconds(started);
        log.info(String.format("Evaluated %d examples of %s in %.1f s: accuracy %.4f, macro F1 %.4f, log loss %.4f.",
                y.length, testFile, seconds, summary.accuracy(), summary.macro().f1(), summary.logLoss()));
        return new Evaluation(model.directory(), testFile, labels, summary, unknown, mistakes.list(), seconds, window.paddedTokensPerRow());
    }

    private static Evaluation multiLabel(FineTunedModel model, DataReader reader, Path testFile, TextFormat format, BatchBudget batches,
                                         ProgressListener log, long started) {
        List<String> labels = model.labels();
        Map<String, Integer> index = index(labels);
        int k = labels.size();
        double[] thresholds = model.taskInfo().thresholds();
        String separator = model.taskInfo().labelSeparator();
        List<boolean[]> truth = new ArrayList<>();
        List<float[]> scores = new ArrayList<>();
        Map<String, Integer> unknown = new TreeMap<>();
        WorstMistakes mistakes = new WorstMistakes(WORST_ERRORS);
        PredictionWindow window = new PredictionWindow(model, batches, log, "evaluated", (i, row, score) -> {
            scores.add(score);
            boolean[] actual = truth.get((int) i);
            boolean[] predicted = new boolean[k];
            double worst = -1;
            for (int j = 0; j < k; j++) {
                predicted[j] = score[j] >= thresholds[j];
                if (predicted[j] != actual[j]) {
                    worst = Math.max(worst, Math.abs(score[j] - thresholds[j]));
                }
            }
            if (worst >= 0) {
                double distance = worst;
                mistakes.offer(distance, row.line(), () -> new Evaluation.Mistake(row.line(), text(row),
                        String.join(separator, chosen(labels, actual)), String.join(separator, chosen(labels, predicted)), distance));
            }
        });
        reader.forEach(testFile, format, row -> {
            // An unknown label is left out of that row's truth (and counted), the row's known labels still count.
            boolean[] actual = new boolean[k];
            for (String l : row.labelList()) {
                Integer j = index.get(l);
                if (j == null) {
                    unknown.merge(l, 1, Integer::sum);
                } else {
                    actual[j] = true;
                }
            }
            truth.add(actual);
            window.add(row);
        });
        window.flush();
        warnUnknown(model, testFile, unknown, log, "labels", "left out of the metrics");
        MultiLabelMetrics.Summary summary = MultiLabelMetrics.compute(labels, truth.toArray(new boolean[0][]),
                scores.toArray(new float[0][]), thresholds);
        double seconds = seconds(started);
        log.info(String.format("Evaluated %d examples of %s in %.1f s: micro F1 %.4f, macro F1 %.4f, subset accuracy %.4f, "
                + "Hamming loss %.4f.", truth.size(), testFile, seconds, summary.micro().f1(), summary.macro().f1(),
                summary.subsetAccuracy(), summary.hammingLoss()));
        return new Evaluation(model.directory(), testFile, labels, null, unknown, mistakes.list(), seconds, window.paddedTokensPerRow(),
                Task.MULTI_LABEL.id(), summary, null, null, null, null);
    }

    private static Evaluation regression(FineTunedModel model, DataReader reader, Path testFile, TextFormat format, BatchBudget batches,
                                         ProgressListener log, long started) {
        String column = model.labels().get(0);
        DoubleStream.Builder truth = DoubleStream.builder();
        DoubleStream.Builder predicted = DoubleStream.builder();
        PlotPoints points = new PlotPoints(MAX_POINTS);
        WorstMistakes mistakes = new WorstMistakes(WORST_ERRORS);
        PredictionWindow window = new PredictionWindow(model, batches, log, "evaluated", (i, row, out) -> {
            // Parsed again here rather than held a window long: the row was checked when read.
            double t = RegressionTargets.parse(row.label(), testFile, row.line(), column);
            double p = out[0];
            predicted.add(p);
            points.add(i, new Evaluation.Point(row.line(), t, p));
            mistakes.offer(Math.abs(p - t), row.line(), () -> new Evaluation.Mistake(row.line(), text(row), number(t), number(p),
                    Math.abs(p - t)));
        });
        reader.forEach(testFile, format, row -> {
            truth.add(RegressionTargets.parse(row.label(), testFile, row.line(), column));
            window.add(row);
        });
        window.flush();
        double[] t = truth.build().toArray();
        RegressionMetrics.Summary summary = RegressionMetrics.compute(t, predicted.build().toArray());
        double seconds = seconds(started);
        log.info(String.format("Evaluated %d examples of %s in %.1f s: RMSE %.4f, MAE %.4f, R² %.4f, Spearman %.4f.", t.length,
                testFile, seconds, summary.rmse(), summary.mae(), summary.r2(), summary.spearman()));
        return new Evaluation(model.directory(), testFile, model.labels(), null, Map.of(), mistakes.list(), seconds, window.paddedTokensPerRow(),
                Task.REGRESSION.id(), null, summary, points.list(), null, null);
    }

    /**
     * Token classification, a window of sentences at a time ({@link TaggingWindow}): the entity counts add up sentence
     * by sentence, and only the sentences with the most wrong entities are kept for the report.
     */
    private static Evaluation tokens(FineTunedModel model, TokenDataReader reader, Path testFile, TextFormat format, BatchBudget batches,
                                     ProgressListener log, long started) {
        EntityMetrics.Counts counts = new EntityMetrics.Counts();
        Map<String, Integer> unknown = new TreeMap<>();
        // The most wrong entities first; ties go to the earlier line.
        Worst<Evaluation.SentenceErrors> worst = new Worst<>(WORST_ERRORS, Comparator.comparingInt(Evaluation.SentenceErrors::errors)
                .reversed().thenComparingLong(Evaluation.SentenceErrors::line));
        TaggingWindow window = new TaggingWindow(model, batches, log, "evaluated", (s, tags) -> {
            List<String> predicted = wordTags(model.labels(), tags.tags());
            s.tags().stream().filter(t -> !model.labels().contains(t)).forEach(t -> unknown.merge(t, 1, Integer::sum));
            int errors;
            try {
                errors = counts.add(s.tags(), predicted);
            } catch (IllegalArgumentException e) {
                throw DataException.at(testFile, s.line(), null, "the sentence starting here has tags that make no entities: "
                        + e.getMessage());
            }
            if (errors > 0) {
                worst.offer(new Evaluation.SentenceErrors(s.line(), s.tokens(), s.tags(), predicted, errors));
            }
        });
        window.tagAll(reader, testFile, format);
        warnUnknown(model, testFile, unknown, log, "tags", "their words count as wrongly tagged");
        EntityMetrics.Summary summary = counts.summary();
        double seconds = seconds(started);
        log.info(String.format("Evaluated %d sentences (%d words) of %s in %.1f s: entity micro F1 %.4f, macro F1 %.4f, "
                + "token accuracy %.4f.", summary.sentences(), summary.tokens(), testFile, seconds, summary.micro().f1(),
                summary.macro().f1(), summary.tokenAccuracy()));
        return new Evaluation(model.directory(), testFile, model.labels(), null, unknown, List.of(), seconds, Double.NaN,
                Task.TOKEN_CLASSIFICATION.id(), null, null, null, summary, worst.list());
    }

    /** Tag names per word; a word the model saw no token of is outside any entity. */
    public static List<String> wordTags(List<String> labels, int[] tags) {
        List<String> out = new ArrayList<>(tags.length);
        for (int t : tags) {
            out.add(t < 0 ? "O" : labels.get(t));
        }
        return out;
    }

    /** The labels whose flag is set, in the model's order. */
    private static List<String> chosen(List<String> labels, boolean[] flags) {
        List<String> out = new ArrayList<>();
        for (int j = 0; j < flags.length; j++) {
            if (flags[j]) {
                out.add(labels.get(j));
            }
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
