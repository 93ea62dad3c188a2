package dev.finetune.engine.data;

import dev.finetune.runtime.Checksums;
import dev.finetune.runtime.FineTuneException;
import dev.finetune.runtime.encoding.LabeledText;
import dev.finetune.runtime.encoding.TaggedSentence;
import dev.finetune.runtime.encoding.TokenExamples;
import dev.finetune.runtime.tokenizer.TextTokenizer;
import dev.finetune.runtime.tokenizer.WordWindows;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.function.Consumer;

/**
 * Data files tokenized once, in one streaming pass, into {@link ExampleFile}s kept in a folder of the build
 * ({@code target/finetune-work/examples/} by default) and reused by later runs while the data file (its path, size and
 * modification time), the way it is read (format, columns, delimiter, encoding, task), the tokenizer and the maximum
 * length are unchanged. A file is written under a temporary name and renamed into place whole, and is checked against
 * its key when opened, so an interrupted run leaves nothing a later run trusts. Problems in the data are reported while
 * streaming, naming file, line and column as when reading into memory.
 *
 * <pre>{@code
 * ExampleCache cache = new ExampleCache(Path.of("target/finetune-work/examples"), tokenizer, tokenizerKey, 128, log::info);
 * ExampleFile rows = cache.open(Path.of("train.csv"), TextFormat.CSV, new DataReader("text", null, "label"),
 *         ExampleCache.Labels.CLASS);
 * }</pre>
 */
public final class ExampleCache {
    /** What a row's label is, as the file keeps it. */
    public enum Labels {
        /** One class name (single-label). */
        CLASS,
        /** A set of label names, maybe empty (multi-label). */
        LABEL_SET,
        /** A number (regression). */
        NUMBER
    }

    /** A temporary file older than this belongs to a run that ended without finishing it. */
    private static final Duration ABANDONED = Duration.ofMinutes(10);

    private final Path directory;
    private final TextTokenizer tokenizer;
    private final String tokenizerKey;
    private final int maxLength;
    private final Consumer<String> log;

    /**
     * {@code tokenizerKey} stands for everything that decides the tokenizer's ids (its file's checksum, lower-casing);
     * {@code maxLength} is where encodings are cut.
     */
    public ExampleCache(Path directory, TextTokenizer tokenizer, String tokenizerKey, int maxLength, Consumer<String> log) {
        this.directory = directory;
        this.tokenizer = tokenizer;
        this.tokenizerKey = tokenizerKey;
        this.maxLength = maxLength;
        this.log = log;
    }

    public Path directory() {
        return directory;
    }

    /** The rows of {@code file} read by {@code reader} in {@code format}, tokenized: from the cache, or made now. */
    public ExampleFile open(Path file, TextFormat format, DataReader reader, Labels labels) {
        String reading = "labels " + labels + "\ncolumns " + reader.textColumn + " " + reader.pairColumn + " " + reader.labelColumn
                + " " + reader.labelRequired + "\ndialect " + reader.delimiter + " " + reader.charset.name() + " " + reader.labelSeparator;
        return open(file, key(file, format, reading), w -> write(file, format, reader, labels, w));
    }

    /**
     * The tagged sentences of {@code file} read by {@code reader} in {@code format}, tokenized into windows of whole words
     * as {@link TokenExamples#encode} makes them, one row a window: from the cache, or made now. The reader holds one
     * sentence at a time.
     */
    public ExampleFile openSentences(Path file, TextFormat format, TokenDataReader reader) {
        return open(file, key(file, format, "sentences " + reader.describe()), w -> writeSentences(file, format, reader, w));
    }

    /** Writes the rows of a data file; a problem in the data is a {@link DataException}. */
    private interface Rows {
        void write(ExampleFile.Writer w) throws IOException;
    }

    private ExampleFile open(Path file, byte[] key, Rows rowsOf) {
        String prefix = file.getFileName() + "-" + Checksums.sha256(file.toAbsolutePath().normalize().toString()
                .getBytes(StandardCharsets.UTF_8)).substring(0, 8) + "-";
        Path target = directory.resolve(prefix + HexFormat.of().formatHex(key, 0, 8) + ".examples");
        ExampleFile cached = ExampleFile.openIfValid(target, key);
        if (cached != null) {
            log.accept("Tokenized data: " + cached.rows() + " rows of " + file.getFileName() + " from " + target + ".");
            return cached;
        }
        Path temporary = null;
        try {
            Files.createDirectories(directory);
            temporary = Files.createTempFile(directory, "." + prefix, ".tmp");
            long started = System.nanoTime();
            int rows;
            try (ExampleFile.Writer w = new ExampleFile.Writer(temporary, key, tokenizer.vocabularySize())) {
                rowsOf.write(w);
                w.finish();
                rows = w.rows();
            }
            Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            temporary = null;
            double seconds = (System.nanoTime() - started) / 1e9;
            log.accept(String.format("Tokenized data: %d rows of %s in %.1f s (%.0f rows/s) into %s (%.1f MB), reused while the "
                    + "file, tokenizer and maxSequenceLength are unchanged.", rows, file.getFileName(), seconds, rows / seconds,
                    target, Files.size(target) / 1e6));
            removeOthers(prefix, target);
        } catch (IOException e) {
            throw new FineTuneException("Cannot write the tokenized data of " + file + " to " + directory + ": " + e.getMessage(), e);
        } finally {
            deleteQuietly(temporary);
        }
        ExampleFile made = ExampleFile.openIfValid(target, key);
        if (made == null) {
            throw new FineTuneException("The tokenized data in " + target + " cannot be read back; delete " + directory + " and retry.");
        }
        return made;
    }

    private void write(Path file, TextFormat format, DataReader reader, Labels labels, ExampleFile.Writer w) throws IOException {
        try (RecordStream in = reader.open(file, format)) {
            for (LabeledText t = in.next(); t != null; t = in.next()) {
                TextTokenizer.Encoding e = tokenizer.encode(t.text(), t.pair(), maxLength);
                int[] raw = switch (labels) {
                    case CLASS -> new int[] {w.labelId(t.label())};
                    case LABEL_SET -> t.labelList().stream().mapToInt(w::labelId).toArray();
                    case NUMBER -> new int[0];
                };
                double target = labels == Labels.NUMBER ? RegressionTargets.parse(t.label(), file, t.line(), reader.labelColumn) : 0;
                w.add(e.ids(), e.segmentIds(), t.line(), e.truncated(), raw, target);
            }
            if (w.rows() == 0) {
                throw DataReader.noExamples(file, format);
            }
        }
    }

    /**
     * Each sentence's windows (as {@link TokenExamples#encode}), labelled with the raw tags of their words; the reader
     * refuses a file without sentences.
     */
    private void writeSentences(Path file, TextFormat format, TokenDataReader reader, ExampleFile.Writer w) throws IOException {
        try (TokenDataReader.Sentences in = reader.open(file, format)) {
            for (TaggedSentence s = in.next(); s != null; s = in.next()) {
                // Unlabelled sentences (a reader that does not require tags) keep no tags.
                int[] tags = s.tags() == null ? null : s.tags().stream().mapToInt(w::labelId).toArray();
                for (WordWindows.Window window : WordWindows.split(tokenizer, s.tokens(), maxLength)) {
                    TextTokenizer.WordEncoding e = window.encoding();
                    int first = window.firstWord();
                    int[] windowTags = tags == null ? new int[0] : Arrays.copyOfRange(tags, first, first + window.wordCount());
                    w.add(e.ids(), e.segmentIds(), s.line(), window.truncated(), windowTags, 0, TokenExamples.wordStarts(e.wordIds(), first),
                            first);
                }
            }
        }
    }

    /** What decides the file's content; a change in any of it makes another file. */
    private byte[] key(Path file, TextFormat format, String reading) {
        BasicFileAttributes a;
        try {
            a = Files.readAttributes(file, BasicFileAttributes.class);
        } catch (java.nio.file.NoSuchFileException e) {
            // The readers' own words for it: the cache is looked up before a reader opens the file.
            throw new DataException("Data file " + file + " does not exist.");
        } catch (IOException e) {
            throw new DataException("Cannot read data file " + file + ": " + e.getMessage());
        }
        String described = String.join("\n", List.of("version " + ExampleFile.VERSION, file.toAbsolutePath().normalize().toString(),
                "size " + a.size(), "modified " + a.lastModifiedTime(), "file " + a.fileKey(), "format " + format, reading,
                "tokenizer " + tokenizerKey + " " + tokenizer.describe() + " " + tokenizer.vocabularySize(), "maxLength " + maxLength));
        return Checksums.sha256().digest(described.getBytes(StandardCharsets.UTF_8));
    }

    /** Older files of the same data file, and temporary files that runs left behind. */
    private void removeOthers(String prefix, Path keep) throws IOException {
        Instant abandoned = Instant.now().minus(ABANDONED);
        try (DirectoryStream<Path> files = Files.newDirectoryStream(directory)) {
            for (Path p : files) {
                String name = p.getFileName().toString();
                boolean older = name.startsWith(prefix) && name.endsWith(".examples") && !p.equals(keep);
                boolean left = name.startsWith("." + prefix) && name.endsWith(".tmp")
                        && Files.getLastModifiedTime(p).compareTo(FileTime.from(abandoned)) < 0;
                if (older || left) {
                    deleteQuietly(p);
                }
            }
        }
    }

    private static void deleteQuietly(Path p) {
        if (p == null) {
            return;
        }
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // Another run may still map it (Windows); the next run removes it.
        }
    }
}
