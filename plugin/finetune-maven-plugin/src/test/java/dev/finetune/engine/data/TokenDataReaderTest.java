package dev.finetune.engine.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.finetune.runtime.encoding.TaggedSentence;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenDataReaderTest {
    @TempDir
    Path dir;

    private final TokenDataReader reader = new TokenDataReader("tokens", "tags", true);
    private final TokenDataReader unlabelled = new TokenDataReader("tokens", "tags", false);

    private Path file(String name, String content) throws IOException {
        return Files.writeString(dir.resolve(name), content, StandardCharsets.UTF_8);
    }

    private String error(TokenDataReader r, Path f) {
        return assertThrows(DataException.class, () -> r.read(f, TextFormat.of("auto", f))).getMessage();
    }

    /** CoNLL-2003's layout: token, part of speech, chunk, entity; a -DOCSTART- line and blank line per document. */
    private static final String CONLL_2003 = """
            -DOCSTART- -X- -X- O

            EU NNP B-NP B-ORG
            rejects VBZ B-VP O
            German JJ B-NP B-MISC
            call NN I-NP O
            . . O O

            Peter NNP B-NP B-PER
            Blackburn NNP I-NP I-PER

            -DOCSTART- -X- -X- O

            BRUSSELS NNP B-NP B-LOC
            1996-08-22 CD I-NP O
            """;

    @Test
    void readsConll2003() throws IOException {
        Path f = file("train.conll", CONLL_2003);
        List<TaggedSentence> s = reader.read(f, TextFormat.of("auto", f));
        assertEquals(List.of(
                new TaggedSentence(List.of("EU", "rejects", "German", "call", "."), List.of("B-ORG", "O", "B-MISC", "O", "O"), 3),
                new TaggedSentence(List.of("Peter", "Blackburn"), List.of("B-PER", "I-PER"), 9),
                new TaggedSentence(List.of("BRUSSELS", "1996-08-22"), List.of("B-LOC", "O"), 14)), s);
    }

    @Test
    void conllTakesTabsCrlfABomSeveralBlankLinesAndNoFinalNewline() throws IOException {
        Path f = file("a.iob", "\uFEFFJohn\tB-PER\r\nlives  \t O\r\n\r\n \t\r\n\r\nParis\tB-LOC");
        List<TaggedSentence> s = reader.read(f, TextFormat.CONLL);
        assertEquals(List.of(new TaggedSentence(List.of("John", "lives"), List.of("B-PER", "O"), 1),
                new TaggedSentence(List.of("Paris"), List.of("B-LOC"), 6)), s);
        // -DOCSTART- ends a sentence even without a blank line before it.
        Path d = file("d.bio", "a O\n-DOCSTART- O\nb O\n");
        assertEquals(List.of(new TaggedSentence(List.of("a"), List.of("O"), 1), new TaggedSentence(List.of("b"), List.of("O"), 3)),
                reader.read(d, TextFormat.CONLL));
    }

    @Test
    void conllWithoutTagsIsUnlabelledOrAnError() throws IOException {
        Path f = file("p.conll", "Hello\nworld\n\nBye\n");
        assertEquals(List.of(new TaggedSentence(List.of("Hello", "world"), null, 1), new TaggedSentence(List.of("Bye"), null, 4)),
                unlabelled.read(f, TextFormat.CONLL));
        assertEquals(f + ", line 1: expected a token and its tag separated by a space or tab, found only 'Hello'.", error(reader, f));
        Path missing = file("m.conll", "EU B-ORG\nrejects\n");
        assertEquals(missing + ", line 2: expected a token and its tag separated by a space or tab, found only 'rejects'.",
                error(reader, missing));
        // Tags are read where the file has them, also when they are not required.
        assertEquals(List.of("B-ORG"), unlabelled.read(file("t.conll", "EU B-ORG\n"), TextFormat.CONLL).get(0).tags());
    }

    @Test
    void conllNamesTheLineOfAColumnCountThatChanges() throws IOException {
        Path f = file("a.conll", "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nNew York NNP B-NP B-LOC\n");
        assertEquals(f + ", line 4: expected 4 columns as on line 1, found 5 (columns are separated by spaces or tabs, so a token "
                + "cannot hold one).", error(reader, f));
        Path mixed = file("b.conll", "EU B-ORG\n\nrejects\n");
        assertEquals(mixed + ", line 3: expected 2 columns as on line 1, found 1 (columns are separated by spaces or tabs, so a "
                + "token cannot hold one).", error(unlabelled, mixed));
    }

    @Test
    void conllRefusesAWhiteSpaceTokenAndAFileWithoutSentences() throws IOException {
        Path f = file("a.conll", "EU B-ORG\n\u00a0 O\n");
        assertEquals(f + ", line 2: the token is only white space (U+00A0).", error(reader, f));
        Path none = file("b.conll", "-DOCSTART- -X- -X- O\n\n\n");
        assertEquals("Data file " + none + " has no sentences.", error(reader, none));
        Path empty = file("c.conll", "");
        assertEquals("Data file " + empty + " has no sentences.", error(reader, empty));
        Path nope = dir.resolve("nope.conll");
        assertEquals("Data file " + nope + " does not exist.", error(reader, nope));
    }

    @Test
    void readsJsonLines() throws IOException {
        Path f = file("a.jsonl", """
                {"tokens":["EU","rejects","German"],"tags":["B-ORG","O"," B-MISC "]}

                {"tokens":["New York","is"],"tags":[3,0]}
                """);
        assertEquals(List.of(new TaggedSentence(List.of("EU", "rejects", "German"), List.of("B-ORG", "O", "B-MISC"), 1),
                new TaggedSentence(List.of("New York", "is"), List.of("3", "0"), 3)), reader.read(f, TextFormat.of("auto", f)));
        Path u = file("u.jsonl", "{\"tokens\":[\"a\"]}\n{\"tokens\":[\"b\"],\"tags\":null}\n{\"tokens\":[\"c\"],\"tags\":[\"O\"]}\n");
        List<TaggedSentence> s = unlabelled.read(u, TextFormat.JSONL);
        assertNull(s.get(0).tags());
        assertNull(s.get(1).tags());
        assertEquals(List.of("O"), s.get(2).tags());
        Path other = file("o.jsonl", "{\"words\":[\"a\"],\"ner\":[\"O\"]}\n");
        assertEquals(List.of(new TaggedSentence(List.of("a"), List.of("O"), 1)),
                new TokenDataReader("words", "ner", true).read(other, TextFormat.JSONL));
    }

    @Test
    void jsonLinesNamesFileLineAndFieldOfEachProblem() throws IOException {
        String ok = "{\"tokens\":[\"a\"],\"tags\":[\"O\"]}\n";
        assertEquals(dir.resolve("a.jsonl") + ", line 2, column 'tags': expected as many tags as tokens, found 3 tokens and 2 tags.",
                error(reader, file("a.jsonl", ok + "{\"tokens\":[\"a\",\"b\",\"c\"],\"tags\":[\"O\",\"O\"]}\n")));
        assertEquals(dir.resolve("b.jsonl") + ", line 2, column 'tokens': the sentence has no tokens.",
                error(reader, file("b.jsonl", ok + "{\"tokens\":[],\"tags\":[]}\n")));
        assertEquals(dir.resolve("c.jsonl") + ", line 1, column 'tokens': token 2 is empty.",
                error(reader, file("c.jsonl", "{\"tokens\":[\"a\",\"\"],\"tags\":[\"O\",\"O\"]}\n")));
        assertEquals(dir.resolve("d.jsonl") + ", line 1, column 'tokens': token 1 is only white space (U+0020 U+3000).",
                error(reader, file("d.jsonl", "{\"tokens\":[\" \u3000\"],\"tags\":[\"O\"]}\n")));
        assertEquals(dir.resolve("e.jsonl") + ", line 2, column 'tags': the field is missing.",
                error(reader, file("e.jsonl", ok + "{\"tokens\":[\"a\"]}\n")));
        assertEquals(dir.resolve("f.jsonl") + ", line 1, column 'tokens': the field is missing.",
                error(unlabelled, file("f.jsonl", "{\"words\":[\"a\"]}\n")));
        assertEquals(dir.resolve("g.jsonl") + ", line 1, column 'tokens': expected an array of strings, found string.",
                error(reader, file("g.jsonl", "{\"tokens\":\"EU rejects\",\"tags\":[\"O\"]}\n")));
        assertEquals(dir.resolve("h.jsonl") + ", line 1, column 'tokens': item 2 of the array is number; expected a string.",
                error(reader, file("h.jsonl", "{\"tokens\":[\"a\",1],\"tags\":[\"O\",\"O\"]}\n")));
        assertEquals(dir.resolve("i.jsonl") + ", line 1, column 'tags': item 1 of the array is array; expected a string or a number.",
                error(reader, file("i.jsonl", "{\"tokens\":[\"a\"],\"tags\":[[\"O\"]]}\n")));
        assertEquals(dir.resolve("j.jsonl") + ", line 1, column 'tags': tag 1 is empty.",
                error(reader, file("j.jsonl", "{\"tokens\":[\"a\"],\"tags\":[\" \"]}\n")));
        assertEquals(dir.resolve("k.jsonl") + ", line 1: expected a JSON object with the fields of one sentence.",
                error(reader, file("k.jsonl", "[\"a\"]\n")));
        assertEquals(dir.resolve("l.jsonl") + ", line 1, column 'tokens': expected an array of strings, found object.",
                error(reader, file("l.jsonl", "{\"tokens\":{\"a\":1},\"tags\":[\"O\"]}\n")));
        String bad = error(reader, file("m.jsonl", ok + "{\"tokens\": \n"));
        assertEquals(dir.resolve("m.jsonl") + ", line 2: not valid JSON (", bad.substring(0, bad.indexOf('(') + 1));
        assertEquals("Data file " + dir.resolve("n.jsonl") + " has no sentences.", error(reader, file("n.jsonl", "\n \n")));
    }

    @Test
    void decodesInTheNamedEncodingAndNamesTheLineOfABadByte() throws IOException {
        Path f = dir.resolve("latin1.conll");
        Files.write(f, "Caf\u00e9 O\nM\u00fcller B-PER\n".getBytes(StandardCharsets.ISO_8859_1));
        assertEquals(List.of("Caf\u00e9", "M\u00fcller"),
                reader.withEncoding("ISO-8859-1").read(f, TextFormat.CONLL).get(0).tokens());
        assertEquals(f + ", line 1: byte 0xE9 at offset 3 is not valid UTF-8; save the file as UTF-8.", error(reader, f));
        Path j = dir.resolve("latin1.jsonl");
        Files.write(j, "{\"tokens\":[\"a\"],\"tags\":[\"O\"]}\n\n{\"tokens\":[\"caf\u00e9\"],\"tags\":[\"O\"]}\n"
                .getBytes(StandardCharsets.ISO_8859_1));
        assertEquals(j + ", line 3: byte 0xE9 at offset 46 is not valid UTF-8; save the file as UTF-8.", error(reader, j));
        assertEquals("encoding 'nope' is not a charset Java knows: use a name such as UTF-8, windows-1252 or ISO-8859-15.",
                assertThrows(DataException.class, () -> reader.withEncoding("nope")).getMessage());
    }

    @Test
    void refusesLabelledTextFormats() throws IOException {
        Path f = file("a.csv", "tokens,tags\n");
        assertEquals("Data file " + f + " is read as csv, but token classification data is CoNLL (one token a line) or JSONL; "
                + "set dataFormat to conll or jsonl.", error(reader, f));
    }
}
