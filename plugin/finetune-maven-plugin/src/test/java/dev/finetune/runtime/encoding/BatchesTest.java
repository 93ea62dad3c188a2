package dev.finetune.runtime.encoding;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class BatchesTest {
    private static final int PAD = 0;

    /** Lengths like real reviews: many short, a long tail up to the maximum. */
    private static List<EncodedExample> examples(int n) {
        Random r = new Random(42);
        List<EncodedExample> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int len = r.nextInt(4) == 0 ? 64 : 3 + r.nextInt(40);
            int[] ids = new int[len];
            for (int t = 0; t < len; t++) {
                ids[t] = 100 + i; // each example's ids name it, so batches can be traced back
            }
            out.add(new EncodedExample(ids, new int[len], i % 3, i + 2, false));
        }
        return out;
    }

    private static List<Integer> exampleIds(List<Batch> batches) {
        List<Integer> ids = new ArrayList<>();
        for (Batch b : batches) {
            for (int row = 0; row < b.rows(); row++) {
                ids.add(b.inputIds()[row * b.length()] - 100);
            }
        }
        return ids;
    }

    private static long tokens(List<Batch> batches) {
        return batches.stream().mapToLong(b -> (long) b.rows() * b.length()).sum();
    }

    @Test
    void bucketedBatchesHoldEveryExampleOnceAndPadLess() {
        List<EncodedExample> all = examples(1000);
        List<Batch> bucketed = Batches.bucketed(all, 7, 0, 16, PAD);
        List<Batch> random = Batches.of(Batches.shuffled(all, 7, 0), 16, PAD);

        List<Integer> seen = exampleIds(bucketed);
        assertEquals(1000, seen.size());
        assertEquals(1000, seen.stream().distinct().count(), "an example appears twice");
        assertEquals(Batches.count(1000, 16), bucketed.size());
        assertTrue(tokens(bucketed) < 0.8 * tokens(random),
                "bucketed " + tokens(bucketed) + " tokens, random " + tokens(random));
    }

    @Test
    void bucketedOrderIsFixedBySeedAndEpochSoAResumedRunRepeatsIt() {
        List<EncodedExample> all = examples(500);
        assertEquals(exampleIds(Batches.bucketed(all, 7, 1, 16, PAD)), exampleIds(Batches.bucketed(all, 7, 1, 16, PAD)));
        assertNotEquals(exampleIds(Batches.bucketed(all, 7, 1, 16, PAD)), exampleIds(Batches.bucketed(all, 7, 2, 16, PAD)));
        assertNotEquals(exampleIds(Batches.bucketed(all, 7, 1, 16, PAD)), exampleIds(Batches.bucketed(all, 8, 1, 16, PAD)));
    }

    @Test
    void predictionsInLengthOrderComeBackInTheExamplesOwnOrder() {
        List<EncodedExample> all = examples(300);
        List<Integer> lengths = new ArrayList<>();
        float[][] p = Batches.predictInLengthOrder(all, 16, PAD, batch -> {
            lengths.add(batch.length());
            float[][] rows = new float[batch.rows()][];
            for (int row = 0; row < batch.rows(); row++) {
                int real = 0;
                while (real < batch.length() && batch.inputMask()[row * batch.length() + real] == 1) {
                    real++;
                }
                rows[row] = new float[] {batch.inputIds()[row * batch.length()], real};
            }
            return rows;
        });
        for (int i = 0; i < all.size(); i++) {
            assertEquals(100 + i, (int) p[i][0], "row " + i + " got another example's result");
            assertEquals(all.get(i).ids().length, (int) p[i][1]);
        }
        List<Integer> sorted = new ArrayList<>(lengths);
        sorted.sort(null);
        assertEquals(sorted, lengths, "batches were not in length order");
        assertTrue(lengths.get(0) < 64);
    }

    @Test
    void aTokenBudgetCutsBatchesWithinItsTokensAndRowsHoldingEveryExampleOnce() {
        List<EncodedExample> all = examples(1000);
        BatchBudget budget = new BatchBudget(512, 20);
        List<Batch> batches = Batches.byLength(all, budget, PAD);
        List<Integer> seen = exampleIds(batches);
        assertEquals(1000, seen.size());
        assertEquals(1000, seen.stream().distinct().count(), "an example appears twice");
        for (int k = 0; k < batches.size(); k++) {
            Batch b = batches.get(k);
            assertTrue(b.rows() <= 20 && b.rows() * b.length() <= 512, "batch " + k + ": " + b.rows() + " × " + b.length());
            if (k + 1 < batches.size()) {
                // Greedy: the next batch's first (shortest) row would not have fitted into this one.
                int longer = Math.max(b.length(), firstLength(batches.get(k + 1)));
                assertTrue(b.rows() + 1 > 20 || (b.rows() + 1) * longer > 512, "batch " + k + " stopped early");
            }
        }
        // Short rows fill the row cap; the 64-token rows fill the tokens: 8 a batch.
        assertEquals(20, batches.get(0).rows());
        assertEquals(8, batches.get(batches.size() - 2).rows());
        assertEquals(64, batches.get(batches.size() - 1).length());
        assertTrue(tokens(batches) < tokens(Batches.of(all, 16, PAD)), "sorted batches pad less than batches in file order");
    }

    @Test
    void aRowLongerThanTheBudgetFormsABatchAlone() {
        List<EncodedExample> rows = List.of(example(0, 3), example(1, 100), example(2, 4), example(3, 5));
        List<Batch> batches = Batches.byLength(rows, new BatchBudget(64, 8), PAD);
        assertEquals(List.of(0, 2, 3, 1), exampleIds(batches));
        assertEquals(2, batches.size());
        assertEquals(3, batches.get(0).rows());
        assertEquals(1, batches.get(1).rows());
        assertEquals(100, batches.get(1).length());
        assertEquals(List.of(0, 2, 3, 1), exampleIds(Batches.byLength(rows, new BatchBudget(1, 8), PAD)));
        assertEquals(4, Batches.byLength(rows, new BatchBudget(1, 8), PAD).size(), "each row alone");
    }

    @Test
    void predictionsByTokenBudgetComeBackInTheExamplesOwnOrder() {
        List<EncodedExample> all = examples(300);
        BatchBudget budget = new BatchBudget(300, 32);
        List<Integer> rows = new ArrayList<>();
        float[][] p = Batches.predictInLengthOrder(all, budget, PAD, batch -> {
            assertTrue(batch.rows() <= 32 && batch.rows() * batch.length() <= 300, batch.rows() + " × " + batch.length());
            rows.add(batch.rows());
            float[][] out = new float[batch.rows()][];
            for (int row = 0; row < batch.rows(); row++) {
                out[row] = new float[] {batch.inputIds()[row * batch.length()]};
            }
            return out;
        });
        for (int i = 0; i < all.size(); i++) {
            assertEquals(100 + i, (int) p[i][0], "row " + i + " got another example's result");
        }
        assertEquals(300, rows.stream().mapToInt(Integer::intValue).sum());
        assertTrue(rows.get(0) > rows.get(rows.size() - 1), "short rows should go more to a batch: " + rows);
    }

    private static EncodedExample example(int id, int length) {
        int[] ids = new int[length];
        java.util.Arrays.fill(ids, 100 + id);
        return new EncodedExample(ids, new int[length], 0, id + 2, false);
    }

    private static int firstLength(Batch b) {
        int real = 0;
        while (real < b.length() && b.inputMask()[real] == 1) {
            real++;
        }
        return real;
    }

    @Test
    void batchesPadToTheirLongestRowWithMaskOverRealTokensOnly() {
        List<EncodedExample> rows = List.of(
                new EncodedExample(new int[] {5, 6, 7}, new int[] {0, 0, 1}, 1, 2, false),
                new EncodedExample(new int[] {8}, new int[] {0}, 0, 3, false));
        Batch b = Batches.pad(rows, PAD);
        assertEquals(3, b.length());
        assertEquals(List.of(5, 6, 7, 8, PAD, PAD), box(b.inputIds()));
        assertEquals(List.of(1, 1, 1, 1, 0, 0), box(b.inputMask()));
        assertEquals(List.of(0, 0, 1, 0, 0, 0), box(b.segmentIds()));
        assertEquals(List.of(1, 0), box(b.labels()));
    }

    private static List<Integer> box(int[] a) {
        List<Integer> out = new ArrayList<>();
        for (int v : a) {
            out.add(v);
        }
        return out;
    }
}
