package dev.finetune.engine.export;

import dev.finetune.engine.FineTuneException;
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
