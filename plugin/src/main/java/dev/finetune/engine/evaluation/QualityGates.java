package dev.finetune.engine.evaluation;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Limits on an evaluation that decide whether the build passes, like JaCoCo's {@code check} rules: minimum
 * accuracy, minimum macro F1, minimum F1 of named classes, maximum log loss. Unset limits are not checked.
 */
public record QualityGates(Double minimumAccuracy, Double minimumMacroF1, Map<String, Double> minimumClassF1, Double maximumLoss) {

    /** One gate's verdict. */
    public record Result(String name, String metric, String comparison, double limit, double value, boolean passed) {
        /** One sentence naming the metric, the limit and the value. */
        public String message() {
            return String.format("%s is %.4f, %s the %s limit of %.4f", metric, value,
                    passed ? "within" : "which violates", comparison, limit);
        }
    }

    public List<Result> check(Evaluation e) {
        List<Result> out = new ArrayList<>();
        Metrics.Summary m = e.metrics();
        if (minimumAccuracy != null) {
            out.add(min("minimumAccuracy", "accuracy", minimumAccuracy, m.accuracy()));
        }
        if (minimumMacroF1 != null) {
            out.add(min("minimumMacroF1", "macro F1", minimumMacroF1, m.macro().f1()));
        }
        if (minimumClassF1 != null) {
            minimumClassF1.forEach((label, limit) -> {
                Metrics.ClassMetrics c = m.perClass().stream().filter(x -> x.label().equals(label)).findFirst()
                        .orElseThrow(() -> new dev.finetune.engine.FineTuneException("minimumClassF1 names class '" + label
                                + "', which the model does not know; it knows " + e.labels() + "."));
                out.add(min("minimumClassF1." + label, "F1 of class '" + label + "'", limit, c.f1()));
            });
        }
        if (maximumLoss != null) {
            out.add(new Result("maximumLoss", "log loss", "maximum", maximumLoss, m.logLoss(), m.logLoss() <= maximumLoss));
        }
        return out;
    }

    private static Result min(String name, String metric, double limit, double value) {
        return new Result(name, metric, "minimum", limit, value, value >= limit);
    }
}
