package dev.finetune.engine.evaluation;

import dev.finetune.runtime.FineTuneException;
import dev.finetune.runtime.Task;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Limits on an evaluation that decide whether the build passes, like JaCoCo's {@code check} rules. Unset limits are
 * not checked. What a limit measures follows the model's task:
 * <ul>
 * <li>{@code minimumAccuracy}: accuracy (single-label), subset accuracy (multi-label), token accuracy (token
 * classification);</li>
 * <li>{@code minimumMicroF1}, {@code minimumMacroF1}: over the labels (multi-label), over entity types (token
 * classification, exact spans), over classes (single-label, where micro F1 is the accuracy);</li>
 * <li>{@code minimumClassF1}: the F1 of named classes, labels or entity types;</li>
 * <li>{@code maximumLoss}: the log loss (single-label only);</li>
 * <li>{@code maximumRmse}, {@code maximumMae}, {@code minimumR2}, {@code minimumPearson}, {@code minimumSpearman}:
 * regression only.</li>
 * </ul>
 * A limit that means nothing for the task is an error, not a silent pass.
 */
public record QualityGates(Double minimumAccuracy, Double minimumMacroF1, Map<String, Double> minimumClassF1, Double maximumLoss,
                           Double minimumMicroF1, Double maximumRmse, Double maximumMae, Double minimumR2, Double minimumPearson,
                           Double minimumSpearman) {

    /** The classification limits only. */
    public QualityGates(Double minimumAccuracy, Double minimumMacroF1, Map<String, Double> minimumClassF1, Double maximumLoss) {
        this(minimumAccuracy, minimumMacroF1, minimumClassF1, maximumLoss, null, null, null, null, null, null);
    }

    /** One gate's verdict. */
    public record Result(String name, String metric, String comparison, double limit, double value, boolean passed) {
        /** One sentence naming the metric, the limit and the value. */
        public String message() {
            return String.format("%s is %.4f, %s the %s limit of %.4f", metric, value,
                    passed ? "within" : "which violates", comparison, limit);
        }
    }

    public List<Result> check(Evaluation e) {
        Task task = Task.of(e.task());
        refuseLimitsOutside(task);
        List<Result> out = new ArrayList<>();
        switch (task) {
            case MULTI_LABEL -> {
                MultiLabelMetrics.Summary m = e.multiLabel();
                minimum(out, "minimumAccuracy", "subset accuracy", minimumAccuracy, m.subsetAccuracy());
                minimum(out, "minimumMicroF1", "micro F1", minimumMicroF1, m.micro().f1());
                minimum(out, "minimumMacroF1", "macro F1", minimumMacroF1, m.macro().f1());
                perClass(out, e, "label", name -> m.perLabel().stream().filter(x -> x.label().equals(name))
                        .map(MultiLabelMetrics.LabelMetrics::f1).findFirst().orElse(null));
            }
            case TOKEN_CLASSIFICATION -> {
                EntityMetrics.Summary m = e.entities();
                minimum(out, "minimumAccuracy", "token accuracy", minimumAccuracy, m.tokenAccuracy());
                minimum(out, "minimumMicroF1", "entity micro F1", minimumMicroF1, m.micro().f1());
                minimum(out, "minimumMacroF1", "entity macro F1", minimumMacroF1, m.macro().f1());
                perClass(out, e, "entity type", name -> m.perType().stream().filter(x -> x.type().equals(name))
                        .map(EntityMetrics.TypeMetrics::f1).findFirst().orElse(null));
            }
            case REGRESSION -> {
                RegressionMetrics.Summary m = e.regression();
                maximum(out, "maximumRmse", "RMSE", maximumRmse, m.rmse());
                maximum(out, "maximumMae", "MAE", maximumMae, m.mae());
                minimum(out, "minimumR2", "R²", minimumR2, m.r2());
                minimum(out, "minimumPearson", "Pearson correlation", minimumPearson, m.pearson());
                minimum(out, "minimumSpearman", "Spearman correlation", minimumSpearman, m.spearman());
            }
            default -> {
                Metrics.Summary m = e.metrics();
                minimum(out, "minimumAccuracy", "accuracy", minimumAccuracy, m.accuracy());
                minimum(out, "minimumMicroF1", "micro F1", minimumMicroF1, m.micro().f1());
                minimum(out, "minimumMacroF1", "macro F1", minimumMacroF1, m.macro().f1());
                perClass(out, e, "class", name -> m.perClass().stream().filter(x -> x.label().equals(name))
                        .map(Metrics.ClassMetrics::f1).findFirst().orElse(null));
                maximum(out, "maximumLoss", "log loss", maximumLoss, m.logLoss());
            }
        }
        return out;
    }

    /** Limits set for a metric the task does not have. */
    private void refuseLimitsOutside(Task task) {
        List<String> wrong = new ArrayList<>();
        boolean regression = task == Task.REGRESSION;
        if (regression) {
            add(wrong, "minimumAccuracy", minimumAccuracy);
            add(wrong, "minimumMicroF1", minimumMicroF1);
            add(wrong, "minimumMacroF1", minimumMacroF1);
            add(wrong, "minimumClassF1", minimumClassF1 == null || minimumClassF1.isEmpty() ? null : 0.0);
        } else {
            add(wrong, "maximumRmse", maximumRmse);
            add(wrong, "maximumMae", maximumMae);
            add(wrong, "minimumR2", minimumR2);
            add(wrong, "minimumPearson", minimumPearson);
            add(wrong, "minimumSpearman", minimumSpearman);
        }
        if (task != Task.SINGLE_LABEL) {
            add(wrong, "maximumLoss", maximumLoss);
        }
        if (!wrong.isEmpty()) {
            throw new FineTuneException("The quality gates " + wrong + " do not apply to a " + task + " model; "
                    + (regression ? "use maximumRmse, maximumMae, minimumR2, minimumPearson or minimumSpearman."
                    : "use minimumAccuracy, minimumMicroF1, minimumMacroF1 or minimumClassF1"
                    + (task == Task.SINGLE_LABEL ? " or maximumLoss." : ".")));
        }
    }

    private static void add(List<String> wrong, String name, Object value) {
        if (value != null) {
            wrong.add(name);
        }
    }

    private void perClass(List<Result> out, Evaluation e, String what, java.util.function.Function<String, Double> f1) {
        if (minimumClassF1 == null) {
            return;
        }
        minimumClassF1.forEach((label, limit) -> {
            Double value = f1.apply(label);
            if (value == null) {
                throw new FineTuneException("minimumClassF1 names " + what + " '" + label + "', which the model does not know; "
                        + "it knows " + known(e) + ".");
            }
            out.add(new Result("minimumClassF1." + label, "F1 of " + what + " '" + label + "'", "minimum", limit, value, value >= limit));
        });
    }

    /** The names minimumClassF1 may use: classes and labels, or for token classification the entity types. */
    private static List<String> known(Evaluation e) {
        if (e.entities() != null) {
            return e.entities().perType().stream().map(EntityMetrics.TypeMetrics::type).toList();
        }
        return e.labels();
    }

    private static void minimum(List<Result> out, String name, String metric, Double limit, double value) {
        if (limit != null) {
            out.add(new Result(name, metric, "minimum", limit, value, value >= limit));
        }
    }

    private static void maximum(List<Result> out, String name, String metric, Double limit, double value) {
        if (limit != null) {
            out.add(new Result(name, metric, "maximum", limit, value, value <= limit));
        }
    }
}
