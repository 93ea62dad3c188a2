package dev.finetune.engine.evaluation;

/**
 * Precision, recall and F1 from counts, and their macro and support-weighted means, shared by the multi-label and
 * entity metrics so both read a zero division the same way: 0, as scikit-learn with {@code zero_division=0} and
 * seqeval's default.
 */
final class PrecisionRecall {
    private PrecisionRecall() {
    }

    /** P = tp / predicted, R = tp / actual, F1 = 2PR / (P + R); each 0 when its denominator is 0. */
    static Metrics.Average of(long tp, long predicted, long actual) {
        double precision = predicted == 0 ? 0 : (double) tp / predicted;
        double recall = actual == 0 ? 0 : (double) tp / actual;
        double f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
        return new Metrics.Average(precision, recall, f1);
    }

    /** Accumulates per-class scores into their unweighted (macro) and support-weighted means. */
    static final class Means {
        private final double[] sums = new double[6];
        private long support;
        private int count;

        void add(Metrics.Average a, int classSupport) {
            sums[0] += a.precision();
            sums[1] += a.recall();
            sums[2] += a.f1();
            sums[3] += a.precision() * classSupport;
            sums[4] += a.recall() * classSupport;
            sums[5] += a.f1() * classSupport;
            support += classSupport;
            count++;
        }

        /** The plain mean; 0 with no classes (where numpy's mean of nothing would be NaN). */
        Metrics.Average macro() {
            return count == 0 ? new Metrics.Average(0, 0, 0)
                    : new Metrics.Average(sums[0] / count, sums[1] / count, sums[2] / count);
        }

        /** The mean weighted by support; 0 when no class has support, as scikit-learn with zero_division=0. */
        Metrics.Average weighted() {
            return support == 0 ? new Metrics.Average(0, 0, 0)
                    : new Metrics.Average(sums[3] / support, sums[4] / support, sums[5] / support);
        }
    }
}
