package dev.finetune.engine.export;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finetune.engine.report.EvaluationReports;
import dev.finetune.runtime.FineTuneException;
import dev.finetune.runtime.Json;
import java.io.IOException;
import java.io.OutputStream;
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
 * in which it is installed and deployed as a Maven artifact. The artifact depends on the project and the model only,
 * not on where or when it was built: entries are sorted and carry a fixed time, the records name paths relative to
 * the project, and what only describes this build stays out (the up-to-date digest, the gates' JUnit file, the wall-clock
 * {@code seconds} of the JSON records). So the same project built in two folders gives the same bytes.
 * {@link ModelJar} writes the application's jar the same way.
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
        write(modelDirectory, zip, partial -> {
            List<Path> files;
            try (Stream<Path> walk = Files.walk(modelDirectory)) {
                files = walk.filter(Files::isRegularFile).filter(f -> !buildOnly(f.getFileName().toString())).sorted()
                        .collect(Collectors.toList());
            }
            try (ZipOutputStream out = new ZipOutputStream(Files.newOutputStream(partial))) {
                for (Path f : files) {
                    put(out, new ZipEntry(modelDirectory.relativize(f).toString().replace('\\', '/')), os -> os.write(portableBytes(f)));
                }
            }
        });
    }

    /** Files that describe this build rather than the model: the up-to-date digest and the gates' JUnit report. */
    static boolean buildOnly(String name) {
        return name.equals("finetune-digest.txt") || name.equals(EvaluationReports.JUNIT) || name.endsWith(".partial")
                || name.endsWith(".tmp");
    }

    /**
     * A file's bytes for an archive: a JSON record without its wall-clock {@code seconds} (rewritten only when it had
     * some), anything else as it is.
     */
    static byte[] portableBytes(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        if (!file.getFileName().toString().endsWith(".json")) {
            return bytes;
        }
        JsonNode json = Json.MAPPER.readTree(bytes);
        return removeSeconds(json) ? Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(json) : bytes;
    }

    private static boolean removeSeconds(JsonNode node) {
        boolean removed = node instanceof ObjectNode o && o.remove("seconds") != null;
        for (JsonNode child : node) {
            removed |= removeSeconds(child);
        }
        return removed;
    }

    /** Writes an archive's bytes into a file. */
    interface Writer {
        void writeTo(Path file) throws IOException;
    }

    /** What goes into one entry. */
    interface Content {
        void writeTo(OutputStream out) throws IOException;
    }

    /** Writes {@code archive} whole or not at all: into a temporary file beside it, moved into place when complete. */
    static void write(Path modelDirectory, Path archive, Writer writer) {
        Path parent = archive.toAbsolutePath().getParent();
        Path partial = null;
        try {
            Files.createDirectories(parent);
            partial = Files.createTempFile(parent, "." + archive.getFileName(), ".partial");
            writer.writeTo(partial);
            Files.move(partial, archive, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            partial = null;
        } catch (IOException e) {
            throw new FineTuneException("Cannot pack " + modelDirectory + " into " + archive + ": " + e.getMessage(), e);
        } finally {
            if (partial != null) {
                AtomicDirectory.deleteQuietly(partial);
            }
        }
    }

    /** One entry with the fixed time, so that the archive's bytes depend on the contents only. */
    static void put(ZipOutputStream out, ZipEntry entry, Content content) throws IOException {
        entry.setTimeLocal(FIXED_TIME);
        out.putNextEntry(entry);
        content.writeTo(out);
        out.closeEntry();
    }
}
