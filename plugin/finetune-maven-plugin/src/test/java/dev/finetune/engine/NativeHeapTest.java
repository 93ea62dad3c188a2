package dev.finetune.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;

/**
 * {@link NativeHeap#trim} hands memory that native code freed back to the operating system. Run in a child JVM, so
 * that what the test runner's own C heap holds decides nothing; on Linux, where glibc keeps freed memory and the
 * resident size can be read.
 */
@EnabledOnOs(OS.LINUX)
class NativeHeapTest {
    @Test
    void memoryFreedByNativeCodeLeavesTheProcess() throws Exception {
        // The command exists from JDK 17.0.2 on (18 upstream); only glibc keeps freed memory and can be asked to trim.
        assumeTrue(Runtime.version().compareTo(Runtime.Version.parse("17.0.2")) >= 0, "no System.trim_native_heap before 17.0.2");
        Process p = new ProcessBuilder(TestFiles.javaCommand(FreeThenTrim.class, List.of("-Xmx64m")))
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertTrue(p.waitFor(2, TimeUnit.MINUTES), "the child JVM did not end");
        assertEquals(0, p.exitValue(), out);
        String[] lines = out.split("\n");
        assumeTrue(lines[0].equals("glibc"), "the C library is not glibc: " + lines[0]);
        long before = Long.parseLong(lines[1]);
        long freed = Long.parseLong(lines[2]);
        long trimmed = Long.parseLong(lines[3]);
        // glibc kept the 192 MiB freed below a block still in use (the test's check that there was something to hand back).
        assertTrue(freed - before > 150, "resident " + before + " MiB before allocating, " + freed
                + " MiB after freeing: glibc already handed it back; the test proves nothing");
        assertTrue(trimmed < freed - 150, "resident " + freed + " MiB after freeing, " + trimmed + " MiB after the trim");
        assertTrue(lines[4].startsWith("Trim native heap") || lines[4].startsWith("Attempting trim"), "the JVM's report: " + lines[4]);
    }

    /**
     * Allocates 192 MiB in 64 KiB blocks through malloc (below its mmap threshold, so from an arena, as TensorFlow's small
     * and middling buffers are), touches them, keeps one later block, frees the rest. Prints whether the C library is
     * glibc, the resident MiB before allocating and after freeing, trims, prints it again, then the JVM's report.
     */
    public static final class FreeThenTrim {
        public static void main(String[] args) throws IOException {
            // TensorFlow's native library brings JavaCPP's, where Pointer's malloc and free live.
            org.tensorflow.TensorFlow.version();
            boolean glibc = Files.readAllLines(Path.of("/proc/self/maps")).stream().anyMatch(l -> l.endsWith("/libc.so.6"));
            long before = residentMiB();
            Pointer[] blocks = new Pointer[3072];
            for (int i = 0; i < blocks.length; i++) {
                blocks[i] = Pointer.malloc(64 << 10);
                Pointer.memset(blocks[i], 1, 64 << 10);
            }
            // A block above the freed ones keeps glibc from releasing them as the top of its heap on its own.
            Pointer pin = Pointer.malloc(64 << 10);
            for (Pointer b : blocks) {
                Pointer.free(b);
            }
            long freed = residentMiB();
            String report = NativeHeap.trim();
            long trimmed = residentMiB();
            System.out.println(glibc ? "glibc" : "not glibc");
            System.out.println(before);
            System.out.println(freed);
            System.out.println(trimmed);
            System.out.println(report);
            Pointer.free(pin);
        }

        static long residentMiB() throws IOException {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("\\D", "")) / 1024;
                }
            }
            throw new IllegalStateException("no VmRSS");
        }
    }
}
