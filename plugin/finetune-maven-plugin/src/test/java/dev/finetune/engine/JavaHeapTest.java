package dev.finetune.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.management.HotSpotDiagnosticMXBean;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryUsage;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link JavaHeap#shrink} hands a heap grown by a burst of allocation back, and leaves HotSpot's sizing bounds as it
 * found them. Run in a child JVM with G1 and a small initial heap, as Maven's JVM runs by default, so that what the
 * test runner's own JVM was started with decides nothing.
 */
class JavaHeapTest {
    @Test
    void aGrownHeapShrinksToItsLiveDataAndTheBoundsComeBack() throws Exception {
        String[] out = java("-XX:+UseG1GC", "-Xms8m", "-Xmx1g").strip().split(" ");
        long grown = Long.parseLong(out[0]);
        long shrunk = Long.parseLong(out[1]);
        long live = Long.parseLong(out[2]);
        assertTrue(grown > 200 << 20, "the burst did not grow the heap: " + String.join(" ", out));
        // At most 30 % free after the collection, plus a few of G1's regions (1 MB each under a 1 GB heap) of rounding;
        // HotSpot's default bounds (at most 70 % free) would leave more than twice the live data.
        assertTrue(shrunk <= live / 0.7 + (8 << 20), "committed " + (shrunk >> 20) + " MiB for " + (live >> 20) + " MiB live");
        assertTrue(shrunk < grown / 2, "grown " + (grown >> 20) + " MiB, shrunk " + (shrunk >> 20) + " MiB");
        assertEquals(out[3] + " " + out[4], out[5] + " " + out[6], "HotSpot's free-ratio bounds were not put back");
        // Runs in one JVM (two workers in a test, a parallel build) shrink at the same time: none may fail, and the
        // bounds come back as they were. Unsynchronized, one run put back another's tightened maximum under the restored
        // minimum, which HotSpot refused, and that run failed.
        assertEquals("0 failures", out[7] + " " + out[8]);
        assertEquals(out[3] + " " + out[4], out[9] + " " + out[10], "HotSpot's free-ratio bounds were not put back after concurrent runs");
    }

    private static String java(String... options) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(TestFiles.javaCommand(Burst.class, List.of(options))).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        return out;
    }

    /**
     * Grows the heap with short-lived arrays, keeps 20 MB live, shrinks; prints committed before and after, live, and
     * the free-ratio bounds before and after.
     */
    public static final class Burst {
        static volatile Object sink;

        public static void main(String[] args) throws InterruptedException {
            byte[][] kept = new byte[20][];
            for (int i = 0; i < kept.length; i++) {
                kept[i] = new byte[1 << 20];
            }
            List<byte[]> burst = new ArrayList<>();
            for (int i = 0; i < 400; i++) {
                burst.add(new byte[1 << 20]);  // 400 MB alive at once: the heap has to grow to hold them
            }
            sink = burst;
            long grown = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getCommitted();
            sink = null;
            burst = null;
            HotSpotDiagnosticMXBean hotSpot = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
            String before = hotSpot.getVMOption("MinHeapFreeRatio").getValue() + " " + hotSpot.getVMOption("MaxHeapFreeRatio").getValue();
            JavaHeap.shrink();
            MemoryUsage after = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
            System.out.println(grown + " " + after.getCommitted() + " " + after.getUsed() + " " + before + " "
                    + hotSpot.getVMOption("MinHeapFreeRatio").getValue() + " " + hotSpot.getVMOption("MaxHeapFreeRatio").getValue()
                    + " " + failuresOfConcurrentShrinks() + " failures " + hotSpot.getVMOption("MinHeapFreeRatio").getValue()
                    + " " + hotSpot.getVMOption("MaxHeapFreeRatio").getValue() + " " + kept.length);
        }

        private static int failuresOfConcurrentShrinks() throws InterruptedException {
            java.util.concurrent.atomic.AtomicInteger failures = new java.util.concurrent.atomic.AtomicInteger();
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                threads.add(new Thread(() -> {
                    for (int i = 0; i < 10; i++) {
                        try {
                            JavaHeap.shrink();
                        } catch (RuntimeException e) {
                            failures.incrementAndGet();
                        }
                    }
                }));
            }
            threads.forEach(Thread::start);
            for (Thread t : threads) {
                t.join();
            }
            return failures.get();
        }
    }
}
