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
    /** A key given twice in one object is an error, as a duplicated column is in CSV: which one was meant? */
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    final String textColumn;
    final String pairColumn;
    final String labelColumn;
    final boolean labelRequired;

    /** {@code pairColumn} may be null; every example must have a label. */
    public DataReader(String textColumn, String pairColumn, String labelColumn) {
        this(textColumn, pairColumn, labelColumn, true);
    }

    private DataReader(String textColumn, String pairColumn, String labelColumn, boolean labelRequired) {
        this.textColumn = textColumn;
        this.pairColumn = pairColumn;
        this.labelColumn = labelColumn;
        this.labelRequired = labelRequired;
    }

    /** A reader for data to predict on: a label column is read where the file has one and ignored otherwise. */
    public static DataReader unlabelled(String textColumn, String pairColumn, String labelColumn) {
        return new DataReader(textColumn, pairColumn, labelColumn, false);
    }

    /** Every example of {@code file}; an empty file (or one with only a header) is an error. */
    public List<LabeledText> read(Path file, TextFormat format) {
        List<LabeledText> rows = new ArrayList<>();
        try (RecordStream stream = open(file, format)) {
            for (LabeledText t = stream.next(); t != null; t = stream.next()) {
                rows.add(t);
            }
        }
        if (rows.isEmpty()) {
            throw new DataException("Data file " + file + " has no examples" + (format == TextFormat.JSONL ? "." : " below its header."));
        }
        return rows;
    }

    /** The examples of {@code file}, one at a time. */
    public RecordStream open(Path file, TextFormat format) {
        return new RecordStream(file, format, this);
    }

    LabeledText jsonRecord(Path file, long line, String json) {
        JsonNode node;
        try {
            node = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw DataException.at(file, line, null, "not valid JSON (" + e.getOriginalMessage() + ").");
        }
        if (node == null || !node.isObject()) {
            throw DataException.at(file, line, null, "expected a JSON object with the fields of one example.");
        }
        String text = jsonText(file, line, node, textColumn, true);
        String pair = pairColumn == null ? null : jsonText(file, line, node, pairColumn, true);
        String label = null;
        if (labelColumn != null && (labelRequired || node.hasNonNull(labelColumn))) {
            label = jsonText(file, line, node, labelColumn, false).strip();
            if (label.isEmpty()) {
                throw DataException.at(file, line, labelColumn, "the label is empty.");
            }
        }
        return new LabeledText(text, pair, label, line);
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
