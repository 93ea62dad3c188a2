import dev.finetune.runtime.*;
import dev.finetune.runtime.encoding.*;
import dev.finetune.runtime.model.*;
import java.nio.file.*;
import java.util.*;
import org.tensorflow.*;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.types.TInt32;

/**
 * The runtime in bfloat16 with its matmul weights stored in bfloat16 (FineTunedModel) against TensorFlow's own loader
 * with the same mixed-precision rewrite, which casts them on every run: the same batch through both, in turn.
 *
 * <pre>
 *   src/bench/serving.sh   # once, for target/bench/serving (the fine-tuned model, texts.json, runtime.classpath)
 *   cp=plugin/finetune-runtime/target/classes:$(cat target/bench/serving/runtime.classpath)
 *   javac -d target/bench/classes -cp $cp src/bench/Bfloat16WeightsBench.java
 *   for rows in 1 8 32; do
 *     java -cp target/bench/classes:$cp Bfloat16WeightsBench target/bench/serving/train/target/finetune $rows target/bench/serving/texts.json
 *   done
 * </pre>
 */
public class Bfloat16WeightsBench {
    public static void main(String[] a) throws Exception {
        Path m = Path.of(a[0]);
        int rows = Integer.parseInt(a[1]);
        SessionSettings s = new SessionSettings("cpu", 2, 0, "bfloat16", false);
        List<String> texts = new ArrayList<>();
        for (var n : dev.finetune.runtime.Json.MAPPER.readTree(Path.of(a[2]).toFile())) texts.add(n.asText());
        try (FineTunedModel fm = FineTunedModel.load(m, s);
             SavedModelBundle b = SavedModelBundle.loader(m.resolve("saved_model").toString()).withTags("serve").withConfigProto(s.config()).load()) {
            System.out.println("bf16 variables: " + fm.bfloat16Variables());
            List<EncodedExample> enc = new ArrayList<>();
            for (int i = 0; i < rows; i++) enc.add(EncodedExample.of(fm.tokenizer(), new LabeledText(texts.get(i), null, null, 0), -1, 64));
            Batch batch = Batches.pad(enc, 0);
            SignatureDef sig = b.metaGraphDef().getSignatureDefOrThrow("serving_default");
            for (int r = 0; r < 6; r++) {
                long t0 = System.nanoTime(); fm.predict(batch); long t1 = System.nanoTime();
                run(b.session(), sig, batch); long t2 = System.nanoTime();
                System.out.printf("rows %d length %d: stored %.1f ms, per-run casts %.1f ms%n", rows, batch.length(), (t1 - t0) / 1e6, (t2 - t1) / 1e6);
            }
        }
    }
    static void run(Session s, SignatureDef sig, Batch batch) {
        Shape shape = Shape.of(batch.rows(), batch.length());
        try (TInt32 ids = TInt32.tensorOf(shape, DataBuffers.of(batch.inputIds(), true, false));
             TInt32 mask = TInt32.tensorOf(shape, DataBuffers.of(batch.inputMask(), true, false));
             TInt32 seg = TInt32.tensorOf(shape, DataBuffers.of(batch.segmentIds(), true, false));
             Result r = s.runner().feed(sig.getInputsOrThrow("input_ids").getName(), ids).feed(sig.getInputsOrThrow("input_mask").getName(), mask)
                 .feed(sig.getInputsOrThrow("segment_ids").getName(), seg).fetch(sig.getOutputsOrThrow("probabilities").getName()).run()) {
        }
    }
}
