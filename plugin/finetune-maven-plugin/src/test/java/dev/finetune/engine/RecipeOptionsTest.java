package dev.finetune.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.finetune.engine.config.FineTuneConfig;
import dev.finetune.engine.data.DataReader;
import dev.finetune.engine.data.TextFormat;
import dev.finetune.engine.evaluation.Evaluation;
import dev.finetune.engine.evaluation.Evaluator;
import dev.finetune.engine.training.ProgressListener;
import dev.finetune.engine.training.TrainingHistory;
import dev.finetune.runtime.FineTunedModel;
import dev.finetune.runtime.Json;
import dev.finetune.runtime.Prediction;
import dev.finetune.runtime.TextClassifier;
import dev.finetune.runtime.encoding.Batch;
import dev.finetune.runtime.encoding.BatchBudget;
import dev.finetune.runtime.encoding.Batches;
import dev.finetune.runtime.encoding.EncodedExample;
import dev.finetune.runtime.encoding.LabeledText;
import dev.finetune.runtime.model.SessionSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The recipe options together in one run (encoder dropout too), through the whole job: recorded in finetune-config.json, counted in the
 * history as optimizer steps, and the hidden head layers part of the exported graph, so that evaluate/predict's model
 * and the application runtime load and run it as any other model, with the answers the training session gave.
 */
class RecipeOptionsTest {
    @TempDir
    Path root;

    @Test
    void headLayersTravelWithTheModelAndTheOptionsAreRecorded() throws IOException {
        FineTuneConfig c = TestFiles.tinyConfig("tiny-bert-tf2", root);
        c.headLayers = "16,8";
        c.headActivation = "gelu";
        c.classWeights = "positive=2.0";
        c.labelSmoothing = 0.1;
        c.batchSize = 8;
        c.gradientAccumulationSteps = 2;
        c.encoderDropout = "0.1";
        List<String> log = new ArrayList<>();
        TrainingHistory h = FineTuneEngine.train(c, log::add).history();

        assertTrue(log.contains("Class weights (positive=2.0): negative=1.000, positive=2.000."), log.toString());
        assertTrue(log.contains("Head: hidden layers 16,8 (gelu, dropout 0.1 after each), then the output layer."), log.toString());
        assertTrue(log.contains("Encoder dropout 0.1 in training steps, at 2 attention-probability and 4 hidden-state sites."),
                log.toString());
        // 192 training examples in effective batches of 16: 12 optimizer steps an epoch.
        assertEquals(10 * 12, h.steps.size());
        assertTrue(h.steps.stream().allMatch(s -> s.examples() == 16), "every step is an effective batch of 16");

        JsonNode config = Json.MAPPER.readTree(c.outputDirectory.resolve("finetune-config.json").toFile());
        assertEquals("16,8", config.get("headLayers").asText());
        assertEquals("gelu", config.get("headActivation").asText());
        assertEquals(2.0, config.get("classWeights").get("positive").asDouble());
        assertEquals(1.0, config.get("classWeightsUsed").get("negative").asDouble());
        assertEquals(2.0, config.get("classWeightsUsed").get("positive").asDouble());
        assertEquals(0.1, config.get("labelSmoothing").asDouble());
        assertEquals(2, config.get("gradientAccumulationSteps").asInt());
        assertEquals("0.1", config.get("encoderDropout").asText());

        List<String> texts = new ArrayList<>();
        List<String> truth = new ArrayList<>();
        for (String line : Files.readAllLines(TestFiles.data("tiny-sentiment-test.csv")).subList(1, 81)) {
            texts.add(line.substring(0, line.lastIndexOf(',')).replace("\"", ""));
            truth.add(line.substring(line.lastIndexOf(',') + 1));
        }
        float[][] engine;
        try (FineTunedModel model = FineTunedModel.load(c.outputDirectory, SessionSettings.defaults("cpu"))) {
            // The exported model gives what the training session gave on the reload check's batch.
            JsonNode check = Json.MAPPER.readTree(c.outputDirectory.resolve("reload-check.json").toFile());
            Batch sample = new Batch(check.get("rows").asInt(), check.get("length").asInt(), ints(check.get("input_ids")),
                    ints(check.get("input_mask")), ints(check.get("segment_ids")), null);
            float[][] again = model.predict(sample);
            for (int i = 0; i < again.length; i++) {
                for (int j = 0; j < again[i].length; j++) {
                    assertEquals(check.get("probabilities").get(i).get(j).floatValue(), again[i][j], 1e-5);
                }
            }
            List<EncodedExample> encoded = texts.stream()
                    .map(t -> EncodedExample.of(model.tokenizer(), new LabeledText(t, null, null, 0), -1, model.maxSequenceLength()))
                    .toList();
            engine = Batches.predictInLengthOrder(encoded, 8, model.tokenizer().padId(), model::predict);
            Evaluation e = Evaluator.evaluate(model, new DataReader("text", null, "label"), TestFiles.data("tiny-sentiment-test.csv"),
                    TextFormat.CSV, BatchBudget.rows(8), ProgressListener.SILENT);
            assertTrue(e.metrics().accuracy() >= 0.9, "accuracy " + e.metrics().accuracy());
        }
        try (TextClassifier classifier = TextClassifier.load(c.outputDirectory,
                TextClassifier.Options.defaults().precision("float32").cacheDirectory(root.resolve("cache")))) {
            List<Prediction> predictions = classifier.predict(texts);
            int right = 0;
            for (int i = 0; i < texts.size(); i++) {
                Prediction p = predictions.get(i);
                float[] probabilities = {p.probabilities().get("negative").floatValue(), p.probabilities().get("positive").floatValue()};
                assertArrayEquals(engine[i], probabilities, 1e-5f, texts.get(i));
                right += p.label().equals(truth.get(i)) ? 1 : 0;
            }
            assertTrue(right >= 72, right + " of 80 test texts right");
        }
    }

    private static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }
}
