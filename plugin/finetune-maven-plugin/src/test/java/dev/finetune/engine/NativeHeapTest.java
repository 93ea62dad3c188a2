package dev.finetune.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
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
        Process p = new ProcessBuilder(TestFiles.javaCommand(FreeThenTrim.class, List.of("-Xmx64m")))
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertEquals(0, p.waitFor(), out);
        String[] lines = out.split("\n");
        long freed = Long.parseLong(lines[0]);
        long trimmed = Long.parseLong(lines[1]);
        // glibc kept the 192 MiB freed below a block still in use (the test's check that there was something to hand back).
        assertTrue(freed > 150, "resident after freeing: " + freed + " MiB: glibc already handed it back; the test proves nothing");
        assertTrue(trimmed < freed - 150, "resident " + freed + " MiB after freeing, " + trimmed + " MiB after the trim");
        assertTrue(lines[2].startsWith("Trim native heap"), "the JVM's report: " + lines[2]);
    }

    /**
     * Allocates 192 MiB in 64 KiB blocks through malloc (below its mmap threshold, so from an arena, as TensorFlow's small
     * and middling buffers are), touches them, keeps one later block, frees the rest; prints the resident MiB, trims,
     * prints it again, then the JVM's report.
     */
    public static final class FreeThenTrim {
        public static void main(String[] args) throws IOException {
            // TensorFlow's native library brings JavaCPP's, where Pointer's malloc and free live.
            org.tensorflow.TensorFlow.version();
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
            System.out.println(residentMiB());
            String report = NativeHeap.trim();
            System.out.println(residentMiB());
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
