package dev.finetune.engine.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.FineTuneEngine;
import dev.finetune.engine.TestFiles;
import dev.finetune.engine.training.ProgressListener;
import dev.finetune.runtime.FineTuneException;
import dev.finetune.runtime.encoding.BatchBudget;
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
    void taskSettingsAreCheckedWithTheRest() {
        FineTuneConfig c = new FineTuneConfig();
        c.trainFile = Path.of("t.conll");
        c.model = Path.of("m");
        c.outputDirectory = Path.of("o");
        c.dataFormat = "conll";
        assertTrue(c.problems().isEmpty(), c.problems().toString());
        c.task = "ner";
        c.threshold = "1.5";
        c.regressionLoss = "l1";
        assertEquals(List.of("task 'ner' is unknown: use single-label, multi-label, regression, token-classification.",
                "threshold '1.5' is neither tuned nor a number between 0 and 1 (exclusive).",
                "regressionLoss 'l1' is unknown: use mse or huber."), c.problems());
        c.task = "regression";
        c.threshold = "0.3";
        c.regressionLoss = "huber";
        c.bestModelMetric = "accuracy";
        assertEquals(List.of("bestModelMetric accuracy means nothing for task regression: use loss."), c.problems());
        assertEquals(0.3, c.fixedThreshold());
        c.task = "token-classification";
        c.bestModelMetric = "loss";
        c.textPairColumn = "second";
        assertEquals(List.of("textPairColumn cannot be used with task token-classification: each example is one sentence of words."),
                c.problems());
        c.task = "multi-label";
        c.textPairColumn = null;
        c.labelSeparator = "";
        assertEquals(List.of("labelSeparator must not be empty for task multi-label: it splits a cell such as a|b into labels."),
                c.problems());
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

    @Test
    void inferenceBatchTokensAutoIsRowsOfTheFullLengthAndANumberIsTakenAsGiven() {
        FineTuneConfig c = new FineTuneConfig();
        assertEquals("auto", c.inferenceBatchTokens);
        assertEquals(new BatchBudget(BatchBudget.AUTO_ROWS * 64L, BatchBudget.AUTO_MAX_ROWS), c.inferenceBatch(64));
        assertEquals(new BatchBudget(BatchBudget.AUTO_ROWS * 128L, BatchBudget.AUTO_MAX_ROWS), c.inferenceBatch(128));
        c.inferenceBatchTokens = " 1000 ";
        assertEquals(new BatchBudget(1000, BatchBudget.AUTO_MAX_ROWS), c.inferenceBatch(64));
        c.trainFile = Path.of("t.csv");
        c.model = Path.of("m");
        c.outputDirectory = Path.of("o");
        assertTrue(c.problems().isEmpty(), c.problems().toString());
        for (String wrong : List.of("0", "-5", "many")) {
            c.inferenceBatchTokens = wrong;
            assertEquals(List.of("inferenceBatchTokens '" + wrong + "' is neither auto nor a positive number of padded tokens per batch."),
                    c.problems());
        }
    }

    @Test
    void maxSequenceLengthAutoIsTheSmallerOf128AndTheModelsPositions() {
        FineTuneConfig c = new FineTuneConfig();
        assertEquals("auto", c.maxSequenceLength);
        assertEquals(128, c.maxSequenceLength(null), "a model that does not say");
        assertEquals(64, c.maxSequenceLength(64));
        assertEquals(128, c.maxSequenceLength(512));
        c.maxSequenceLength = "256";
        assertEquals(256, c.maxSequenceLength(64), "a number stays as given (and is then checked against the model)");
        c.maxSequenceLength = "many";
        c.delimiter = "::";
        c.encoding = "klingon-8";
        c.trainFile = Path.of("t.csv");
        c.model = Path.of("m");
        c.outputDirectory = Path.of("o");
        assertEquals(List.of("delimiter '::' is not usable: use auto, tab, or one character such as ; or | (not a quote).",
                "encoding 'klingon-8' is not a charset Java knows: use a name such as UTF-8, windows-1252 or ISO-8859-15.",
                "maxSequenceLength 'many' is neither auto nor a number of tokens."), c.problems());
        c.maxSequenceLength = "2";
        assertTrue(c.problems().contains("maxSequenceLength must be at least 3 ([CLS], one token, [SEP]), not 2."), c.problems().toString());
    }

    @Test
    void encoderDropoutAutoIsResolvedInOnePlace() {
        FineTuneConfig c = TestFiles.unreadConfig();
        assertEquals("auto", c.encoderDropout);
        assertEquals(FineTuneConfig.AUTO_ENCODER_DROPOUT, c.encoderDropoutRate());
        c.encoderDropout = " 0.1 ";
        assertEquals(0.1, c.encoderDropoutRate());
        assertTrue(c.problems().isEmpty(), c.problems().toString());
        c.encoderDropout = "0";
        assertEquals(0, c.encoderDropoutRate());
        for (String bad : new String[] {"1", "-0.1", "some"}) {
            c.encoderDropout = bad;
            assertEquals(List.of("encoderDropout '" + bad + "' is neither auto nor a rate in [0, 1)."), c.problems());
        }
    }

    @Test
    void embeddingUpdatesAutoIsResolvedInOnePlace() {
        FineTuneConfig c = TestFiles.unreadConfig();
        assertEquals("auto", c.embeddingUpdates);
        assertEquals(FineTuneConfig.AUTO_LAZY_EMBEDDINGS, c.lazyEmbeddings());
        c.embeddingUpdates = " Dense ";
        assertEquals(false, c.lazyEmbeddings());
        c.embeddingUpdates = "lazy";
        assertEquals(true, c.lazyEmbeddings());
        assertTrue(c.problems().isEmpty(), c.problems().toString());
        c.embeddingUpdates = "sparse";
        assertEquals(List.of("embeddingUpdates 'sparse' is neither auto, lazy nor dense."), c.problems());
    }

    @Test
    void delimiterAndEncodingCountInTheCopyAndJson() {
        FineTuneConfig c = new FineTuneConfig();
        c.delimiter = ";";
        c.encoding = "windows-1252";
        c.maxSequenceLength = "64";
        var json = dev.finetune.runtime.Json.MAPPER.valueToTree(c);
        assertEquals(";", json.get("delimiter").asText());
        assertEquals("windows-1252", json.get("encoding").asText());
        assertTrue(json.get("maxSequenceLength").isInt(), "a number is written as a number: " + json);
        FineTuneConfig copy = c.copy();
        assertEquals(List.of(";", "windows-1252", "64"), List.of(copy.delimiter, copy.encoding, copy.maxSequenceLength));
    }
    /**
     * {@link FineTuneConfig#copy} goes through JSON and copies the fields JSON leaves out by hand: every public field,
     * set to a value other than its default, must come through, so a field added later and forgotten there fails here.
     */
    @Test
    void theCopyKeepsEveryField() throws IllegalAccessException {
        FineTuneConfig c = new FineTuneConfig();
        List<java.lang.reflect.Field> fields = new java.util.ArrayList<>();
        int n = 0;
        for (java.lang.reflect.Field f : FineTuneConfig.class.getFields()) {
            if (java.lang.reflect.Modifier.isStatic(f.getModifiers()) || java.lang.reflect.Modifier.isFinal(f.getModifiers())) {
                continue;
            }
            n++;
            Class<?> t = f.getType();
            Object value = t == String.class ? "value-" + n
                    : t == int.class || t == Integer.class ? 1000 + n
                    : t == long.class || t == Long.class ? 1000L + n
                    : t == double.class || t == Double.class ? 1000.5 + n
                    : t == boolean.class || t == Boolean.class ? !Boolean.TRUE.equals(f.get(c))
                    : t == java.nio.file.Path.class ? java.nio.file.Path.of("path-" + n)
                    : t == List.class ? new java.util.ArrayList<>(List.of("item-" + n))
                    : null;
            assertTrue(value != null, "no test value for a field of type " + t + ": " + f.getName());
            f.set(c, value);
            fields.add(f);
        }
        FineTuneConfig copy = c.copy();
        for (java.lang.reflect.Field f : fields) {
            assertEquals(f.get(c), f.get(copy), "copy() lost " + f.getName());
        }
        assertTrue(fields.size() > 70, "fields seen: " + fields.size());
    }
}
