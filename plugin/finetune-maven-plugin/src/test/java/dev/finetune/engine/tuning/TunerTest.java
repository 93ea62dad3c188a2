package dev.finetune.engine.tuning;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.finetune.engine.TestFiles;
import dev.finetune.engine.config.FineTuneConfig;
import dev.finetune.runtime.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TunerTest {
    @TempDir
    Path tmp;

    @Test
    void searchesRanksAndExportsTheBestTrial() throws IOException {
        FineTuneConfig base = TestFiles.tinyConfig("tiny-bert-tf1", tmp);
        assertEquals(base.outputDirectory, base.copy().outputDirectory, "copies keep paths");
        SearchSpace space = new SearchSpace(List.of(1e-4, 3e-3), List.of(2, 6), List.of(), List.of(), List.of());
        assertEquals(4, space.size());
        assertEquals(4, space.grid(10).size());
        assertEquals(space.random(3, 1), space.random(3, 1), "random search is seeded");

        List<String> log = new ArrayList<>();
        Tuner.Result r = Tuner.tune(base, space, "grid", 4, 1, log::add);
        assertEquals(4, r.leaderboard().size());
        for (int i = 1; i < 4; i++) {
            assertTrue(r.leaderboard().get(i - 1).score() <= r.leaderboard().get(i).score(), "ranked by validation loss");
        }
        // Six epochs at the larger rate separate the classes; a tiny rate for two epochs does not.
        assertEquals(3e-3, ((Number) r.best().values().get("learningRate")).doubleValue());
        assertEquals(6, ((Number) r.best().values().get("epochs")).intValue());
        assertTrue(r.pomSnippet().contains("<learningRate>0.003</learningRate>") && r.pomSnippet().contains("<epochs>6</epochs>"),
                r.pomSnippet());

        JsonNode board = Json.MAPPER.readTree(base.outputDirectory.resolve(Tuner.LEADERBOARD).toFile());
        assertEquals(4, board.get("trials").size());
        assertEquals(r.best().trial(), board.get("best").get("trial").asInt());
        JsonNode config = Json.MAPPER.readTree(base.outputDirectory.resolve("finetune-config.json").toFile());
        assertEquals(6, config.get("epochs").asInt(), "the exported model is the best trial's, as if train had run with it");
        assertTrue(Files.isRegularFile(base.outputDirectory.resolve("saved_model/saved_model.pb")));

        List<String> again = new ArrayList<>();
        Tuner.tune(base, space, "grid", 4, 1, again::add);
        assertEquals(4, again.stream().filter(m -> m.contains("is up to date")).count(), "finished trials are not trained again");
    }

    /** Tuning follows the task: a regression run is ranked by its validation loss and exported as a regression model. */
    @Test
    void tunesARegressionModel() throws IOException {
        FineTuneConfig base = TestFiles.tinyConfig("tiny-bert-tf2", tmp);
        base.task = "regression";
        base.trainFile = TestFiles.data("tiny-scores.csv");
        base.labelColumn = "score";
        base.pooling = "mean";
        SearchSpace space = new SearchSpace(List.of(1e-5, 3e-3), List.of(4), List.of(), List.of(), List.of());
        Tuner.Result r = Tuner.tune(base, space, "grid", 2, 1, m -> { });
        assertEquals(2, r.leaderboard().size());
        assertTrue(r.leaderboard().get(0).score() < r.leaderboard().get(1).score());
        assertEquals(3e-3, ((Number) r.best().values().get("learningRate")).doubleValue(), "a rate of 1e-5 barely moves the weights in 4 epochs");
        JsonNode labels = Json.MAPPER.readTree(base.outputDirectory.resolve("labels.json").toFile());
        assertEquals("regression", labels.get("task").asText());
        assertEquals(List.of("score"), List.of(labels.get("labels").get(0).asText()));
    }

    /** The head, the class weights and label smoothing are dimensions like any other; per-label weights print as the pom's form. */
    @Test
    void searchesHeadLayersClassWeightsAndLabelSmoothing() throws IOException {
        SearchSpace space = new SearchSpace(List.of(), List.of(), List.of(), List.of(), List.of(), List.of("none", "16"),
                List.of("auto", "positive=2.0"), List.of(0.0, 0.1));
        assertEquals(8, space.size());
        FineTuneConfig trial = space.grid(8).get(7).trial(TestFiles.tinyConfig("tiny-bert-tf1", tmp), tmp.resolve("t"));
        assertEquals(List.of("16", "positive=2.0", "0.1"), List.of(trial.headLayers, trial.classWeights, String.valueOf(trial.labelSmoothing)));
        assertEquals("<headLayers>16</headLayers>\n<classWeights><positive>2.0</positive></classWeights>\n<labelSmoothing>0.1</labelSmoothing>",
                Tuner.pomSnippet(space.grid(8).get(7).values()));

        FineTuneConfig base = TestFiles.tinyConfig("tiny-bert-tf1", tmp);
        base.epochs = 3;
        SearchSpace two = new SearchSpace(List.of(), List.of(), List.of(), List.of(), List.of(), List.of("none", "16"),
                List.of("positive=2.0"), List.of(0.1));
        Tuner.Result r = Tuner.tune(base, two, "grid", 2, 1, m -> { });
        assertEquals(2, r.leaderboard().size());
        JsonNode config = Json.MAPPER.readTree(base.outputDirectory.resolve("finetune-config.json").toFile());
        assertEquals(r.best().values().get("headLayers"), config.get("headLayers").asText(), "the best trial is the exported model");
        assertEquals(2.0, config.get("classWeights").get("positive").asDouble());
        assertEquals(0.1, config.get("labelSmoothing").asDouble());
        JsonNode board = Json.MAPPER.readTree(base.outputDirectory.resolve(Tuner.LEADERBOARD).toFile());
        assertEquals("positive=2.0", board.get("trials").get(0).get("values").get("classWeights").asText());
    }
}
