package dev.finetune.engine.data;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
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
        List<T> shuffled = new ArrayList<>(items);
        Collections.shuffle(shuffled, new Random(seed));
        int n = (int) Math.round(items.size() * fraction);
        n = items.size() >= 2 ? Math.max(1, Math.min(n, items.size() - 1)) : 0;
        List<T> validation = new ArrayList<>(shuffled.subList(0, n));
        List<T> train = new ArrayList<>(shuffled.subList(n, shuffled.size()));
        train.sort(Comparator.comparingLong(line));
        validation.sort(Comparator.comparingLong(line));
        return new Parts<>(train, validation);
    }
}
