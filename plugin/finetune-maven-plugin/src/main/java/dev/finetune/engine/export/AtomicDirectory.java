package dev.finetune.engine.export;

import dev.finetune.runtime.FineTuneException;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.apache.commons.io.FileUtils;

/**
 * Writes a directory whole or not at all: the content goes to a temporary sibling, which is renamed into place
 * only when complete. A previous directory is moved aside first and deleted after, so readers never see a mix.
 */
public final class AtomicDirectory {
    /** Fills a directory. */
    @FunctionalInterface
    public interface Writer {
        void write(Path directory) throws IOException;
    }

    private AtomicDirectory() {
    }

    public static void write(Path target, Writer writer) {
        Path parent = target.toAbsolutePath().getParent();
        Path staging = null;
        try {
            Files.createDirectories(parent);
            recover(target);
            staging = Files.createTempDirectory(parent, "." + target.getFileName() + ".tmp-");
            writer.write(staging);
            Path old = null;
            if (Files.exists(target)) {
                old = Files.createTempDirectory(parent, "." + target.getFileName() + ".old-");
                Files.delete(old);
                move(target, old);
            }
            move(staging, target);
            staging = null;
            if (old != null) {
                deleteQuietly(old);
            }
        } catch (IOException e) {
            throw new FineTuneException("Cannot write " + target + ": " + e.getMessage(), e);
        } finally {
            if (staging != null) {
                deleteQuietly(staging);
            }
        }
    }

    /**
     * Tidies what a killed writer left: a previous version moved aside but not yet replaced is put back; half-written
     * staging folders are deleted. Callers hold the output's lock, so nothing here is another writer's work.
     */
    static void recover(Path target) throws IOException {
        Path parent = target.toAbsolutePath().getParent();
        String name = target.getFileName().toString();
        try (var siblings = Files.list(parent)) {
            for (Path p : (Iterable<Path>) siblings::iterator) {
                String n = p.getFileName().toString();
                if (n.startsWith("." + name + ".old-") && !Files.exists(target)) {
                    move(p, target);
                } else if (n.startsWith("." + name + ".tmp-") || n.startsWith("." + name + ".old-")) {
                    deleteQuietly(p);
                }
            }
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to);
        }
    }

    public static void deleteQuietly(Path p) {
        FileUtils.deleteQuietly(p.toFile());
    }
}
