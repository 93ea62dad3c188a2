package dev.finetune.engine.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finetune.engine.TestFiles;
import dev.finetune.runtime.encoding.LabeledText;
import dev.finetune.runtime.encoding.TaggedSentence;
import dev.finetune.runtime.tokenizer.BertTokenizer;
import dev.finetune.runtime.tokenizer.TextTokenizer;
import dev.finetune.runtime.tokenizer.Vocabulary;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Seeded fuzzing of the readers and the tokenizer: thousands of generated files, valid and corrupted. A valid
 * file (also with a BOM or CRLF line ends) must read back exactly; a corrupted one must either read or fail with
 * a {@link DataException} that names the file (and the line, where there is one). Never another exception, a
 * hang, or a lost row.
 */
class DataFuzzTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String ALPHABET = "abc xyz,\"'\t\n\r;|\\{}[]:é中😀\u0000\u00a0\u200b";
    private static final int[] CODE_POINTS = ALPHABET.codePoints().toArray();

    enum Change { NONE, BOM, CRLF, BOM_CRLF, STRAY_QUOTE, DROP_DELIMITER, EXTRA_DELIMITER, NUL_BYTE, INVALID_UTF8, TRUNCATE,
        BLANK_LABEL, WHITESPACE_LABEL, DUPLICATE_COLUMN, HEADER_ONLY, EMPTY, RANDOM_BYTES }

    @TempDir
    Path dir;

    @Test
    @Timeout(120)
    void readersEndInDataOrANamedError() throws IOException {
        Random r = new Random(20261124);
        Map<Change, int[]> outcomes = new EnumMap<>(Change.class);
        int cases = 4000;
        for (int i = 0; i < cases; i++) {
            TextFormat format = TextFormat.values()[r.nextInt(3)];
            List<String[]> rows = rows(r, format);
            Change change = Change.values()[r.nextInt(Change.values().length)];
            Path file = dir.resolve("case-" + i + (format == TextFormat.CSV ? ".csv" : format == TextFormat.TSV ? ".tsv" : ".jsonl"));
            Files.write(file, change(r, render(format, rows, r), format, change));
            List<LabeledText> read = null;
            DataException error = null;
            try {
                read = new DataReader("text", null, "label").read(file, format);
            } catch (DataException e) {
                error = e;
            } catch (RuntimeException e) {
                fail("case " + i + " (" + format + ", " + change + ") threw " + e, e);
            }
            List<LabeledText> multi = null;
            try {
                multi = new DataReader("text", null, "label").multiLabel("|").read(file, format);
            } catch (DataException e) {
                String m = e.getMessage();
                assertTrue(m.startsWith(file.toString()) || m.startsWith("Data file " + file), "case " + i + ": names no file: " + m);
            } catch (RuntimeException e) {
                fail("case " + i + " (" + format + ", " + change + ") multi-label threw " + e, e);
            }
            int[] tally = outcomes.computeIfAbsent(change, k -> new int[2]);
            tally[error == null ? 0 : 1]++;
            if (change.ordinal() <= Change.BOM_CRLF.ordinal()) {
                if (error != null) {
                    fail("case " + i + " (" + format + ", " + change + ") is valid but failed: " + error.getMessage());
                }
                assertEquals(rows.size(), read.size(), "case " + i + ": rows lost or added");
                for (int k = 0; k < rows.size(); k++) {
                    assertEquals(show(rows.get(k)[0]), show(read.get(k).text()), "case " + i + " (" + format + ", " + change + ") row " + k);
                    assertEquals(rows.get(k)[1], read.get(k).label(), "case " + i + " row " + k + " label");
                    assertEquals(List.of(rows.get(k)[1]), multi.get(k).labelList(), "case " + i + " row " + k + " label list");
                }
            } else if (error != null) {
                String m = error.getMessage();
                assertTrue(m.startsWith(file.toString()) || m.startsWith("Data file " + file), "case " + i + ": names no file: " + m);
                assertTrue(m.contains(", line ") || m.contains(" is empty") || m.contains(" has no examples"),
                        "case " + i + ": names no line: " + m);
            } else {
                assertTrue(change != Change.EMPTY && change != Change.HEADER_ONLY && change != Change.INVALID_UTF8
                        && change != Change.BLANK_LABEL && change != Change.WHITESPACE_LABEL && change != Change.DUPLICATE_COLUMN,
                        "case " + i + " (" + format + ", " + change + ") should have failed but read " + read.size() + " rows");
            }
        }
        StringBuilder summary = new StringBuilder("reader fuzz: " + cases + " cases;");
        outcomes.forEach((c, t) -> summary.append(' ').append(c).append(' ').append(t[0]).append(" read/").append(t[1]).append(" rejected;"));
        System.out.println(summary);
    }

    @Test
    @Timeout(60)
    void aTenMegabyteLineReads() throws IOException {
        String text = "word ".repeat(2_000_000);
        Path file = dir.resolve("long.csv");
        Files.writeString(file, "text,label\n\"" + text + "\",x\nshort,y\n");
        List<LabeledText> rows = new DataReader("text", null, "label").read(file, TextFormat.CSV);
        assertEquals(2, rows.size());
        assertEquals(text.length(), rows.get(0).text().length());
        BertTokenizer tokenizer = new BertTokenizer(Vocabulary.read(TestFiles.model("vocab.txt")), true);
        assertEquals(128, tokenizer.encode(rows.get(0).text(), null, 128).ids().length);
    }

    @Test
    @Timeout(60)
    void tokenizerTakesAnyString() {
        Vocabulary vocab = Vocabulary.read(TestFiles.model("vocab.txt"));
        BertTokenizer tokenizer = new BertTokenizer(vocab, true);
        Random r = new Random(7);
        int cases = 20_000;
        for (int i = 0; i < cases; i++) {
            StringBuilder s = new StringBuilder();
            int n = r.nextInt(60);
            for (int k = 0; k < n; k++) {
                int pick = r.nextInt(10);
                if (pick < 4) {
                    s.append((char) ('a' + r.nextInt(26)));
                } else if (pick < 6) {
                    s.append(ALPHABET.charAt(r.nextInt(ALPHABET.length())));
                } else if (pick < 8) {
                    s.append((char) r.nextInt(0x10000));
                } else {
                    s.appendCodePoint(r.nextInt(0x110000));
                }
            }
            String text = s.toString();
            int max = 3 + r.nextInt(40);
            TextTokenizer.Encoding e = tokenizer.encode(text, r.nextBoolean() ? null : text, max);
            assertTrue(e.ids().length <= max && e.ids()[0] == tokenizer.clsId && e.ids()[e.ids().length - 1] == tokenizer.sepId,
                    "case " + i);
            for (int id : e.ids()) {
                assertTrue(id >= 0 && id < vocab.size(), "case " + i + ": id " + id);
            }
        }
        System.out.println("tokenizer fuzz: " + cases + " strings");
    }

    enum TokenChange { NONE, BOM, CRLF, EXTRA_BLANK_LINES, DROP_TAG, EXTRA_COLUMN, NUL_BYTE, INVALID_UTF8, TRUNCATE, RANDOM_BYTES }

    @Test
    @Timeout(60)
    void tokenReaderEndsInSentencesOrANamedError() throws IOException {
        Random r = new Random(20260301);
        TokenDataReader reader = new TokenDataReader("tokens", "tags", true);
        int cases = 2000;
        int rejected = 0;
        for (int i = 0; i < cases; i++) {
            TextFormat format = r.nextBoolean() ? TextFormat.CONLL : TextFormat.JSONL;
            List<List<String[]>> sentences = new ArrayList<>();
            for (int n = 1 + r.nextInt(4); n > 0; n--) {
                List<String[]> tokens = new ArrayList<>();
                for (int k = 1 + r.nextInt(6); k > 0; k--) {
                    tokens.add(new String[] {token(r, format), List.of("O", "B-PER", "I-PER", "B-LOC").get(r.nextInt(4))});
                }
                sentences.add(tokens);
            }
            StringBuilder b = new StringBuilder();
            for (List<String[]> sentence : sentences) {
                if (format == TextFormat.CONLL) {
                    sentence.forEach(t -> b.append(t[0]).append(r.nextBoolean() ? " " : "\t").append(t[1]).append('\n'));
                    b.append('\n');
                } else {
                    ObjectNode o = JSON.createObjectNode();
                    sentence.forEach(t -> o.withArray("tokens").add(t[0]));
                    sentence.forEach(t -> o.withArray("tags").add(t[1]));
                    b.append(JSON.writeValueAsString(o)).append('\n');
                }
            }
            TokenChange change = TokenChange.values()[r.nextInt(TokenChange.values().length)];
            byte[] valid = b.toString().getBytes(StandardCharsets.UTF_8);
            String text = b.toString();
            byte[] bytes = switch (change) {
                case NONE -> valid;
                case BOM -> concat(new byte[] {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF}, valid);
                case CRLF -> text.replace("\n", "\r\n").getBytes(StandardCharsets.UTF_8);
                case EXTRA_BLANK_LINES -> ("\n\n" + text.replace("\n\n", "\n \n\t\n")).getBytes(StandardCharsets.UTF_8);
                case DROP_TAG -> (format == TextFormat.CONLL ? text.replaceFirst("[ \t][^\n]*\n", "\n")
                        : text.replaceFirst("\"tags\":\\[\"[A-Z-]+\",?", "\"tags\":[")).getBytes(StandardCharsets.UTF_8);
                case EXTRA_COLUMN -> text.replaceFirst(format == TextFormat.CONLL ? "\n(?=.)" : "\"\\]", format == TextFormat.CONLL
                        ? " X Y\n" : "\",\"z\"]").getBytes(StandardCharsets.UTF_8);
                case NUL_BYTE -> insert(valid, r.nextInt(valid.length + 1), new byte[] {0});
                case INVALID_UTF8 -> insert(valid, r.nextInt(valid.length + 1), new byte[] {(byte) 0xFF});
                case TRUNCATE -> java.util.Arrays.copyOf(valid, r.nextInt(valid.length + 1));
                case RANDOM_BYTES -> {
                    byte[] noise = new byte[r.nextInt(64)];
                    r.nextBytes(noise);
                    yield insert(valid, r.nextInt(valid.length + 1), noise);
                }
            };
            Path file = dir.resolve("tokens-" + i + (format == TextFormat.CONLL ? ".conll" : ".jsonl"));
            Files.write(file, bytes);
            List<TaggedSentence> read = null;
            try {
                read = reader.read(file, TextFormat.of("auto", file));
            } catch (DataException e) {
                rejected++;
                String m = e.getMessage();
                assertTrue(m.startsWith(file + ", line ") || m.equals("Data file " + file + " has no sentences."),
                        "case " + i + " (" + format + ", " + change + "): names no file and line: " + m);
                assertTrue(change.ordinal() > TokenChange.EXTRA_BLANK_LINES.ordinal(),
                        "case " + i + " (" + format + ", " + change + ") is valid but failed: " + m);
            } catch (RuntimeException e) {
                fail("case " + i + " (" + format + ", " + change + ") threw " + e, e);
            }
            if (read != null && change.ordinal() <= TokenChange.EXTRA_BLANK_LINES.ordinal()) {
                assertEquals(sentences.size(), read.size(), "case " + i + " (" + format + ", " + change + "): sentences lost or added");
                for (int k = 0; k < sentences.size(); k++) {
                    assertEquals(sentences.get(k).stream().map(t -> t[0]).toList(), read.get(k).tokens(), "case " + i + " sentence " + k);
                    assertEquals(sentences.get(k).stream().map(t -> t[1]).toList(), read.get(k).tags(), "case " + i + " sentence " + k);
                }
            }
            if (read != null && (change == TokenChange.DROP_TAG || change == TokenChange.EXTRA_COLUMN) && format == TextFormat.JSONL) {
                fail("case " + i + " (" + format + ", " + change + ") should have failed: tags and tokens differ in number");
            }
        }
        System.out.println("token reader fuzz: " + cases + " cases, " + rejected + " rejected");
    }

    /** A token: not only white space, and for CoNLL without the spaces and tabs that separate its columns. */
    private static String token(Random r, TextFormat format) {
        StringBuilder t = new StringBuilder();
        for (int k = 1 + r.nextInt(8); k > 0; k--) {
            int c = CODE_POINTS[r.nextInt(CODE_POINTS.length)];
            if (format == TextFormat.CONLL && (Character.isWhitespace(c) || Character.isSpaceChar(c))) {
                c = 'a' + r.nextInt(26);
            }
            t.appendCodePoint(c);
        }
        String s = t.toString();
        if (s.codePoints().allMatch(c -> Character.isWhitespace(c) || Character.isSpaceChar(c))) {
            s += "a"; // a token of only white space is refused (TokenDataReaderTest)
        }
        return format == TextFormat.CONLL && s.startsWith("-DOCSTART-") ? "x" + s : s;
    }

    /** Escapes what would garble a report (NUL and other control characters). */
    private static String show(String s) {
        StringBuilder b = new StringBuilder();
        s.codePoints().forEach(c -> {
            if (c < 0x20 || c == 0x7f) {
                b.append(String.format("\\x%02x", c));
            } else {
                b.appendCodePoint(c);
            }
        });
        return b.toString();
    }

    private static List<String[]> rows(Random r, TextFormat format) {
        int n = 1 + r.nextInt(6);
        List<String[]> rows = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            StringBuilder text = new StringBuilder();
            int len = r.nextInt(12);
            for (int k = 0; k < len; k++) {
                text.appendCodePoint(CODE_POINTS[r.nextInt(CODE_POINTS.length)]);
            }
            String t = text.toString();
            if (format == TextFormat.JSONL) {
                t = t.replace("\r", "");
            } else {
                // A lone CR inside a quoted field is kept, but a CRLF change would rewrite it; keep texts LF-only.
                t = t.replace("\r", "");
            }
            rows.add(new String[] {t, "label" + r.nextInt(3) + (r.nextBoolean() ? " x" : "")});
        }
        return rows;
    }

    private static byte[] render(TextFormat format, List<String[]> rows, Random r) throws IOException {
        StringBuilder b = new StringBuilder();
        if (format == TextFormat.JSONL) {
            for (String[] row : rows) {
                ObjectNode o = JSON.createObjectNode();
                o.put("text", row[0]);
                o.put("label", row[1]);
                b.append(JSON.writeValueAsString(o)).append('\n');
            }
        } else {
            char d = format == TextFormat.TSV ? '\t' : ',';
            b.append("text").append(d).append("label").append('\n');
            for (String[] row : rows) {
                b.append(field(row[0], d, r)).append(d).append(field(row[1], d, r)).append('\n');
            }
        }
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static String field(String s, char d, Random r) {
        boolean quote = s.isEmpty() || r.nextBoolean() || s.indexOf(d) >= 0 || s.contains("\"") || s.contains("\n") || s.contains("\r");
        return quote ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
    }

    private static byte[] change(Random r, byte[] valid, TextFormat format, Change change) {
        String s = new String(valid, StandardCharsets.UTF_8);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        char d = format == TextFormat.TSV ? '\t' : ',';
        switch (change) {
            case NONE:
                return valid;
            case BOM:
                return concat(new byte[] {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF}, valid);
            case CRLF:
                return crlf(s, format).getBytes(StandardCharsets.UTF_8);
            case BOM_CRLF:
                return concat(new byte[] {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF}, crlf(s, format).getBytes(StandardCharsets.UTF_8));
            case STRAY_QUOTE:
                return insert(valid, r.nextInt(valid.length + 1), "\"".getBytes());
            case DROP_DELIMITER: {
                int at = s.lastIndexOf(format == TextFormat.JSONL ? ':' : d);
                return at < 0 ? valid : (s.substring(0, at) + s.substring(at + 1)).getBytes(StandardCharsets.UTF_8);
            }
            case EXTRA_DELIMITER:
                return insert(valid, r.nextInt(valid.length + 1), String.valueOf(format == TextFormat.JSONL ? ',' : d).getBytes());
            case NUL_BYTE:
                return insert(valid, r.nextInt(valid.length + 1), new byte[] {0});
            case INVALID_UTF8:
                return insert(valid, r.nextInt(valid.length + 1), new byte[] {(byte) 0xFF});
            case TRUNCATE:
                return java.util.Arrays.copyOf(valid, r.nextInt(valid.length + 1));
            case BLANK_LABEL:
            case WHITESPACE_LABEL: {
                String blank = change == Change.BLANK_LABEL ? "" : "   ";
                if (format == TextFormat.JSONL) {
                    return (s + "{\"text\":\"t\",\"label\":\"" + blank + "\"}\n").getBytes(StandardCharsets.UTF_8);
                }
                return (s + "t" + d + blank + "\n").getBytes(StandardCharsets.UTF_8);
            }
            case DUPLICATE_COLUMN:
                if (format == TextFormat.JSONL) {
                    return ("{\"text\":\"a\",\"text\":\"b\",\"label\":\"x\"}\n" + s).getBytes(StandardCharsets.UTF_8);
                }
                return ("text" + d + "label" + d + "text" + s.substring(s.indexOf('\n'))).getBytes(StandardCharsets.UTF_8);
            case HEADER_ONLY:
                return format == TextFormat.JSONL ? "\n\n".getBytes() : ("text" + d + "label\n").getBytes();
            case EMPTY:
                return new byte[0];
            default:
                byte[] noise = new byte[r.nextInt(64)];
                r.nextBytes(noise);
                out.writeBytes(noise);
                return insert(valid, r.nextInt(valid.length + 1), out.toByteArray());
        }
    }

    /** CRLF line ends outside quoted fields (JSONL has none inside its lines). */
    private static String crlf(String s, TextFormat format) {
        if (format == TextFormat.JSONL) {
            return s.replace("\n", "\r\n");
        }
        StringBuilder b = new StringBuilder();
        boolean quoted = false;
        for (char c : s.toCharArray()) {
            if (c == '"') {
                quoted = !quoted;
            }
            if (c == '\n' && !quoted) {
                b.append('\r');
            }
            b.append(c);
        }
        return b.toString();
    }

    private static byte[] insert(byte[] a, int at, byte[] b) {
        byte[] out = new byte[a.length + b.length];
        System.arraycopy(a, 0, out, 0, at);
        System.arraycopy(b, 0, out, at, b.length);
        System.arraycopy(a, at, out, at + b.length, a.length - at);
        return out;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        return insert(b, 0, a);
    }
}
