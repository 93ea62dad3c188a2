package dev.finetune.engine.evaluation;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Token-classification (NER) metrics as seqeval's default {@code classification_report} computes them: entities read
 * by {@link EntitySpans}, a predicted entity counting only when type, start and end all match a true one; per type
 * precision, recall, F1 and support (true entities); micro, macro and support-weighted averages; plus token accuracy
 * ({@code accuracy_score}). Partial overlaps earn nothing, as in conlleval.
 *
 * <p>Types are those of true or predicted entities, sorted by name (a type only predicted has support 0 and precision
 * 0 and weighs in the macro average, as in seqeval). Where seqeval would divide by zero: precision, recall and F1 are 0
 * (its zero_division default), so with no entities on either side the micro F1 is 0, not 1; the macro average of no
 * types is 0 (seqeval: NaN); token accuracy over no tokens is 0 (seqeval: ZeroDivisionError).
 */
public final class EntityMetrics {
    private EntityMetrics() {
    }

    public record TypeMetrics(String type, double precision, double recall, double f1, int support) {
    }

    public record Summary(int sentences, int tokens, double tokenAccuracy, List<TypeMetrics> perType,
                          Metrics.Average micro, Metrics.Average macro, Metrics.Average weighted) {
    }

    /** An entity placed in its sentence. */
    private record Placed(int sentence, int start, int end) {
    }

    /**
     * Exact span match (type, start, end) as seqeval's classification_report default; per type sorted by name; token
     * accuracy over all tokens.
     *
     * @throws IllegalArgumentException when the two lists, or any two paired sentences, differ in length, or on a tag
     *                                  {@link EntitySpans#of} refuses
     */
    public static Summary compute(List<List<String>> truth, List<List<String>> predicted) {
        if (truth.size() != predicted.size()) {
            throw new IllegalArgumentException(truth.size() + " true sentences but " + predicted.size() + " predicted");
        }
        Map<String, Set<Placed>> trueByType = new HashMap<>();
        Map<String, Set<Placed>> predictedByType = new HashMap<>();
        int tokens = 0;
        int correct = 0;
        for (int s = 0; s < truth.size(); s++) {
            List<String> t = truth.get(s);
            List<String> p = predicted.get(s);
            if (t.size() != p.size()) {
                throw new IllegalArgumentException("sentence " + s + " has " + t.size() + " true tags but " + p.size()
                        + " predicted");
            }
            for (int i = 0; i < t.size(); i++) {
                if (t.get(i).equals(p.get(i))) {
                    correct++;
                }
            }
            tokens += t.size();
            collect(s, t, trueByType);
            collect(s, p, predictedByType);
        }
        Set<String> types = new TreeSet<>(trueByType.keySet());
        types.addAll(predictedByType.keySet());
        List<TypeMetrics> perType = new ArrayList<>(types.size());
        PrecisionRecall.Means means = new PrecisionRecall.Means();
        long tpAll = 0;
        long predictedAll = 0;
        long trueAll = 0;
        for (String type : types) {
            Set<Placed> t = trueByType.getOrDefault(type, Set.of());
            Set<Placed> p = predictedByType.getOrDefault(type, Set.of());
            long tp = p.stream().filter(t::contains).count();
            Metrics.Average a = PrecisionRecall.of(tp, p.size(), t.size());
            means.add(a, t.size());
            perType.add(new TypeMetrics(type, a.precision(), a.recall(), a.f1(), t.size()));
            tpAll += tp;
            predictedAll += p.size();
            trueAll += t.size();
        }
        return new Summary(truth.size(), tokens, tokens == 0 ? 0 : (double) correct / tokens, List.copyOf(perType),
                PrecisionRecall.of(tpAll, predictedAll, trueAll), means.macro(), means.weighted());
    }

    private static void collect(int sentence, List<String> tags, Map<String, Set<Placed>> byType) {
        for (EntitySpans.Span e : EntitySpans.of(tags)) {
            byType.computeIfAbsent(e.type(), k -> new HashSet<>()).add(new Placed(sentence, e.start(), e.end()));
        }
    }
}
