package dev.finetune.engine.tuning;

import dev.finetune.engine.config.FineTuneConfig;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The values to try for each tunable setting. A setting with no values keeps the base configuration's value.
 * {@link #grid} lists every combination; {@link #random} draws distinct combinations with a seed. Head layers and class
 * weights are tried in their text forms ({@code 512,256} or {@code none}; {@code auto}, {@code none} or
 * {@code spam=3.0,ham=1}), as {@code -Dfinetune.*} takes them.
 */
public record SearchSpace(List<Double> learningRates, List<Integer> epochs, List<Integer> batchSizes,
                          List<Double> warmupRatios, List<Double> dropouts, List<String> headLayers,
                          List<String> classWeights, List<Double> labelSmoothings) {

    /** The optimizer and schedule dimensions only. */
    public SearchSpace(List<Double> learningRates, List<Integer> epochs, List<Integer> batchSizes, List<Double> warmupRatios,
                       List<Double> dropouts) {
        this(learningRates, epochs, batchSizes, warmupRatios, dropouts, List.of(), List.of(), List.of());
    }

    /** One combination of values: setting name to value (a number, or text for head layers and class weights). */
    public record Trial(Map<String, Object> values) {
        /** {@code base} with this trial's values, writing into {@code root}. */
        public FineTuneConfig trial(FineTuneConfig base, java.nio.file.Path root) {
            FineTuneConfig c = base.copy();
            c.outputDirectory = root.resolve("finetune");
            c.workDirectory = root.resolve("work");
            c.resume = false;
            values.forEach((k, v) -> {
                switch (k) {
                    case "learningRate" -> c.learningRate = ((Number) v).doubleValue();
                    case "epochs" -> c.epochs = ((Number) v).intValue();
                    case "batchSize" -> c.batchSize = ((Number) v).intValue();
                    case "warmupRatio" -> c.warmupRatio = ((Number) v).doubleValue();
                    case "dropout" -> c.dropout = ((Number) v).doubleValue();
                    case "headLayers" -> c.headLayers = (String) v;
                    case "classWeights" -> c.classWeights = (String) v;
                    case "labelSmoothing" -> c.labelSmoothing = ((Number) v).doubleValue();
                    default -> throw new IllegalStateException(k);
                }
            });
            return c;
        }
    }

    private Map<String, List<?>> dimensions() {
        Map<String, List<?>> d = new LinkedHashMap<>();
        put(d, "learningRate", learningRates);
        put(d, "epochs", epochs);
        put(d, "batchSize", batchSizes);
        put(d, "warmupRatio", warmupRatios);
        put(d, "dropout", dropouts);
        put(d, "headLayers", headLayers);
        put(d, "classWeights", classWeights);
        put(d, "labelSmoothing", labelSmoothings);
        return d;
    }

    private static void put(Map<String, List<?>> d, String name, List<?> values) {
        if (values != null && !values.isEmpty()) {
            d.put(name, values);
        }
    }

    public long size() {
        long n = 1;
        for (List<?> v : dimensions().values()) {
            n *= v.size();
        }
        return n;
    }

    /** Every combination, in order, up to {@code budget}. */
    public List<Trial> grid(int budget) {
        List<Trial> out = new ArrayList<>();
        Map<String, List<?>> d = dimensions();
        long total = size();
        for (long i = 0; i < total && out.size() < budget; i++) {
            out.add(combination(d, i));
        }
        return out;
    }

    /** {@code budget} distinct combinations drawn with {@code seed} (all of them when there are fewer). */
    public List<Trial> random(int budget, long seed) {
        Map<String, List<?>> d = dimensions();
        long total = size();
        List<Long> indices = new ArrayList<>();
        for (long i = 0; i < total; i++) {
            indices.add(i);
        }
        java.util.Collections.shuffle(indices, new Random(seed));
        List<Trial> out = new ArrayList<>();
        for (int i = 0; i < Math.min(budget, indices.size()); i++) {
            out.add(combination(d, indices.get(i)));
        }
        return out;
    }

    private static Trial combination(Map<String, List<?>> d, long index) {
        Map<String, Object> values = new LinkedHashMap<>();
        long rest = index;
        for (Map.Entry<String, List<?>> e : d.entrySet()) {
            int n = e.getValue().size();
            values.put(e.getKey(), e.getValue().get((int) (rest % n)));
            rest /= n;
        }
        return new Trial(values);
    }
}
