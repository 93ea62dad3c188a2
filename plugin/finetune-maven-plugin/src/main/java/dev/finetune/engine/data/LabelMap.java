package dev.finetune.engine.data;

import dev.finetune.runtime.encoding.LabeledText;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/** Label names and their indices: given in the pom, or discovered from the training data and sorted. */
public final class LabelMap {
    private final List<String> names;
    private final Map<String, Integer> index = new HashMap<>();

    private LabelMap(List<String> names) {
        this.names = List.copyOf(names);
        for (int i = 0; i < names.size(); i++) {
            if (index.put(names.get(i), i) != null) {
                throw new DataException("Label '" + names.get(i) + "' is listed twice in <labels>.");
            }
        }
    }

    public static LabelMap of(List<String> names) {
        return new LabelMap(names);
    }

    /** The given labels, or the sorted distinct labels of {@code examples}; at least two either way. */
    public static LabelMap discover(List<String> given, List<LabeledText> examples, Path file) {
        return discoverFromNames(given, examples.stream().map(LabeledText::label).toList(), file);
    }

    /** {@link #discover} from the labels the training examples have ({@code seen}, in any order, repeats allowed). */
    public static LabelMap discoverFromNames(List<String> given, Collection<String> seen, Path file) {
        List<String> names = given == null || given.isEmpty() ? new ArrayList<>(new TreeSet<>(seen)) : given;
        if (names.size() < 2) {
            throw new DataException("Data file " + file + " has only the label " + names + ": a classifier needs at least two.");
        }
        return new LabelMap(names);
    }

    /**
     * For multi-label data: the given labels, or the sorted distinct labels of all examples' label lists; at least
     * one either way (unlike {@link #discover}, one label is a classifier here: has it or not). The examples must have
     * been read with {@link DataReader#multiLabel}.
     */
    public static LabelMap discoverMultiLabel(List<String> given, List<LabeledText> examples, Path file) {
        TreeSet<String> all = new TreeSet<>();
        if (given == null || given.isEmpty()) {
            examples.forEach(e -> all.addAll(labelList(e)));
        }
        return discoverMultiLabelFromNames(given, all, file);
    }

    /** {@link #discoverMultiLabel} from the labels the training examples have ({@code seen}, repeats allowed). */
    public static LabelMap discoverMultiLabelFromNames(List<String> given, Collection<String> seen, Path file) {
        List<String> names = given == null || given.isEmpty() ? new ArrayList<>(new TreeSet<>(seen)) : given;
        if (names.isEmpty()) {
            throw new DataException("Data file " + file + " has no labels: every example's label list is empty, and a "
                    + "multi-label classifier needs at least one label.");
        }
        return new LabelMap(names);
    }

    /** The index of every example's label; a label outside the map is an error naming file and line. */
    public int[] indices(List<LabeledText> examples, Path file) {
        int[] out = new int[examples.size()];
        for (int i = 0; i < out.length; i++) {
            LabeledText e = examples.get(i);
            out[i] = indexOf(e.label(), e, file);
        }
        return out;
    }

    /**
     * For multi-label data: a row per example with 1 at the index of each of its labels and 0 elsewhere (a row of
     * zeros for an example without labels); a label outside the map is an error naming file and line.
     */
    public float[][] multiHot(List<LabeledText> examples, Path file) {
        float[][] out = new float[examples.size()][names.size()];
        for (int i = 0; i < out.length; i++) {
            LabeledText e = examples.get(i);
            for (String label : labelList(e)) {
                out[i][indexOf(label, e, file)] = 1f;
            }
        }
        return out;
    }

    private int indexOf(String label, LabeledText e, Path file) {
        Integer k = index.get(label);
        if (k == null) {
            throw unknown(label, file, e.line());
        }
        return k;
    }

    /** The index of {@code label}, or -1 when it is not one of the labels. */
    public int indexOf(String label) {
        return index.getOrDefault(label, -1);
    }

    /** The error for a label outside the map, on line {@code line} of {@code file}. */
    public DataException unknown(String label, Path file, long line) {
        return DataException.at(file, line, null, "label '" + label + "' is not one of the known labels " + names
                + (file == null ? "" : " (a label must occur in the training data or be listed in <labels>)") + ".");
    }

    private static List<String> labelList(LabeledText e) {
        if (e.labelList() == null) {
            throw new IllegalArgumentException("The example of line " + e.line() + " was not read as multi-label data "
                    + "(DataReader.multiLabel).");
        }
        return e.labelList();
    }

    public List<String> names() {
        return names;
    }

    public int size() {
        return names.size();
    }
}
