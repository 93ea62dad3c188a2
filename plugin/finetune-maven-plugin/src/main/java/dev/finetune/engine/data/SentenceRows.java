package dev.finetune.engine.data;

import java.util.Arrays;

/**
 * The sentences of an {@link ExampleFile} of token classification data, as ranges of its rows: a sentence's windows are
 * consecutive rows that share the sentence's line, and no two sentences start on one line, so a sentence starts where
 * the line changes. Splits pick sentences (a sentence's windows stay together) and this gives their rows. Holds four
 * bytes a sentence.
 */
public final class SentenceRows {
    /** Each sentence's first row, and the number of rows after the last. */
    private final int[] first;

    private SentenceRows(int[] first) {
        this.first = first;
    }

    /** The sentences of {@code file}, found in one pass over its rows' lines. */
    public static SentenceRows of(ExampleFile file) {
        int[] first = new int[1024];
        int n = 0;
        long previous = -1;
        for (int r = 0; r < file.rows(); r++) {
            long line = file.line(r);
            if (r == 0 || line != previous) {
                if (n == first.length) {
                    first = Arrays.copyOf(first, n * 2);
                }
                first[n++] = r;
            }
            previous = line;
        }
        int[] ends = Arrays.copyOf(first, n + 1);
        ends[n] = file.rows();
        return new SentenceRows(ends);
    }

    public int sentences() {
        return first.length - 1;
    }

    /** The rows of {@code sentences} (indices in file order), in their order. */
    public int[] rows(int[] sentences) {
        int n = 0;
        for (int s : sentences) {
            n += first[s + 1] - first[s];
        }
        int[] rows = new int[n];
        int k = 0;
        for (int s : sentences) {
            for (int r = first[s]; r < first[s + 1]; r++) {
                rows[k++] = r;
            }
        }
        return rows;
    }
}
