package dev.finetune.engine.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.runtime.encoding.LabeledText;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DataReaderTest {
    @TempDir
    Path dir;

    private final DataReader reader = new DataReader("text", null, "label");

    private Path file(String name, String content) throws IOException {
        return Files.writeString(dir.resolve(name), content, StandardCharsets.UTF_8);
    }

    private DataException error(Path f) {
        return assertThrows(DataException.class, () -> reader.read(f, TextFormat.of("auto", f)));
    }

    @Test
    void readsQuotedMultilineCsvWithBomAndCrlf() throws IOException {
        Path f = file("a.csv", "\uFEFFid,text,label\r\n1,\"hello, \"\"world\"\"\",pos\r\n2,\"two\nlines\", neg \r\n\r\n3,plain,pos");
        List<LabeledText> rows = reader.read(f, TextFormat.of("auto", f));
        assertEquals(3, rows.size());
        assertEquals("hello, \"world\"", rows.get(0).text());
        assertEquals("two\nlines", rows.get(1).text());
        assertEquals("neg", rows.get(1).label());
        assertEquals(3, rows.get(1).line());
        assertEquals(6, rows.get(2).line());
    }

    @Test
    void readsTsvAndJsonLinesWithPairs() throws IOException {
        DataReader pairs = new DataReader("premise", "hypothesis", "label");
        Path tsv = file("a.tsv", "premise\thypothesis\tlabel\na\tb\tyes\n");
        LabeledText t = pairs.read(tsv, TextFormat.of("auto", tsv)).get(0);
        assertEquals("b", t.pair());
        Path jsonl = file("a.jsonl", "{\"premise\":\"a\",\"hypothesis\":\"b\",\"label\":1}\n\n{\"premise\":\"c\",\"hypothesis\":\"d\",\"label\":0}\n");
        List<LabeledText> rows = pairs.read(jsonl, TextFormat.of("auto", jsonl));
        assertEquals(2, rows.size());
        assertEquals("1", rows.get(0).label());
        assertEquals(3, rows.get(1).line());
        assertNull(reader.read(file("b.csv", "text,label\nx,y\n"), TextFormat.CSV).get(0).pair());
    }

    @Test
    void namesTheMissingFile() {
        Path f = dir.resolve("nope.csv");
        assertEquals("Data file " + f + " does not exist.", error(f).getMessage());
    }

    @Test
    void namesTheMissingColumnAndListsTheHeader() throws IOException {
        Path f = file("a.csv", "sentence,label\nx,y\n");
        assertEquals(f + ", line 1: there is no column 'text'; the header has [sentence, label].", error(f).getMessage());
    }

    @Test
    void rejectsEmptyAndHeaderOnlyFiles() throws IOException {
        assertTrue(error(file("empty.csv", "")).getMessage().contains("is empty"));
        assertTrue(error(file("header.csv", "text,label\n")).getMessage().contains("has no examples below its header"));
        assertTrue(error(file("empty.jsonl", "\n\n")).getMessage().contains("has no examples"));
    }

    @Test
    void namesLineAndColumnOfAMissingLabel() throws IOException {
        Path f = file("a.csv", "text,label\nok,pos\nbad,  \n");
        assertEquals(f + ", line 3, column 'label': the label is empty.", error(f).getMessage());
        Path j = file("a.jsonl", "{\"text\":\"a\",\"label\":\"x\"}\n{\"text\":\"b\"}\n");
        assertEquals(j + ", line 2, column 'label': the field is missing.", error(j).getMessage());
    }

    @Test
    void namesTheLineOfUndecodableUtf8() throws IOException {
        Path f = dir.resolve("latin1.csv");
        Files.write(f, "text,label\nfine,pos\ncaf\u00e9,neg\n".getBytes(StandardCharsets.ISO_8859_1));
        String m = error(f).getMessage();
        assertEquals(f + ", line 3: byte 0xE9 at offset 23 is not valid UTF-8; save the file as UTF-8.", m);
    }

    @Test
    void reportsRaggedRowsBrokenQuotesAndBadJson() throws IOException {
        Path ragged = file("r.csv", "text,label\na,b,c\n");
        assertEquals(ragged + ", line 2: expected 2 fields as in the header, found 3 (a comma inside a text needs quotes).",
                error(ragged).getMessage());
        Path open = file("q.csv", "text,label\n\"never closed,pos\n");
        assertEquals(open + ", line 2: a quoted field is never closed.", error(open).getMessage());
        Path json = file("j.jsonl", "{\"text\":\"a\",\"label\":\"x\"}\n{\"text\": \n");
        assertTrue(error(json).getMessage().startsWith(json + ", line 2: not valid JSON"));
        Path notText = file("k.jsonl", "{\"text\":[1,2],\"label\":\"x\"}\n");
        assertEquals(notText + ", line 1, column 'text': expected a string, found array.", error(notText).getMessage());
    }

    @Test
    void labelsAreSortedAndUnknownValidationLabelsNamed() throws IOException {
        Path train = file("t.csv", "text,label\na,zeta\nb,alpha\nc,zeta\n");
        Path val = file("v.csv", "text,label\na,zeta\nb,gamma\n");
        LabelMap labels = LabelMap.discover(List.of(), reader.read(train, TextFormat.CSV), train);
        assertEquals(List.of("alpha", "zeta"), labels.names());
        DataException e = assertThrows(DataException.class, () -> labels.indices(reader.read(val, TextFormat.CSV), val));
        assertTrue(e.getMessage().startsWith(val + ", line 3: label 'gamma' is not one of the known labels [alpha, zeta]"),
                e.getMessage());
        assertEquals(List.of("zeta", "alpha"), LabelMap.discover(List.of("zeta", "alpha"), List.of(), train).names());
    }

    @Test
    void splitIsStratifiedAndSeeded() {
        List<LabeledText> rows = new java.util.ArrayList<>();
        for (int i = 0; i < 100; i++) {
            rows.add(new LabeledText("t" + i, null, i < 80 ? "a" : "b", i + 2));
        }
        StratifiedSplit.Split s = StratifiedSplit.split(rows, 0.1, 7);
        assertEquals(8, s.validation().stream().filter(r -> r.label().equals("a")).count());
        assertEquals(2, s.validation().stream().filter(r -> r.label().equals("b")).count());
        assertEquals(90, s.train().size());
        assertEquals(s, StratifiedSplit.split(rows, 0.1, 7));
        assertTrue(!s.validation().equals(StratifiedSplit.split(rows, 0.1, 8).validation()));
    }

    private Path bytes(String name, String content, String charset) throws IOException {
        return Files.write(dir.resolve(name), content.getBytes(java.nio.charset.Charset.forName(charset)));
    }

    /** A French spreadsheet's export: semicolons, windows-1252, accents, the euro sign and a quoted semicolon. */
    @Test
    void readsASemicolonSpreadsheetExportInWindows1252() throws IOException {
        Path f = bytes("avis.csv", "text;label\r\nCaf\u00e9 tr\u00e8s bon, merci;pos\r\n\u00dcbel: 5 \u20ac zu viel;neg\r\n"
                + "\"un; deux\";pos\r\n", "windows-1252");
        List<LabeledText> rows = reader.withDialect("auto", "windows-1252").read(f, TextFormat.of("auto", f));
        assertEquals(List.of("Caf\u00e9 tr\u00e8s bon, merci", "\u00dcbel: 5 \u20ac zu viel", "un; deux"),
                rows.stream().map(LabeledText::text).toList());
        assertEquals(List.of("pos", "neg", "pos"), rows.stream().map(LabeledText::label).toList());
        assertEquals(0xE9, Files.readAllBytes(f)[15] & 0xFF, "the file really is windows-1252 (é is one byte)");
    }

    @Test
    void detectsTheDelimiterFromTheHeaderAndTheNextLines() throws IOException {
        Path semicolon = file("s.csv", "text;label\nhello, world;pos\n");
        assertEquals("hello, world", reader.read(semicolon, TextFormat.CSV).get(0).text());
        Path tab = file("t.csv", "text\tlabel\na, b; c\tneg\n");
        assertEquals("a, b; c", reader.read(tab, TextFormat.CSV).get(0).text());
        // The comma gives the header more fields, but only the pipe splits the lines below as it splits the header.
        Path pipe = file("p.csv", "text|label|note,a,b,c\ngreat, really|pos|x\nbad|neg|y\n");
        List<LabeledText> rows = reader.read(pipe, TextFormat.CSV);
        assertEquals(List.of("great, really", "bad"), rows.stream().map(LabeledText::text).toList());
        // A .tsv keeps its tab although the header has commas; JSON Lines has no delimiter.
        Path tsv = file("a.tsv", "text\tlabel\tx,y,z,w\none, two\tpos\t1\n");
        assertEquals("one, two", reader.read(tsv, TextFormat.of("auto", tsv)).get(0).text());
        Path jsonl = file("a.jsonl", "{\"text\":\"a;b|c\",\"label\":\"x\"}\n");
        assertEquals("a;b|c", reader.withDialect(";", "windows-1252").read(jsonl, TextFormat.of("auto", jsonl)).get(0).text());
    }

    @Test
    void anExplicitDelimiterWins() throws IOException {
        Path f = file("a.csv", "text,label\n\"a;b\",pos\n");
        DataException e = assertThrows(DataException.class, () -> reader.withDialect(";", null).read(f, TextFormat.CSV));
        assertEquals(f + ", line 1: there is no column 'text'; the header has [text,label].", e.getMessage());
        Path tabs = file("b.csv", "text\tlabel\nx, y\tz\n");
        assertEquals("x, y", reader.withDialect("tab", null).read(tabs, TextFormat.CSV).get(0).text());
        assertEquals("x, y", reader.withDialect("\\t", null).read(tabs, TextFormat.CSV).get(0).text());
        DataException bad = assertThrows(DataException.class, () -> reader.withDialect("ab", null));
        assertEquals("delimiter 'ab' is not usable: use auto, tab, or one character such as ; or | (not a quote).", bad.getMessage());
        DataException charset = assertThrows(DataException.class, () -> reader.withDialect(null, "no-such-charset"));
        assertTrue(charset.getMessage().startsWith("encoding 'no-such-charset' is not a charset Java knows"), charset.getMessage());
    }

    @Test
    void brokenFilesInOtherDialectsNameTheLine() throws IOException {
        Path ragged = file("r.csv", "text;label\na;b;c\n");
        assertEquals(ragged + ", line 2: expected 2 fields as in the header, found 3 (a semicolon inside a text needs quotes).",
                error(ragged).getMessage());
        // 0x81 is one of the five bytes windows-1252 leaves undefined.
        Path f = dir.resolve("cp1252.csv");
        Files.write(f, new byte[] {'t', 'e', 'x', 't', ';', 'l', 'a', 'b', 'e', 'l', '\n', 'o', 'k', ';', 'p', '\n', 'b', (byte) 0x81, ';', 'n', '\n'});
        DataException e = assertThrows(DataException.class, () -> reader.withDialect("auto", "windows-1252").read(f, TextFormat.CSV));
        assertEquals(f + ", line 3: byte 0x81 at offset 17 is not valid windows-1252; save the file as windows-1252.", e.getMessage());
        // The same UTF-8 message as ever when the bad byte is within the lines that detection looks at.
        Path latin1 = dir.resolve("latin1-semicolon.csv");
        Files.write(latin1, "text;label\nfine;pos\ncaf\u00e9;neg\n".getBytes(StandardCharsets.ISO_8859_1));
        assertEquals(latin1 + ", line 3: byte 0xE9 at offset 23 is not valid UTF-8; save the file as UTF-8.", error(latin1).getMessage());
    }

    private final DataReader multi = reader.multiLabel("|");

    @Test
    void multiLabelCsvSplitsStripsAndDropsEmptyAndRepeatedLabels() throws IOException {
        Path f = file("m.csv", "text,label\nfirst, sport | politics \nsecond,\nthird,\"b|a|b||\"\nfourth,single\n");
        List<LabeledText> rows = multi.read(f, TextFormat.of("auto", f));
        assertEquals(List.of(List.of("sport", "politics"), List.of(), List.of("b", "a"), List.of("single")),
                rows.stream().map(LabeledText::labelList).toList());
        assertEquals(List.of("sport | politics", "", "b|a|b||", "single"), rows.stream().map(LabeledText::label).toList());
        assertEquals(List.of(2L, 3L, 4L, 5L), rows.stream().map(LabeledText::line).toList());
        // The same file read as single-label data: the label cell as one label, the empty one an error as ever.
        assertNull(new DataReader("text", null, "label").read(file("s.csv", "text,label\na,x|y\n"), TextFormat.CSV).get(0).labelList());
        assertEquals(f + ", line 3, column 'label': the label is empty.", error(f).getMessage());
        // TSV, a pair column and another separator; the dialect is kept across multiLabel and withDialect.
        Path tsv = file("m.tsv", "a\tb\ttags\nx\ty\tone; two;one\n");
        LabeledText t = new DataReader("a", "b", "tags").multiLabel(";").withDialect("tab", null).read(tsv, TextFormat.TSV).get(0);
        assertEquals(new LabeledText("x", "y", "one; two;one", 2, List.of("one", "two")), t);
        Path semicolons = file("sc.csv", "text;label\nx;a|b\n");
        assertEquals(List.of("a", "b"), multi.withDialect(";", null).read(semicolons, TextFormat.CSV).get(0).labelList());
    }

    @Test
    void multiLabelJsonTakesArraysOrSeparatedStrings() throws IOException {
        Path f = file("m.jsonl", """
                {"text":"a","label":["sport"," politics","sport",""]}
                {"text":"b","label":[]}
                {"text":"c","label":"x|y"}
                {"text":"d","label":[1,2.5]}
                {"text":"e","label":7}
                {"text":"f","label":""}
                """);
        List<LabeledText> rows = multi.read(f, TextFormat.of("auto", f));
        assertEquals(List.of(List.of("sport", "politics"), List.of(), List.of("x", "y"), List.of("1", "2.5"), List.of("7"), List.of()),
                rows.stream().map(LabeledText::labelList).toList());
        assertEquals(List.of("sport| politics|sport|", "", "x|y", "1|2.5", "7", ""), rows.stream().map(LabeledText::label).toList());
    }

    @Test
    void multiLabelJsonNamesFileLineAndFieldOfABadLabel() throws IOException {
        Path missing = file("a.jsonl", "{\"text\":\"a\",\"label\":[\"x\"]}\n{\"text\":\"b\",\"label\":null}\n");
        assertEquals(missing + ", line 2, column 'label': the field is missing.",
                assertThrows(DataException.class, () -> multi.read(missing, TextFormat.JSONL)).getMessage());
        Path nested = file("b.jsonl", "{\"text\":\"a\",\"label\":[\"x\",[\"y\"]]}\n");
        assertEquals(nested + ", line 1, column 'label': item 2 of the label array is an array; a label is a string or a number.",
                assertThrows(DataException.class, () -> multi.read(nested, TextFormat.JSONL)).getMessage());
        Path inner = file("c.jsonl", "{\"text\":\"a\",\"label\":[{\"name\":\"y\"}]}\n");
        assertEquals(inner + ", line 1, column 'label': item 1 of the label array is an object; a label is a string or a number.",
                assertThrows(DataException.class, () -> multi.read(inner, TextFormat.JSONL)).getMessage());
        Path itemNull = file("d.jsonl", "{\"text\":\"a\",\"label\":[\"x\",null]}\n");
        assertEquals(itemNull + ", line 1, column 'label': item 2 of the label array is null; a label is a string or a number.",
                assertThrows(DataException.class, () -> multi.read(itemNull, TextFormat.JSONL)).getMessage());
        Path object = file("e.jsonl", "{\"text\":\"a\",\"label\":{\"x\":1}}\n");
        assertEquals(object + ", line 1, column 'label': expected an array of labels, a string or a number, found object.",
                assertThrows(DataException.class, () -> multi.read(object, TextFormat.JSONL)).getMessage());
    }

    @Test
    void unlabelledMultiLabelDataReadsLabelsWhereThereAreAny() throws IOException {
        DataReader unlabelled = DataReader.unlabelled("text", null, "label").multiLabel(null);
        Path csv = file("u.csv", "text\nhello\n");
        assertEquals(new LabeledText("hello", null, null, 2), unlabelled.read(csv, TextFormat.CSV).get(0));
        Path jsonl = file("u.jsonl", "{\"text\":\"a\"}\n{\"text\":\"b\",\"label\":[\"x\"]}\n");
        List<LabeledText> rows = unlabelled.read(jsonl, TextFormat.JSONL);
        assertNull(rows.get(0).labelList());
        assertEquals(List.of("x"), rows.get(1).labelList());
        DataException e = assertThrows(DataException.class, () -> reader.multiLabel(""));
        assertEquals("label separator '' is not usable: use one or more characters that no label contains, such as |.", e.getMessage());
    }

    @Test
    void multiLabelMapIsSortedOrGivenAndMultiHotNamesUnknownLabels() throws IOException {
        Path train = file("t.csv", "text,label\na,zeta|alpha\nb,\nc,zeta\n");
        List<LabeledText> rows = multi.read(train, TextFormat.CSV);
        LabelMap labels = LabelMap.discoverMultiLabel(List.of(), rows, train);
        assertEquals(List.of("alpha", "zeta"), labels.names());
        float[][] hot = labels.multiHot(rows, train);
        assertEquals(List.of(List.of(1f, 1f), List.of(0f, 0f), List.of(0f, 1f)),
                java.util.Arrays.stream(hot).map(r -> List.of(r[0], r[1])).toList());
        assertEquals(List.of("only"), LabelMap.discoverMultiLabel(null, List.of(new LabeledText("x", null, "only", 2, List.of("only"))),
                train).names());
        assertEquals(List.of("zeta", "alpha", "beta"), LabelMap.discoverMultiLabel(List.of("zeta", "alpha", "beta"), rows, train).names());

        Path val = file("v.csv", "text,label\na,zeta\nb,alpha|gamma\n");
        DataException unknown = assertThrows(DataException.class, () -> labels.multiHot(multi.read(val, TextFormat.CSV), val));
        assertEquals(val + ", line 3: label 'gamma' is not one of the known labels [alpha, zeta] (a label must occur in the training "
                + "data or be listed in <labels>).", unknown.getMessage());
        Path none = file("n.csv", "text,label\na,\nb, | \n");
        DataException empty = assertThrows(DataException.class,
                () -> LabelMap.discoverMultiLabel(List.of(), multi.read(none, TextFormat.CSV), none));
        assertEquals("Data file " + none + " has no labels: every example's label list is empty, and a multi-label classifier "
                + "needs at least one label.", empty.getMessage());
    }

    @Test
    void conllIsPickedByExtensionAndNotReadAsLabelledTexts() throws IOException {
        for (String name : List.of("a.conll", "b.IOB", "c.bio", "d.bioes")) {
            assertEquals(TextFormat.CONLL, TextFormat.of("auto", dir.resolve(name)), name);
        }
        assertEquals(TextFormat.CONLL, TextFormat.of("conll", dir.resolve("train.txt")));
        assertEquals(TextFormat.CSV, TextFormat.of("auto", dir.resolve("train.txt")));
        Path f = file("a.conll", "EU B-ORG\n");
        assertEquals("Data file " + f + " is CoNLL data (one token a line with its tag): it is read for token classification, "
                + "not as labelled texts; use CSV, TSV or JSONL.", error(f).getMessage());
    }
}
