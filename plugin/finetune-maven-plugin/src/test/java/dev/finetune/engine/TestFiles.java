package dev.finetune.engine;

import dev.finetune.engine.config.FineTuneConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

/** Where the build's shared test material lives: src/models (the tiny SavedModels) and src/data. */
public final class TestFiles {
    private TestFiles() {
    }

    public static Path shared() {
        String dir = System.getProperty("finetune.shared.dir");
        Path p = dir != null ? Paths.get(dir) : Paths.get("..", "src");
        if (!Files.isDirectory(p.resolve("models"))) {
            throw new IllegalStateException("shared test folder not found at " + p.toAbsolutePath());
        }
        return p;
    }

    public static Path model(String name) {
        return shared().resolve("models").resolve(name);
    }

    /** Settings that train the tiny test models on tiny-sentiment.csv to high accuracy in seconds. */
    public static FineTuneConfig tinyConfig(String model, Path out) {
        FineTuneConfig c = new FineTuneConfig();
        c.model = TestFiles.model(model);
        c.trainFile = TestFiles.data("tiny-sentiment.csv");
        c.outputDirectory = out.resolve("finetune");
        c.workDirectory = out.resolve("finetune-work");
        c.epochs = 10;
        c.batchSize = 16;
        c.learningRate = 3e-3;
        c.maxSequenceLength = "32";
        c.validationSplit = 0.2;
        c.logEverySteps = 5;
        // float32 everywhere: "auto" would pick bfloat16 on some CI machines and float32 on others.
        c.precision = "float32";
        return c;
    }

    /** Three epochs of the TF1 model on one thread without dropout: runs that repeat exactly, to compare resumed runs. */
    public static FineTuneConfig repeatableConfig(Path root) {
        FineTuneConfig c = tinyConfig("tiny-bert-tf1", root);
        c.epochs = 3;
        c.dropout = 0;
        c.intraOpThreads = 1;
        c.interOpThreads = 1;
        return c;
    }

    public static Path data(String name) {
        return shared().resolve("data").resolve(name);
    }
}
