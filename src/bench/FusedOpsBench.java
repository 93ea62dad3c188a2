import dev.finetune.engine.data.DataReader;
import dev.finetune.engine.data.TextFormat;
import dev.finetune.runtime.FineTunedModel;
import dev.finetune.runtime.encoding.BatchBudget;
import dev.finetune.runtime.encoding.EncodedExample;
import dev.finetune.runtime.model.LoadedGraph;
import dev.finetune.runtime.model.SessionSettings;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Serving with fused GELUs and layer norms (FusedGelu, FusedLayerNorm), packed weights (PackedDense) and attention
 * written out in bfloat16 (Bfloat16Stretches) against the ops the model was written with (issue 18): one JVM loads the
 * fine-tuned model four times, with -Dfinetune.fuseOps=false ("as written"), with -Dfinetune.packWeights=false
 * ("unpacked"), with -Dfinetune.bfloat16Stretches=false ("mixed": attention left to mixed precision) and with the
 * defaults ("fused"), and predicts the same texts in length order with the default token budget through each in turn,
 * round after round, so a load that comes and goes on the shared cores falls on all alike. Prints examples/s per round,
 * the medians and their ratios, and the largest difference between the probabilities as written and fused, and mixed
 * and fused.
 *
 * <pre>
 *   javac -d plugin/finetune-maven-plugin/target/test-classes -cp "$(src/tools/run-test-main.sh --classpath)" \
 *       src/bench/InferenceBatchBench.java src/bench/FusedOpsBench.java
 *   src/tools/run-test-main.sh -Xmx2g FusedOpsBench MODEL_FOLDER TEST.csv TEXT_COLUMN ROWS ROUNDS [PRECISION]
 *   src/tools/run-test-main.sh -Xmx2g FusedOpsBench target/bench/reviews/seed-42/plugin target/bench/reviews/data/test.csv review 1000 3
 * </pre>
 */
public class FusedOpsBench {
    public static void main(String[] a) throws Exception {
        Path folder = Path.of(a[0]);
        Path csv = Path.of(a[1]);
        int rows = Integer.parseInt(a[3]);
        int rounds = Integer.parseInt(a[4]);
        SessionSettings settings = new SessionSettings("cpu", 0, 0, a.length > 5 ? a[5] : "auto", false);
        System.setProperty(LoadedGraph.FUSING, "false");
        FineTunedModel written = FineTunedModel.load(folder, settings);
        System.setProperty(LoadedGraph.FUSING, "true");
        System.setProperty(LoadedGraph.PACKING, "false");
        FineTunedModel unpacked = FineTunedModel.load(folder, settings);
        System.setProperty(LoadedGraph.PACKING, "true");
        System.setProperty(LoadedGraph.STRETCHES, "false");
        FineTunedModel mixed = FineTunedModel.load(folder, settings);
        System.setProperty(LoadedGraph.STRETCHES, "true");
        try (written; unpacked; mixed; FineTunedModel fused = FineTunedModel.load(folder, settings)) {
            System.out.printf("precision %s; fused: %d GELUs, %d layer norms, %d packed dense layers, %d stretches in bfloat16;"
                    + " mixed: %d stretches; unpacked: %d, %d, %d; as written: %d, %d, %d%n", fused.precision(), fused.fusedGelus(),
                    fused.fusedLayerNorms(), fused.packedDenseLayers(), fused.bfloat16Stretches(), mixed.bfloat16Stretches(),
                    unpacked.fusedGelus(), unpacked.fusedLayerNorms(), unpacked.packedDenseLayers(),
                    written.fusedGelus(), written.fusedLayerNorms(), written.packedDenseLayers());
            List<EncodedExample> encoded = new ArrayList<>();
            DataReader.unlabelled(a[2], null, "no-label").forEach(csv, TextFormat.of("auto", csv), t -> {
                if (encoded.size() < rows) {
                    encoded.add(EncodedExample.of(fused.tokenizer(), t, -1, fused.maxSequenceLength()));
                }
            });
            BatchBudget budget = BatchBudget.auto(fused.maxSequenceLength());
            Map<String, FineTunedModel> models = new LinkedHashMap<>();
            models.put("as written", written);
            models.put("unpacked", unpacked);
            models.put("mixed", mixed);
            models.put("fused", fused);
            // Every batch shape once before timing: oneDNN makes its kernels on a shape's first run.
            models.values().forEach(m -> InferenceBatchBench.run(m, encoded, budget));
            Map<String, List<Double>> rates = new LinkedHashMap<>();
            for (int round = 1; round <= rounds; round++) {
                for (Map.Entry<String, FineTunedModel> m : models.entrySet()) {
                    long t0 = System.nanoTime();
                    InferenceBatchBench.run(m.getValue(), encoded, budget);
                    double rate = encoded.size() / ((System.nanoTime() - t0) / 1e9);
                    rates.computeIfAbsent(m.getKey(), k -> new ArrayList<>()).add(rate);
                    System.out.printf("round %d %-10s %6.1f examples/s%n", round, m.getKey(), rate);
                }
            }
            double base = InferenceBatchBench.median(rates.get("as written"));
            rates.forEach((k, v) -> System.out.printf("median %-10s %6.1f examples/s, %.2fx as written%n", k,
                    InferenceBatchBench.median(v), InferenceBatchBench.median(v) / base));
            // Both models over every text: the largest difference in probability, and how many top labels differ.
            List<float[]> p = probabilities(written, encoded, budget);
            List<float[]> q = probabilities(fused, encoded, budget);
            double largest = largestDifference(p, q);
            int otherLabel = 0;
            for (int i = 0; i < p.size(); i++) {
                otherLabel += argmax(p.get(i)) == argmax(q.get(i)) ? 0 : 1;
            }
            System.out.printf("top label differs for %d of %d texts%n", otherLabel, p.size());
            System.out.printf("largest difference in probability over %d texts: %.2g%n", p.size(), largest);
            System.out.printf("largest difference in probability between mixed and fused: %.2g%n",
                    largestDifference(probabilities(mixed, encoded, budget), q));
        }
    }

    /** {@code model}'s probabilities for every text, in length order (the same order for both models). */
    private static List<float[]> probabilities(FineTunedModel model, List<EncodedExample> encoded, BatchBudget budget) {
        List<float[]> out = new ArrayList<>();
        dev.finetune.runtime.encoding.Batches.predictInLengthOrder(encoded, budget, model.tokenizer().padId(), b -> {
            float[][] r = model.predict(b);
            out.addAll(List.of(r));
            return r;
        });
        return out;
    }

    private static double largestDifference(List<float[]> p, List<float[]> q) {
        double largest = 0;
        for (int i = 0; i < p.size(); i++) {
            for (int j = 0; j < p.get(i).length; j++) {
                largest = Math.max(largest, Math.abs(p.get(i)[j] - q.get(i)[j]));
            }
        }
        return largest;
    }

    private static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }
}
