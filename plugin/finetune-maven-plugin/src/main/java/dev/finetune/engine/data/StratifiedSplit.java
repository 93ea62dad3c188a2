package dev.finetune.engine.data;

import dev.finetune.runtime.encoding.LabeledText;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * Splits examples into training and validation sets with each label in the same proportion (seeded, so a build
 * repeats). Every label with two or more examples gets at least one validation example.
 */
public final class StratifiedSplit {
    public record Split(List<LabeledText> train, List<LabeledText> validation) {
    }

    private StratifiedSplit() {
    }

    public static Split split(List<LabeledText> examples, double fraction, long seed) {
        Map<String, List<LabeledText>> byLabel = new TreeMap<>();
        examples.forEach(e -> byLabel.computeIfAbsent(e.label(), k -> new ArrayList<>()).add(e));
        Random random = new Random(seed);
        List<LabeledText> train = new ArrayList<>();
        List<LabeledText> validation = new ArrayList<>();
        for (List<LabeledText> group : byLabel.values()) {
            List<LabeledText> shuffled = new ArrayList<>(group);
            Collections.shuffle(shuffled, random);
            int n = (int) Math.round(group.size() * fraction);
            if (group.size() >= 2) {
                n = Math.max(1, Math.min(n, group.size() - 1));
            } else {
                n = 0;
            }
            validation.addAll(shuffled.subList(0, n));
            train.addAll(shuffled.subList(n, shuffled.size()));
        }
        Collections.sort(train, (a, b) -> Long.compare(a.line(), b.line()));
        Collections.sort(validation, (a, b) -> Long.compare(a.line(), b.line()));
        return new Split(train, validation);
    }
}
