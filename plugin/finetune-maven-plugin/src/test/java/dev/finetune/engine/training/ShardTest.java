package dev.finetune.engine.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.runtime.encoding.Batch;
import org.junit.jupiter.api.Test;

class ShardTest {
    /** {@code rows} rows of length 3 whose ids tell the row (10·row + position). */
    private static Batch batch(int rows, boolean tokens) {
        int[] ids = new int[rows * 3];
        int[] labels = new int[rows];
        float[] targets = new float[rows * 2];
        for (int r = 0; r < rows; r++) {
            for (int p = 0; p < 3; p++) {
                ids[r * 3 + p] = 10 * r + p;
            }
            labels[r] = r;
            targets[2 * r] = r;
            targets[2 * r + 1] = -r;
        }
        return new Batch(rows, 3, ids, ids.clone(), new int[rows * 3], labels, targets, tokens ? ids.clone() : null);
    }

    @Test
    void sharesAreContiguousAndAsEvenAsTheyCanBe() {
        Batch b = batch(7, true);
        Shard s0 = Shard.of(b, 3, 0);
        Shard s1 = Shard.of(b, 3, 1);
        Shard s2 = Shard.of(b, 3, 2);
        assertEquals(3, s0.batch().rows());
        assertEquals(2, s1.batch().rows());
        assertEquals(2, s2.batch().rows());
        assertArrayEquals(new int[] {3, 4}, s1.batch().labels());
        assertArrayEquals(new int[] {30, 31, 32, 40, 41, 42}, s1.batch().inputIds());
        assertArrayEquals(new int[] {30, 31, 32, 40, 41, 42}, s1.batch().tokenLabels());
        assertArrayEquals(new float[] {5, -5, 6, -6}, s2.batch().targets());
        assertEquals(3, s2.batch().length(), "a share keeps the global batch's padded length");
        assertTrue(s0.real() && s1.real() && s2.real());
    }

    @Test
    void aWorkerWithoutARowRunsAStandInThatWeighsNothing() {
        Batch b = batch(1, false);
        assertTrue(Shard.of(b, 2, 0).real());
        Shard empty = Shard.of(b, 2, 1);
        assertFalse(empty.real());
        assertEquals(1, empty.batch().rows());
        assertEquals(null, empty.batch().tokenLabels());
    }

    @Test
    void aLoneWorkerTakesTheWholeBatch() {
        Batch b = batch(4, false);
        assertSame(b, Shard.of(b, 1, 0).batch());
    }
}
