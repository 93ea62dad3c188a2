package dev.finetune.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Memory bounded by what each row must hold: 300,000 short rows are tokenized, split and batched for an epoch in a JVM
 * of 40 MB of heap, which the examples held in memory (about 230 bytes a row of 16 tokens, besides the texts while
 * reading) cannot fit into; the same JVM holding them fails. A heap limit rather than a time: nothing here is timed.
 */
class StreamingMemoryTest {
    private static final int ROWS = 300_000;
    private static final String HEAP = "-Xmx40m";

    @Test
    void aLargeFileTrainsInASmallHeap(@TempDir Path tmp) throws Exception {
        Path csv = generate(tmp.resolve("large.csv"));
        Run streamed = run(csv, tmp.resolve("cache"), "stream");
        assertEquals(0, streamed.exit, streamed.output);
        Matcher m = Pattern.compile("rows (\\d+) tokens (\\d+) heap-per-row ([\\d.]+)").matcher(streamed.output);
        assertTrue(m.find(), streamed.output);
        assertEquals(ROWS, Long.parseLong(m.group(1)), "every row in one batch of the epoch or of validation");
        assertTrue(Double.parseDouble(m.group(3)) < 60, "heap per row: " + m.group(3));

        Run held = run(csv, tmp.resolve("cache"), "memory");
        assertNotEquals(0, held.exit, "the examples held in memory fit into " + HEAP + " after all: " + held.output);
        assertTrue(held.output.contains("OutOfMemoryError"), held.output);
    }

    /** Rows of 3 to 24 words of the tiny vocabulary, labelled at random. */
    private static Path generate(Path file) throws IOException {
        List<String> words = new ArrayList<>();
        for (String w : Files.readAllLines(TestFiles.model("tiny-bert-tf1").resolve("assets").resolve("vocab.txt"))) {
            if (w.matches("[a-z]+")) {
                words.add(w);
            }
        }
        Random random = new Random(5);
        try (BufferedWriter out = Files.newBufferedWriter(file)) {
            out.write("text,label\n");
            for (int i = 0; i < ROWS; i++) {
                int n = 3 + random.nextInt(22);
                for (int j = 0; j < n; j++) {
                    out.write((j == 0 ? "" : " ") + words.get(random.nextInt(words.size())));
                }
                out.write(random.nextBoolean() ? ",positive\n" : ",negative\n");
            }
        }
        return file;
    }

    private record Run(int exit, String output) {
    }

    private static Run run(Path csv, Path cache, String mode) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(java, HEAP, "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
                "-Dfinetune.shared.dir=" + TestFiles.shared().toAbsolutePath(), StreamingProcess.class.getName(), csv.toString(),
                cache.toString(), mode);
        pb.redirectErrorStream(true);
        Process p = pb.start();
        String output = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "still running");
        return new Run(p.exitValue(), output);
    }
}
