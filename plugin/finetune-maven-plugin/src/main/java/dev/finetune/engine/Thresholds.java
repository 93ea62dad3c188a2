package dev.finetune.engine;

import dev.finetune.engine.evaluation.MultiLabelMetrics;
import dev.finetune.engine.training.ClassifierSession;
import dev.finetune.engine.training.ProgressListener;
import dev.finetune.runtime.encoding.BatchBudget;
import dev.finetune.runtime.encoding.Batches;
import dev.finetune.runtime.encoding.EncodedExample;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Multi-label decision thresholds, one per label: a fixed {@code threshold} for all, or tuned on the validation set
 * after training (per label, the threshold with the best F1), which matters most for rare labels whose scores seldom
 * reach 0.5. They are kept in {@code labels.json}, where evaluate and predict read them.
 */
final class Thresholds {
    private Thresholds() {
    }

    /** {@code fixed}: the configured threshold for all labels, or null to tune them in batches of {@code batches}. */
    static double[] choose(Double fixed, BatchBudget batches, ClassifierSession session, List<EncodedExample> validation,
                           int padId, List<String> labels, ProgressListener log) {
        if (fixed != null || validation.isEmpty()) {
            double t = fixed != null ? fixed : 0.5;
            if (fixed == null) {
                log.warn("No validation examples to tune the thresholds on: every label uses 0.5.");
            }
            double[] all = new double[labels.size()];
            Arrays.fill(all, t);
            return all;
        }
        float[][] scores = Batches.predictInLengthOrder(validation, batches, padId, session::predict);
        boolean[][] truth = new boolean[validation.size()][labels.size()];
        for (int i = 0; i < truth.length; i++) {
            // Read once: a validation set on disk decodes a row at each get.
            float[] targets = validation.get(i).targets();
            for (int j = 0; j < labels.size(); j++) {
                truth[i][j] = targets[j] > 0.5f;
            }
        }
        double[] tuned = MultiLabelMetrics.tuneThresholds(truth, scores);
        List<String> shown = new ArrayList<>();
        for (int j = 0; j < labels.size(); j++) {
            shown.add(String.format("%s %.3f", labels.get(j), tuned[j]));
        }
        log.info("Thresholds tuned on " + validation.size() + " validation examples (best F1 per label): " + String.join(", ", shown) + ".");
        return tuned;
    }
}
