package dev.finetune.runtime;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Where packed models (a zip, a model jar on the class path) are unpacked, since TensorFlow reads a SavedModel from
 * files. One folder per content checksum: a model is unpacked once and reused by every later start, and a changed
 * model never meets a stale copy. Safe when several processes unpack the same model at once: each writes a private
 * folder and renames it into place; the first rename wins and the others use it.
 */
final class ModelCache {
    /** The system property, then the environment variable, that move the cache; else {@code ~/.cache/finetune/models}. */
    static final String PROPERTY = "finetune.cache";
    static final String VARIABLE = "FINETUNE_CACHE";

    /** Writes a model's files into an empty folder. */
    interface Unpacker {
        void unpackInto(Path folder) throws IOException;
    }

    private ModelCache() {
    }

    static Path defaultRoot() {
        String configured = System.getProperty(PROPERTY, System.getenv(VARIABLE));
        if (configured != null && !configured.isBlank()) {
            return Path.of(configured);
        }
        return Path.of(System.getProperty("user.home"), ".cache", "finetune", "models");
    }

    /** The folder holding the model with checksum {@code key}, unpacked now by {@code unpacker} if no earlier run did. */
    static Path folder(Path root, String key, Unpacker unpacker) {
        Path target = root.resolve(key);
        if (Files.isDirectory(target)) {
            return target;
        }
        Path partial = null;
        try {
            Files.createDirectories(root);
            partial = Files.createTempDirectory(root, "." + key + "-");
            unpacker.unpackInto(partial);
            try {
                Files.move(partial, target, StandardCopyOption.ATOMIC_MOVE);
                partial = null;
            } catch (FileAlreadyExistsException | DirectoryNotEmptyException | AtomicMoveNotSupportedException e) {
                if (!Files.isDirectory(target)) {
                    throw e;
                }
                // Another process unpacked the same bytes first: use its copy.
            }
            return target;
        } catch (IOException e) {
            throw new FineTuneException("Cannot unpack the model into the cache " + root + " (" + e
                    + "); set -D" + PROPERTY + " or " + VARIABLE + " to a writable folder.", e);
        } finally {
            if (partial != null) {
                deleteQuietly(partial);
            }
        }
    }

    private static void deleteQuietly(Path folder) {
        try (Stream<Path> walk = Files.walk(folder)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (IOException | UncheckedIOException ignored) {
            // A leftover temporary folder starts with '.', and the next unpack ignores it.
        }
    }
}
