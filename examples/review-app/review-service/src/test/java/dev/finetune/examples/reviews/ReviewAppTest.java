package dev.finetune.examples.reviews;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.runtime.TextClassifier;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The command line: one tab-separated answer per non-blank input line, in input order. */
class ReviewAppTest {
    static TextClassifier classifier;

    @BeforeAll
    static void load() {
        classifier = TextClassifier.load();
    }

    @AfterAll
    static void close() {
        classifier.close();
    }

    @Test
    void answersEachLineInOrderAndSkipsBlankOnes() throws Exception {
        List<String> out = run("what a wonderful film\n\n   \nthe plot was dull and the acting was awful\n  a fun and happy movie  \n");
        assertEquals(3, out.size(), String.join("\n", out));
        assertAnswer(out.get(0), "positive", "what a wonderful film");
        assertAnswer(out.get(1), "negative", "the plot was dull and the acting was awful");
        assertAnswer(out.get(2), "positive", "a fun and happy movie");
    }

    /** More lines than one chunk: read in chunks, answered in the order given. */
    @Test
    void longInputIsAnsweredInChunksInOrder() throws Exception {
        int n = ReviewApp.CHUNK * 2 + 7;
        String input = IntStream.range(0, n).mapToObj(i -> i % 2 == 0 ? "this play was very good" : "this play was very bad")
                .collect(Collectors.joining("\n"));
        List<String> out = run(input);
        assertEquals(n, out.size());
        for (int i = 0; i < n; i++) {
            assertAnswer(out.get(i), i % 2 == 0 ? "positive" : "negative", i % 2 == 0 ? "this play was very good" : "this play was very bad");
        }
    }

    private static List<String> run(String input) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8)) {
            ReviewApp.classifyLines(classifier, new BufferedReader(new StringReader(input)), out);
        }
        return bytes.toString(StandardCharsets.UTF_8).lines().toList();
    }

    private static void assertAnswer(String line, String label, String text) {
        String[] f = line.split("\t");
        assertEquals(3, f.length, line);
        assertEquals(label, f[0], line);
        double probability = Double.parseDouble(f[1]);
        assertTrue(probability > 0.5 && probability <= 1, line);
        assertEquals(text, f[2]);
    }
}
