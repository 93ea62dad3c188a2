package dev.finetune.engine.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.finetune.runtime.encoding.LabeledText;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * Reads labelled text from CSV, TSV (both with a header row) or JSON Lines (one object a line).
 * Which fields hold the text, the optional second text and the label is configured by name.
 *
 * <p>The dialect: files are decoded strictly in one charset (UTF-8 unless {@link #withDialect} names another, such
 * as windows-1252 for a spreadsheet saved on Windows); a byte the charset does not define is an error naming its
 * line. The delimiter of CSV is, unless named, detected from the header line: of {@code ,} {@code ;} tab and
 * {@code |}, the one that splits the header into the most fields (two at least) and splits the next few records
 * into as many; when none does so consistently, the one giving the header the most fields (ties: that order), so that
 * a ragged row is still reported against the header's real columns. TSV uses a tab unless a delimiter is named;
 * JSON Lines has none.
 *
 * <pre>{@code
 * DataReader reader = new DataReader("text", null, "label").withDialect("auto", "windows-1252");
 * List<LabeledText> rows = reader.read(Path.of("avis.csv"), TextFormat.CSV);   // header text;label: ";" detected
 * }</pre>
 *
 * <p>Multi-label data ({@link #multiLabel}) gives each example a set of labels in {@link LabeledText#labelList()}.
 */
public final class DataReader {
    /** A key given twice in one object is an error, as a duplicated column is in CSV: which one was meant? */
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    final String textColumn;
    final String pairColumn;
    final String labelColumn;
    final boolean labelRequired;
    /** The CSV/TSV delimiter; null: detected (CSV) or a tab (TSV). */
    final Character delimiter;
    final Charset charset;
    /** What separates the labels of one multi-label cell; null: single-label data. */
    final String labelSeparator;

    /** {@code pairColumn} may be null; every example must have a label. */
    public DataReader(String textColumn, String pairColumn, String labelColumn) {
        this(textColumn, pairColumn, labelColumn, true, null, StandardCharsets.UTF_8, null);
    }

    private DataReader(String textColumn, String pairColumn, String labelColumn, boolean labelRequired, Character delimiter,
                       Charset charset, String labelSeparator) {
        this.textColumn = textColumn;
        this.pairColumn = pairColumn;
        this.labelColumn = labelColumn;
        this.labelRequired = labelRequired;
        this.delimiter = delimiter;
        this.charset = charset;
        this.labelSeparator = labelSeparator;
    }

    /**
     * This reader for multi-label data, where an example has any number of labels (none included) in its label
     * column. In CSV and TSV the cell is split on {@code separator} ({@code |} when null); in JSON Lines the field is
     * an array of labels (strings or numbers) or a string split in the same way. Labels are stripped, empty ones
     * dropped and repeated ones kept once, in order; an empty cell or array means the example has no label, which is
     * valid here (it is an error for single-label data). {@link LabeledText#label()} keeps the cell as written (an
     * array: its items joined with the separator), for messages. Why a separator rather than, say, a JSON list in the
     * cell: a spreadsheet writes {@code sport|politics} as easily as one label, and it needs no quoting in CSV.
     */
    public DataReader multiLabel(String separator) {
        String s = separator == null ? "|" : separator;
        if (s.isEmpty()) {
            throw new DataException("label separator '' is not usable: use one or more characters that no label contains, such as |.");
        }
        return new DataReader(textColumn, pairColumn, labelColumn, labelRequired, delimiter, charset, s);
    }

    /**
     * This reader with another dialect: {@code delimiter} is {@code auto} (or null or blank: detected), {@code tab},
     * or one character such as {@code ;}; {@code encoding} is a charset name such as {@code UTF-8} or
     * {@code windows-1252} (null or blank: UTF-8). An invalid value is a {@link DataException} with
     * {@link #delimiterProblem} or {@link #encodingProblem}'s sentence.
     */
    public DataReader withDialect(String delimiter, String encoding) {
        String problem = delimiterProblem(delimiter);
        if (problem == null) {
            problem = encodingProblem(encoding);
        }
        if (problem != null) {
            throw new DataException(problem);
        }
        return new DataReader(textColumn, pairColumn, labelColumn, labelRequired, delimiterChar(delimiter),
                encoding == null || encoding.isBlank() ? StandardCharsets.UTF_8 : Charset.forName(encoding.strip()), labelSeparator);
    }

    /** Why {@code delimiter} cannot be used, or null when it can. */
    public static String delimiterProblem(String delimiter) {
        if (delimiter == null || delimiter.equals("\t") || delimiter.isBlank()
                || List.of("auto", "tab", "\\t").contains(delimiter.strip().toLowerCase(Locale.ROOT))) {
            return null;
        }
        String d = delimiter.strip();
        if (d.length() != 1 || d.charAt(0) == '"') {
            return "delimiter '" + delimiter + "' is not usable: use auto, tab, or one character such as ; or | (not a quote).";
        }
        return null;
    }

    /** Why {@code encoding} cannot be used, or null when it can (null and blank mean UTF-8). */
    public static String encodingProblem(String encoding) {
        if (encoding == null || encoding.isBlank()) {
            return null;
        }
        try {
            Charset.forName(encoding.strip());
            return null;
        } catch (IllegalArgumentException e) {
            return "encoding '" + encoding + "' is not a charset Java knows: use a name such as UTF-8, windows-1252 or ISO-8859-15.";
        }
    }

    private static Character delimiterChar(String delimiter) {
        if (delimiter == null || delimiter.equals("\t") || List.of("tab", "\\t").contains(delimiter.strip().toLowerCase(Locale.ROOT))) {
            return delimiter == null ? null : '\t';
        }
        String d = delimiter.strip();
        return d.isEmpty() || d.equalsIgnoreCase("auto") ? null : d.charAt(0);
    }

    /** A reader for data to predict on: a label column is read where the file has one and ignored otherwise. */
    public static DataReader unlabelled(String textColumn, String pairColumn, String labelColumn) {
        return new DataReader(textColumn, pairColumn, labelColumn, false, null, StandardCharsets.UTF_8, null);
    }

    /** Every example of {@code file}; an empty file (or one with only a header) is an error. */
    public List<LabeledText> read(Path file, TextFormat format) {
        List<LabeledText> rows = new ArrayList<>();
        forEach(file, format, rows::add);
        return rows;
    }

    /** Hands every example of {@code file} to {@code each} in file order, holding none; an empty file is an error. */
    public void forEach(Path file, TextFormat format, Consumer<LabeledText> each) {
        long rows = 0;
        try (RecordStream stream = open(file, format)) {
            for (LabeledText t = stream.next(); t != null; t = stream.next()) {
                each.accept(t);
                rows++;
            }
        }
        if (rows == 0) {
            throw noExamples(file, format);
        }
    }

    static DataException noExamples(Path file, TextFormat format) {
        return new DataException("Data file " + file + " has no examples" + (format == TextFormat.JSONL ? "." : " below its header."));
    }

    /** The examples of {@code file}, one at a time. */
    public RecordStream open(Path file, TextFormat format) {
        return new RecordStream(file, format, this);
    }

    LabeledText jsonRecord(Path file, long line, String json) {
        JsonNode node = jsonObject(file, line, json, "example");
        String text = jsonText(file, line, node, textColumn, true);
        String pair = pairColumn == null ? null : jsonText(file, line, node, pairColumn, true);
        String label = null;
        if (labelColumn != null && labelSeparator != null) {
            return labelRequired || node.hasNonNull(labelColumn) ? jsonLabels(file, line, node, text, pair)
                    : new LabeledText(text, pair, null, line, null);
        }
        if (labelColumn != null && (labelRequired || node.hasNonNull(labelColumn))) {
            label = jsonText(file, line, node, labelColumn, false).strip();
            if (label.isEmpty()) {
                throw DataException.at(file, line, labelColumn, "the label is empty.");
            }
        }
        return new LabeledText(text, pair, label, line);
    }

    /** A multi-label example from JSON: the label field is an array of strings and numbers, or a string to split. */
    private LabeledText jsonLabels(Path file, long line, JsonNode node, String text, String pair) {
        JsonNode v = node.get(labelColumn);
        if (v == null || v.isNull()) {
            throw DataException.at(file, line, labelColumn, "the field is missing.");
        }
        if (v.isObject()) {
            throw DataException.at(file, line, labelColumn, "expected an array of labels, a string or a number, found object.");
        }
        if (!v.isArray()) {
            String raw = v.asText().strip();
            return new LabeledText(text, pair, raw, line, splitLabels(raw));
        }
        List<String> items = new ArrayList<>();
        for (int i = 0; i < v.size(); i++) {
            JsonNode item = v.get(i);
            if (!item.isTextual() && !item.isNumber()) {
                String kind = item.getNodeType().name().toLowerCase(Locale.ROOT);
                throw DataException.at(file, line, labelColumn, "item " + (i + 1) + " of the label array is "
                        + (kind.equals("null") ? "null" : (kind.startsWith("a") || kind.startsWith("o") ? "an " : "a ") + kind)
                        + "; a label is a string or a number.");
            }
            items.add(item.asText());
        }
        Set<String> labels = new LinkedHashSet<>();
        items.forEach(s -> addLabel(labels, s));
        return new LabeledText(text, pair, String.join(labelSeparator, items), line, List.copyOf(labels));
    }

    /** The labels of a multi-label cell: split on the separator, stripped, empty and repeated ones dropped. */
    List<String> splitLabels(String cell) {
        Set<String> labels = new LinkedHashSet<>();
        for (String s : cell.split(Pattern.quote(labelSeparator), -1)) {
            addLabel(labels, s);
        }
        return List.copyOf(labels);
    }

    private static void addLabel(Set<String> labels, String label) {
        String l = label.strip();
        if (!l.isEmpty()) {
            labels.add(l);
        }
    }

    /** Line {@code line} of a JSON Lines file as an object; anything else is an error naming the line. */
    static JsonNode jsonObject(Path file, long line, String json, String what) {
        JsonNode node;
        try {
            node = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw DataException.at(file, line, null, "not valid JSON (" + e.getOriginalMessage() + ").");
        }
        if (node == null || !node.isObject()) {
            throw DataException.at(file, line, null, "expected a JSON object with the fields of one " + what + ".");
        }
        return node;
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
