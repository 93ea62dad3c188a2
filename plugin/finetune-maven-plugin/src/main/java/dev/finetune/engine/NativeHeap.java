package dev.finetune.engine;

import java.lang.management.ManagementFactory;
import javax.management.JMException;
import javax.management.ObjectName;

/**
 * Gives the C heap's free memory back to the operating system between the phases of a run.
 *
 * <p>glibc's malloc keeps what a process frees in its arenas, resident, for the next allocation; only the top of an
 * arena is returned on its own. TensorFlow allocates and frees through it (graph imports, kernels' scratch, protobuf
 * copies of graphs), so a run's resident memory keeps what its busiest phase once needed. {@code malloc_trim} hands
 * those free pages back, and the JVM calls it on request: the diagnostic command {@code System.trim_native_heap}
 * (JDK 18, and 17 since 17.0.2; Linux only), reached here through its MBean, so no native code of our own is needed.
 *
 * <p>Measured on the benchmark's short texts (BERT-base, bfloat16, {@code train} then {@code evaluate} in one build):
 * each trim hands back 30-120 MiB in 1-40 ms, and the build's peak went from 2,768-2,783 MiB to 2,624-2,662 MiB at
 * the same speed. What it cannot hand back is TensorFlow's own allocator's: a closed session's tensors stay there
 * and serve the next session.
 */
public final class NativeHeap {
    private static final String OPERATION = "systemTrimNativeHeap";

    private NativeHeap() {
    }

    /**
     * Trims the C heap; returns the JVM's report ("Trim native heap: RSS+Swap: 2604M->2470M (-133M)" since 17.0.9;
     * "Not available." on a C library other than glibc), or null where the JVM has no such command (before 17.0.2, not
     * on Linux). Never fails a run.
     */
    public static String trim() {
        try {
            Object report = ManagementFactory.getPlatformMBeanServer().invoke(
                    new ObjectName("com.sun.management:type=DiagnosticCommand"), OPERATION,
                    new Object[] {new String[0]}, new String[] {String[].class.getName()});
            return report == null ? null : report.toString().strip();
        } catch (JMException | RuntimeException | LinkageError unavailable) {
            return null;
        }
    }

    /**
     * Trims after the first of a loop's steps and then after every {@code interval}-th. Each training step or predicted
     * batch frees what it allocated, in sizes that change with its batch's shape, and glibc keeps it: over an epoch
     * that adds 40-80 MiB, which a trim every few steps keeps out of the peak (every 8 training steps: 20 MiB lower
     * than every 16 in two runs each). The first step also frees what TensorFlow's graph optimizer used on the
     * session's first run.
     */
    public static final class Periodic {
        private final int interval;
        private long steps;

        public Periodic(int interval) {
            if (interval < 1) {
                throw new IllegalArgumentException("interval " + interval);
            }
            this.interval = interval;
        }

        public void afterStep() {
            if (steps++ % interval == 0) {
                trim();
            }
        }
    }
}
