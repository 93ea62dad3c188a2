package dev.finetune.engine.evaluation;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The result of evaluating a fine-tuned model on a labelled file: the metrics of its task over the examples whose
 * labels the model knows, the labels it does not know (with counts; those rows are left out of the metrics, never
 * silently), and the examples it got most wrong.
 *
 * <p>Which metrics are set follows {@code task}: {@code metrics} for single-label, {@code multiLabel},
 * {@code regression} (with {@code points}, true against predicted values for the report's plots) or {@code entities}
 * (with {@code worstSentences}); the others are null. {@code paddedTokensPerExample}: the tokens of the batches the
 * model ran, padding included, per example (NaN where not counted: token classification).
 */
public record Evaluation(Path modelDirectory, Path testFile, List<String> labels, Metrics.Summary metrics,
                         Map<String, Integer> unknownLabels, List<Mistake> worstErrors, double seconds,
                         double paddedTokensPerExample, String task,
                         MultiLabelMetrics.Summary multiLabel, RegressionMetrics.Summary regression, List<Point> points,
                         EntityMetrics.Summary entities, List<SentenceErrors> worstSentences) {

    /** A single-label evaluation. */
    public Evaluation(Path modelDirectory, Path testFile, List<String> labels, Metrics.Summary metrics,
                      Map<String, Integer> unknownLabels, List<Mistake> worstErrors, double seconds,
                      double paddedTokensPerExample) {
        this(modelDirectory, testFile, labels, metrics, unknownLabels, worstErrors, seconds, paddedTokensPerExample, "single-label", null, null, null,
                null, null);
    }

    /**
     * One wrong prediction and how wrong: single-label, the model's confidence in the wrong class; multi-label, the
     * label sets (joined by the separator) and the largest score on the wrong side of its threshold; regression, the
     * values and the absolute error.
     */
    public record Mistake(long line, String text, String trueLabel, String predictedLabel, double confidence) {
    }

    /** One regression example: its line, true and predicted value. */
    public record Point(long line, double truth, double predicted) {
    }

    /** A sentence with wrongly tagged words: its words, true and predicted tags, and how many entities were missed or wrong. */
    public record SentenceErrors(long line, List<String> words, List<String> trueTags, List<String> predictedTags, int errors) {
    }
}
