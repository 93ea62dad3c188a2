package dev.finetune.engine;

import com.sun.management.HotSpotDiagnosticMXBean;
import java.lang.management.ManagementFactory;

/**
 * Gives the Java heap's free memory back to the operating system between the phases of a run.
 *
 * <p>Reading, tokenizing and importing a graph allocate fast, and G1 grows the heap to keep its pauses short: under
 * Maven it stood at about 250 MiB committed with under 40 MiB live when training began. Training then allocates
 * almost nothing on the Java heap for minutes (TensorFlow's memory is native), so those pages sit idle in the process's
 * resident memory through its peak. A full collection while the free-ratio bounds are tight shrinks the heap to its
 * live data; the bounds are put back at once, so the rest of the build sizes its heap as it would have.
 */
public final class JavaHeap {
    // Tighter than HotSpot's defaults (40 / 70 %): after the collection at most 30 % of the heap is free.
    private static final String MIN_FREE = "10";
    private static final String MAX_FREE = "30";

    private JavaHeap() {
    }

    /** Collects and shrinks the heap to its live data; does nothing on a JVM without HotSpot's diagnostic bean. */
    public static void shrink() {
        HotSpotDiagnosticMXBean hotSpot = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
        if (hotSpot == null) {
            System.gc();
            return;
        }
        String min;
        String max;
        try {
            min = hotSpot.getVMOption("MinHeapFreeRatio").getValue();
            max = hotSpot.getVMOption("MaxHeapFreeRatio").getValue();
            // The minimum goes down first and comes back last: HotSpot refuses a minimum above the maximum.
            hotSpot.setVMOption("MinHeapFreeRatio", MIN_FREE);
            hotSpot.setVMOption("MaxHeapFreeRatio", MAX_FREE);
        } catch (RuntimeException notManageable) {
            System.gc();
            return;
        }
        try {
            System.gc();
        } finally {
            hotSpot.setVMOption("MaxHeapFreeRatio", max);
            hotSpot.setVMOption("MinHeapFreeRatio", min);
        }
    }
}
