package dev.finetune.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.config.FineTuneConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A second run with nothing changed does not train; a change to data, settings or plugin, or force, retrains. */
class UpToDateTest {
    @TempDir
    Path tmp;

    private static List<String> run(FineTuneConfig c) {
        List<String> log = new ArrayList<>();
        FineTuneEngine.train(c, log::add);
        return log;
    }

    private static boolean trained(List<String> log) {
        return log.stream().anyMatch(m -> m.startsWith("Fine-tuned model written to"));
    }

    private static boolean skipped(List<String> log) {
        return log.stream().anyMatch(m -> m.contains("is up to date") && m.contains("-Dfinetune.force=true retrains"));
    }

    @Test
    void retrainsOnlyWhenSomethingChanged() throws IOException {
        Path data = Files.copy(TestFiles.data("tiny-sentiment.csv"), tmp.resolve("train.csv"));
        FineTuneConfig c = TestFiles.tinyConfig("tiny-bert-tf1", tmp);
        c.trainFile = data;
        c.epochs = 1;
        c.pluginVersion = "1.0";
        assertTrue(trained(run(c)));
        String history = Files.readString(c.outputDirectory.resolve("training-history.json"));

        List<String> again = run(c);
        assertTrue(skipped(again) && !trained(again), again.toString());
        assertFalse(again.stream().anyMatch(m -> m.startsWith("epoch")), "an up-to-date run must not train");
        assertEquals(history, Files.readString(c.outputDirectory.resolve("training-history.json")));

        c.logEverySteps = 3;
        c.intraOpThreads = 1;
        assertTrue(skipped(run(c)), "logging and threads do not change the result");

        c.seed = 7;
        assertTrue(trained(run(c)), "a changed setting retrains");
        Files.writeString(data, "the movie was great,positive\n", java.nio.file.StandardOpenOption.APPEND);
        assertTrue(trained(run(c)), "changed data retrains");
        c.pluginVersion = "1.1";
        assertTrue(trained(run(c)), "a new plugin version retrains");
        c.force = true;
        assertTrue(trained(run(c)), "force retrains");
        c.force = false;
        Files.delete(c.outputDirectory.resolve("saved_model").resolve("saved_model.pb"));
        assertTrue(trained(run(c)), "an incomplete output retrains");
    }
}
