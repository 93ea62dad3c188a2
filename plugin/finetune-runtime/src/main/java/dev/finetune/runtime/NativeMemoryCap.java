package dev.finetune.runtime;

/**
 * JavaCPP's cap on the resident memory of the whole process, explained where TensorFlow runs into it.
 *
 * <p>JavaCPP, on which TensorFlow Java runs, fails a native allocation with {@code OutOfMemoryError: Physical memory
 * usage is too high: physicalBytes (…) > maxPhysicalBytes (…)} once the process's resident memory passes
 * {@code org.bytedeco.javacpp.maxPhysicalBytes}, by default about four times the Java heap. TensorFlow's memory is
 * native, outside the heap, so an application with a small {@code -Xmx} meets the cap with memory to spare. The Maven
 * goals lift it for their JVM; a library must not change a JVM-wide setting under its caller, so the runtime says what
 * to set instead.
 */
final class NativeMemoryCap {
    private static final String JAVACPP = "maxPhysicalBytes";

    private NativeMemoryCap() {
    }

    /** Throws a {@link FineTuneException} saying what to do when {@code e} is JavaCPP's cap; else returns. */
    static void explain(OutOfMemoryError e, String doing) {
        // JavaCPP wraps it: "Cannot allocate new …Pointer(…)", caused by "Physical memory usage is too high: …".
        String message = null;
        for (Throwable t = e; t != null && message == null; t = t.getCause()) {
            if (t.getMessage() != null && t.getMessage().contains(JAVACPP)) {
                message = t.getMessage();
            }
        }
        if (message == null) {
            return;
        }
        throw new FineTuneException(doing + " ran into JavaCPP's cap on the process's resident memory (" + message + "), "
                + "which is about four times the Java heap unless set: TensorFlow's memory is native, outside the heap. "
                + "Start the JVM with -Dorg.bytedeco.javacpp.maxPhysicalBytes=0 (no cap), or a cap above what the model "
                + "needs, or a larger -Xmx.", e);
    }
}
