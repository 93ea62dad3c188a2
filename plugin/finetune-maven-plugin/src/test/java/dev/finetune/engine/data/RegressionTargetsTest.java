package dev.finetune.engine.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.finetune.runtime.encoding.LabeledText;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RegressionTargetsTest {
    @TempDir
    Path dir;

    private final DataReader reader = new DataReader("text", null, "score");

    private Path file(String name, String content) throws IOException {
        return Files.writeString(dir.resolve(name), content, StandardCharsets.UTF_8);
    }

    private String error(String name, String content) throws IOException {
        Path f = file(name, content);
        return assertThrows(DataException.class,
                () -> RegressionTargets.of(reader.read(f, TextFormat.of("auto", f)), f, "score")).getMessage();
    }

    @Test
    void readsDecimalsIntegersAndExponentsWhateverTheLocale() throws IOException {
        Locale before = Locale.getDefault();
        Locale.setDefault(Locale.GERMANY); // a comma-decimal locale must not change what "2.5" means
        try {
            Path f = file("r.csv", "text,score\na,2.5\nb,3\nc, -0.25 \nd,+1e-2\ne,.5\nf,4.\n");
            assertArrayEquals(new double[] {2.5, 3, -0.25, 0.01, 0.5, 4}, RegressionTargets.of(reader.read(f, TextFormat.CSV), f, "score"));
        } finally {
            Locale.setDefault(before);
        }
    }

    @Test
    void jsonNumbersAndNumericStringsComeThroughTheLabel() throws IOException {
        Path f = file("r.jsonl", """
                {"text":"a","score":2.5}
                {"text":"b","score":3}
                {"text":"c","score":"4.75"}
                {"text":"d","score":1E+2}
                {"text":"e","score":123456789012345678901234567890}
                """);
        List<LabeledText> rows = reader.read(f, TextFormat.JSONL);
        assertEquals("2.5", rows.get(0).label());
        assertArrayEquals(new double[] {2.5, 3, 4.75, 100, 1.2345678901234568e29}, RegressionTargets.of(rows, f, "score"));
    }

    @Test
    void namesFileLineAndColumnOfWhatIsNotAFiniteNumber() throws IOException {
        assertEquals(dir.resolve("a.csv") + ", line 3, column 'score': expected a number, found 'five'.",
                error("a.csv", "text,score\na,1\nb,five\n"));
        assertEquals(dir.resolve("b.csv") + ", line 2, column 'score': expected a number, found '3,5' (decimals are written "
                + "with '.', without thousands separators).", error("b.csv", "text,score\na,\"3,5\"\n"));
        assertEquals(dir.resolve("c.csv") + ", line 2, column 'score': expected a finite number, found 'NaN'.",
                error("c.csv", "text,score\na,NaN\n"));
        assertEquals(dir.resolve("d.csv") + ", line 2, column 'score': expected a finite number, found '-Infinity'.",
                error("d.csv", "text,score\na,-Infinity\n"));
        assertEquals(dir.resolve("e.csv") + ", line 2, column 'score': expected a finite number, found '1e999'.",
                error("e.csv", "text,score\na,1e999\n"));
        // What Double.parseDouble would take but is not a plain number.
        for (String s : List.of("0x10", "1f", "2d", "1_000", "١٢")) {
            assertEquals(dir.resolve("f.csv") + ", line 2, column 'score': expected a number, found '" + s + "'.",
                    error("f.csv", "text,score\na," + s + "\n"), s);
        }
        assertEquals(dir.resolve("g.jsonl") + ", line 2, column 'score': expected a number, found 'true'.",
                error("g.jsonl", "{\"text\":\"a\",\"score\":1}\n{\"text\":\"b\",\"score\":true}\n"));
        assertEquals(dir.resolve("h.jsonl") + ", line 1, column 'score': expected a finite number, found 'Infinity'.",
                error("h.jsonl", "{\"text\":\"a\",\"score\":1e400}\n"));
        Path unlabelled = dir.resolve("u.csv");
        assertEquals(unlabelled + ", line 7, column 'score': the field is missing.", assertThrows(DataException.class,
                () -> RegressionTargets.of(List.of(new LabeledText("x", null, null, 7)), unlabelled, "score")).getMessage());
    }
}
