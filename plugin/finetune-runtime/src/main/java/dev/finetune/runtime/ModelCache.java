package dev.finetune.runtime;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Where packed models (a base model's .zip/.jar for training, a fine-tuned model's zip or model jar for an application)
 * are unpacked, since TensorFlow reads a SavedModel from files. One cache for every build and application of the user,
 * outside any {@code target/}: {@code mvn clean} keeps it, and two projects on the same base model unpack it once.
 * One folder per content checksum, so a changed archive never meets a stale copy. Safe when several processes unpack
 * the same model at once: each writes a private folder and renames it into place; the first rename wins and the
 * others use it, so a folder under its key is always whole.
 */
public final class ModelCache {
    /** The system property, then the environment variable, that move the cache; else {@code ~/.cache/finetune/models}. */
    public static final String PROPERTY = "finetune.cache";
    public static final String VARIABLE = "FINETUNE_CACHE";

    /** Every key ends with the first 128 bits of a SHA-256; {@link #clean} deletes nothing else. */
    private static final Pattern KEY = Pattern.compile("[A-Za-z0-9._-]*-[0-9a-f]{32}");
    /** What an unpack in progress (or one killed) writes to: "." + key + "-" + random. */
    private static final Pattern PARTIAL = Pattern.compile("\\.[A-Za-z0-9._-]*-[0-9a-f]{32}-.+");

    /** Writes a model's files into an empty folder. */
    @FunctionalInterface
    public interface Unpacker {
        void unpackInto(Path folder) throws IOException;
    }

    /** One unpacked model in the cache, or the leftover of an interrupted unpack ({@code partial}). */
    public record Entry(Path folder, long bytes, boolean partial) {
    }

    private ModelCache() {
    }

    /** {@code -Dfinetune.cache}, else {@code FINETUNE_CACHE}, else {@code ~/.cache/finetune/models}. */
    public static Path defaultRoot() {
        String configured = System.getProperty(PROPERTY, System.getenv(VARIABLE));
        if (configured != null && !configured.isBlank()) {
            return Path.of(configured);
        }
        return Path.of(System.getProperty("user.home"), ".cache", "finetune", "models");
    }

    /**
     * The key of an archive: its file name (so a listing of the cache says what is what) and its SHA-256. The bytes
     * decide, not the path or the time: the same jar in two local repositories is one entry, a rebuilt one a new entry.
     */
    public static String archiveKey(Path archive) {
        try {
            return key(archive.getFileName().toString(), Checksums.sha256(archive));
        } catch (IOException e) {
            throw new FineTuneException("Cannot read the model archive " + archive + ": " + e.getMessage(), e);
        }
    }

    /** A key from a readable name and a hex checksum (at least 32 digits). */
    static String key(String name, String hexChecksum) {
        return name.replaceAll("[^A-Za-z0-9._-]", "_") + "-" + hexChecksum.substring(0, 32);
    }

    /** The folder holding the model with checksum {@code key}, unpacked now by {@code unpacker} if no earlier run did. */
    public static Path folder(Path root, String key, Unpacker unpacker) {
        if (!KEY.matcher(key).matches()) {
            throw new IllegalArgumentException("Not a cache key: " + key);
        }
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
            } catch (IOException e) {
                // Another process renamed the same bytes into place first (Linux and macOS say the target is not empty,
                // Windows denies access): use its copy.
                if (!Files.isDirectory(target)) {
                    throw e;
                }
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

    /** The unpacked models under {@code root} and the leftovers of interrupted unpacks; nothing when there is no cache. */
    public static List<Entry> entries(Path root) {
        List<Entry> entries = new ArrayList<>();
        if (!Files.isDirectory(root)) {
            return entries;
        }
        try (Stream<Path> children = Files.list(root)) {
            for (Path p : (Iterable<Path>) children.sorted()::iterator) {
                String name = p.getFileName().toString();
                boolean whole = KEY.matcher(name).matches();
                if ((whole || PARTIAL.matcher(name).matches()) && Files.isDirectory(p)) {
                    entries.add(new Entry(p, size(p), !whole));
                }
            }
        } catch (IOException | UncheckedIOException e) {
            throw new FineTuneException("Cannot list the model cache " + root + ": " + e.getMessage(), e);
        }
        return entries;
    }

    /**
     * Deletes every entry of the cache under {@code root} and returns them. Only folders named as this class names them
     * are touched, so a cache directory set by mistake to a folder with other files loses none of them. Not for while
     * a build or an application uses the cache: a model being read would lose its files.
     */
    public static List<Entry> clean(Path root) {
        List<Entry> entries = entries(root);
        for (Entry e : entries) {
            delete(e.folder());
        }
        return entries;
    }

    private static long size(Path folder) throws IOException {
        try (Stream<Path> walk = Files.walk(folder)) {
            return walk.filter(Files::isRegularFile).mapToLong(p -> {
                try {
                    return Files.size(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }).sum();
        }
    }

    private static void delete(Path folder) {
        try (Stream<Path> walk = Files.walk(folder)) {
            for (Path p : (Iterable<Path>) walk.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new FineTuneException("Cannot delete " + folder + " from the model cache: " + e.getMessage(), e);
        }
    }

    private static void deleteQuietly(Path folder) {
        try {
            delete(folder);
        } catch (FineTuneException ignored) {
            // A leftover temporary folder starts with '.', the next unpack ignores it and clean removes it.
        }
    }
}
