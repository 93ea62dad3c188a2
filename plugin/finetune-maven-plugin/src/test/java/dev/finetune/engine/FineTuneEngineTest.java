package dev.finetune.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.finetune.engine.config.FineTuneConfig;
import dev.finetune.engine.training.TrainingHistory;
import dev.finetune.runtime.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** End to end on each kind of SavedModel: the loss falls by half and validation beats the majority class. */
class FineTuneEngineTest {
    @ParameterizedTest
    @ValueSource(strings = {"tiny-bert-tf1", "tiny-bert-tf2", "tiny-bert-keras", "families/bert-keras", "families/roberta-keras",
        "families/gpt-keras", "families/gpt-ids-only", "families/albert-keras", "families/distilbert-keras",
        "families/bert-garden"})
    void trainsEveryKindOfSavedModel(String model, @TempDir Path tmp) throws IOException {
        FineTuneConfig c = TestFiles.tinyConfig(model, tmp);
        TrainingResult result = FineTuneEngine.train(c, m -> System.out.println(model + ": " + m));

        List<TrainingHistory.Step> steps = result.history().steps;
        double first = steps.subList(0, 3).stream().mapToDouble(TrainingHistory.Step::loss).average().orElseThrow();
        double last = steps.subList(steps.size() - 3, steps.size()).stream().mapToDouble(TrainingHistory.Step::loss).average().orElseThrow();
        assertTrue(last < first / 2, model + ": loss fell from " + first + " to " + last + ", less than by half");
        assertTrue(result.lastEpoch().validationAccuracy() > 0.5 + 1e-9,
                model + ": validation accuracy " + result.lastEpoch().validationAccuracy() + " does not beat the majority class (0.5)");

        Path out = c.outputDirectory;
        JsonNode labels = Json.MAPPER.readTree(out.resolve("labels.json").toFile());
        String tokenizer = labels.get("tokenizer").asText();
        for (String f : List.of("saved_model/saved_model.pb", "saved_model/variables/variables.index",
                "saved_model/assets/" + tokenizer, "labels.json", tokenizer, "finetune-config.json",
                "training-history.json", "reload-check.json")) {
            assertTrue(Files.isRegularFile(out.resolve(f)), "missing " + f);
        }
        assertNoTrainingTraces(out, model);
        assertEquals("[\"negative\",\"positive\"]", labels.get("labels").toString());
        JsonNode history = Json.MAPPER.readTree(out.resolve("training-history.json").toFile());
        assertEquals(c.epochs, history.get("epochs").size());
        assertEquals(steps.size(), history.get("steps").size());
    }

    /**
     * bfloat16 mixed precision (TensorFlow's oneDNN rewrite of the training graph) still learns, keeps its weights
     * in float32, and exports a float32 model that predicts what the bfloat16 session did to within its precision.
     */
    @org.junit.jupiter.api.Test
    void trainsInBfloat16MixedPrecision(@TempDir Path tmp) throws IOException {
        FineTuneConfig c = TestFiles.tinyConfig("tiny-bert-tf2", tmp);
        c.precision = "bfloat16";
        List<String> log = new java.util.ArrayList<>();
        TrainingResult result = FineTuneEngine.train(c, m -> {
            System.out.println("bfloat16: " + m);
            log.add(m);
        });
        // With the plugin's kernels the weight matrices train from bfloat16 copies (WeightCopies), which the export leaves out.
        assertEquals(dev.finetune.engine.model.TrainingKernels.available(),
                log.stream().anyMatch(m -> m.startsWith("Weight matrices: 13 multiplied from bfloat16 copies")), log.toString());
        List<TrainingHistory.Step> steps = result.history().steps;
        assertTrue(steps.get(steps.size() - 1).loss() < steps.get(0).loss() / 2, "loss " + steps.get(0).loss() + " → "
                + steps.get(steps.size() - 1).loss());
        assertTrue(result.lastEpoch().validationAccuracy() > 0.9, "accuracy " + result.lastEpoch().validationAccuracy());
        JsonNode check = Json.MAPPER.readTree(c.outputDirectory.resolve("reload-check.json").toFile());
        assertTrue(check.get("probabilities").size() > 0);
        assertNoTrainingTraces(c.outputDirectory, "tiny-bert-tf2");
    }

    /**
     * Training's own kernels (TrainingKernels) and the weights' bfloat16 copies (WeightCopies) must not reach the export,
     * which other TensorFlows load.
     */
    private static void assertNoTrainingTraces(Path out, String model) throws IOException {
        String graph = new String(Files.readAllBytes(out.resolve("saved_model/saved_model.pb")), java.nio.charset.StandardCharsets.ISO_8859_1);
        for (String trace : List.of(dev.finetune.engine.model.TrainingKernels.GELU, dev.finetune.engine.model.TrainingKernels.ADAM,
                dev.finetune.engine.model.TrainingKernels.SQUARED_NORM, "finetune_bf16_cop", "finetune_f32_read")) {
            assertFalse(graph.contains(trace), model + ": the export names " + trace);
        }
    }

    /**
     * The default maxSequenceLength, auto, fits a model whose position table has 64 rows (128 would be refused), says
     * what it chose, and records the number where evaluate and predict read it.
     */
    @org.junit.jupiter.api.Test
    void maxSequenceLengthAutoFitsAShortPositionTable(@TempDir Path tmp) throws IOException {
        FineTuneConfig c = TestFiles.tinyConfig("families/gpt-keras", tmp);
        c.maxSequenceLength = new FineTuneConfig().maxSequenceLength;
        c.epochs = 1;
        List<String> log = new java.util.ArrayList<>();
        FineTuneEngine.train(c, log::add);
        assertTrue(log.stream().anyMatch(m -> m.startsWith("maxSequenceLength auto: 64 (its position table '") && m.endsWith("' has 64 rows).")),
                log.toString());
        assertEquals(64, Json.MAPPER.readTree(c.outputDirectory.resolve("labels.json").toFile()).get("maxSequenceLength").asInt());
        assertEquals(64, Json.MAPPER.readTree(c.outputDirectory.resolve("finetune-config.json").toFile()).get("maxSequenceLength").asInt());
        c.maxSequenceLength = "64";
        List<String> again = new java.util.ArrayList<>();
        FineTuneEngine.train(c, again::add);
        assertTrue(again.stream().anyMatch(m -> m.contains("is up to date")), "auto and the number it chose are the same run: " + again);
    }

    /** The head can also read the [CLS] vector or the masked mean of the sequence output. */
    @ParameterizedTest
    @ValueSource(strings = {"cls", "mean"})
    void poolsTheSequenceOutput(String pooling, @TempDir Path tmp) {
        FineTuneConfig c = TestFiles.tinyConfig("tiny-bert-tf1", tmp);
        c.pooling = pooling;
        TrainingResult result = FineTuneEngine.train(c, m -> { });
        assertTrue(result.lastEpoch().validationAccuracy() > 0.9, pooling + ": accuracy " + result.lastEpoch().validationAccuracy());
        assertTrue(Files.isRegularFile(c.outputDirectory.resolve("reload-check.json")));
    }

    @org.junit.jupiter.api.Test
    void sentencePairsFeedSegmentIds(@TempDir Path tmp) throws IOException {
        Path data = tmp.resolve("pairs.jsonl");
        StringBuilder b = new StringBuilder();
        String[] words = {"good", "bad", "great", "awful", "fun", "dull"};
        for (int i = 0; i < 120; i++) {
            String a = words[i % words.length];
            String bWord = words[(i / words.length + i) % words.length];
            boolean same = (i % 2 == 0);
            String second = same ? a : bWord.equals(a) ? words[(i + 1) % words.length] : bWord;
            b.append(String.format("{\"first\":\"the movie was %s\",\"second\":\"it is %s\",\"label\":\"%s\"}%n",
                    a, second, a.equals(second) ? "same" : "different"));
        }
        Files.writeString(data, b.toString());
        FineTuneConfig c = TestFiles.tinyConfig("tiny-bert-tf2", tmp);
        c.trainFile = data;
        c.textColumn = "first";
        c.textPairColumn = "second";
        TrainingResult result = FineTuneEngine.train(c, m -> { });
        assertEquals(List.of("different", "same"), result.labels());
        assertTrue(result.history().steps.get(result.history().steps.size() - 1).loss() < result.history().steps.get(0).loss());
    }

    /** A fine-tuned model, packed as the archive the package goal attaches, is itself a base for fine-tuning. */
    @org.junit.jupiter.api.Test
    void aFineTunedModelArchiveCanBeFineTunedAgain(@TempDir Path tmp) throws IOException {
        FineTuneConfig first = TestFiles.tinyConfig("tiny-bert-tf2", tmp.resolve("first"));
        FineTuneEngine.train(first, m -> { });
        Path zip = tmp.resolve("first-model.zip");
        dev.finetune.engine.export.ModelArchive.pack(first.outputDirectory, zip);
        byte[] once = Files.readAllBytes(zip);
        dev.finetune.engine.export.ModelArchive.pack(first.outputDirectory, zip);
        org.junit.jupiter.api.Assertions.assertArrayEquals(once, Files.readAllBytes(zip), "the archive must be reproducible");

        FineTuneConfig second = TestFiles.tinyConfig("tiny-bert-tf2", tmp.resolve("second"));
        second.model = zip;
        second.epochs = 2;
        second.learningRate = 1e-3;
        List<String> log = new java.util.ArrayList<>();
        TrainingResult r = FineTuneEngine.train(second, log::add);
        assertTrue(log.stream().anyMatch(m -> m.startsWith("Model: ") && m.contains("(TF1 graph), 39 encoder variables")), log.toString());
        // Starting from weights already fine-tuned for this task, validation is good from the first epoch.
        assertTrue(r.history().epochs.get(0).validationAccuracy() > 0.9, "accuracy " + r.history().epochs.get(0).validationAccuracy());
    }
}
