package dev.finetune.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** The batching of single requests, on a plain function: which batches form, what each caller gets, how long it waits. */
class MicroBatcherTest {
    private record Batch(int size, long waitNanos) {
    }

    private final List<Batch> batches = Collections.synchronizedList(new ArrayList<>());
    private final MicroBatcher.BatchListener listener = (size, wait) -> batches.add(new Batch(size, wait));
    private static final Function<List<Integer>, List<String>> SQUARES = in -> in.stream().map(i -> i + "^2=" + i * i).toList();

    @Test
    void everyCallerGetsItsOwnAnswerFromManyThreads() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(16);
        try (MicroBatcher<Integer, String> b = new MicroBatcher<>(SQUARES, 8, Duration.ofMillis(1), 1, "t", listener)) {
            List<Future<String>> answers = new ArrayList<>();
            for (int i = 0; i < 2000; i++) {
                int n = i;
                answers.add(pool.submit(() -> b.submit(n)));
            }
            for (int i = 0; i < answers.size(); i++) {
                assertEquals(i + "^2=" + i * i, answers.get(i).get());
            }
        } finally {
            pool.shutdownNow();
        }
        assertEquals(2000, batches.stream().mapToInt(Batch::size).sum());
        assertTrue(batches.stream().allMatch(x -> x.size() <= 8), batches.toString());
        assertTrue(batches.stream().anyMatch(x -> x.size() > 1), "16 threads at once never shared a batch: " + batches);
    }

    @Test
    void concurrentRequestsShareOneBatch() throws Exception {
        int clients = 6;
        CountDownLatch start = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        // A long bound and a batch that only fills when all have come: they have to end up together.
        try (MicroBatcher<Integer, String> b = new MicroBatcher<>(SQUARES, clients, Duration.ofSeconds(20), 1, "t", listener)) {
            List<Future<String>> answers = new ArrayList<>();
            for (int i = 0; i < clients; i++) {
                int n = i;
                answers.add(pool.submit(() -> {
                    start.await();
                    return b.submit(n);
                }));
            }
            start.countDown();
            for (int i = 0; i < clients; i++) {
                assertEquals(i + "^2=" + i * i, answers.get(i).get());
            }
        } finally {
            pool.shutdownNow();
        }
        assertEquals(List.of(clients), batches.stream().map(Batch::size).toList());
        // A full batch runs at once: nobody sat out the 20 s bound.
        assertTrue(batches.get(0).waitNanos() < Duration.ofSeconds(10).toNanos(), batches.toString());
    }

    @Test
    void aLoneRequestIsHeldNoLongerThanTheBound() {
        Duration bound = Duration.ofMillis(150);
        try (MicroBatcher<Integer, String> b = new MicroBatcher<>(SQUARES, 32, bound, 1, "t", listener)) {
            assertEquals("3^2=9", b.submit(3));
            assertEquals("4^2=16", b.submit(4));
        }
        assertEquals(2, batches.size());
        for (Batch x : batches) {
            assertEquals(1, x.size());
            // It waits for company up to the bound, then goes alone; the margin is the scheduler's, not the batcher's.
            assertTrue(x.waitNanos() >= bound.toNanos() - Duration.ofMillis(5).toNanos(), x.toString());
            assertTrue(x.waitNanos() <= bound.plusMillis(100).toNanos(), "held " + x.waitNanos() / 1e6 + " ms for a bound of 150 ms");
        }
    }

    @Test
    void withoutAWaitALoneRequestGoesAtOnce() {
        try (MicroBatcher<Integer, String> b = new MicroBatcher<>(SQUARES, 32, Duration.ZERO, 1, "t", listener)) {
            for (int i = 0; i < 20; i++) {
                assertEquals(i + "^2=" + i * i, b.submit(i));
            }
        }
        assertEquals(20, batches.size());
        assertTrue(batches.stream().allMatch(x -> x.waitNanos() < Duration.ofMillis(100).toNanos()), batches.toString());
    }

    @Test
    void aFailureReachesEveryCallerOfItsBatchAndTheNextBatchRuns() {
        Function<List<Integer>, List<String>> failsOnSeven = in -> {
            if (in.contains(7)) {
                throw new IllegalArgumentException("seven is not welcome");
            }
            return SQUARES.apply(in);
        };
        try (MicroBatcher<Integer, String> b = new MicroBatcher<>(failsOnSeven, 4, Duration.ZERO, 1, "t", listener)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> b.submit(7));
            assertEquals("seven is not welcome", e.getMessage());
            assertEquals("8^2=64", b.submit(8));
        }
    }

    @Test
    void afterCloseRequestsAreRefused() {
        MicroBatcher<Integer, String> b = new MicroBatcher<>(SQUARES, 4, Duration.ZERO, 2, "t", listener);
        assertEquals("2^2=4", b.submit(2));
        b.close();
        assertThrows(IllegalStateException.class, () -> b.submit(3));
    }

    @Test
    void settingsAreChecked() {
        assertThrows(IllegalArgumentException.class, () -> new MicroBatcher<>(SQUARES, 0, Duration.ZERO, 1, "t", null));
        assertThrows(IllegalArgumentException.class, () -> new MicroBatcher<>(SQUARES, 1, Duration.ofMillis(-1), 1, "t", null));
    }
}
