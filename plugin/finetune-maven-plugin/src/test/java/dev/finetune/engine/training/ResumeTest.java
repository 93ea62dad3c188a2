package dev.finetune.engine.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.FineTuneEngine;
import dev.finetune.engine.TestFiles;
import dev.finetune.engine.TrainingResult;
import dev.finetune.engine.config.FineTuneConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.commons.io.FileUtils;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A run interrupted after epoch 2 leaves no output, and resuming it ends where an uninterrupted run ends. */
class ResumeTest {
    static FineTuneConfig config(Path root) {
        FineTuneConfig c = TestFiles.repeatableConfig(root);
        c.logEverySteps = 1;
        return c;
    }

    @Test
    void resumedRunEqualsUninterruptedRun(@TempDir Path tmp) throws IOException {
        resumesWhereTheUninterruptedRunEnds(tmp, 0);
    }

    /** The head's dropout masks are keyed by the step, not drawn from a generator that restarts with the run. */
    @Test
    void resumedRunWithDropoutEqualsUninterruptedRun(@TempDir Path tmp) throws IOException {
        resumesWhereTheUninterruptedRunEnds(tmp, 0.1);
    }

    private static void resumesWhereTheUninterruptedRunEnds(Path tmp, double dropout) throws IOException {
        FineTuneConfig uninterrupted = config(tmp.resolve("whole"));
        uninterrupted.dropout = dropout;
        TrainingResult whole = FineTuneEngine.train(uninterrupted, ProgressListener.SILENT);

        FineTuneConfig interrupted = config(tmp.resolve("interrupted"));
        interrupted.dropout = dropout;
        RuntimeException kill = new RuntimeException("simulated kill");
        assertThrows(RuntimeException.class, () -> FineTuneEngine.train(interrupted, m -> {
            if (m.startsWith("epoch 3/3  step")) {
                throw kill;
            }
        }));
        assertFalse(Files.exists(interrupted.outputDirectory), "an interrupted run must leave no output folder");
        Path epoch2 = interrupted.workDirectory.resolve("checkpoints").resolve("epoch-2");
        assertTrue(Files.isDirectory(epoch2));
        assertTrue(savedKeys(epoch2).contains("adam_m"), "a checkpoint training goes on from holds the optimizer's slots");
        // Each lazily updated table and its two moments were saved apart (VariableSaver), then merged: one index, a data
        // file for each of them and one for the rest.
        long dataFiles;
        try (var files = Files.list(epoch2)) {
            dataFiles = files.filter(p -> p.getFileName().toString().startsWith("variables.data-")).count();
        }
        assertTrue(dataFiles > 1 && (dataFiles - 1) % 3 == 0, "data files of the checkpoint: " + dataFiles);

        interrupted.resume = true;
        StringBuilder log = new StringBuilder();
        TrainingResult resumed = FineTuneEngine.train(interrupted, m -> log.append(m).append('\n'));
        assertTrue(log.toString().contains("Resuming from"), log.toString());
        assertFalse(log.toString().contains("epoch 1/3"), "resumed run repeated epoch 1");

        assertEquals(whole.history().steps.size(), resumed.history().steps.size());
        for (int i = 0; i < whole.history().steps.size(); i++) {
            assertEquals(whole.history().steps.get(i).loss(), resumed.history().steps.get(i).loss(), 1e-4, "loss of step " + (i + 1));
        }
        assertEquals(whole.lastEpoch().validationLoss(), resumed.lastEpoch().validationLoss(), 1e-4);
    }

    /**
     * The checkpoint after the last epoch holds the weights alone; a run killed after it (here: its output removed, as
     * a kill before the output's rename leaves it) resumes from it without a step and exports the same model.
     */
    @Test
    void aRunKilledAfterItsLastEpochExportsTheSameModelFromItsWeights(@TempDir Path tmp) throws IOException {
        FineTuneConfig c = config(tmp);
        c.epochs = 2;
        resumesAFinishedRunFromItsWeights(c);
    }

    /** So does a run that stopped early, which exports its best weights (kept apart) rather than its last. */
    @Test
    void aRunKilledAfterStoppingEarlyExportsTheSameBestModel(@TempDir Path tmp) throws IOException {
        FineTuneConfig c = TestFiles.tinyConfig("tiny-bert-tf1", tmp);
        c.epochs = 10;
        c.earlyStoppingPatience = 1;
        c.bestModelMetric = "accuracy";
        TrainingResult r = resumesAFinishedRunFromItsWeights(c);
        assertTrue(r.history().stoppedEarly && r.history().exportedStep < r.history().steps.size(), "no early stop to an earlier best");
    }

    private static TrainingResult resumesAFinishedRunFromItsWeights(FineTuneConfig c) throws IOException {
        TrainingResult finished = FineTuneEngine.train(c, ProgressListener.SILENT);
        Path last = c.workDirectory.resolve("checkpoints").resolve("epoch-" + finished.history().epochs.size());
        assertFalse(savedKeys(last).contains("adam_m"), "the last checkpoint holds the optimizer's slots");
        assertTrue(Files.readString(last.resolve("state.json")).contains("\"weightsOnly\" : true"));
        Path written = c.outputDirectory.resolveSibling("finished");
        FileUtils.moveDirectory(c.outputDirectory.toFile(), written.toFile());

        c.resume = true;
        StringBuilder log = new StringBuilder();
        TrainingResult resumed = FineTuneEngine.train(c, m -> log.append(m).append('\n'));
        assertTrue(log.toString().contains("Resuming from " + last + " after epoch " + finished.history().epochs.size()), log.toString());
        assertFalse(log.toString().contains("  step "), "the resumed run took a step: " + log);
        assertEquals(finished.history().steps.size(), resumed.history().steps.size());
        assertEquals(finished.history().exportedStep, resumed.history().exportedStep);
        TestFiles.assertSameReloadCheck(written, c.outputDirectory, 1e-6, "the resumed export");
        return finished;
    }

    /** The variable names a checkpoint's index holds (its keys are stored as plain bytes). */
    private static String savedKeys(Path checkpoint) throws IOException {
        return new String(Files.readAllBytes(checkpoint.resolve("variables.index")), StandardCharsets.ISO_8859_1);
    }

    @Test
    void refusesToResumeACheckpointOfOtherSettings(@TempDir Path tmp) {
        FineTuneConfig c = config(tmp);
        c.epochs = 1;
        FineTuneEngine.train(c, ProgressListener.SILENT);
        c.learningRate = 1e-4;
        c.resume = true;
        var e = assertThrows(dev.finetune.runtime.FineTuneException.class, () -> FineTuneEngine.train(c, ProgressListener.SILENT));
        assertTrue(e.getMessage().contains("Cannot resume") && e.getMessage().contains("other data, model or settings"), e.getMessage());
    }
}
