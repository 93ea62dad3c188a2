package dev.finetune.engine.export;

import dev.finetune.runtime.FineTuneException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.LocalDateTime;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * Packs a fine-tuned model folder (SavedModel, labels, vocabulary, configuration, reports) into one zip, the form
 * in which it is installed and deployed as a Maven artifact. Entries are sorted and carry a fixed time, so the same
 * model always gives the same bytes.
 */
public final class ModelArchive {
    /**
     * Zip stores local date-times, and setTime(long) converts an instant in the default time zone: 1980-01-01 UTC
     * fell before 1980 west of Greenwich and added an extra timestamp field, so the bytes depended on the time zone.
     * A local date-time is stored as it is; 1 February, since zip reads 1980-01-01 00:00 as "before 1980".
     */
    static final LocalDateTime FIXED_TIME = LocalDateTime.of(1980, 2, 1, 0, 0);

    private ModelArchive() {
    }

    public static void pack(Path modelDirectory, Path zip) {
        if (!Files.isRegularFile(modelDirectory.resolve("saved_model").resolve("saved_model.pb"))) {
            throw new FineTuneException("No fine-tuned model in " + modelDirectory + " to package: run the train goal first.");
        }
        Path parent = zip.toAbsolutePath().getParent();
        Path partial = null;
        try {
            Files.createDirectories(parent);
            partial = Files.createTempFile(parent, "." + zip.getFileName(), ".partial");
            List<Path> files;
            try (Stream<Path> walk = Files.walk(modelDirectory)) {
                files = walk.filter(Files::isRegularFile).sorted().collect(Collectors.toList());
            }
            try (ZipOutputStream out = new ZipOutputStream(Files.newOutputStream(partial))) {
                for (Path f : files) {
                    ZipEntry e = new ZipEntry(modelDirectory.relativize(f).toString().replace('\\', '/'));
                    e.setTimeLocal(FIXED_TIME);
                    out.putNextEntry(e);
                    Files.copy(f, out);
                    out.closeEntry();
                }
            }
            Files.move(partial, zip, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            partial = null;
        } catch (IOException e) {
            throw new FineTuneException("Cannot pack " + modelDirectory + " into " + zip + ": " + e.getMessage(), e);
        } finally {
            if (partial != null) {
                AtomicDirectory.deleteQuietly(partial);
            }
        }
    }
}
