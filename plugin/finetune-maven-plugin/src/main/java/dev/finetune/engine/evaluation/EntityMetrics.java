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
        Counts counts = new Counts();
        for (int s = 0; s < truth.size(); s++) {
            counts.add(truth.get(s), predicted.get(s));
        }
        return counts.summary();
    }

    /**
     * The same metrics counted a sentence at a time, so a test file is evaluated without holding its sentences: an
     * entity matches only within its own sentence, so per type the true, predicted and matching entities add up.
     */
    public static final class Counts {
        private final Map<String, long[]> byType = new HashMap<>();  // per type: true, predicted, both
        private int sentences;
        private int tokens;
        private int correct;

        /**
         * Adds one sentence's true and predicted tags; returns its errors: entities on one side without an exact match
         * on the other.
         *
         * @throws IllegalArgumentException when the two differ in length, or on a tag {@link EntitySpans#of} refuses
         */
        public int add(List<String> truth, List<String> predicted) {
            if (truth.size() != predicted.size()) {
                throw new IllegalArgumentException("sentence " + sentences + " has " + truth.size() + " true tags but "
                        + predicted.size() + " predicted");
            }
            // Read before anything is counted: a tag EntitySpans refuses leaves the counts as they were.
            Set<EntitySpans.Span> t = new HashSet<>(EntitySpans.of(truth));
            Set<EntitySpans.Span> p = new HashSet<>(EntitySpans.of(predicted));
            for (int i = 0; i < truth.size(); i++) {
                if (truth.get(i).equals(predicted.get(i))) {
                    correct++;
                }
            }
            int matched = 0;
            for (EntitySpans.Span e : t) {
                count(e)[0]++;
            }
            for (EntitySpans.Span e : p) {
                count(e)[1]++;
                if (t.contains(e)) {
                    count(e)[2]++;
                    matched++;
                }
            }
            sentences++;
            tokens += truth.size();
            return t.size() + p.size() - 2 * matched;
        }

        private long[] count(EntitySpans.Span e) {
            return byType.computeIfAbsent(e.type(), k -> new long[3]);
        }

        public Summary summary() {
            List<TypeMetrics> perType = new ArrayList<>(byType.size());
            PrecisionRecall.Means means = new PrecisionRecall.Means();
            long tpAll = 0;
            long predictedAll = 0;
            long trueAll = 0;
            for (String type : new TreeSet<>(byType.keySet())) {
                long[] c = byType.get(type);
                Metrics.Average a = PrecisionRecall.of(c[2], c[1], c[0]);
                means.add(a, (int) c[0]);
                perType.add(new TypeMetrics(type, a.precision(), a.recall(), a.f1(), (int) c[0]));
                tpAll += c[2];
                predictedAll += c[1];
                trueAll += c[0];
            }
            return new Summary(sentences, tokens, tokens == 0 ? 0 : (double) correct / tokens, List.copyOf(perType),
                    PrecisionRecall.of(tpAll, predictedAll, trueAll), means.macro(), means.weighted());
        }
    }
}
