package dev.finetune.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.finetune.engine.config.FineTuneConfig;
import dev.finetune.engine.training.ProgressListener;
import dev.finetune.runtime.Json;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two worker JVMs on 127.0.0.1, one thread each, train the tiny model together through TensorFlow's gRPC servers and
 * collective all-reduce: their per-step losses, gradient norms and final weights equal one process that trains on the
 * whole global batch. A worker killed mid-epoch stops the other within a bounded time with a message naming it, and
 * resuming both ends where the uninterrupted run ends. Workers that accumulate micro-batches do so too.
 */
class DistributedTrainingTest {
    /** The reference's batch; each of the two workers takes half of every batch. */
    static final int GLOBAL_BATCH = 16;
    /** Seconds a worker waits for the other: short, so a lost worker is noticed quickly. */
    static final int WORKER_TIMEOUT = 20;

    /**
     * The repeatable tiny run on {@link #writeData the data beside root}, which leaves an odd number of training rows
     * (191): the last batch of each epoch (15 rows) splits 8 + 7, so the workers' shares must be weighed by their
     * sizes, not just averaged.
     */
    static FineTuneConfig config(Path root) {
        FineTuneConfig c = TestFiles.repeatableConfig(root);
        c.trainFile = root.resolveSibling("train.csv");
        c.batchSize = GLOBAL_BATCH;
        c.logEverySteps = 1;
        // Workers and replicas update embedding tables densely (lazy updates need one device): so does the reference.
        c.embeddingUpdates = "dense";
        return c;
    }

    /** tiny-sentiment.csv without its last row (239 rows: 191 to train, 48 to validate), beside the runs' roots. */
    static void writeData(Path folder) throws IOException {
        List<String> lines = Files.readAllLines(TestFiles.data("tiny-sentiment.csv"));
        Files.createDirectories(folder);
        Files.write(folder.resolve("train.csv"), lines.subList(0, lines.size() - 1));
    }

    /** Writes {@link #writeData the data} into {@code tmp} and trains the single-process reference under tmp/reference. */
    static FineTuneConfig trainReference(Path tmp) throws IOException {
        return trainReference(tmp, GLOBAL_BATCH);
    }

    /** {@link #trainReference(Path)} with a batch of {@code globalBatch} rows. */
    static FineTuneConfig trainReference(Path tmp, int globalBatch) throws IOException {
        writeData(tmp);
        FineTuneConfig reference = config(tmp.resolve("reference"));
        reference.batchSize = globalBatch;
        FineTuneEngine.train(reference, ProgressListener.SILENT);
        return reference;
    }

    @Test
    @Timeout(600)
    void twoWorkersTrainAsOneProcessWithTheWholeBatch(@TempDir Path tmp) throws Exception {
        writeData(tmp);
        FineTuneConfig reference = config(tmp.resolve("reference"));
        TrainingResult one = FineTuneEngine.train(reference, ProgressListener.SILENT);
        assertEquals(191, one.history().steps.stream().mapToInt(s -> s.examples()).sum() / reference.epochs,
                "the split should leave 191 training rows");

        String hosts = hosts();
        Path chief = tmp.resolve("chief");
        Path other = tmp.resolve("other");
        List<Run> runs = finishBoth(startBoth(hosts, chief, other, null, false, 1));
        assertTrue(runs.get(0).output.contains("Worker 0 of 2 (the chief): each step's batch of 16 is shared by 2 workers, 8 each"),
                runs.get(0).output);
        assertSameRun(reference.outputDirectory, chief, other);
        // The other worker wrote nothing of its own but its tokenized data: no model folder, no checkpoints, no lock.
        assertFalse(Files.exists(other.resolve("finetune")), "worker 1 wrote a model folder");
        try (var work = Files.list(other.resolve("finetune-work"))) {
            assertEquals(List.of(other.resolve("finetune-work").resolve("examples")), work.toList(), "worker 1 wrote checkpoints");
        }
        assertFalse(Files.exists(other.resolve("finetune.lock")), "worker 1 took the output lock");
    }

    /**
     * Two workers of two CPU replicas each: the step's 16 rows go 8 to each worker and 4 to each replica (the last
     * batch's 15 as 4 + 4 and 4 + 3), summed on each worker and all-reduced across them, and still train as one process.
     */
    @Test
    @Timeout(600)
    void twoWorkersOfTwoReplicasEachTrainAsOneProcess(@TempDir Path tmp) throws Exception {
        FineTuneConfig reference = trainReference(tmp);
        List<Run> runs = finishBoth(startBoth(hosts(), tmp.resolve("chief"), tmp.resolve("other"), null, false, 2));
        assertTrue(runs.get(0).output.contains("each step's batch of 16 is shared by 2 workers, 8 each (2 replicas of 4)"), runs.get(0).output);
        assertSameRun(reference.outputDirectory, tmp.resolve("chief"), tmp.resolve("other"));
    }

    /**
     * Two workers accumulating two micro-batches each: steps of 20 = 5 rows × 2 micro-batches × 2 workers, all-reduced
     * once per step, train as one process with batch 20. The 191 rows leave a short step of 11 in every epoch:
     * 6 rows on worker 0 (micro-batches of 5 and 1), 5 on worker 1 (one micro-batch), so the workers add different
     * numbers of micro-batches before the step's one collective, and every share must weigh by its rows.
     */
    @Test
    @Timeout(600)
    void twoWorkersAccumulatingMicroBatchesTrainAsOneProcess(@TempDir Path tmp) throws Exception {
        FineTuneConfig reference = trainReference(tmp, 20);
        List<Run> runs = finishBoth(startBoth(hosts(), tmp.resolve("chief"), tmp.resolve("other"), null, false, new Layout(20, 1, 2)));
        assertTrue(runs.get(0).output.contains("each step's batch of 20 is shared by 2 workers, 10 each in 2 micro-batches of 5, "
                + "all-reduced once per step"), runs.get(0).output);
        assertTrue(runs.get(1).output.contains("an effective batch of 20 (5 × 2 × 2 workers)"), runs.get(1).output);
        List<Integer> rows = new ArrayList<>();
        Json.MAPPER.readTree(reference.outputDirectory.resolve("training-history.json").toFile()).get("steps")
                .forEach(step -> rows.add(step.get("examples").asInt()));
        // Length buckets put the short step anywhere in its epoch.
        assertEquals(3, rows.stream().filter(n -> n == 11).count(), "each epoch should have one short step: " + rows);
        assertSameRun(reference.outputDirectory, tmp.resolve("chief"), tmp.resolve("other"));
    }

    @Test
    @Timeout(900)
    void aKilledWorkerStopsTheOtherAndBothResumeToTheSameResult(@TempDir Path tmp) throws Exception {
        FineTuneConfig reference = trainReference(tmp);
        Path chief = tmp.resolve("chief");
        Path other = tmp.resolve("other");
        // A folder both workers see, as a shared file system would be across machines: the chief's checkpoints.
        Path shared = chief.resolve("finetune-work");

        // Worker 1 dies in the middle of epoch 2: the chief names it and stops; its epoch-1 checkpoint stays.
        assertSurvivorStops(startBoth(hosts(), chief, other, shared, false), 1, line -> line.startsWith("epoch 2/3  step 17/"),
                "worker 1 (127.0.0.1:");
        assertFalse(Files.exists(chief.resolve("finetune")), "a model was written although training stopped");
        assertTrue(Files.isDirectory(shared.resolve("checkpoints").resolve("epoch-1")), "the epoch-1 checkpoint is gone");

        // Resumed, the chief dies in epoch 3: worker 1 names it and stops in bounded time too.
        assertSurvivorStops(startBoth(hosts(), chief, other, shared, true), 0, line -> line.startsWith("epoch 3/3  step 28/"),
                "worker 0 (127.0.0.1:");
        assertFalse(Files.exists(chief.resolve("finetune")), "a model was written although training stopped");

        // Resumed again, both finish: as if nothing had happened.
        List<Run> runs = startBoth(hosts(), chief, other, shared, true);
        for (Run r : runs) {
            r.finish(line -> false);
            assertEquals("DONE", r.last, r.output);
            assertTrue(r.output.contains("Resuming from"), r.output);
        }
        assertSameRun(reference.outputDirectory, chief, other);
    }

    @Test
    @Timeout(300)
    void aWorkerThatNeverComesIsNamedWithinTheStartTimeout(@TempDir Path tmp) throws Exception {
        writeData(tmp);
        int timeout = 5;
        // The chief alone: its first collective times out waiting for worker 1.
        // Worker 1 alone: TensorFlow retries reaching the chief for ever; Java's deadline stops it.
        for (int index : new int[] {0, 1}) {
            Run alone = new Run(tmp.resolve("alone-" + index), hosts(), index, null, false, timeout);
            long started = System.nanoTime();
            alone.finish(line -> false);
            double seconds = (System.nanoTime() - started) / 1e9;
            int missing = 1 - index;
            assertTrue(alone.last != null && alone.last.startsWith("FAILED WorkerLostException: worker " + index), alone.output);
            assertTrue(alone.last.contains("stopped at the start, waiting for the other workers: worker " + missing + " (127.0.0.1:"),
                    alone.last);
            assertTrue(alone.last.contains("each can reach the others' ports"), alone.last);
            // Start-up (JVM, model, data) plus twice the timeout plus Java's grace, with room for a busy machine.
            assertTrue(seconds < 2 * timeout + 6 + 60, "took " + seconds + " s");
            assertFalse(Files.exists(tmp.resolve("alone-" + index).resolve("finetune")));
            System.out.printf("worker %d alone stopped after %.1f s: %s%n", index, seconds, alone.last);
        }
    }

    /** Kills worker {@code victim} once it prints a line {@code killAt} matches; the survivor must fail naming it. */
    private static void assertSurvivorStops(List<Run> runs, int victim, Predicate<String> killAt, String named) throws Exception {
        Run killed = runs.get(victim);
        Run survivor = runs.get(1 - victim);
        CompletableFuture<Void> watch = CompletableFuture.runAsync(() -> survivor.finishQuietly());
        killed.finish(killAt);
        assertTrue(killed.killed, "worker " + victim + " was not killed:\n" + killed.output);
        long diedAt = System.nanoTime();
        watch.get();
        double seconds = (System.nanoTime() - diedAt) / 1e9;
        assertTrue(survivor.last != null && survivor.last.startsWith("FAILED WorkerLostException"), survivor.output);
        assertTrue(survivor.last.contains(named) && survivor.last.contains("has stopped or cannot be reached"), survivor.last);
        assertTrue(survivor.last.contains("-Dfinetune.resume=true"), survivor.last);
        // TensorFlow's collective timeout, or Java's deadline just after it; never a wait without end.
        assertTrue(seconds < WORKER_TIMEOUT + 7 + 15, "the survivor took " + seconds + " s to stop");
        System.out.printf("worker %d killed; the other stopped %.1f s later: %s%n", victim, seconds, survivor.last);
    }

    /** Per-step losses and final weights of both workers equal the reference's. */
    private static void assertSameRun(Path referenceOutput, Path chief, Path other) throws IOException {
        JsonNode expected = Json.MAPPER.readTree(referenceOutput.resolve("training-history.json").toFile());
        JsonNode chiefHistory = Json.MAPPER.readTree(chief.resolve("finetune").resolve("training-history.json").toFile());
        for (Path worker : List.of(chief, other)) {
            assertSameHistory(expected, Json.MAPPER.readTree(history(worker).toFile()), worker.toString());
        }
        assertEquals(chiefHistory.get("steps").size(), expected.get("steps").size());
        assertSamePredictions(referenceOutput, chief.resolve("finetune"));
    }

    /**
     * Every step's loss, gradient norm and rows, and the last validation loss of {@code actual} equal {@code expected}'s.
     * Validation runs on the run's own weights: equal losses after the last epoch mean equal final weights.
     */
    static void assertSameHistory(JsonNode expected, JsonNode actual, String who) {
        assertEquals(expected.get("steps").size(), actual.get("steps").size());
        for (int s = 0; s < expected.get("steps").size(); s++) {
            JsonNode e = expected.get("steps").get(s);
            JsonNode a = actual.get("steps").get(s);
            assertEquals(e.get("loss").asDouble(), a.get("loss").asDouble(), 1e-5, who + ": loss of step " + (s + 1));
            assertEquals(e.get("gradientNorm").asDouble(), a.get("gradientNorm").asDouble(), 1e-4, who + ": gradient norm of step " + (s + 1));
            assertEquals(e.get("examples").asInt(), a.get("examples").asInt(), "rows of step " + (s + 1));
        }
        JsonNode lastEpoch = actual.get("epochs").get(actual.get("epochs").size() - 1);
        JsonNode lastExpected = expected.get("epochs").get(expected.get("epochs").size() - 1);
        assertEquals(lastExpected.get("validationLoss").asDouble(), lastEpoch.get("validationLoss").asDouble(), 1e-5, who);
    }

    /** The reloaded models in two output folders predict the same for the same rows (reload-check.json), to 1e-5. */
    static void assertSamePredictions(Path expectedOutput, Path actualOutput) throws IOException {
        JsonNode e = Json.MAPPER.readTree(expectedOutput.resolve("reload-check.json").toFile()).get("probabilities");
        JsonNode a = Json.MAPPER.readTree(actualOutput.resolve("reload-check.json").toFile()).get("probabilities");
        for (int r = 0; r < e.size(); r++) {
            for (int c = 0; c < e.get(r).size(); c++) {
                assertEquals(e.get(r).get(c).asDouble(), a.get(r).get(c).asDouble(), 1e-5, "final prediction " + r + "," + c);
            }
        }
    }

    /** Where a worker's process writes the history it saw: beside its root, so worker 1's root stays untouched. */
    private static Path history(Path root) {
        return root.resolveSibling(root.getFileName() + "-history.json");
    }

    /** Two free ports on 127.0.0.1, as a cluster list. */
    static String hosts() throws IOException {
        try (ServerSocket a = new ServerSocket(0); ServerSocket b = new ServerSocket(0)) {
            return "127.0.0.1:" + a.getLocalPort() + ",127.0.0.1:" + b.getLocalPort();
        }
    }

    /**
     * How the workers take the reference's batch: {@code globalBatch} rows a step, half on each worker, shared by
     * {@code replicas} CPU replicas and cut into {@code accumulation} micro-batches.
     */
    record Layout(int globalBatch, int replicas, int accumulation) {
        static final Layout PLAIN = new Layout(GLOBAL_BATCH, 1, 1);
    }

    private static List<Run> startBoth(String hosts, Path chief, Path other, Path work, boolean resume) throws IOException {
        return startBoth(hosts, chief, other, work, resume, Layout.PLAIN);
    }

    private static List<Run> startBoth(String hosts, Path chief, Path other, Path work, boolean resume, int replicas) throws IOException {
        return startBoth(hosts, chief, other, work, resume, new Layout(GLOBAL_BATCH, replicas, 1));
    }

    /** The two workers, each taking its half of the batch as {@code layout} says. */
    private static List<Run> startBoth(String hosts, Path chief, Path other, Path work, boolean resume, Layout layout) throws IOException {
        List<Run> runs = new ArrayList<>();
        runs.add(new Run(chief, hosts, 0, work, resume, WORKER_TIMEOUT, layout));
        runs.add(new Run(other, hosts, 1, work, resume, WORKER_TIMEOUT, layout));
        return runs;
    }

    /** Waits for both runs, which must end well. */
    private static List<Run> finishBoth(List<Run> runs) throws IOException, InterruptedException {
        for (Run r : runs) {
            r.finish(line -> false);
            assertEquals("DONE", r.last, r.output);
        }
        return runs;
    }

    /** A worker JVM and what it printed. */
    private static final class Run {
        final Process process;
        final StringBuilder all = new StringBuilder();
        String output = "";
        String last;
        boolean killed;

        Run(Path root, String hosts, int index, Path work, boolean resume, int timeout) throws IOException {
            this(root, hosts, index, work, resume, timeout, Layout.PLAIN);
        }

        /** A worker that takes its half of the batch as {@code layout} says. */
        Run(Path root, String hosts, int index, Path work, boolean resume, int timeout, Layout layout) throws IOException {
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            List<String> command = new ArrayList<>(List.of(java, "-Xmx512m", "-cp", System.getProperty("java.class.path"),
                    "-Dfinetune.test.workerTimeout=" + timeout, "-Dfinetune.test.replicas=" + layout.replicas(),
                    "-Dfinetune.test.globalBatch=" + layout.globalBatch(), "-Dfinetune.test.accumulation=" + layout.accumulation(),
                    "-Dfinetune.shared.dir=" + TestFiles.shared().toAbsolutePath(), ClusterWorkerProcess.class.getName(),
                    root.toString(), String.valueOf(resume), hosts, String.valueOf(index), history(root).toString()));
            if (work != null) {
                command.add(work.toString());
            }
            ProcessBuilder pb = new ProcessBuilder(command);
            pb.redirectErrorStream(true);
            process = pb.start();
        }

        /** Reads until the process ends, or kills it (SIGKILL) at the first line {@code killAt} matches. */
        void finish(Predicate<String> killAt) throws IOException, InterruptedException {
            try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream()))) {
                for (String line = out.readLine(); line != null; line = out.readLine()) {
                    all.append(line).append('\n');
                    if (line.startsWith("epoch") || line.equals("DONE") || line.startsWith("FAILED")) {
                        last = line;
                    }
                    if (killAt.test(line)) {
                        process.destroyForcibly();
                        killed = true;
                        break;
                    }
                }
            }
            process.waitFor();
            output = all.toString();
        }

        void finishQuietly() {
            try {
                finish(line -> false);
            } catch (IOException | InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }
    }
}
