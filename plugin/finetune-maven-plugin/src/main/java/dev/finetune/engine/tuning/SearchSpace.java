package dev.finetune.engine.tuning;

import dev.finetune.engine.config.FineTuneConfig;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The values to try for each tunable setting. A setting with no values keeps the base configuration's value.
 * {@link #grid} lists every combination; {@link #random} draws distinct combinations with a seed.
 */
public record SearchSpace(List<Double> learningRates, List<Integer> epochs, List<Integer> batchSizes,
                          List<Double> warmupRatios, List<Double> dropouts) {

    /** One combination of values: setting name to value. */
    public record Trial(Map<String, Number> values) {
        /** {@code base} with this trial's values, writing into {@code root}. */
        public FineTuneConfig trial(FineTuneConfig base, java.nio.file.Path root) {
            FineTuneConfig c = base.copy();
            c.outputDirectory = root.resolve("finetune");
            c.workDirectory = root.resolve("work");
            c.resume = false;
            values.forEach((k, v) -> {
                switch (k) {
                    case "learningRate" -> c.learningRate = v.doubleValue();
                    case "epochs" -> c.epochs = v.intValue();
                    case "batchSize" -> c.batchSize = v.intValue();
                    case "warmupRatio" -> c.warmupRatio = v.doubleValue();
                    case "dropout" -> c.dropout = v.doubleValue();
                    default -> throw new IllegalStateException(k);
                }
            });
            return c;
        }
    }

    private Map<String, List<? extends Number>> dimensions() {
        Map<String, List<? extends Number>> d = new LinkedHashMap<>();
        put(d, "learningRate", learningRates);
        put(d, "epochs", epochs);
        put(d, "batchSize", batchSizes);
        put(d, "warmupRatio", warmupRatios);
        put(d, "dropout", dropouts);
        return d;
    }

    private static void put(Map<String, List<? extends Number>> d, String name, List<? extends Number> values) {
        if (values != null && !values.isEmpty()) {
            d.put(name, values);
        }
    }

    public long size() {
        long n = 1;
        for (List<? extends Number> v : dimensions().values()) {
            n *= v.size();
        }
        return n;
    }

    /** Every combination, in order, up to {@code budget}. */
    public List<Trial> grid(int budget) {
        List<Trial> out = new ArrayList<>();
        Map<String, List<? extends Number>> d = dimensions();
        long total = size();
        for (long i = 0; i < total && out.size() < budget; i++) {
            out.add(combination(d, i));
        }
        return out;
    }

    /** {@code budget} distinct combinations drawn with {@code seed} (all of them when there are fewer). */
    public List<Trial> random(int budget, long seed) {
        Map<String, List<? extends Number>> d = dimensions();
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

    private static Trial combination(Map<String, List<? extends Number>> d, long index) {
        Map<String, Number> values = new LinkedHashMap<>();
        long rest = index;
        for (Map.Entry<String, List<? extends Number>> e : d.entrySet()) {
            int n = e.getValue().size();
            values.put(e.getKey(), e.getValue().get((int) (rest % n)));
            rest /= n;
        }
        return new Trial(values);
    }
}
