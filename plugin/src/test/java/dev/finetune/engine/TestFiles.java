package dev.finetune.engine;

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

    public static Path data(String name) {
        return shared().resolve("data").resolve(name);
    }
}
