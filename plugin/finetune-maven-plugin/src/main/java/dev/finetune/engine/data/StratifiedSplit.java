package dev.finetune.engine.data;

import dev.finetune.runtime.encoding.LabeledText;
import dev.finetune.runtime.encoding.RowOrder;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.function.IntFunction;
import java.util.stream.IntStream;

/**
 * Splits examples into training and validation sets with each label in the same proportion (seeded, so a build
 * repeats). Every label with two or more examples gets at least one validation example.
 */
public final class StratifiedSplit {
    public record Split(List<LabeledText> train, List<LabeledText> validation) {
    }

    private StratifiedSplit() {
    }

    public static Split split(List<LabeledText> examples, double fraction, long seed) {
        RowSplit rows = rows(examples.size(), i -> examples.get(i).label(), fraction, seed);
        return new Split(RowSplit.pick(examples, rows.train(), LabeledText::line),
                RowSplit.pick(examples, rows.validation(), LabeledText::line));
    }

    /** {@link #split} of {@code n} rows by their indices, row {@code i} labelled {@code label.apply(i)}. */
    public static RowSplit rows(int n, IntFunction<String> label, double fraction, long seed) {
        Map<String, IntStream.Builder> byLabel = new TreeMap<>();
        for (int i = 0; i < n; i++) {
            byLabel.computeIfAbsent(label.apply(i), k -> IntStream.builder()).add(i);
        }
        Random random = new Random(seed);
        IntStream.Builder train = IntStream.builder();
        IntStream.Builder validation = IntStream.builder();
        for (IntStream.Builder b : byLabel.values()) {
            int[] group = RowOrder.shuffle(b.build().toArray(), random);
            int k = (int) Math.round(group.length * fraction);
            k = group.length >= 2 ? Math.max(1, Math.min(k, group.length - 1)) : 0;
            for (int j = 0; j < group.length; j++) {
                (j < k ? validation : train).add(group[j]);
            }
        }
        int[] t = train.build().toArray();
        int[] v = validation.build().toArray();
        return new RowSplit(RowSplit.sorted(t, 0, t.length), RowSplit.sorted(v, 0, v.length));
    }
}
