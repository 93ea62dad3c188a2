package dev.finetune.runtime.encoding;

import java.util.AbstractList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.IntUnaryOperator;

/**
 * Orders of rows as arrays of indices rather than lists of examples: the shuffles, splits and length sorts of an epoch
 * cost four bytes a row, whatever the examples hold and wherever they are kept. Each gives exactly the order that the
 * same operation on a list of the examples gave ({@link java.util.Collections#shuffle(List, Random)}, stable sorts),
 * so a seed means the same examples in the same batches as before.
 */
public final class RowOrder {
    private RowOrder() {
    }

    /** {@code 0, 1, …, n - 1}. */
    public static int[] identity(int n) {
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        return order;
    }

    /** Shuffles {@code order} in place with the swaps {@code Collections.shuffle} makes on a list of that size. */
    public static int[] shuffle(int[] order, Random random) {
        for (int i = order.length; i > 1; i--) {
            int j = random.nextInt(i);
            int t = order[i - 1];
            order[i - 1] = order[j];
            order[j] = t;
        }
        return order;
    }

    /**
     * Sorts {@code order[from..to)} by {@code length} of each index, stably (equal lengths keep their order): a sort of
     * {@code length << 32 | position} pairs, so no boxing.
     */
    public static void sortByLength(int[] order, int from, int to, IntUnaryOperator length) {
        long[] keys = new long[to - from];
        for (int i = from; i < to; i++) {
            keys[i - from] = (long) length.applyAsInt(order[i]) << 32 | (i - from);
        }
        Arrays.sort(keys);
        int[] sorted = new int[keys.length];
        for (int k = 0; k < keys.length; k++) {
            sorted[k] = order[from + (int) keys[k]];
        }
        System.arraycopy(sorted, 0, order, from, sorted.length);
    }

    /** The examples {@code order[from..to)} of {@code examples}, as a list that reads them when asked. */
    public static ExampleList view(List<EncodedExample> examples, int[] order, int from, int to) {
        return new View(examples, order, from, to);
    }

    /** {@link #view} of the whole order. */
    public static ExampleList view(List<EncodedExample> examples, int[] order) {
        return view(examples, order, 0, order.length);
    }

    private static final class View extends AbstractList<EncodedExample> implements ExampleList {
        private final List<EncodedExample> examples;
        private final int[] order;
        private final int from;
        private final int size;

        View(List<EncodedExample> examples, int[] order, int from, int to) {
            this.examples = examples;
            this.order = order;
            this.from = from;
            this.size = to - from;
        }

        @Override
        public EncodedExample get(int index) {
            return examples.get(order[from + checked(index)]);
        }

        @Override
        public int length(int index) {
            return ExampleList.length(examples, order[from + checked(index)]);
        }

        private int checked(int index) {
            if (index < 0 || index >= size) {
                throw new IndexOutOfBoundsException("index " + index + " of " + size + " rows");
            }
            return index;
        }

        @Override
        public int size() {
            return size;
        }
    }
}
