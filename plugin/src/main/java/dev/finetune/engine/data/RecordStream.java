package dev.finetune.engine.data;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.Reader;
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
        try {
            reader = new BufferedReader(new StrictUtf8Reader(Files.newInputStream(file)), 1 << 16);
        } catch (NoSuchFileException e) {
            throw new DataException("Data file " + file + " does not exist.");
        } catch (IOException e) {
            throw new DataException("Cannot read data file " + file + ": " + e.getMessage());
        }
        try {
            skipBom();
            source = format == TextFormat.JSONL ? jsonLines(columns) : delimited(columns, format == TextFormat.TSV ? '\t' : ',');
        } catch (IOException e) {
            closeQuietly();
            throw problem(e, 1);
        } catch (RuntimeException e) {
            closeQuietly();
            throw e;
        }
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
        if (e instanceof StrictUtf8Reader.MalformedByteException m) {
            return DataException.at(file, line, null, m.getMessage() + "; save the file as UTF-8.");
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
                            + r.fields().size() + (delimiter == ',' ? " (a comma inside a text needs quotes)." : "."));
                }
                String l = label < 0 ? null : r.fields().get(label).strip();
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
