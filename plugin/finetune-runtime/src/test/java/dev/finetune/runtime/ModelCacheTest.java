package dev.finetune.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The shared cache's bookkeeping: what clean removes (and what it leaves), a failed unpack, where the cache is. */
class ModelCacheTest {
    @TempDir
    Path tmp;

    @Test
    void cleanDeletesUnpackedModelsAndLeftoversButNothingElse() throws IOException {
        Path root = tmp.resolve("cache");
        Path model = ModelCache.folder(root, ModelCache.key("a.jar", "0".repeat(64)),
                f -> Files.writeString(Files.createDirectories(f.resolve("variables")).resolve("variables.index"), "x"));
        Path partial = Files.createDirectories(root.resolve("." + ModelCache.key("b.zip", "1".repeat(64)) + "-12345"));
        Files.writeString(partial.resolve("half"), "yy");
        // A cache directory set by mistake to a folder of the user's: clean must not touch what it did not write.
        Path notes = Files.writeString(root.resolve("notes.txt"), "mine");
        Path sources = Files.createDirectories(root.resolve("src-0123456789abcdef"));

        List<ModelCache.Entry> entries = ModelCache.entries(root);
        assertEquals(List.of(new ModelCache.Entry(partial, 2, true), new ModelCache.Entry(model, 1, false)), entries);
        assertEquals(entries, ModelCache.clean(root));
        assertFalse(Files.exists(model));
        assertFalse(Files.exists(partial));
        assertTrue(Files.isRegularFile(notes) && Files.isDirectory(sources));
        assertEquals(List.of(), ModelCache.clean(root));
        assertEquals(List.of(), ModelCache.clean(tmp.resolve("no-cache-yet")));
    }

    @Test
    void aFailedUnpackLeavesNothingBehind() throws IOException {
        Path root = tmp.resolve("cache");
        String key = ModelCache.key("model.zip", "ab".repeat(32));
        FineTuneException e = assertThrows(FineTuneException.class, () -> ModelCache.folder(root, key, f -> {
            Files.writeString(f.resolve("saved_model.pb"), "half");
            throw new IOException("No space left on device");
        }));
        assertTrue(e.getMessage().contains("No space left on device") && e.getMessage().contains("-Dfinetune.cache"), e.getMessage());
        try (Stream<Path> left = Files.list(root)) {
            assertEquals(List.of(), left.toList());
        }
        // The next try unpacks anew.
        Path ok = ModelCache.folder(root, key, f -> Files.writeString(f.resolve("saved_model.pb"), "whole"));
        assertEquals("whole", Files.readString(ok.resolve("saved_model.pb")));
        assertThrows(IllegalArgumentException.class, () -> ModelCache.folder(root, "../escape", f -> { }));
    }

    @Test
    void theCacheIsUnderTheUsersHomeUnlessMoved() {
        String before = System.getProperty(ModelCache.PROPERTY);
        try {
            System.setProperty(ModelCache.PROPERTY, tmp.toString());
            assertEquals(tmp, ModelCache.defaultRoot());
            System.clearProperty(ModelCache.PROPERTY);
            if (System.getenv(ModelCache.VARIABLE) == null) {
                assertEquals(Path.of(System.getProperty("user.home"), ".cache", "finetune", "models"), ModelCache.defaultRoot());
            }
        } finally {
            if (before != null) {
                System.setProperty(ModelCache.PROPERTY, before);
            }
        }
    }
}
