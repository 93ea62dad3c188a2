package dev.finetune.engine.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.finetune.engine.FineTuneEngine;
import dev.finetune.engine.TestFiles;
import dev.finetune.engine.TrainingResult;
import dev.finetune.engine.config.FineTuneConfig;
import dev.finetune.runtime.Json;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EarlyStoppingTest {
    @TempDir
    Path tmp;

    /** Accuracy sits at chance for the first epochs of the random encoder: patience 1 stops after the second. */
    @Test
    void stopsAfterPatienceValidationsWithoutImprovementAndExportsTheBest() throws IOException {
        FineTuneConfig c = TestFiles.tinyConfig("tiny-bert-tf1", tmp);
        c.epochs = 10;
        c.earlyStoppingPatience = 1;
        c.bestModelMetric = "accuracy";
        List<String> log = new ArrayList<>();
        TrainingResult r = FineTuneEngine.train(c, log::add);
        TrainingHistory h = r.history();
        assertTrue(h.stoppedEarly, log.toString());
        assertTrue(h.epochs.size() < c.epochs, "trained all " + h.epochs.size() + " epochs");
        assertTrue(log.stream().anyMatch(m -> m.startsWith("Stopping early at step ")), log.toString());
        TrainingHistory.Validation bestValidation = h.validations.stream().filter(TrainingHistory.Validation::best)
                .reduce((a, b) -> b).orElseThrow();
        assertEquals(bestValidation.step(), h.exportedStep);
        assertTrue(h.exportedStep < h.steps.size(), "the best is an earlier step than the last");
        JsonNode saved = Json.MAPPER.readTree(c.outputDirectory.resolve("training-history.json").toFile());
        assertTrue(saved.get("stoppedEarly").asBoolean());
        assertEquals(h.exportedStep, saved.get("exportedStep").asLong());
    }

    /** Validation every N steps as well as at epoch ends; without early stopping all epochs run. */
    @Test
    void validatesEveryNStepsAndCanExportTheBestByLoss() {
        FineTuneConfig c = TestFiles.tinyConfig("tiny-bert-tf1", tmp);
        c.epochs = 3;
        c.evaluateEverySteps = 5;
        c.exportBestModel = true;
        TrainingHistory h = FineTuneEngine.train(c, m -> { }).history();
        assertFalse(h.stoppedEarly);
        assertEquals(3, h.epochs.size());
        // 12 steps per epoch: mid-epoch validations at steps 5, 10, 15, 20, 25, 30, 35, plus one per epoch end.
        assertEquals(7 + 3, h.validations.size(), h.validations.toString());
        double bestLoss = h.validations.stream().mapToDouble(TrainingHistory.Validation::loss).min().orElseThrow();
        TrainingHistory.Validation chosen = h.validations.stream().filter(v -> v.step() == h.exportedStep).findFirst().orElseThrow();
        assertEquals(bestLoss, chosen.loss(), 0.0);
    }
}
