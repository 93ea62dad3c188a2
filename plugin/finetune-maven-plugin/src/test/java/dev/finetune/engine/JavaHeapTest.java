package dev.finetune.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.management.HotSpotDiagnosticMXBean;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryUsage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
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
        // At most 30 % free after the collection, plus a few of G1's regions (at most 32 MB each) of rounding.
        assertTrue(shrunk <= live / 0.7 + (32 << 20), "committed " + (shrunk >> 20) + " MiB for " + (live >> 20) + " MiB live");
        assertTrue(shrunk < grown / 2, "grown " + (grown >> 20) + " MiB, shrunk " + (shrunk >> 20) + " MiB");
        assertEquals("40 70", out[3] + " " + out[4], "HotSpot's free-ratio bounds were not put back");
    }

    private static String java(String... options) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        command.addAll(List.of(options));
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), Burst.class.getName()));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        return out;
    }

    /** Grows the heap with short-lived arrays, keeps 20 MB live, shrinks; prints committed before and after, live, and the bounds. */
    public static final class Burst {
        static volatile Object sink;

        public static void main(String[] args) {
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
            JavaHeap.shrink();
            MemoryUsage after = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
            HotSpotDiagnosticMXBean hotSpot = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
            System.out.println(grown + " " + after.getCommitted() + " " + after.getUsed() + " "
                    + hotSpot.getVMOption("MinHeapFreeRatio").getValue() + " " + hotSpot.getVMOption("MaxHeapFreeRatio").getValue()
                    + " " + kept.length);
        }
    }
}
