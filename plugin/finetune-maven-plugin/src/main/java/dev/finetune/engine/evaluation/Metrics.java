package dev.finetune.engine.evaluation;

import dev.finetune.runtime.encoding.Scores;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Classification metrics from true label indices and predicted class probabilities, with the definitions
 * scikit-learn uses (checked against it in MetricsTest): precision/recall/F1 with 0 where undefined, ROC-AUC and
 * average precision one-vs-rest and macro-averaged for more than two classes, expected calibration error over
 * ten equal-width confidence bins.
 */
public final class Metrics {
    private static final double LOG_EPS = 1e-15;

    private Metrics() {
    }

    /** Per-class precision, recall, F1 and support. */
    public record ClassMetrics(String label, double precision, double recall, double f1, int support) {
    }

    /** An average of precision, recall and F1. */
    public record Average(double precision, double recall, double f1) {
    }

    /** Everything computed over one evaluation set. */
    public record Summary(int examples, double accuracy, List<ClassMetrics> perClass, Average macro, Average micro,
                          Average weighted, int[][] confusion, double logLoss, Double rocAuc, Double prAuc,
                          double expectedCalibrationError) {
    }

    public static Summary compute(List<String> labels, int[] truth, float[][] probabilities) {
        int k = labels.size();
        int n = truth.length;
        int[][] confusion = new int[k][k];
        int correct = 0;
        double logLoss = 0;
        for (int i = 0; i < n; i++) {
            int p = Scores.argmax(probabilities[i]);
            confusion[truth[i]][p]++;
            if (p == truth[i]) {
                correct++;
            }
            double sum = 0;
            for (float v : probabilities[i]) {
                sum += v;
            }
            double prob = Math.min(1 - LOG_EPS, Math.max(LOG_EPS, probabilities[i][truth[i]] / sum));
            logLoss -= Math.log(prob);
        }
        List<ClassMetrics> perClass = new ArrayList<>(k);
        double[] sums = new double[6];
        for (int c = 0; c < k; c++) {
            int tp = confusion[c][c];
            int predicted = 0;
            int support = 0;
            for (int j = 0; j < k; j++) {
                predicted += confusion[j][c];
                support += confusion[c][j];
            }
            double precision = predicted == 0 ? 0 : (double) tp / predicted;
            double recall = support == 0 ? 0 : (double) tp / support;
            double f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
            perClass.add(new ClassMetrics(labels.get(c), precision, recall, f1, support));
            sums[0] += precision;
            sums[1] += recall;
            sums[2] += f1;
            sums[3] += precision * support;
            sums[4] += recall * support;
            sums[5] += f1 * support;
        }
        double accuracy = n == 0 ? 0 : (double) correct / n;
        Average macro = new Average(sums[0] / k, sums[1] / k, sums[2] / k);
        // With one label per example, micro precision = micro recall = micro F1 = accuracy.
        Average micro = new Average(accuracy, accuracy, accuracy);
        Average weighted = n == 0 ? new Average(0, 0, 0) : new Average(sums[3] / n, sums[4] / n, sums[5] / n);
        Double roc = null;
        Double pr = null;
        if (k == 2) {
            roc = rocAuc(truth, column(probabilities, 1), 1);
            pr = averagePrecision(truth, column(probabilities, 1), 1);
        } else {
            double rocSum = 0;
            double prSum = 0;
            int defined = 0;
            for (int c = 0; c < k; c++) {
                Double r = rocAuc(truth, column(probabilities, c), c);
                if (r != null) {
                    rocSum += r;
                    prSum += averagePrecision(truth, column(probabilities, c), c);
                    defined++;
                }
            }
            if (defined == k) {
                roc = rocSum / k;
                pr = prSum / k;
            }
        }
        return new Summary(n, accuracy, perClass, macro, micro, weighted, confusion, n == 0 ? 0 : logLoss / n, roc, pr,
                expectedCalibrationError(truth, probabilities, 10));
    }

    /** Area under the ROC curve of {@code scores} for class {@code positive}; null when only one class occurs. */
    static Double rocAuc(int[] truth, double[] scores, int positive) {
        Integer[] order = sortedByScore(scores);
        long positives = Arrays.stream(truth).filter(t -> t == positive).count();
        long negatives = truth.length - positives;
        if (positives == 0 || negatives == 0) {
            return null;
        }
        // Mann-Whitney U with average ranks for ties.
        double rankSum = 0;
        int i = 0;
        while (i < order.length) {
            int j = i;
            while (j + 1 < order.length && scores[order[j + 1]] == scores[order[i]]) {
                j++;
            }
            double rank = (i + j) / 2.0 + 1;
            for (int m = i; m <= j; m++) {
                if (truth[order[m]] == positive) {
                    rankSum += rank;
                }
            }
            i = j + 1;
        }
        return (rankSum - positives * (positives + 1) / 2.0) / ((double) positives * negatives);
    }

    /** Average precision (area under the precision-recall step curve), thresholds at each distinct score. */
    static double averagePrecision(int[] truth, double[] scores, int positive) {
        Integer[] order = sortedByScore(scores);
        long positives = Arrays.stream(truth).filter(t -> t == positive).count();
        if (positives == 0) {
            return 0;
        }
        double ap = 0;
        double previousRecall = 0;
        int tp = 0;
        int seen = 0;
        for (int i = order.length - 1; i >= 0; ) {
            int j = i;
            while (j - 1 >= 0 && scores[order[j - 1]] == scores[order[i]]) {
                j--;
            }
            for (int m = j; m <= i; m++) {
                seen++;
                if (truth[order[m]] == positive) {
                    tp++;
                }
            }
            double recall = (double) tp / positives;
            double precision = (double) tp / seen;
            ap += (recall - previousRecall) * precision;
            previousRecall = recall;
            i = j - 1;
        }
        return ap;
    }

    /** Σ over confidence bins of |accuracy − confidence| × share of examples, confidence = top probability. */
    static double expectedCalibrationError(int[] truth, float[][] probabilities, int bins) {
        double[] conf = new double[bins];
        double[] acc = new double[bins];
        int[] count = new int[bins];
        for (int i = 0; i < truth.length; i++) {
            int p = Scores.argmax(probabilities[i]);
            double c = probabilities[i][p];
            int b = Math.min(bins - 1, (int) (c * bins));
            conf[b] += c;
            acc[b] += p == truth[i] ? 1 : 0;
            count[b]++;
        }
        double ece = 0;
        for (int b = 0; b < bins; b++) {
            if (count[b] > 0) {
                ece += Math.abs(acc[b] / count[b] - conf[b] / count[b]) * count[b];
            }
        }
        return truth.length == 0 ? 0 : ece / truth.length;
    }


    private static double[] column(float[][] p, int c) {
        double[] out = new double[p.length];
        for (int i = 0; i < p.length; i++) {
            out[i] = p[i][c];
        }
        return out;
    }

    private static Integer[] sortedByScore(double[] scores) {
        Integer[] order = new Integer[scores.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Double.compare(scores[a], scores[b]));
        return order;
    }
}
