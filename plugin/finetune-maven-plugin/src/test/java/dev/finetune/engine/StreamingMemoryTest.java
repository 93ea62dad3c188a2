package dev.finetune.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.config.FineTuneConfig;
import dev.finetune.engine.training.ProgressListener;
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
 * reading) cannot fit into; the same JVM holding them fails. Likewise a file evaluated in a heap its texts do not fit
 * into. A heap limit rather than a time: nothing here is timed.
 */
class StreamingMemoryTest {
    private static final int ROWS = 300_000;
    private static final String HEAP = "-Xmx40m";
    /**
     * Evaluating predicts every row (about 10,000 rows a second on the tiny model), so fewer rows in a smaller heap:
     * streamed, 60,000 rows need 9 to 10 MB; their texts alone, read into a list, 14 to 16 MB.
     */
    private static final int EVALUATED_ROWS = 60_000;
    private static final String EVALUATION_HEAP = "-Xmx12m";
    /** About 12 words each: read into a list, their words and tags take more than the evaluation heap. */
    private static final int EVALUATED_SENTENCES = 40_000;

    @Test
    void aLargeFileTrainsInASmallHeap(@TempDir Path tmp) throws Exception {
        Path csv = generate(tmp.resolve("large.csv"), ROWS);
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

    /**
     * The {@code evaluate} goal on a file whose rows' texts alone do not fit into the heap: it keeps a few numbers a row
     * (the true label and the probabilities) and the texts of the worst mistakes only. The model is the tiny one
     * trained for an epoch: what it predicts does not matter here, only what evaluating holds.
     */
    @Test
    void aLargeFileIsEvaluatedInASmallHeap(@TempDir Path tmp) throws Exception {
        Path csv = generate(tmp.resolve("large.csv"), EVALUATED_ROWS);
        FineTuneConfig c = TestFiles.tinyConfig("tiny-bert-tf2", tmp);
        c.epochs = 1;
        FineTuneEngine.train(c, ProgressListener.SILENT);
        Run streamed = run(EVALUATION_HEAP, EvaluationProcess.class, c.outputDirectory.toString(), csv.toString(), "stream");
        assertEquals(0, streamed.exit, streamed.output);
        Matcher m = Pattern.compile("rows (\\d+) accuracy ([\\d.]+)").matcher(streamed.output);
        assertTrue(m.find(), streamed.output);
        assertEquals(EVALUATED_ROWS, Long.parseLong(m.group(1)), "every row evaluated");

        Run held = run(EVALUATION_HEAP, EvaluationProcess.class, c.outputDirectory.toString(), csv.toString(), "memory");
        assertNotEquals(0, held.exit, "the rows held in memory fit into " + EVALUATION_HEAP + " after all: " + held.output);
        assertTrue(held.output.contains("OutOfMemoryError"), held.output);
    }

    /**
     * Token classification's {@code evaluate} on a CoNLL file whose sentences, read into a list as it did before it
     * streamed, do not fit into the heap. The model is trained for an epoch on a few sentences: what it tags does not
     * matter here.
     */
    @Test
    void aLargeConllFileIsEvaluatedInASmallHeap(@TempDir Path tmp) throws Exception {
        Path train = Files.writeString(tmp.resolve("train.conll"), TasksEndToEndTest.conll(60, 5, false));
        Path test = Files.writeString(tmp.resolve("large.conll"), TasksEndToEndTest.conll(EVALUATED_SENTENCES, 6, false));
        FineTuneConfig c = TasksEndToEndTest.config(tmp, "token-classification", train);
        c.epochs = 1;
        FineTuneEngine.train(c, ProgressListener.SILENT);
        String model = c.outputDirectory.toString();
        Run streamed = run(EVALUATION_HEAP, EvaluationProcess.class, model, test.toString(), "stream", "conll");
        assertEquals(0, streamed.exit, streamed.output);
        Matcher m = Pattern.compile("sentences (\\d+) words (\\d+)").matcher(streamed.output);
        assertTrue(m.find(), streamed.output);
        assertEquals(EVALUATED_SENTENCES, Long.parseLong(m.group(1)), "every sentence evaluated");

        Run held = run(EVALUATION_HEAP, EvaluationProcess.class, model, test.toString(), "memory", "conll");
        assertNotEquals(0, held.exit, "the sentences held in memory fit into " + EVALUATION_HEAP + " after all: " + held.output);
        assertTrue(held.output.contains("OutOfMemoryError"), held.output);
    }

    /** Rows of 3 to 24 words of the tiny vocabulary, labelled at random. */
    private static Path generate(Path file, int rows) throws IOException {
        List<String> words = new ArrayList<>();
        for (String w : Files.readAllLines(TestFiles.model("tiny-bert-tf1").resolve("assets").resolve("vocab.txt"))) {
            if (w.matches("[a-z]+")) {
                words.add(w);
            }
        }
        Random random = new Random(5);
        try (BufferedWriter out = Files.newBufferedWriter(file)) {
            out.write("text,label\n");
            for (int i = 0; i < rows; i++) {
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
        return run(HEAP, StreamingProcess.class, csv.toString(), cache.toString(), mode);
    }

    private static Run run(String heap, Class<?> main, String... args) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        // TensorFlow's memory is native: JavaCPP would otherwise cap the whole process near the heap's size.
        List<String> command = new ArrayList<>(List.of(java, heap, "-XX:+UseSerialGC", "-Dorg.bytedeco.javacpp.maxPhysicalBytes=0",
                "-cp", System.getProperty("java.class.path"),
                "-Dfinetune.shared.dir=" + TestFiles.shared().toAbsolutePath(), main.getName()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.redirectErrorStream(true);
        Process p = pb.start();
        String output = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "still running");
        return new Run(p.exitValue(), output);
    }
}
