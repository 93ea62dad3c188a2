package dev.finetune.engine.data;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * RFC 4180 records read one at a time: fields split by a delimiter, optionally quoted with {@code "} (a quote
 * inside doubled), quoted fields may span lines; LF or CRLF line ends; blank lines skipped. Each record
 * remembers the line it starts on; {@link #line()} is the line being read, for error messages.
 */
final class DelimitedParser {
    record Record(long line, List<String> fields) {
    }

    private final Path file;
    private final Reader in;
    private final char delimiter;
    private long line = 1;
    private int peeked = -2;

    DelimitedParser(Path file, Reader in, char delimiter) {
        this.file = file;
        this.in = in;
        this.delimiter = delimiter;
    }

    long line() {
        return line;
    }

    private int read() throws IOException {
        if (peeked != -2) {
            int c = peeked;
            peeked = -2;
            return c;
        }
        return in.read();
    }

    private int peek() throws IOException {
        if (peeked == -2) {
            peeked = in.read();
        }
        return peeked;
    }

    /** The next record, or null at the end of the file. */
    Record next() throws IOException {
        while (true) {
            long start = line;
            List<String> fields = new ArrayList<>();
            StringBuilder field = new StringBuilder();
            boolean quoted = false;
            boolean wasQuoted = false;
            boolean any = false;
            while (true) {
                int c = read();
                if (c < 0) {
                    if (quoted) {
                        throw DataException.at(file, start, null, "a quoted field is never closed.");
                    }
                    if (!any) {
                        return null;
                    }
                    fields.add(field.toString());
                    return new Record(start, fields);
                }
                any = true;
                if (quoted) {
                    if (c == '"') {
                        if (peek() == '"') {
                            read();
                            field.append('"');
                        } else {
                            quoted = false;
                        }
                    } else {
                        if (c == '\n') {
                            line++;
                        }
                        field.append((char) c);
                    }
                } else if (c == '"' && field.length() == 0 && !wasQuoted) {
                    quoted = true;
                    wasQuoted = true;
                } else if (c == delimiter) {
                    fields.add(field.toString());
                    field.setLength(0);
                    wasQuoted = false;
                } else if (c == '\n' || c == '\r') {
                    if (c == '\r' && peek() == '\n') {
                        read();
                    }
                    line++;
                    fields.add(field.toString());
                    if (fields.size() == 1 && fields.get(0).isEmpty() && !wasQuoted) {
                        break;
                    }
                    return new Record(start, fields);
                } else if (wasQuoted) {
                    throw DataException.at(file, line, null, "unexpected character '" + (char) c + "' after a closing quote; "
                            + "a quote inside a quoted field is written as two quotes (\"\").");
                } else {
                    field.append((char) c);
                }
            }
        }
    }
}
