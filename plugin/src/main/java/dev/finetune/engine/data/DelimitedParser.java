package dev.finetune.engine.data;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * RFC 4180 records: fields split by a delimiter, optionally quoted with {@code "} (a quote inside doubled),
 * quoted fields may span lines; LF or CRLF line ends. Each record remembers the line it starts on.
 */
final class DelimitedParser {
    record Record(long line, List<String> fields) {
    }

    private DelimitedParser() {
    }

    static List<Record> parse(Path file, String text, char delimiter) {
        List<Record> records = new ArrayList<>();
        List<String> fields = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        long line = 1;
        long recordLine = 1;
        boolean quoted = false;
        boolean wasQuoted = false;
        int n = text.length();
        for (int i = 0; i < n; i++) {
            char c = text.charAt(i);
            if (quoted) {
                if (c == '"') {
                    if (i + 1 < n && text.charAt(i + 1) == '"') {
                        field.append('"');
                        i++;
                    } else {
                        quoted = false;
                    }
                } else {
                    if (c == '\n') {
                        line++;
                    }
                    field.append(c);
                }
                continue;
            }
            if (c == '"' && field.length() == 0 && !wasQuoted) {
                quoted = true;
                wasQuoted = true;
            } else if (c == delimiter) {
                fields.add(field.toString());
                field.setLength(0);
                wasQuoted = false;
            } else if (c == '\n' || c == '\r') {
                if (c == '\r' && i + 1 < n && text.charAt(i + 1) == '\n') {
                    i++;
                }
                fields.add(field.toString());
                field.setLength(0);
                wasQuoted = false;
                if (!(fields.size() == 1 && fields.get(0).isEmpty())) {
                    records.add(new Record(recordLine, fields));
                }
                fields = new ArrayList<>();
                line++;
                recordLine = line;
            } else if (wasQuoted) {
                throw DataException.at(file, line, null, "unexpected character '" + c + "' after a closing quote; "
                        + "a quote inside a quoted field is written as two quotes (\"\").");
            } else {
                field.append(c);
            }
        }
        if (quoted) {
            throw DataException.at(file, recordLine, null, "a quoted field is never closed.");
        }
        if (field.length() > 0 || !fields.isEmpty() || wasQuoted) {
            fields.add(field.toString());
            records.add(new Record(recordLine, fields));
        }
        return records;
    }
}
