package dev.finetune.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.finetune.engine.config.FineTuneConfig;
import dev.finetune.engine.training.ProgressListener;
import dev.finetune.runtime.Json;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real runs killed with SIGKILL at several moments (mid-epoch, while a checkpoint is written, while the model is
 * exported) never leave a half-written model; resuming ends where an uninterrupted run with the same seed ends.
 */
class KillTest {
    static final List<String> OUTPUT_FILES = List.of("saved_model/saved_model.pb", "saved_model/variables/variables.index",
            "labels.json", "vocab.txt", "finetune-config.json", "training-history.json", "reload-check.json");

    static FineTuneConfig config(Path root) {
        FineTuneConfig c = TestFiles.repeatableConfig(root);
        c.logEverySteps = 1;
        return c;
    }

    @Test
    @Timeout(300)
    void killedRunsLeaveWholeOutputOrNoneAndResumeToTheSameResult(@TempDir Path tmp) throws Exception {
        FineTuneConfig reference = config(tmp.resolve("reference"));
        FineTuneEngine.train(reference, ProgressListener.SILENT);

        Path root = tmp.resolve("killed");
        List<Predicate<String>> killPoints = List.of(
                line -> line.startsWith("epoch 1/3  step 5/"),
                line -> line.startsWith("epoch 1/3 done"),
                line -> line.startsWith("epoch 2/3  step 20/"),
                line -> line.startsWith("epoch 3/3 done"));
        List<String> killedAt = new ArrayList<>();
        for (int i = 0; i < killPoints.size(); i++) {
            String at = runAndKill(root, i > 0, killPoints.get(i));
            killedAt.add(at);
            assertWholeOrAbsent(config(root).outputDirectory);
        }
        String last = runAndKill(root, true, line -> false);
        assertEquals("DONE", last, "the resumed run did not finish");
        assertWholeOrAbsent(config(root).outputDirectory);
        assertTrue(Files.isDirectory(config(root).outputDirectory));

        JsonNode expected = Json.MAPPER.readTree(reference.outputDirectory.resolve("training-history.json").toFile());
        JsonNode actual = Json.MAPPER.readTree(config(root).outputDirectory.resolve("training-history.json").toFile());
        assertEquals(expected.get("steps").size(), actual.get("steps").size());
        for (int s = 0; s < expected.get("steps").size(); s++) {
            assertEquals(expected.get("steps").get(s).get("loss").asDouble(), actual.get("steps").get(s).get("loss").asDouble(), 1e-5,
                    "loss of step " + (s + 1) + " after kills at " + killedAt);
        }
        TestFiles.assertSameReloadCheck(reference.outputDirectory, config(root).outputDirectory, 1e-5, "final predictions");
        System.out.println("kill test: killed at " + killedAt);
    }

    /** Starts a training JVM and kills it (SIGKILL) once a line matches; returns that line, or the last one. */
    private static String runAndKill(Path root, boolean resume, Predicate<String> killAt) throws IOException, InterruptedException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(java, "-Xmx512m", "-cp", System.getProperty("java.class.path"),
                "-Dfinetune.shared.dir=" + TestFiles.shared().toAbsolutePath(), TrainProcess.class.getName(), root.toString(),
                String.valueOf(resume));
        pb.redirectErrorStream(true);
        Process p = pb.start();
        String last = null;
        StringBuilder all = new StringBuilder();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream()))) {
            for (String line = out.readLine(); line != null; line = out.readLine()) {
                all.append(line).append('\n');
                if (line.startsWith("epoch") || line.equals("DONE")) {
                    last = line;
                }
                if (killAt.test(line)) {
                    p.destroyForcibly();
                    p.waitFor();
                    return line;
                }
            }
        }
        int code = p.waitFor();
        assertEquals(0, code, "training process failed:\n" + all);
        return last;
    }

    private static void assertWholeOrAbsent(Path out) {
        if (Files.exists(out)) {
            for (String f : OUTPUT_FILES) {
                assertTrue(Files.isRegularFile(out.resolve(f)), "half-written output: " + f + " missing");
            }
        }
    }
}
