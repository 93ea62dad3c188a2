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

    /**
     * Collects and shrinks the heap to its live data. A plain collection where the bounds cannot be set (a JVM without
     * HotSpot's diagnostic bean); never fails a run. Synchronized: the bounds are the JVM's, and two runs in one JVM
     * (workers in a test, a parallel build) must not put back each other's tightened values.
     */
    public static synchronized void shrink() {
        HotSpotDiagnosticMXBean hotSpot;
        String min;
        String max;
        try {
            hotSpot = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
            min = hotSpot.getVMOption("MinHeapFreeRatio").getValue();
            max = hotSpot.getVMOption("MaxHeapFreeRatio").getValue();
        } catch (RuntimeException | LinkageError noHotSpot) {
            System.gc();
            return;
        }
        try {
            // The minimum goes down first and comes back last: HotSpot refuses a minimum above the maximum.
            hotSpot.setVMOption("MinHeapFreeRatio", MIN_FREE);
            hotSpot.setVMOption("MaxHeapFreeRatio", MAX_FREE);
            System.gc();
        } catch (RuntimeException notManageable) {
            System.gc();
        } finally {
            try {
                hotSpot.setVMOption("MaxHeapFreeRatio", max);
                hotSpot.setVMOption("MinHeapFreeRatio", min);
            } catch (RuntimeException e) {
                // Only a value set from outside meanwhile (jcmd VM.set_flag) could refuse these; theirs stands.
            }
        }
    }
}
