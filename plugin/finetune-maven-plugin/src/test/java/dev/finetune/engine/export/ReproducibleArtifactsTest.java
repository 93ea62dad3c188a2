package dev.finetune.engine.export;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.fasterxml.jackson.databind.JsonNode;
import dev.finetune.engine.FineTuneEngine;
import dev.finetune.engine.TestFiles;
import dev.finetune.engine.config.FineTuneConfig;
import dev.finetune.engine.data.DataReader;
import dev.finetune.engine.data.TextFormat;
import dev.finetune.engine.evaluation.Evaluation;
import dev.finetune.engine.evaluation.Evaluator;
import dev.finetune.engine.evaluation.QualityGates;
import dev.finetune.engine.report.EvaluationReports;
import dev.finetune.engine.training.ProgressListener;
import dev.finetune.runtime.FineTunedModel;
import dev.finetune.runtime.Json;
import dev.finetune.runtime.encoding.BatchBudget;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.commons.io.FileUtils;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The same project built in two folders gives byte-identical artifacts: the zip and the application's jar record
 * paths relative to the project and no clock readings of the build.
 */
class ReproducibleArtifactsTest {
    @TempDir
    Path root;

    /** A project folder with its model and data, trained, evaluated with reports and packaged as the goals do. */
    private Path build(Path project) throws IOException {
        FileUtils.copyDirectory(TestFiles.model("tiny-bert-tf1").toFile(), project.resolve("model").toFile());
        Files.createDirectories(project.resolve("data"));
        Files.copy(TestFiles.data("tiny-sentiment.csv"), project.resolve("data/train.csv"));
        Files.copy(TestFiles.data("tiny-sentiment.csv"), project.resolve("data/test.csv"));
        // Repeatable training (one thread, no dropout): the weights themselves have to come out the same.
        FineTuneConfig c = TestFiles.repeatableConfig(project.resolve("target"));
        c.model = project.resolve("model");
        c.trainFile = project.resolve("data/train.csv");
        c.projectDirectory = project;
        FineTuneEngine.train(c, ProgressListener.SILENT);
        try (FineTunedModel model = FineTunedModel.load(c.outputDirectory)) {
            Evaluation e = Evaluator.evaluate(model, new DataReader("text", null, "label"), project.resolve("data/test.csv"),
                    TextFormat.CSV, BatchBudget.rows(8), ProgressListener.SILENT);
            List<QualityGates.Result> gates = new QualityGates(0.5, null, Map.of(), null).check(e);
            EvaluationReports.write(c.outputDirectory, e, gates, project);
        }
        ModelArchive.pack(c.outputDirectory, project.resolve("target/sentiment-model.zip"));
        ModelJar.pack(c.outputDirectory, "sentiment", project.resolve("target/sentiment-model.jar"));
        return c.outputDirectory;
    }

    @Test
    void twoFoldersGiveTheSameBytes() throws IOException {
        Path first = root.resolve("alice/work/sentiment");
        Path second = root.resolve("ci/builds/4711/checkout");
        Path out = build(first);
        build(second);

        // The records name what the project names, not where it lies.
        JsonNode config = Json.MAPPER.readTree(out.resolve("finetune-config.json").toFile());
        assertEquals("model", config.get("model").asText());
        assertEquals("data/train.csv", config.get("trainFile").asText());
        assertEquals("target/finetune", config.get("outputDirectory").asText());
        JsonNode evaluation = Json.MAPPER.readTree(out.resolve(EvaluationReports.JSON).toFile());
        assertEquals("data/test.csv", evaluation.get("testFile").asText());
        assertEquals("target/finetune", evaluation.get("modelDirectory").asText());

        for (String artifact : List.of("target/sentiment-model.zip", "target/sentiment-model.jar")) {
            byte[] a = Files.readAllBytes(first.resolve(artifact));
            byte[] b = Files.readAllBytes(second.resolve(artifact));
            assertFalse(new String(a, StandardCharsets.ISO_8859_1).contains(root.toString()), artifact + " names the build folder");
            assertArrayEquals(a, b, artifact + " differs between the two folders");
        }
    }
}
