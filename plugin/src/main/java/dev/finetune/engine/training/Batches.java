package dev.finetune.engine.training;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * Cuts examples into padded batches. Each batch is padded only to its own longest example (dynamic padding):
 * most texts are far shorter than the maximum, and attention costs grow with the square of the length.
 */
public final class Batches {
    private Batches() {
    }

    /** Batches in the given order. */
    public static List<Batch> of(List<EncodedExample> examples, int batchSize, int padId) {
        List<Batch> out = new ArrayList<>();
        for (int from = 0; from < examples.size(); from += batchSize) {
            out.add(pad(examples.subList(from, Math.min(examples.size(), from + batchSize)), padId));
        }
        return out;
    }

    /** The order of epoch {@code epoch} (0-based): a shuffle seeded by seed and epoch, so a resumed run repeats it. */
    public static List<EncodedExample> shuffled(List<EncodedExample> examples, long seed, int epoch) {
        List<EncodedExample> order = new ArrayList<>(examples);
        Collections.shuffle(order, new Random(seed * 1_000_003L + epoch));
        return order;
    }

    public static int count(int examples, int batchSize) {
        return (examples + batchSize - 1) / batchSize;
    }

    /** One batch of {@code rows}, padded to the longest of them. */
    public static Batch pad(List<EncodedExample> rows, int padId) {
        int len = rows.stream().mapToInt(e -> e.ids().length).max().orElse(1);
        int n = rows.size();
        int[] ids = new int[n * len];
        int[] mask = new int[n * len];
        int[] seg = new int[n * len];
        int[] labels = new int[n];
        java.util.Arrays.fill(ids, padId);
        for (int i = 0; i < n; i++) {
            EncodedExample e = rows.get(i);
            System.arraycopy(e.ids(), 0, ids, i * len, e.ids().length);
            System.arraycopy(e.segmentIds(), 0, seg, i * len, e.segmentIds().length);
            java.util.Arrays.fill(mask, i * len, i * len + e.ids().length, 1);
            labels[i] = Math.max(0, e.label());
        }
        return new Batch(n, len, ids, mask, seg, labels);
    }
}
