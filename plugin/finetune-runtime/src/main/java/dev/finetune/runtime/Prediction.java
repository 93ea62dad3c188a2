package dev.finetune.runtime;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the model says of one text, in the form of its task:
 * <ul>
 * <li>single-label: {@link #label()} with its {@link #probability()}, every label's {@link #probabilities()} and the
 * {@link #top(int) top k};</li>
 * <li>multi-label: the {@link #labels()} at or over their thresholds (possibly none), and every label's
 * {@link #probabilities()};</li>
 * <li>regression: the {@link #value()}, in the units of the training target;</li>
 * <li>token classification: the {@link #words()}, each with its tag.</li>
 * </ul>
 * Asking for what the task does not give (the value of a classification, say) throws {@link IllegalStateException}.
 * Immutable.
 */
public final class Prediction {
    private final Task task;
    private final List<String> names;
    private final float[] scores;
    private final List<String> chosen;
    private final List<TaggedWord> words;

    private Prediction(Task task, List<String> names, float[] scores, List<String> chosen, List<TaggedWord> words) {
        this.task = task;
        this.names = names;
        this.scores = scores;
        this.chosen = chosen;
        this.words = words;
    }

    static Prediction singleLabel(List<String> labels, float[] probabilities) {
        return new Prediction(Task.SINGLE_LABEL, labels, probabilities, null, null);
    }

    static Prediction multiLabel(List<String> labels, float[] probabilities, double[] thresholds) {
        List<String> chosen = new ArrayList<>();
        for (int j = 0; j < probabilities.length; j++) {
            if (probabilities[j] >= thresholds[j]) {
                chosen.add(labels.get(j));
            }
        }
        return new Prediction(Task.MULTI_LABEL, labels, probabilities, List.copyOf(chosen), null);
    }

    static Prediction regression(float value) {
        return new Prediction(Task.REGRESSION, List.of(), new float[] {value}, null, null);
    }

    static Prediction tokens(List<TaggedWord> words) {
        return new Prediction(Task.TOKEN_CLASSIFICATION, List.of(), new float[0], null, List.copyOf(words));
    }

    public Task task() {
        return task;
    }

    /** Single-label: the most probable label. */
    public String label() {
        require(Task.SINGLE_LABEL, "label()");
        return names.get(best());
    }

    /** Single-label: the probability of {@link #label()}. */
    public double probability() {
        require(Task.SINGLE_LABEL, "probability()");
        return scores[best()];
    }

    /** Multi-label: the labels at or over their thresholds, in the model's label order; single-label: the one label. */
    public List<String> labels() {
        if (task == Task.SINGLE_LABEL) {
            return List.of(label());
        }
        require(Task.MULTI_LABEL, "labels()");
        return chosen;
    }

    /** Classification: every label's probability, in the model's label order. */
    public Map<String, Double> probabilities() {
        requireClasses("probabilities()");
        Map<String, Double> out = new LinkedHashMap<>();
        for (int j = 0; j < names.size(); j++) {
            out.put(names.get(j), (double) scores[j]);
        }
        return out;
    }

    /** Classification: the {@code k} most probable labels, most probable first (ties in label order). */
    public List<LabelScore> top(int k) {
        requireClasses("top(k)");
        if (k < 1) {
            throw new IllegalArgumentException("top(k) needs k >= 1, not " + k);
        }
        List<LabelScore> all = new ArrayList<>();
        for (int j = 0; j < names.size(); j++) {
            all.add(new LabelScore(names.get(j), scores[j]));
        }
        all.sort(Comparator.comparingDouble(LabelScore::probability).reversed());
        return List.copyOf(all.subList(0, Math.min(k, all.size())));
    }

    /** Regression: the predicted number. */
    public double value() {
        require(Task.REGRESSION, "value()");
        return scores[0];
    }

    /** Token classification: each word with its tag, in sentence order. */
    public List<TaggedWord> words() {
        require(Task.TOKEN_CLASSIFICATION, "words()");
        return words;
    }

    private int best() {
        int best = 0;
        for (int j = 1; j < scores.length; j++) {
            if (scores[j] > scores[best]) {
                best = j;
            }
        }
        return best;
    }

    private void require(Task expected, String what) {
        if (task != expected) {
            throw new IllegalStateException(what + " is for " + expected + " models; this prediction is of a " + task + " model.");
        }
    }

    private void requireClasses(String what) {
        if (task != Task.SINGLE_LABEL && task != Task.MULTI_LABEL) {
            throw new IllegalStateException(what + " is for single-label and multi-label models; this prediction is of a "
                    + task + " model.");
        }
    }

    @Override
    public String toString() {
        return switch (task) {
            case SINGLE_LABEL -> label() + " (" + String.format(java.util.Locale.ROOT, "%.4f", probability()) + ")";
            case MULTI_LABEL -> chosen.toString();
            case REGRESSION -> Double.toString(value());
            case TOKEN_CLASSIFICATION -> words.toString();
        };
    }
}
