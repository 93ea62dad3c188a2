package dev.finetune.engine.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.FineTuneEngine;
import dev.finetune.engine.TestFiles;
import dev.finetune.engine.TrainingResult;
import dev.finetune.engine.config.FineTuneConfig;
import java.nio.file.Files;
import java.nio.file.Path;
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
    void resumedRunEqualsUninterruptedRun(@TempDir Path tmp) {
        resumesWhereTheUninterruptedRunEnds(tmp, 0);
    }

    /** The head's dropout masks are keyed by the step, not drawn from a generator that restarts with the run. */
    @Test
    void resumedRunWithDropoutEqualsUninterruptedRun(@TempDir Path tmp) {
        resumesWhereTheUninterruptedRunEnds(tmp, 0.1);
    }

    private static void resumesWhereTheUninterruptedRunEnds(Path tmp, double dropout) {
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
        assertTrue(Files.isDirectory(interrupted.workDirectory.resolve("checkpoints").resolve("epoch-2")));

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
