package dev.finetune.engine.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.TestFiles;
import dev.finetune.engine.config.FineTuneConfig;
import dev.finetune.engine.data.DataReader;
import dev.finetune.engine.data.TextFormat;
import dev.finetune.engine.evaluation.Evaluator;
import dev.finetune.engine.export.ModelExporter;
import dev.finetune.engine.training.ProgressListener;
import dev.finetune.engine.tuning.SearchSpace;
import dev.finetune.engine.tuning.Tuner;
import dev.finetune.runtime.FineTuneException;
import dev.finetune.runtime.FineTunedModel;
import dev.finetune.runtime.encoding.Batch;
import dev.finetune.runtime.encoding.BatchBudget;
import dev.finetune.runtime.model.ModelException;
import dev.finetune.runtime.model.SessionSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.commons.io.FileUtils;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every goal that runs a model scans it first: {@code src/models/untrusted-finetuned} (made by
 * {@code generate_untrusted.py}) is a fine-tuned model folder whose serving function writes
 * {@value #WRITTEN} into the working directory. It is refused by evaluate, predict, the reload check and tune
 * (as a base model) unless WriteFile is allowed, and nothing is written.
 */
class UntrustedFineTunedModelTest {
    static final String WRITTEN = "finetune-untrusted-was-here.txt";
    /** Where TensorFlow's WriteFile puts a relative path: the process's working directory. */
    static final Path WRITTEN_FILE = Path.of(System.getProperty("user.dir")).resolve(WRITTEN);

    @TempDir
    Path tmp;

    static Path untrusted() {
        return TestFiles.model("untrusted-finetuned");
    }

    @BeforeEach
    void nothingWrittenYet() {
        assertFalse(Files.exists(WRITTEN_FILE), WRITTEN_FILE + " exists before the test (left by an earlier run?)");
    }

    @AfterEach
    void nothingLeftBehind() throws IOException {
        boolean written = Files.deleteIfExists(WRITTEN_FILE);
        assertFalse(written, "the model wrote " + WRITTEN_FILE);
    }

    private static void assertRefused(ModelException e) {
        assertTrue(e.getMessage().contains("WriteFile (file system) at node '") && e.getMessage().contains("/WriteFile'")
                && e.getMessage().endsWith("accept these op types with <allowUnsafeOps>: WriteFile."), e.getMessage());
        assertTrue(e.getMessage().contains(untrusted().resolve("saved_model").toString()), e.getMessage());
        assertFalse(Files.exists(WRITTEN_FILE), "the model ran: " + WRITTEN_FILE + " was written");
    }

    private static Batch oneRow() {
        return new Batch(1, 4, new int[] {2, 60, 61, 3}, new int[] {1, 1, 1, 1}, new int[4], new int[0]);
    }

    @Test
    void evaluateRefusesIt() {
        ModelException e = assertThrows(ModelException.class, () -> {
            try (FineTunedModel model = FineTunedModel.load(untrusted())) {
                Evaluator.evaluate(model, new DataReader("text", null, "label"), TestFiles.data("tiny-sentiment-test.csv"),
                        TextFormat.CSV, BatchBudget.rows(8), ProgressListener.SILENT);
            }
        });
        assertRefused(e);
    }

    @Test
    void predictRefusesIt() {
        Path out = tmp.resolve("predictions.csv");
        ModelException e = assertThrows(ModelException.class, () -> {
            try (FineTunedModel model = FineTunedModel.load(untrusted(), SessionSettings.defaults("auto"), List.of("ReadFile"))) {
                Predictor.predict(model, DataReader.unlabelled("text", null, "label"), TestFiles.data("tiny-sentiment-test.csv"),
                        TextFormat.CSV, out, BatchBudget.rows(8), ProgressListener.SILENT);
            }
        });
        assertRefused(e);
        assertFalse(Files.exists(out));
    }

    @Test
    void theReloadCheckRefusesIt() {
        ModelException e = assertThrows(ModelException.class, () -> ModelExporter.verifyByReloading(untrusted().resolve("saved_model"),
                oneRow(), new float[][] {{0.5f, 0.5f}}, true, 1e-4, List.of()));
        assertRefused(e);
    }

    @Test
    void tuneRefusesItAsABaseModel() {
        FineTuneConfig c = TestFiles.tinyConfig("untrusted-finetuned", tmp);
        SearchSpace space = new SearchSpace(List.of(1e-3, 3e-3), List.of(), List.of(), List.of(), List.of());
        ModelException e = assertThrows(ModelException.class, () -> Tuner.tune(c, space, "grid", 2, 1, ProgressListener.SILENT));
        assertRefused(e);
        assertFalse(Files.exists(c.outputDirectory.resolve("saved_model")));
    }

    @Test
    void runsWhenWriteFileIsAllowed() throws IOException {
        float[][] p;
        try (FineTunedModel model = FineTunedModel.load(untrusted(), SessionSettings.defaults("auto"), List.of("WriteFile"))) {
            assertFalse(Files.exists(WRITTEN_FILE), "loading alone runs no WriteFile of this model");
            p = model.predict(oneRow());
        }
        assertEquals(1.0, p[0][0] + p[0][1], 1e-5);
        assertTrue(Files.deleteIfExists(WRITTEN_FILE), "the fixture's serving function writes " + WRITTEN_FILE + " when it runs");
        float[][] reloaded = ModelExporter.verifyByReloading(untrusted().resolve("saved_model"), oneRow(), p, true, 1e-5,
                List.of("WriteFile"));
        assertEquals(p[0][1], reloaded[0][1], 1e-6);
        assertTrue(Files.deleteIfExists(WRITTEN_FILE));
    }

    @Test
    void aTokenizerLargerThanTheEmbeddingTableIsOneSentenceBeforeTheScan() throws IOException {
        Path copy = tmp.resolve("bigger-vocabulary");
        FileUtils.copyDirectory(untrusted().toFile(), copy.toFile());
        StringBuilder extra = new StringBuilder();
        for (int i = 0; i < 10; i++) {
            extra.append("extra").append(i).append('\n');
        }
        Files.writeString(copy.resolve("vocab.txt"), extra, java.nio.file.StandardOpenOption.APPEND);
        FineTuneException e = assertThrows(FineTuneException.class, () -> FineTunedModel.load(copy));
        assertEquals("The fine-tuned model in " + copy + " cannot run:\n  - Tokenizer " + copy.resolve("vocab.txt") + " has 221 "
                + "tokens, but the model's largest embedding table 'word_embeddings' has only 211 rows: the tokenizer belongs to "
                + "another model.", e.getMessage());
    }
}
