package dev.finetune.engine.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.TestFiles;
import dev.finetune.runtime.tokenizer.BertTokenizer;
import dev.finetune.runtime.tokenizer.TextTokenizer;
import dev.finetune.runtime.tokenizer.Vocabulary;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tokenized-data cache: reused while nothing it was made from changes, made again when the data file or the
 * maximum length does, never trusted when cut short, and never left behind by a file with an error; rows read back as
 * the tokenizer made them, across mapping windows and with ids wider than two bytes.
 */
class ExampleCacheTest {
    private static final TextTokenizer TOKENIZER = new BertTokenizer(Vocabulary.read(TestFiles.model("tiny-bert-tf1")
            .resolve("assets").resolve("vocab.txt")), true);
    private static final DataReader READER = new DataReader("text", null, "label");

    private final List<String> log = new ArrayList<>();

    private ExampleFile open(Path dir, Path file, int maxLength, TextTokenizer tokenizer) {
        return new ExampleCache(dir, tokenizer, "test", maxLength, log::add).open(file, TextFormat.CSV, READER, ExampleCache.Labels.CLASS);
    }

    private static Path copy(Path tmp) throws IOException {
        Path file = tmp.resolve("train.csv");
        Files.copy(TestFiles.data("tiny-sentiment.csv"), file);
        return file;
    }

    private static List<Path> files(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        }
    }

    @Test
    void rowsAreTheTokenizersAndTheirLabelsAndLines(@TempDir Path tmp) throws IOException {
        Path file = copy(tmp);
        ExampleFile f = open(tmp.resolve("cache"), file, 32, TOKENIZER);
        var rows = READER.read(file, TextFormat.CSV);
        assertEquals(rows.size(), f.rows());
        for (int i = 0; i < rows.size(); i++) {
            TextTokenizer.Encoding e = TOKENIZER.encode(rows.get(i).text(), null, 32);
            ExampleFile.Row r = f.row(i);
            assertArrayEquals(e.ids(), r.ids());
            assertArrayEquals(e.segmentIds(), r.segmentIds());
            assertEquals(e.ids().length, f.length(i));
            assertEquals(rows.get(i).line(), r.line());
            assertEquals(rows.get(i).label(), f.labelNames().get(r.labels()[0]));
        }
    }

    @Test
    void reusedUntilTheDataFileOrTheMaximumLengthChanges(@TempDir Path tmp) throws IOException {
        Path file = copy(tmp);
        Path dir = tmp.resolve("cache");
        ExampleFile first = open(dir, file, 32, TOKENIZER);
        assertTrue(log.get(0).contains(" rows of train.csv in "), log.get(0));
        FileTime made = Files.getLastModifiedTime(first.path());

        ExampleFile again = open(dir, file, 32, TOKENIZER);
        assertTrue(log.get(1).contains(" rows of train.csv from "), log.get(1));
        assertEquals(first.path(), again.path());
        assertEquals(made, Files.getLastModifiedTime(again.path()));

        ExampleFile shorter = open(dir, file, 8, TOKENIZER);
        assertNotEquals(first.path(), shorter.path());
        assertTrue(log.get(2).contains(" in "), log.get(2));
        assertTrue(shorter.row(0).truncated() || shorter.length(0) <= 8);

        Files.writeString(file, "one more good row,positive\n", StandardOpenOption.APPEND);
        Files.setLastModifiedTime(file, FileTime.from(Instant.now().plusSeconds(5)));
        ExampleFile changed = open(dir, file, 32, TOKENIZER);
        assertTrue(log.get(3).contains(" in "), log.get(3));
        assertEquals(first.rows() + 1, changed.rows());
        assertEquals(List.of(changed.path()), files(dir), "the older files of train.csv are removed");
    }

    @Test
    void aFileCutShortOrLeftHalfWrittenIsNotTrusted(@TempDir Path tmp) throws IOException {
        Path file = copy(tmp);
        Path dir = tmp.resolve("cache");
        Path made = open(dir, file, 32, TOKENIZER).path();
        byte[] whole = Files.readAllBytes(made);
        Files.write(made, Arrays.copyOf(whole, whole.length - 7));
        // What a run killed while writing leaves: a temporary file, old enough to be abandoned.
        Path left = Files.write(dir.resolve("." + made.getFileName().toString().replace(".examples", "") + "123.tmp"), whole);
        Files.setLastModifiedTime(left, FileTime.from(Instant.now().minusSeconds(3600)));

        ExampleFile rebuilt = open(dir, file, 32, TOKENIZER);
        assertTrue(log.get(1).contains(" in "), "a cut file is tokenized again: " + log.get(1));
        assertArrayEquals(whole, Files.readAllBytes(rebuilt.path()));
        assertEquals(List.of(made), files(dir), "the abandoned temporary file is removed");
    }

    @Test
    void anErrorNamesFileLineAndColumnAndLeavesNoFile(@TempDir Path tmp) throws IOException {
        Path file = Files.writeString(tmp.resolve("scores.csv"), "text,score\ngood,1.5\nbad,0.5\nworse,3,5\n");
        Path dir = tmp.resolve("cache");
        ExampleCache cache = new ExampleCache(dir, TOKENIZER, "test", 32, log::add);
        DataException e = assertThrows(DataException.class, () -> cache.open(file, TextFormat.CSV,
                new DataReader("text", null, "score"), ExampleCache.Labels.NUMBER));
        assertTrue(e.getMessage().startsWith(file + ", line 4"), e.getMessage());

        Files.writeString(file, "text,score\ngood,1.5\nbad,zero\n");
        e = assertThrows(DataException.class, () -> cache.open(file, TextFormat.CSV, new DataReader("text", null, "score"),
                ExampleCache.Labels.NUMBER));
        assertEquals(file + ", line 3, column 'score': expected a number, found 'zero'.", e.getMessage());
        assertEquals(List.of(), files(dir), "nothing is left of a file with an error");
    }

    @Test
    void rowsReadBackAcrossMappingWindows(@TempDir Path tmp) throws IOException {
        ExampleFile f = open(tmp.resolve("cache"), copy(tmp), 32, TOKENIZER);
        // Windows far smaller than the file: most rows start in one and end in the next one's overlap.
        ExampleFile windowed = ExampleFile.open(f.path(), null, 100);
        for (int i = 0; i < f.rows(); i++) {
            assertArrayEquals(f.row(i).ids(), windowed.row(i).ids(), "row " + i);
            assertArrayEquals(f.row(i).labels(), windowed.row(i).labels(), "row " + i);
            assertEquals(f.row(i).line(), windowed.row(i).line());
        }
    }

    @Test
    void idsAboveTwoBytesAreKeptWhole(@TempDir Path tmp) throws IOException {
        // A tokenizer with a vocabulary of 100,000: ids are stored in four bytes.
        TextTokenizer wide = new TextTokenizer() {
            @Override
            public Encoding encode(String text, String pair, int maxLength) {
                Encoding e = TOKENIZER.encode(text, pair, maxLength);
                return new Encoding(Arrays.stream(e.ids()).map(id -> id + 70_000).toArray(), e.segmentIds(), e.truncated());
            }

            @Override
            public WordEncoding encodeWords(List<String> words) {
                throw new UnsupportedOperationException();
            }

            @Override
            public int padId() {
                return 0;
            }

            @Override
            public int vocabularySize() {
                return 100_000;
            }

            @Override
            public String describe() {
                return "wide";
            }
        };
        Path file = copy(tmp);
        ExampleFile f = open(tmp.resolve("cache"), file, 32, wide);
        assertArrayEquals(wide.encode("the movie was bad", null, 32).ids(), f.row(1).ids());
        assertFalse(Arrays.stream(f.row(1).ids()).anyMatch(id -> id < 70_000));
    }
}
