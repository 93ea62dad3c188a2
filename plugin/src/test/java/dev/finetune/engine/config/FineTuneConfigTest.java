package dev.finetune.engine.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.FineTuneEngine;
import dev.finetune.engine.FineTuneException;
import dev.finetune.engine.training.ProgressListener;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class FineTuneConfigTest {
    @Test
    void listsEveryProblemAtOnceBeforeLoadingAnything() {
        FineTuneConfig c = new FineTuneConfig();
        c.trainFile = Path.of("does-not-matter.csv");
        c.model = Path.of("no-model-loaded");
        c.outputDirectory = Path.of("target/x");
        c.learningRate = -1;
        c.batchSize = 0;
        c.validationSplit = 1.5;
        c.schedule = "exponential";
        List<String> problems = c.problems();
        assertEquals(4, problems.size(), problems.toString());
        FineTuneException e = assertThrows(FineTuneException.class, () -> FineTuneEngine.train(c, ProgressListener.SILENT));
        for (String expected : List.of("learningRate must be a positive number, not -1.0", "batchSize must be at least 1, not 0",
                "validationSplit must be between 0 and 1", "schedule 'exponential' is unknown")) {
            assertTrue(e.getMessage().contains(expected), e.getMessage());
        }
    }

    @Test
    void defaultsAreValidOnceTheRequiredFilesAreNamed() {
        FineTuneConfig c = new FineTuneConfig();
        assertEquals(3, c.problems().size());
        c.trainFile = Path.of("t.csv");
        c.model = Path.of("m");
        c.outputDirectory = Path.of("o");
        assertTrue(c.problems().isEmpty(), c.problems().toString());
    }
}
