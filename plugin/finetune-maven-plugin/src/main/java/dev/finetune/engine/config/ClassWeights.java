package dev.finetune.engine.config;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.deser.std.StdDeserializer;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;
import dev.finetune.runtime.FineTuneException;
import dev.finetune.runtime.Task;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The {@code classWeights} setting: {@code none}, {@code auto}, or weights per label written {@code spam=3.0,ham=1}
 * (the pom's {@code <classWeights><spam>3.0</spam></classWeights>} becomes that text). One text form, so the same
 * value comes from the pom, from {@code -Dfinetune.classWeights} and from a tuning trial.
 *
 * <p>What a weight means depends on the task: single-label and token classification multiply each example's (each
 * labelled word's) loss by the weight of its true class; multi-label multiplies the loss of a label's positive cases
 * by the label's weight (PyTorch's {@code pos_weight}), its negative cases keep weight 1.
 */
public final class ClassWeights {
    public static final String NONE = "none";
    public static final String AUTO = "auto";

    private ClassWeights() {
    }

    public static boolean isNone(String spec) {
        return spec == null || spec.isBlank() || spec.strip().equalsIgnoreCase(NONE);
    }

    public static boolean isAuto(String spec) {
        return spec != null && spec.strip().equalsIgnoreCase(AUTO);
    }

    /** The per-label weights of a {@code label=weight,...} spec, in its order; throws on a malformed one. */
    public static Map<String, Double> perLabel(String spec) {
        Map<String, Double> out = new LinkedHashMap<>();
        for (String pair : spec.split(",")) {
            int eq = pair.lastIndexOf('=');
            String label = eq < 0 ? "" : pair.substring(0, eq).strip();
            if (label.isEmpty()) {
                throw new FineTuneException("classWeights '" + spec + "' is neither none, auto nor label=weight pairs "
                        + "separated by commas (spam=3.0,ham=1).");
            }
            double w;
            try {
                w = Double.parseDouble(pair.substring(eq + 1).strip());
            } catch (NumberFormatException e) {
                w = Double.NaN;
            }
            if (!(w > 0) || Double.isInfinite(w)) {
                throw new FineTuneException("classWeights: the weight of '" + label + "' must be a positive number, not '"
                        + pair.substring(eq + 1).strip() + "'.");
            }
            if (out.put(label, w) != null) {
                throw new FineTuneException("classWeights names '" + label + "' twice.");
            }
        }
        return out;
    }

    /** What is wrong with {@code spec} for {@code task}, or null. */
    static String problem(String spec, Task task) {
        if (isNone(spec)) {
            return null;
        }
        if (task == Task.REGRESSION) {
            return "classWeights cannot be used with task regression: there are no classes to weigh.";
        }
        if (isAuto(spec)) {
            return null;
        }
        try {
            perLabel(spec);
            return null;
        } catch (FineTuneException e) {
            return e.getMessage();
        }
    }

    /**
     * One weight per label in label order, or null for none. {@code counts[j]}: how often label j occurs in the training
     * data (multi-label: its positive rows; token classification: its labelled words); {@code total}: rows (labelled
     * words for token classification). Auto is scikit-learn's {@code balanced}, {@code total / (labels × count)}, for
     * single-label and token classification, so each class weighs as much in sum and the mean weight over the data is 1;
     * for multi-label it is {@code negatives / positives} per label, so a label's positive and negative cases weigh as
     * much in sum. A label that never (or, multi-label, always) occurs keeps weight 1: there is nothing to balance.
     */
    public static float[] resolve(String spec, Task task, List<String> labels, double[] counts, double total) {
        if (isNone(spec)) {
            return null;
        }
        float[] w = new float[labels.size()];
        if (isAuto(spec)) {
            for (int j = 0; j < w.length; j++) {
                double c = counts[j];
                if (task == Task.MULTI_LABEL) {
                    w[j] = c > 0 && c < total ? (float) ((total - c) / c) : 1f;
                } else {
                    w[j] = c > 0 ? (float) (total / (labels.size() * c)) : 1f;
                }
            }
            return w;
        }
        Map<String, Double> given = perLabel(spec);
        List<String> unknown = new ArrayList<>(given.keySet());
        unknown.removeAll(labels);
        if (!unknown.isEmpty()) {
            throw new FineTuneException("classWeights names " + unknown + ", which " + (unknown.size() == 1 ? "is not a label" : "are not labels")
                    + "; the labels are " + labels + ".");
        }
        for (int j = 0; j < w.length; j++) {
            w[j] = given.getOrDefault(labels.get(j), 1.0).floatValue();
        }
        return w;
    }

    /** {@code label=weight,...} of resolved weights, for the log. */
    public static String describe(List<String> labels, float[] weights) {
        List<String> parts = new ArrayList<>();
        for (int j = 0; j < weights.length; j++) {
            parts.add(labels.get(j) + "=" + String.format(Locale.ROOT, "%.4g", weights[j]));
        }
        return String.join(", ", parts);
    }

    /** Writes per-label weights as a JSON object ({@code {"spam": 3.0}}), none and auto as text. */
    static final class Writer extends StdSerializer<String> {
        Writer() {
            super(String.class);
        }

        @Override
        public void serialize(String value, JsonGenerator gen, SerializerProvider provider) throws IOException {
            if (isNone(value) || isAuto(value) || problem(value, Task.SINGLE_LABEL) != null) {
                gen.writeString(value);
                return;
            }
            gen.writeStartObject();
            for (Map.Entry<String, Double> e : perLabel(value).entrySet()) {
                gen.writeNumberField(e.getKey(), e.getValue());
            }
            gen.writeEndObject();
        }
    }

    /** Reads what {@link Writer} writes back into the text form (so that a configuration copies through JSON). */
    static final class Reader extends StdDeserializer<String> {
        Reader() {
            super(String.class);
        }

        @Override
        public String deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
            if (p.currentToken() != JsonToken.START_OBJECT) {
                return p.getValueAsString();
            }
            JsonNode node = p.readValueAsTree();
            List<String> parts = new ArrayList<>();
            node.fields().forEachRemaining(e -> parts.add(e.getKey() + "=" + e.getValue().asText()));
            return String.join(",", parts);
        }
    }
}
