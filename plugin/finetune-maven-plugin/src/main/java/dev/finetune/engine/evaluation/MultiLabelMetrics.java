package dev.finetune.engine.evaluation;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Multi-label metrics from a true indicator matrix and per-label scores, with scikit-learn's definitions on indicator
 * matrices (checked against it in MultiLabelMetricsTest): precision/recall/F1 with {@code zero_division=0} per label
 * and averaged micro, macro, weighted and samples; {@code accuracy_score} (subset accuracy), {@code hamming_loss}, and
 * {@code roc_auc_score} per label. Each label is decided on its own threshold, so thresholds tuned on validation data
 * ({@link #tuneThresholds}) can be applied to the test set.
 */
public final class MultiLabelMetrics {
    private static final double DEFAULT_THRESHOLD = 0.5;

    private MultiLabelMetrics() {
    }

    /** threshold: the decision threshold used for this label. rocAuc null when the label's truth has one class only. */
    public record LabelMetrics(String label, double threshold, double precision, double recall, double f1, int support,
                               Double rocAuc) {
    }

    /**
     * Everything computed over one evaluation set. macroRocAuc is the mean over the labels whose ROC-AUC is defined
     * (both classes present), null when there is none: scikit-learn would give NaN (older versions raise) as soon as
     * one label has a single class, which would leave a set with one rare label without any ROC-AUC.
     */
    public record Summary(int examples, double subsetAccuracy, double hammingLoss, Metrics.Average micro,
                          Metrics.Average macro, Metrics.Average weighted, Metrics.Average samples, Double macroRocAuc,
                          List<LabelMetrics> perLabel) {
    }

    /**
     * Predicted positive when score >= thresholds[j]. Macro averages over all labels, including those never true or
     * never predicted (they score 0, as in scikit-learn); samples averages over examples, an example with neither true
     * nor predicted labels scoring 0 (zero_division=0). With no examples, accuracy, Hamming loss and all averages are 0.
     */
    public static Summary compute(List<String> labels, boolean[][] truth, float[][] scores, double[] thresholds) {
        int k = labels.size();
        int n = truth.length;
        if (scores.length != n || thresholds.length != k) {
            throw new IllegalArgumentException("expected " + n + " score rows and " + k + " thresholds, got "
                    + scores.length + " and " + thresholds.length);
        }
        long[] tp = new long[k];
        long[] predicted = new long[k];
        long[] actual = new long[k];
        int exact = 0;
        long mismatches = 0;
        double[] sampleSums = new double[3];
        for (int i = 0; i < n; i++) {
            if (truth[i].length != k || scores[i].length != k) {
                throw new IllegalArgumentException("example " + i + " has " + truth[i].length + " truth values and "
                        + scores[i].length + " scores for " + k + " labels");
            }
            int rowTp = 0;
            int rowPredicted = 0;
            int rowActual = 0;
            int rowMismatches = 0;
            for (int j = 0; j < k; j++) {
                boolean p = scores[i][j] >= thresholds[j];
                boolean t = truth[i][j];
                if (p && t) {
                    rowTp++;
                    tp[j]++;
                }
                if (p) {
                    rowPredicted++;
                    predicted[j]++;
                }
                if (t) {
                    rowActual++;
                    actual[j]++;
                }
                if (p != t) {
                    rowMismatches++;
                }
            }
            if (rowMismatches == 0) {
                exact++;
            }
            mismatches += rowMismatches;
            Metrics.Average row = PrecisionRecall.of(rowTp, rowPredicted, rowActual);
            sampleSums[0] += row.precision();
            sampleSums[1] += row.recall();
            sampleSums[2] += row.f1();
        }
        List<LabelMetrics> perLabel = new ArrayList<>(k);
        PrecisionRecall.Means means = new PrecisionRecall.Means();
        double rocSum = 0;
        int rocDefined = 0;
        for (int j = 0; j < k; j++) {
            Metrics.Average a = PrecisionRecall.of(tp[j], predicted[j], actual[j]);
            means.add(a, (int) actual[j]);
            Double roc = rocAuc(truth, scores, j);
            if (roc != null) {
                rocSum += roc;
                rocDefined++;
            }
            perLabel.add(new LabelMetrics(labels.get(j), thresholds[j], a.precision(), a.recall(), a.f1(),
                    (int) actual[j], roc));
        }
        Metrics.Average micro = PrecisionRecall.of(Arrays.stream(tp).sum(), Arrays.stream(predicted).sum(),
                Arrays.stream(actual).sum());
        Metrics.Average samples = n == 0 ? new Metrics.Average(0, 0, 0)
                : new Metrics.Average(sampleSums[0] / n, sampleSums[1] / n, sampleSums[2] / n);
        return new Summary(n, n == 0 ? 0 : (double) exact / n, n * k == 0 ? 0 : (double) mismatches / ((long) n * k),
                micro, means.macro(), means.weighted(), samples, rocDefined == 0 ? null : rocSum / rocDefined,
                List.copyOf(perLabel));
    }

    /**
     * Per label, the threshold maximising that label's F1 on (validation) data, so a rare label is not stuck below a
     * threshold of 0.5 it never reaches. Candidates: 0.5 itself, the midpoint between each two consecutive distinct
     * scores of the label (the threshold furthest from both, so it carries over best to unseen scores), and the
     * lowest score (every example positive). Ties in F1 (compared exactly, as fractions) go to the candidate closest
     * to 0.5, then to the lower one; so 0.5 stays whenever nothing does strictly better. A label without a positive
     * example has no F1 to maximise and keeps 0.5.
     *
     * @throws IllegalArgumentException with no examples (the number of labels is unknown), rows of different
     *                                  lengths, or a NaN score
     */
    public static double[] tuneThresholds(boolean[][] truth, float[][] scores) {
        if (truth.length == 0 || truth.length != scores.length) {
            throw new IllegalArgumentException("tuning thresholds needs examples, and as many score rows as truth rows; got "
                    + truth.length + " and " + scores.length);
        }
        int k = truth[0].length;
        for (int i = 0; i < truth.length; i++) {
            if (truth[i].length != k || scores[i].length != k) {
                throw new IllegalArgumentException("example " + i + " does not have " + k + " labels");
            }
            for (float s : scores[i]) {
                if (Float.isNaN(s)) {
                    throw new IllegalArgumentException("example " + i + " has a NaN score");
                }
            }
        }
        double[] thresholds = new double[k];
        for (int j = 0; j < k; j++) {
            thresholds[j] = tune(truth, scores, j);
        }
        return thresholds;
    }

    private static double tune(boolean[][] truth, float[][] scores, int j) {
        int n = truth.length;
        long positives = 0;
        long tpAtDefault = 0;
        long predictedAtDefault = 0;
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
            positives += truth[i][j] ? 1 : 0;
            if (scores[i][j] >= DEFAULT_THRESHOLD) {
                predictedAtDefault++;
                tpAtDefault += truth[i][j] ? 1 : 0;
            }
        }
        if (positives == 0) {
            return DEFAULT_THRESHOLD;
        }
        Candidate best = new Candidate(DEFAULT_THRESHOLD, tpAtDefault, predictedAtDefault);
        // Highest score first: after each group of equal scores, the predicted set is "score >= that score".
        Arrays.sort(order, (a, b) -> Float.compare(scores[b][j], scores[a][j]));
        long tp = 0;
        long predicted = 0;
        int i = 0;
        while (i < n) {
            float s = scores[order[i]][j];
            while (i < n && scores[order[i]][j] == s) {
                predicted++;
                tp += truth[order[i]][j] ? 1 : 0;
                i++;
            }
            // Any threshold in (next lower score, s] selects this set; (double) a + b is exact for floats.
            double threshold = i < n ? ((double) s + scores[order[i]][j]) / 2 : s;
            Candidate c = new Candidate(threshold, tp, predicted);
            if (c.betterThan(best, positives)) {
                best = c;
            }
        }
        return best.threshold;
    }

    /** A threshold and the true positives and predictions it gives; F1 = 2tp / (predicted + positives). */
    private record Candidate(double threshold, long tp, long predicted) {
        boolean betterThan(Candidate other, long positives) {
            long mine = tp * (other.predicted + positives);
            long theirs = other.tp * (predicted + positives);
            if (mine != theirs) {
                return mine > theirs;
            }
            double d = Math.abs(threshold - DEFAULT_THRESHOLD);
            double od = Math.abs(other.threshold - DEFAULT_THRESHOLD);
            return d != od ? d < od : threshold < other.threshold;
        }
    }

    private static Double rocAuc(boolean[][] truth, float[][] scores, int j) {
        int[] t = new int[truth.length];
        double[] s = new double[truth.length];
        for (int i = 0; i < t.length; i++) {
            t[i] = truth[i][j] ? 1 : 0;
            s[i] = scores[i][j];
        }
        return Metrics.rocAuc(t, s, 1);
    }
}
