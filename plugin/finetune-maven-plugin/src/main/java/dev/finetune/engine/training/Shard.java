package dev.finetune.engine.training;

import dev.finetune.runtime.encoding.Batch;
import java.util.Arrays;

/**
 * One worker's share of a step's global batch: a contiguous block of its rows, the blocks as even as they can be (the
 * first {@code rows % workers} workers take one more). The block keeps the global batch's padded length, so a model
 * that sees its padding (no attention mask) computes exactly what one process with the whole batch computes. A worker
 * left without a row (a last batch smaller than the cluster) runs the batch's first row as a stand-in that weighs
 * nothing ({@code real} false), since every worker must take part in every all-reduce.
 */
record Shard(Batch batch, boolean real) {
    static Shard of(Batch global, int workers, int index) {
        if (workers == 1) {
            return new Shard(global, true);
        }
        int base = global.rows() / workers;
        int extra = global.rows() % workers;
        int from = index * base + Math.min(index, extra);
        int rows = base + (index < extra ? 1 : 0);
        return rows == 0 ? new Shard(rows(global, 0, 1), false) : new Shard(rows(global, from, rows), true);
    }

    /** Rows {@code from} to {@code from + n} of {@code b}. */
    static Batch rows(Batch b, int from, int n) {
        int len = b.length();
        int width = b.targets() == null ? 0 : b.targets().length / b.rows();
        return new Batch(n, len, slice(b.inputIds(), from * len, n * len), slice(b.inputMask(), from * len, n * len),
                slice(b.segmentIds(), from * len, n * len), slice(b.labels(), from, n),
                b.targets() == null ? null : Arrays.copyOfRange(b.targets(), from * width, (from + n) * width),
                slice(b.tokenLabels(), from * len, n * len));
    }

    private static int[] slice(int[] a, int from, int n) {
        return a == null ? null : Arrays.copyOfRange(a, from, from + n);
    }
}
