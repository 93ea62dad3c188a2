package dev.finetune.engine.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.function.ToLongFunction;

/** A split as the indices of the rows in each part, each part in ascending order (file order). */
public record RowSplit(int[] train, int[] validation) {
    /** The rows of {@code order[from..to)}, sorted. */
    static int[] sorted(int[] order, int from, int to) {
        int[] part = Arrays.copyOfRange(order, from, to);
        Arrays.sort(part);
        return part;
    }

    /** The items at {@code rows}, sorted by {@code line} (items read from a file are in line order already). */
    static <T> List<T> pick(List<T> items, int[] rows, ToLongFunction<T> line) {
        List<T> out = new ArrayList<>(rows.length);
        for (int r : rows) {
            out.add(items.get(r));
        }
        out.sort(Comparator.comparingLong(line));
        return out;
    }
}
