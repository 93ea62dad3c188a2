package dev.finetune.runtime;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * What the model learns to predict, as Hugging Face's {@code run_classification} and {@code run_ner} offer it: one
 * label per text, any number of labels per text, a number per text, or a label per word. The task decides the head,
 * the loss, the metrics and the files {@code predict} writes; it is recorded in {@code labels.json}, so evaluate and
 * predict follow the model.
 */
public enum Task {
    /** One label per text: softmax over the labels, cross-entropy. */
    SINGLE_LABEL("single-label"),
    /** Any number of labels per text: a sigmoid per label, binary cross-entropy, a decision threshold per label. */
    MULTI_LABEL("multi-label"),
    /** A number per text: one linear output, mean squared error (or Huber) on the standardised target. */
    REGRESSION("regression"),
    /** A label per word (named entities): softmax per word, the label on each word's first sub-token. */
    TOKEN_CLASSIFICATION("token-classification");

    private final String id;

    Task(String id) {
        this.id = id;
    }

    /** The name used in the pom, on the command line and in {@code labels.json}. */
    public String id() {
        return id;
    }

    /** The task named {@code id}; null (or blank) is the default, single-label. */
    public static Task of(String id) {
        if (id == null || id.isBlank()) {
            return SINGLE_LABEL;
        }
        String key = id.strip().toLowerCase(Locale.ROOT);
        return Arrays.stream(values()).filter(t -> t.id.equals(key)).findFirst().orElseThrow(() -> new FineTuneException(
                "task '" + id + "' is unknown: use " + String.join(", ", ids()) + "."));
    }

    public static List<String> ids() {
        return Arrays.stream(values()).map(Task::id).toList();
    }

    /** Whether the model predicts labels from a fixed set (all but regression). */
    public boolean hasLabels() {
        return this != REGRESSION;
    }

    @Override
    public String toString() {
        return id;
    }
}
