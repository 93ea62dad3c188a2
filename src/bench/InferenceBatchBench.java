import dev.finetune.engine.data.DataReader;
import dev.finetune.engine.data.TextFormat;
import dev.finetune.runtime.FineTunedModel;
import dev.finetune.runtime.encoding.BatchBudget;
import dev.finetune.runtime.encoding.Batches;
import dev.finetune.runtime.encoding.EncodedExample;
import dev.finetune.runtime.model.SessionSettings;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Inference batched by rows against batched by a token budget (issue 18): one fine-tuned model in one JVM predicts
 * the same texts, length-sorted, under each setting in turn, round after round, so a load that comes and goes on the
 * shared cores falls on every setting alike. Prints examples/s and padded tokens per example per setting and round,
 * then each setting's median and its ratio to the first setting.
 *
 * <pre>
 *   src/tools/run-test-main.sh -Xmx2g InferenceBatchBench MODEL_FOLDER TEST.csv TEXT_COLUMN ROWS ROUNDS SETTING...
 *   (-Dprecision=float32 before the class name for float32; the default is the model's automatic choice)
 *   # SETTING: r16 (16 rows), t4096 (4,096 padded tokens), t4096r128 (4,096 tokens, at most 128 rows)
 *   src/tools/run-test-main.sh -Xmx2g InferenceBatchBench target/bench/reviews/seed-42/plugin \
 *       target/bench/reviews/data/test.csv review 1000 2 r16 r64 t2048 t4096 t8192
 * </pre>
 * (Compile it onto the test class path first: {@code javac -d plugin/finetune-maven-plugin/target/test-classes -cp
 * "$(src/tools/run-test-main.sh --classpath)" src/bench/InferenceBatchBench.java}.)
 */
public class InferenceBatchBench {
    public static void main(String[] a) throws Exception {
        Path folder = Path.of(a[0]);
        Path csv = Path.of(a[1]);
        int rows = Integer.parseInt(a[3]);
        int rounds = Integer.parseInt(a[4]);
        Map<String, BatchBudget> settings = new LinkedHashMap<>();
        for (int i = 5; i < a.length; i++) {
            settings.put(a[i], budget(a[i]));
        }
        try (FineTunedModel model = FineTunedModel.load(folder, new SessionSettings("cpu", 0, 0, System.getProperty("precision", "auto"), false))) {
            List<EncodedExample> encoded = new ArrayList<>();
            DataReader.unlabelled(a[2], null, "no-label").forEach(csv, TextFormat.of("auto", csv), t -> {
                if (encoded.size() < rows) {
                    encoded.add(EncodedExample.of(model.tokenizer(), t, -1, model.maxSequenceLength()));
                }
            });
            double real = encoded.stream().mapToInt(e -> e.ids().length).average().orElse(0);
            System.out.printf("%s: %d texts, %.1f real tokens per example, max %d, precision %s%n", csv, encoded.size(), real,
                    model.maxSequenceLength(), model.precision());
            // Every batch shape once before timing: oneDNN makes its kernels on a shape's first run.
            settings.values().forEach(b -> run(model, encoded, b));
            Map<String, List<Double>> rates = new LinkedHashMap<>();
            for (int round = 1; round <= rounds; round++) {
                for (Map.Entry<String, BatchBudget> s : settings.entrySet()) {
                    long t0 = System.nanoTime();
                    long padded = run(model, encoded, s.getValue());
                    double rate = encoded.size() / ((System.nanoTime() - t0) / 1e9);
                    rates.computeIfAbsent(s.getKey(), k -> new ArrayList<>()).add(rate);
                    System.out.printf("round %d %-10s %6.1f examples/s, %5.1f padded tokens per example%n", round, s.getKey(),
                            rate, (double) padded / encoded.size());
                }
            }
            double first = median(rates.values().iterator().next());
            for (Map.Entry<String, List<Double>> r : rates.entrySet()) {
                System.out.printf("median %-10s %6.1f examples/s, %.2fx %s%n", r.getKey(), median(r.getValue()),
                        median(r.getValue()) / first, settings.keySet().iterator().next());
            }
        }
    }

    /** Predicts every text in length order; returns the padded tokens of all batches. */
    static long run(FineTunedModel model, List<EncodedExample> encoded, BatchBudget budget) {
        long[] padded = {0};
        Batches.predictInLengthOrder(encoded, budget, model.tokenizer().padId(), b -> {
            padded[0] += (long) b.rows() * b.length();
            return model.predict(b);
        });
        return padded[0];
    }

    static BatchBudget budget(String s) {
        if (s.startsWith("r")) {
            return BatchBudget.rows(Integer.parseInt(s.substring(1)));
        }
        int r = s.indexOf('r');
        return r < 0 ? new BatchBudget(Long.parseLong(s.substring(1)), Integer.MAX_VALUE)
                : new BatchBudget(Long.parseLong(s.substring(1, r)), Integer.parseInt(s.substring(r + 1)));
    }

    static double median(List<Double> v) {
        List<Double> s = new ArrayList<>(v);
        s.sort(null);
        return s.size() % 2 == 1 ? s.get(s.size() / 2) : (s.get(s.size() / 2 - 1) + s.get(s.size() / 2)) / 2;
    }
}
