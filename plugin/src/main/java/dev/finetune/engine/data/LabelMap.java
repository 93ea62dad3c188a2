package dev.finetune.engine.data;

import java.nio.file.Path;
import java.util.ArrayList;
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
        List<String> names = given == null || given.isEmpty()
                ? new ArrayList<>(new TreeSet<>(examples.stream().map(LabeledText::label).toList())) : given;
        if (names.size() < 2) {
            throw new DataException("Data file " + file + " has only the label " + names + ": a classifier needs at least two.");
        }
        return new LabelMap(names);
    }

    /** The index of every example's label; a label outside the map is an error naming file and line. */
    public int[] indices(List<LabeledText> examples, Path file) {
        int[] out = new int[examples.size()];
        for (int i = 0; i < out.length; i++) {
            LabeledText e = examples.get(i);
            Integer k = index.get(e.label());
            if (k == null) {
                throw DataException.at(file, e.line(), null, "label '" + e.label() + "' is not one of the known labels " + names
                        + (file == null ? "" : " (a label must occur in the training data or be listed in <labels>)") + ".");
            }
            out[i] = k;
        }
        return out;
    }

    public List<String> names() {
        return names;
    }

    public int size() {
        return names.size();
    }
}
