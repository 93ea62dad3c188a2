package dev.finetune.engine.data;

import dev.finetune.runtime.encoding.RowOrder;
import java.util.List;
import java.util.Random;
import java.util.function.ToLongFunction;

/**
 * A seeded random split into training and validation sets, for data that has no one label to stratify by
 * (multi-label rows, regression targets, sentences of tagged words): {@link StratifiedSplit} would make a stratum of
 * every distinct label set or number. Both parts keep the file's order.
 */
public final class RandomSplit {
    /** The two parts. */
    public record Parts<T>(List<T> train, List<T> validation) {
    }

    private RandomSplit() {
    }

    /** About {@code fraction} of {@code items} (at least one, when there are two or more) for validation. */
    public static <T> Parts<T> split(List<T> items, double fraction, long seed, ToLongFunction<T> line) {
        RowSplit rows = rows(items.size(), fraction, seed);
        return new Parts<>(RowSplit.pick(items, rows.train(), line), RowSplit.pick(items, rows.validation(), line));
    }

    /** {@link #split} of {@code n} rows by their indices: the same rows go to each part. */
    public static RowSplit rows(int n, double fraction, long seed) {
        int[] shuffled = RowOrder.shuffle(RowOrder.identity(n), new Random(seed));
        int k = (int) Math.round(n * fraction);
        k = n >= 2 ? Math.max(1, Math.min(k, n - 1)) : 0;
        return new RowSplit(RowSplit.sorted(shuffled, k, n), RowSplit.sorted(shuffled, 0, k));
    }
}
