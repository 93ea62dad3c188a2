package dev.finetune.engine.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads labelled text from CSV, TSV (both with a header row) or JSON Lines (one object a line).
 * Which fields hold the text, the optional second text and the label is configured by name.
 */
public final class DataReader {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String textColumn;
    private final String pairColumn;
    private final String labelColumn;

    /** {@code pairColumn} may be null; {@code labelColumn} null reads unlabelled data. */
    public DataReader(String textColumn, String pairColumn, String labelColumn) {
        this.textColumn = textColumn;
        this.pairColumn = pairColumn;
        this.labelColumn = labelColumn;
    }

    public List<LabeledText> read(Path file, TextFormat format) {
        String text = Utf8Text.read(file);
        List<LabeledText> rows = format == TextFormat.JSONL ? jsonLines(file, text)
                : delimited(file, text, format == TextFormat.TSV ? '\t' : ',');
        if (rows.isEmpty()) {
            throw new DataException("Data file " + file + " has no examples" + (format == TextFormat.JSONL ? "." : " below its header."));
        }
        return rows;
    }

    private List<LabeledText> delimited(Path file, String content, char delimiter) {
        List<DelimitedParser.Record> records = DelimitedParser.parse(file, content, delimiter);
        if (records.isEmpty()) {
            throw new DataException("Data file " + file + " is empty: it needs a header row naming the columns.");
        }
        List<String> header = records.get(0).fields();
        int text = column(file, header, textColumn);
        int pair = pairColumn == null ? -1 : column(file, header, pairColumn);
        int label = labelColumn == null ? -1 : column(file, header, labelColumn);
        List<LabeledText> out = new ArrayList<>(records.size());
        for (DelimitedParser.Record r : records.subList(1, records.size())) {
            if (r.fields().size() != header.size()) {
                throw DataException.at(file, r.line(), null, "expected " + header.size() + " fields as in the header, found "
                        + r.fields().size() + (delimiter == ',' ? " (a comma inside a text needs quotes)." : "."));
            }
            String l = label < 0 ? null : r.fields().get(label).strip();
            if (label >= 0 && l.isEmpty()) {
                throw DataException.at(file, r.line(), labelColumn, "the label is empty.");
            }
            out.add(new LabeledText(r.fields().get(text), pair < 0 ? null : r.fields().get(pair), l, r.line()));
        }
        return out;
    }

    private static int column(Path file, List<String> header, String name) {
        int i = header.indexOf(name);
        if (i < 0) {
            throw DataException.at(file, 1, null, "there is no column '" + name + "'; the header has " + header + ".");
        }
        if (header.lastIndexOf(name) != i) {
            throw DataException.at(file, 1, null, "column '" + name + "' appears more than once in the header.");
        }
        return i;
    }

    private List<LabeledText> jsonLines(Path file, String content) {
        List<LabeledText> out = new ArrayList<>();
        String[] lines = content.split("\r?\n", -1);
        for (int i = 0; i < lines.length; i++) {
            long line = i + 1;
            if (lines[i].isBlank()) {
                continue;
            }
            JsonNode node;
            try {
                node = JSON.readTree(lines[i]);
            } catch (JsonProcessingException e) {
                throw DataException.at(file, line, null, "not valid JSON (" + e.getOriginalMessage() + ").");
            }
            if (node == null || !node.isObject()) {
                throw DataException.at(file, line, null, "expected a JSON object with the fields of one example.");
            }
            String text = jsonText(file, line, node, textColumn, true);
            String pair = pairColumn == null ? null : jsonText(file, line, node, pairColumn, true);
            String label = labelColumn == null ? null : jsonText(file, line, node, labelColumn, false).strip();
            if (labelColumn != null && label.isEmpty()) {
                throw DataException.at(file, line, labelColumn, "the label is empty.");
            }
            out.add(new LabeledText(text, pair, label, line));
        }
        return out;
    }

    private static String jsonText(Path file, long line, JsonNode node, String field, boolean mustBeString) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            throw DataException.at(file, line, field, "the field is missing.");
        }
        if (v.isContainerNode() || (mustBeString && !v.isTextual())) {
            throw DataException.at(file, line, field, "expected a " + (mustBeString ? "string" : "string or number")
                    + ", found " + v.getNodeType().name().toLowerCase() + ".");
        }
        return v.asText();
    }
}
