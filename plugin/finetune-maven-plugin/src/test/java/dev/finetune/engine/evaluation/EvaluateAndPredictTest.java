package dev.finetune.engine.evaluation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.finetune.engine.FineTuneEngine;
import dev.finetune.engine.TestFiles;
import dev.finetune.engine.config.FineTuneConfig;
import dev.finetune.engine.data.DataReader;
import dev.finetune.engine.data.TextFormat;
import dev.finetune.engine.inference.Predictor;
import dev.finetune.engine.report.EvaluationReports;
import dev.finetune.engine.training.ProgressListener;
import dev.finetune.runtime.FineTuneException;
import dev.finetune.runtime.FineTunedModel;
import dev.finetune.runtime.Json;
import dev.finetune.runtime.encoding.BatchBudget;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.commons.io.FileUtils;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Evaluation, gates, the four reports and batch prediction, on a model trained once for the class. */
class EvaluateAndPredictTest {
    @TempDir
    static Path root;
    static Path modelDir;
    static Path testFile;

    @BeforeAll
    static void trainOnce() throws IOException {
        FineTuneConfig c = TestFiles.tinyConfig("tiny-bert-tf2", root);
        FineTuneEngine.train(c, ProgressListener.SILENT);
        modelDir = c.outputDirectory;
        List<String> lines = new ArrayList<>(Files.readAllLines(TestFiles.data("tiny-sentiment.csv")).subList(0, 41));
        lines.add("\"the plot was fine, I guess\",neutral");
        lines.add("the story is so-so,neutral");
        testFile = Files.write(root.resolve("test.csv"), lines);
    }

    @Test
    void evaluatesReportsUnknownLabelsAndChecksGates() throws IOException {
        List<String> log = new ArrayList<>();
        Evaluation e;
        try (FineTunedModel model = FineTunedModel.load(modelDir)) {
            e = Evaluator.evaluate(model, new DataReader("text", null, "label"), testFile, TextFormat.CSV, BatchBudget.rows(8), new ProgressListener() {
                @Override
                public void info(String message) {
                    log.add(message);
                }
            });
        }
        assertEquals(40, e.metrics().examples());
        assertEquals(Map.of("neutral", 2), e.unknownLabels());
        assertTrue(log.stream().anyMatch(m -> m.contains("labels the model does not know") && m.contains("neutral=2")), log.toString());
        assertTrue(e.metrics().accuracy() > 0.9, "accuracy " + e.metrics().accuracy());

        QualityGates gates = new QualityGates(0.9, 0.99999, Map.of("positive", 0.5), 5.0);
        List<QualityGates.Result> results = gates.check(e);
        assertEquals(4, results.size());
        QualityGates.Result macro = results.get(1);
        assertEquals(e.metrics().macro().f1() >= 0.99999, macro.passed());
        assertTrue(results.get(0).passed() && results.get(2).passed() && results.get(3).passed());
        String message = new QualityGates(1.5, null, null, null).check(e).get(0).message();
        assertTrue(message.matches("accuracy is \\d\\.\\d{4}, which violates the minimum limit of 1\\.5000"), message);
        assertThrows(FineTuneException.class, () -> new QualityGates(null, null, Map.of("neutral", 0.5), null).check(e));

        Path reports = root.resolve("reports");
        EvaluationReports.write(reports, e, results);
        JsonNode json = Json.MAPPER.readTree(reports.resolve(EvaluationReports.JSON).toFile());
        assertEquals(1, json.get("schemaVersion").asInt());
        assertEquals(40, json.get("examples").asInt());
        assertEquals(e.metrics().accuracy(), json.get("accuracy").asDouble(), 1e-12);
        assertEquals("[\"negative\",\"positive\"]", json.get("labels").toString());
        assertEquals(2, json.get("perClass").size());
        assertEquals("positive", json.get("perClass").get(1).get("label").asText());
        assertEquals(2, json.get("confusionMatrix").get("rows").size());
        assertEquals(2, json.get("unknownLabels").get("neutral").asInt());
        assertEquals(4, json.get("gates").size());
        assertTrue(json.has("rocAuc") && json.has("prAuc") && json.has("expectedCalibrationError") && json.has("worstErrors"));
        // Every text is at least [CLS], a word and [SEP]; the figure is the one the evaluation counted.
        assertTrue(e.paddedTokensPerExample() >= 3, "padded tokens per example " + e.paddedTokensPerExample());
        assertEquals(e.paddedTokensPerExample(), json.get("paddedTokensPerExample").asDouble(), 1e-12);

        String html = Files.readString(reports.resolve(EvaluationReports.HTML));
        assertTrue(html.contains("aria-label=\"confusion matrix\""), "no confusion matrix SVG");
        assertTrue(html.contains("aria-label=\"Training loss per step\"") && html.contains("aria-label=\"Learning rate\"")
                && html.contains("aria-label=\"Validation accuracy per epoch\""), "training curves missing");
        assertFalse(html.contains("http://") && html.contains("<script"), "the page must be self-contained");
        assertTrue(html.contains("neutral"), "unknown labels not shown");

        String junit = Files.readString(reports.resolve(EvaluationReports.JUNIT));
        assertTrue(junit.contains("tests=\"4\""), junit);
        assertEquals(macro.passed() ? 0 : 1, junit.split("<failure ", -1).length - 1);
        String md = Files.readString(reports.resolve(EvaluationReports.MARKDOWN));
        assertTrue(md.contains("| accuracy | ") && md.contains("| positive | "), md);
    }

    /**
     * A file of several prediction windows (batches of 2: windows of 64 rows), a fifth of its labels flipped so there are
     * mistakes to rank: the same metrics and worst mistakes as predicting the whole file at once.
     */
    @Test
    void aFileEvaluatedWindowByWindowHasTheWholeFilesMetrics() throws IOException {
        List<String> lines = new ArrayList<>(Files.readAllLines(TestFiles.data("tiny-sentiment.csv")));
        for (int i = 1; i < lines.size(); i += 5) {
            String line = lines.get(i);
            lines.set(i, line.endsWith(",positive") ? line.replaceFirst(",positive$", ",negative") : line.replaceFirst(",negative$", ",positive"));
        }
        lines.add("the story is so-so,neutral");
        Path flipped = Files.write(root.resolve("flipped.csv"), lines);
        DataReader reader = new DataReader("text", null, "label");
        try (FineTunedModel model = FineTunedModel.load(modelDir)) {
            Evaluation e = Evaluator.evaluate(model, reader, flipped, TextFormat.CSV, BatchBudget.rows(2), ProgressListener.SILENT);
            assertEquals(240, e.metrics().examples());
            assertEquals(Map.of("neutral", 1), e.unknownLabels());
            assertEquals(Evaluator.WORST_ERRORS, e.worstErrors().size());
            WholeFileReference.assertSingleLabel(e, model, reader, flipped, 2);
        }
    }

    /**
     * Batches cut by a small budget of tokens (a few rows each, as many as their length allows, at most 5: windows of
     * 160 rows, so two over the file) give the same metrics as predicting the whole file in batches of rows.
     */
    @Test
    void anEvaluationByTokenBudgetHasTheMetricsOfRowBatches() throws IOException {
        DataReader reader = new DataReader("text", null, "label");
        Path file = TestFiles.data("tiny-sentiment.csv");
        try (FineTunedModel model = FineTunedModel.load(modelDir)) {
            BatchBudget budget = new BatchBudget(40, 5);
            Evaluation byTokens = Evaluator.evaluate(model, reader, file, TextFormat.CSV, budget, ProgressListener.SILENT);
            Evaluation byRows = Evaluator.evaluate(model, reader, file, TextFormat.CSV, BatchBudget.rows(16), ProgressListener.SILENT);
            WholeFileReference.assertSingleLabel(byTokens, model, reader, file, 16);
            assertEquals(byRows.metrics().accuracy(), byTokens.metrics().accuracy());
            assertEquals(byRows.metrics().logLoss(), byTokens.metrics().logLoss(), 1e-5);
        }
    }

    @Test
    void predictsAFileIntoCsv() throws IOException {
        Path input = Files.writeString(root.resolve("input.jsonl"),
                "{\"text\":\"the movie was great\"}\n\n{\"text\":\"the movie was awful\",\"label\":\"ignored\"}\n{\"text\":\"a, \\\"quoted\\\" book\"}\n");
        Path out = root.resolve("out/predictions.csv");
        long rows;
        try (FineTunedModel model = FineTunedModel.load(modelDir)) {
            rows = Predictor.predict(model, DataReader.unlabelled("text", null, "label"), input, TextFormat.JSONL, out, BatchBudget.rows(2),
                    ProgressListener.SILENT);
        }
        assertEquals(3, rows);
        List<String> lines = Files.readAllLines(out);
        assertEquals("line,predicted,probability,p_negative,p_positive", lines.get(0));
        assertEquals(4, lines.size());
        String[] first = lines.get(1).split(",");
        assertEquals("1", first[0]);
        assertEquals("positive", first[1]);
        assertEquals(1.0, Double.parseDouble(first[3]) + Double.parseDouble(first[4]), 1e-5);
        assertTrue(lines.get(2).startsWith("3,negative,"), lines.get(2));
        assertTrue(lines.get(3).startsWith("4,"), lines.get(3));
        try (var files = Files.list(out.getParent())) {
            assertEquals(1, files.count(), "no temporary file may be left behind");
        }
    }

    @Test
    void aTokenizerOrLabelsOfAnotherModelAreListedBeforeTensorFlowRuns() throws IOException {
        Path copy = root.resolve("mismatched");
        FileUtils.copyDirectory(modelDir.toFile(), copy.toFile());
        StringBuilder extra = new StringBuilder();
        for (int i = 0; i < 300; i++) {
            extra.append("extra").append(i).append('\n');
        }
        Files.writeString(copy.resolve("vocab.txt"), extra, StandardOpenOption.APPEND);
        FineTuneException e = assertThrows(FineTuneException.class, () -> FineTunedModel.load(copy));
        String vocabulary = "Tokenizer " + copy.resolve("vocab.txt") + " has 511 tokens, but the model's largest embedding table '";
        assertTrue(e.getMessage().startsWith("The fine-tuned model in " + copy + " cannot run:\n  - " + vocabulary)
                && e.getMessage().endsWith("' has only 211 rows: the tokenizer belongs to another model."), e.getMessage());

        Files.writeString(copy.resolve("labels.json"), Files.readString(copy.resolve("labels.json")).replace("\"positive\"",
                "\"positive\",\"neutral\""));
        e = assertThrows(FineTuneException.class, () -> FineTunedModel.load(copy));
        assertTrue(e.getMessage().contains("\n  - " + vocabulary) && e.getMessage().contains("\n  - " + copy.resolve("labels.json")
                + " lists 3 labels, but the model's output 'probabilities' has 2 classes: the labels belong to another model."),
                e.getMessage());
    }

    @Test
    void explainsAMissingModel() {
        FineTuneException e = assertThrows(FineTuneException.class, () -> FineTunedModel.load(root.resolve("nothing")));
        assertTrue(e.getMessage().contains("Run the train goal first"), e.getMessage());
    }
}
