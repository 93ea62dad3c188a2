package dev.finetune.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.config.FineTuneConfig;
import dev.finetune.engine.export.OutputLock;
import dev.finetune.engine.training.ProgressListener;
import dev.finetune.runtime.FineTuneException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Configuration mistakes, a concurrent build and a diverging run: each stops with a clear message and no output. */
class FaultsTest {
    @TempDir
    Path tmp;

    @Test
    void listsConfigurationAndModelProblemsTogetherBeforeTraining() {
        FineTuneConfig c = TestFiles.tinyConfig("tiny-bert-keras", tmp);
        c.learningRate = -1;
        c.batchSize = 0;
        c.optimizer = "sgd-with-magic";
        c.maxSequenceLength = "512";
        c.device = "tpu:0";
        c.trainFile = tmp.resolve("never-read.csv");
        FineTuneException e = assertThrows(FineTuneException.class, () -> FineTuneEngine.train(c, ProgressListener.SILENT));
        String m = e.getMessage();
        assertTrue(m.startsWith("The fine-tuning configuration is invalid:"), m);
        assertEquals(6, m.split("\n  - ").length, m);
        assertTrue(m.contains("learningRate must be a positive number") && m.contains("batchSize must be at least 1")
                && m.contains("optimizer 'sgd-with-magic' is unknown") && m.contains("device 'tpu:0' is unknown: use auto, cpu or gpu:N")
                && m.contains("maxSequenceLength 512 is more than the model in ") && m.contains("has 64 rows"), m);
        assertFalse(m.contains("never-read.csv"), "data must not be read before the configuration is valid");
        assertFalse(Files.exists(c.outputDirectory));
    }

    @Test
    void anInvisibleGpuIsAProblemBeforeTraining() {
        FineTuneConfig c = TestFiles.tinyConfig("tiny-bert-tf1", tmp);
        c.device = "gpu:" + dev.finetune.runtime.model.Devices.visibleGpus();
        c.learningRate = 0;
        FineTuneException e = assertThrows(FineTuneException.class, () -> FineTuneEngine.train(c, ProgressListener.SILENT));
        assertTrue(e.getMessage().contains("device " + c.device + " was asked for, but TensorFlow sees")
                && e.getMessage().contains("learningRate must be a positive number"), e.getMessage());
    }

    @Test
    void refusesASecondBuildOnTheSameOutput() {
        FineTuneConfig c = TestFiles.tinyConfig("tiny-bert-tf1", tmp);
        try (OutputLock held = OutputLock.acquire(c.outputDirectory)) {
            FineTuneException e = assertThrows(FineTuneException.class, () -> FineTuneEngine.train(c, ProgressListener.SILENT));
            assertTrue(e.getMessage().startsWith("Another build is writing " + c.outputDirectory)
                    && e.getMessage().contains("held by process " + ProcessHandle.current().pid()), e.getMessage());
        }
        c.epochs = 1;
        FineTuneEngine.train(c, ProgressListener.SILENT);
        assertTrue(Files.isDirectory(c.outputDirectory), "the lock is released when the first build ends");
    }

    @Test
    void stopsOnANonFiniteLossWithTheStepAndAHint() {
        FineTuneConfig c = TestFiles.tinyConfig("tiny-bert-tf1", tmp);
        c.learningRate = 1e30;
        c.warmupRatio = 0;
        c.maxGradNorm = 0;
        c.schedule = "constant";
        FineTuneException e = assertThrows(FineTuneException.class, () -> FineTuneEngine.train(c, ProgressListener.SILENT));
        assertTrue(e.getMessage().matches("(?s)The loss became (NaN|Infinity|-Infinity) at step \\d+ \\(epoch 1\\)\\. Lower the learning rate.*"),
                e.getMessage());
        assertFalse(Files.exists(c.outputDirectory), "no model may be written from a diverged run");
        assertFalse(Files.exists(c.workDirectory.resolve("checkpoints").resolve("epoch-1")), "no checkpoint of a diverged epoch");
    }
}
