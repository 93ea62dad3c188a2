package dev.finetune.runtime;

import dev.finetune.engine.data.DataReader;
import dev.finetune.engine.data.TextFormat;
import dev.finetune.engine.training.ProfileStep;
import dev.finetune.runtime.encoding.Batch;
import dev.finetune.runtime.encoding.BatchBudget;
import dev.finetune.runtime.encoding.Batches;
import dev.finetune.runtime.encoding.EncodedExample;
import dev.finetune.runtime.model.SessionSettings;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.tensorflow.proto.NodeExecStats;
import org.tensorflow.proto.RunMetadata;

/**
 * Not a test: where the time of one serving run goes, for {@code src/tools/profile-serving.sh MODEL_FOLDER TEST.csv
 * TEXT_COLUMN}. Encodes the file's texts, cuts them into length-sorted batches by the default token budget as
 * {@code evaluate} does, takes the middle batch, runs it five times, then once with TensorFlow's full trace, and prints
 * the op time by op type and the casts by where they are (layer numbers dropped). System properties (through
 * {@code JAVA_TOOL_OPTIONS}): {@code -Dprecision=float32} for float32; {@code -Dfinetune.fuseOps=false} and
 * {@code -Dfinetune.packWeights=false} as in the plugin.
 */
public final class ProfileServing {
    private ProfileServing() {
    }

    public static void main(String[] a) throws Exception {
        SessionSettings settings = new SessionSettings("cpu", 0, 0, System.getProperty("precision", "auto"), false);
        try (FineTunedModel model = FineTunedModel.load(Path.of(a[0]), settings)) {
            List<EncodedExample> encoded = new ArrayList<>();
            Path csv = Path.of(a[1]);
            DataReader.unlabelled(a[2], null, "no-label").forEach(csv, TextFormat.of("auto", csv),
                    t -> encoded.add(EncodedExample.of(model.tokenizer(), t, -1, model.maxSequenceLength())));
            List<Batch> batches = Batches.byLength(encoded, BatchBudget.auto(model.maxSequenceLength()), model.tokenizer().padId());
            Batch batch = batches.get(batches.size() / 2);
            System.out.printf("precision %s; the middle of %d batches: %d rows x %d tokens%n", model.precision(), batches.size(),
                    batch.rows(), batch.length());
            for (int i = 0; i < 5; i++) {
                long t0 = System.nanoTime();
                model.predict(batch);
                System.out.printf("run %d: %.1f ms%n", i + 1, (System.nanoTime() - t0) / 1e6);
            }
            RunMetadata meta = model.trace(batch);
            Map<String, long[]> byOp = new TreeMap<>();
            Map<String, long[]> casts = new TreeMap<>();
            long total = 0;
            for (var dev : meta.getStepStats().getDevStatsList()) {
                for (NodeExecStats n : dev.getNodeStatsList()) {
                    String op = ProfileStep.opType(n);
                    add(byOp, op, n.getAllEndRelMicros());
                    total += n.getAllEndRelMicros();
                    if (op.equals("Cast")) {
                        add(casts, n.getNodeName().replaceAll("layer_\\d+", "layer_N").replaceAll("_\\d+\\b", ""), n.getAllEndRelMicros());
                    }
                }
            }
            System.out.printf("op time summed over ops: %.1f ms%n", total / 1e3);
            print(byOp, total, "");
            print(casts, total, "cast at ");
        }
    }

    private static void add(Map<String, long[]> m, String key, long micros) {
        long[] k = m.computeIfAbsent(key, x -> new long[2]);
        k[0] += micros;
        k[1]++;
    }

    private static void print(Map<String, long[]> m, long total, String prefix) {
        m.entrySet().stream().sorted((x, y) -> Long.compare(y.getValue()[0], x.getValue()[0])).limit(15).forEach(e ->
                System.out.printf("%s%-40s %8.1f ms %5.1f%% %5d ops%n", prefix, e.getKey(), e.getValue()[0] / 1e3,
                        100.0 * e.getValue()[0] / total, e.getValue()[1]));
    }
}
