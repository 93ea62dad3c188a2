package dev.finetune.engine.evaluation;

import java.util.Arrays;

/**
 * Regression metrics with the definitions of scikit-learn and SciPy (checked against them in RegressionMetricsTest):
 * {@code mean_squared_error ** 0.5}, {@code mean_absolute_error}, {@code r2_score}, {@code pearsonr} and
 * {@code spearmanr} (Pearson's r of the ranks, tied values sharing their average rank).
 *
 * <p>Where a metric is undefined it is NaN rather than a made-up number, so a quality gate cannot pass on it: every
 * metric with no examples; R², Pearson and Spearman with fewer than two; Pearson and Spearman when either side is
 * constant (SciPy's answer too). R² with a constant truth follows scikit-learn's default ({@code force_finite}): 1
 * when the predictions are exact, 0 otherwise. A constant side is detected by exact equality of the values, not by a
 * variance that rounding may leave a hair above zero.
 */
public final class RegressionMetrics {
    private RegressionMetrics() {
    }

    public record Summary(int examples, double rmse, double mae, double r2, double pearson, double spearman) {
    }

    public static Summary compute(double[] truth, double[] predicted) {
        int n = truth.length;
        if (predicted.length != n) {
            throw new IllegalArgumentException(n + " true values but " + predicted.length + " predictions");
        }
        if (n == 0) {
            return new Summary(0, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
        }
        double squares = 0;
        double absolute = 0;
        for (int i = 0; i < n; i++) {
            double d = truth[i] - predicted[i];
            squares += d * d;
            absolute += Math.abs(d);
        }
        return new Summary(n, Math.sqrt(squares / n), absolute / n, r2(truth, squares), pearson(truth, predicted),
                pearson(ranks(truth), ranks(predicted)));
    }

    /** 1 − SS_res / SS_tot; with a constant truth 1 if SS_res is 0, else 0 (scikit-learn); NaN below two examples. */
    private static double r2(double[] truth, double residualSquares) {
        if (truth.length < 2) {
            return Double.NaN;
        }
        if (constant(truth)) {
            return residualSquares == 0 ? 1 : 0;
        }
        double mean = mean(truth);
        double total = 0;
        for (double t : truth) {
            total += (t - mean) * (t - mean);
        }
        return 1 - residualSquares / total;
    }

    /** Pearson's r, clipped to [-1, 1] as SciPy does against rounding; NaN below two examples or for a constant side. */
    static double pearson(double[] x, double[] y) {
        if (x.length < 2 || constant(x) || constant(y)) {
            return Double.NaN;
        }
        double mx = mean(x);
        double my = mean(y);
        double sxy = 0;
        double sxx = 0;
        double syy = 0;
        for (int i = 0; i < x.length; i++) {
            double dx = x[i] - mx;
            double dy = y[i] - my;
            sxy += dx * dy;
            sxx += dx * dx;
            syy += dy * dy;
        }
        return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
    }

    /** Ranks from 1, tied values sharing the mean of the ranks they span (SciPy's rankdata "average"). */
    static double[] ranks(double[] v) {
        Integer[] order = new Integer[v.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Double.compare(v[a], v[b]));
        double[] ranks = new double[v.length];
        int i = 0;
        while (i < order.length) {
            int j = i;
            while (j + 1 < order.length && v[order[j + 1]] == v[order[i]]) {
                j++;
            }
            double rank = (i + j) / 2.0 + 1;
            for (int m = i; m <= j; m++) {
                ranks[order[m]] = rank;
            }
            i = j + 1;
        }
        return ranks;
    }

    private static boolean constant(double[] v) {
        for (double x : v) {
            if (x != v[0]) {
                return false;
            }
        }
        return true;
    }

    private static double mean(double[] v) {
        double sum = 0;
        for (double x : v) {
            sum += x;
        }
        return sum / v.length;
    }
}
