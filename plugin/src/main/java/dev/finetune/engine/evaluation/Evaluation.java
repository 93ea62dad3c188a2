package dev.finetune.engine.evaluation;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The result of evaluating a fine-tuned model on a labelled file: the metrics over the examples whose label the
 * model knows, the labels it does not know (with counts; those rows are left out of the metrics, never silently),
 * and the examples it got most confidently wrong.
 */
public record Evaluation(Path modelDirectory, Path testFile, List<String> labels, Metrics.Summary metrics,
                         Map<String, Integer> unknownLabels, List<Mistake> worstErrors, double seconds) {

    /** One wrong prediction, with the model's confidence in it. */
    public record Mistake(long line, String text, String trueLabel, String predictedLabel, double confidence) {
    }
}
