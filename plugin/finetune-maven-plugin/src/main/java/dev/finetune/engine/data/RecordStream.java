package dev.finetune.engine.data;

import dev.finetune.runtime.encoding.LabeledText;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.Reader;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

/**
 * Examples read one at a time from a file, so that a file larger than memory can be processed. Every problem is
 * a {@link DataException} naming the file and line.
 */
public final class RecordStream implements AutoCloseable {
    private final Path file;
    private final Reader reader;
    private final Source source;

    private interface Source {
        LabeledText next() throws IOException;

        long line();
    }

    RecordStream(Path file, TextFormat format, DataReader columns) {
        this.file = file;
        if (format == TextFormat.CONLL) {
            throw new DataException("Data file " + file + " is CoNLL data (one token a line with its tag): it is read for token "
                    + "classification, not as labelled texts; use CSV, TSV or JSONL.");
        }
        try {
            reader = new BufferedReader(new StrictCharsetReader(Files.newInputStream(file), columns.charset), SAMPLE);
        } catch (NoSuchFileException e) {
            throw new DataException("Data file " + file + " does not exist.");
        } catch (IOException e) {
            throw new DataException("Cannot read data file " + file + ": " + e.getMessage());
        }
        try {
            skipBom();
            source = format == TextFormat.JSONL ? jsonLines(columns) : delimited(columns, columns.delimiter != null ? columns.delimiter
                    : format == TextFormat.TSV ? '\t' : detectDelimiter());
        } catch (IOException e) {
            closeQuietly();
            throw problem(e, 1);
        } catch (RuntimeException e) {
            closeQuietly();
            throw e;
        }
    }

    /** Characters read ahead to detect the delimiter (and the reader's buffer). */
    private static final int SAMPLE = 1 << 16;
    /** Records after the header that detection checks. */
    private static final int SAMPLE_RECORDS = 5;
    private static final char[] DELIMITERS = {',', ';', '\t', '|'};

    /**
     * The CSV delimiter, from the header line and the few records after it (up to {@value #SAMPLE} characters): of
     * {@code , ; tab |}, the one that splits the header into the most fields, at least two, and every complete sampled
     * record into as many; when none is consistent, the one that gives the header the most fields (ties in that order),
     * so that a broken comma-separated file still fails as one.
     */
    private char detectDelimiter() throws IOException {
        char[] sample = new char[SAMPLE];
        int n = 0;
        boolean cut = false;
        reader.mark(SAMPLE);
        try {
            for (int r; n < SAMPLE && (r = reader.read(sample, n, SAMPLE - n)) > 0; ) {
                n += r;
            }
            cut = n == SAMPLE;
        } catch (IOException e) {
            cut = true; // a byte the charset does not define: the sample ends before it; reading reports it at its line
        }
        reader.reset();
        String text = new String(sample, 0, n);
        if (cut) {
            text = text.substring(0, text.lastIndexOf('\n') + 1); // whole lines only
        }
        char best = ',';
        int bestFields = 0;
        char widest = ',';
        int widestFields = 0;
        for (char d : DELIMITERS) {
            DelimitedParser parser = new DelimitedParser(file, new StringReader(text), d);
            int fields = 0;
            boolean consistent = true;
            try {
                DelimitedParser.Record header = parser.next();
                fields = header == null ? 0 : header.fields().size();
                for (int i = 0; i < SAMPLE_RECORDS && consistent; i++) {
                    DelimitedParser.Record r = parser.next();
                    if (r == null) {
                        break;
                    }
                    consistent = r.fields().size() == fields;
                }
            } catch (DataException e) {
                consistent = cut && fields > 0; // a quoted text the sample cut short, or a quote this delimiter cannot explain
            }
            if (fields > widestFields) {
                widest = d;
                widestFields = fields;
            }
            if (consistent && fields >= 2 && fields > bestFields) {
                best = d;
                bestFields = fields;
            }
        }
        return bestFields > 0 ? best : widest;
    }

    private void skipBom() throws IOException {
        reader.mark(1);
        if (reader.read() != '\uFEFF') {
            reader.reset();
        }
    }

    /** The next example, or null at the end. */
    public LabeledText next() {
        try {
            return source.next();
        } catch (IOException e) {
            throw problem(e, source.line());
        }
    }

    private DataException problem(IOException e, long line) {
        if (e instanceof StrictCharsetReader.MalformedByteException m) {
            return m.at(file, line);
        }
        return new DataException("Cannot read data file " + file + ": " + e.getMessage());
    }

    private Source delimited(DataReader columns, char delimiter) throws IOException {
        DelimitedParser parser = new DelimitedParser(file, reader, delimiter);
        DelimitedParser.Record header = parser.next();
        if (header == null) {
            throw new DataException("Data file " + file + " is empty: it needs a header row naming the columns.");
        }
        List<String> names = header.fields();
        int text = column(names, columns.textColumn, true);
        int pair = columns.pairColumn == null ? -1 : column(names, columns.pairColumn, true);
        int label = columns.labelColumn == null ? -1 : column(names, columns.labelColumn, columns.labelRequired);
        return new Source() {
            @Override
            public LabeledText next() throws IOException {
                DelimitedParser.Record r = parser.next();
                if (r == null) {
                    return null;
                }
                if (r.fields().size() != names.size()) {
                    throw DataException.at(file, r.line(), null, "expected " + names.size() + " fields as in the header, found "
                            + r.fields().size() + (delimiter == ',' ? " (a comma inside a text needs quotes)."
                            : delimiter == ';' ? " (a semicolon inside a text needs quotes)." : "."));
                }
                String l = label < 0 ? null : r.fields().get(label).strip();
                if (columns.labelSeparator != null) {
                    return new LabeledText(r.fields().get(text), pair < 0 ? null : r.fields().get(pair), l, r.line(),
                            l == null ? null : columns.splitLabels(l));
                }
                if (label >= 0 && l.isEmpty()) {
                    throw DataException.at(file, r.line(), columns.labelColumn, "the label is empty.");
                }
                return new LabeledText(r.fields().get(text), pair < 0 ? null : r.fields().get(pair), l, r.line());
            }

            @Override
            public long line() {
                return parser.line();
            }
        };
    }

    private int column(List<String> header, String name, boolean required) {
        int i = header.indexOf(name);
        if (i < 0 && required) {
            throw DataException.at(file, 1, null, "there is no column '" + name + "'; the header has " + header + ".");
        }
        if (i >= 0 && header.lastIndexOf(name) != i) {
            throw DataException.at(file, 1, null, "column '" + name + "' appears more than once in the header.");
        }
        return i;
    }

    private Source jsonLines(DataReader columns) {
        BufferedReader lines = (BufferedReader) reader;
        return new Source() {
            long line;

            @Override
            public LabeledText next() throws IOException {
                while (true) {
                    String s = lines.readLine();
                    if (s == null) {
                        return null;
                    }
                    line++;
                    if (!s.isBlank()) {
                        return columns.jsonRecord(file, line, s);
                    }
                }
            }

            @Override
            public long line() {
                return line + 1;
            }
        };
    }

    private void closeQuietly() {
        try {
            reader.close();
        } catch (IOException ignored) {
            // Already failing; the first problem is the one to report.
        }
    }

    @Override
    public void close() {
        closeQuietly();
    }
}
