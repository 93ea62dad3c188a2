package dev.finetune.runtime.encoding;

/** Reading a model's scores: which class wins. Ties go to the first, as NumPy's argmax does. */
public final class Scores {
    private Scores() {
    }

    /** The index of the largest value. */
    public static int argmax(float[] p) {
        return argmax(p, 0, p.length);
    }

    /** The index (from 0) of the largest of {@code n} values starting at {@code from}. */
    public static int argmax(float[] v, int from, int n) {
        int best = 0;
        for (int j = 1; j < n; j++) {
            if (v[from + j] > v[from + best]) {
                best = j;
            }
        }
        return best;
    }
}
