package dev.finetune.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import dev.finetune.engine.config.FineTuneConfig;
import dev.finetune.runtime.Json;
import dev.finetune.runtime.model.ServingSignature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.GraphOperation;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/** Where the build's shared test material lives: src/models (the tiny SavedModels) and src/data. */
public final class TestFiles {
    private TestFiles() {
    }

    public static Path shared() {
        String dir = System.getProperty("finetune.shared.dir");
        Path p = dir != null ? Paths.get(dir) : Paths.get("..", "src");
        if (!Files.isDirectory(p.resolve("models"))) {
            throw new IllegalStateException("shared test folder not found at " + p.toAbsolutePath());
        }
        return p;
    }

    public static Path model(String name) {
        return shared().resolve("models").resolve(name);
    }

    /** Settings that train the tiny test models on tiny-sentiment.csv to high accuracy in seconds. */
    public static FineTuneConfig tinyConfig(String model, Path out) {
        FineTuneConfig c = new FineTuneConfig();
        c.model = TestFiles.model(model);
        c.trainFile = TestFiles.data("tiny-sentiment.csv");
        c.outputDirectory = out.resolve("finetune");
        c.workDirectory = out.resolve("finetune-work");
        c.epochs = 10;
        c.batchSize = 16;
        c.learningRate = 3e-3;
        c.maxSequenceLength = "32";
        c.validationSplit = 0.2;
        c.logEverySteps = 5;
        // float32 everywhere: "auto" would pick bfloat16 on some CI machines and float32 on others.
        c.precision = "float32";
        return c;
    }

    /** Three epochs of the TF1 model on one thread without dropout: runs that repeat exactly, to compare resumed runs. */
    public static FineTuneConfig repeatableConfig(Path root) {
        FineTuneConfig c = tinyConfig("tiny-bert-tf1", root);
        c.epochs = 3;
        c.dropout = 0;
        c.intraOpThreads = 1;
        c.interOpThreads = 1;
        return c;
    }

    /** A configuration with only the required settings, naming files that are never read: for checking problems(). */
    public static FineTuneConfig unreadConfig() {
        FineTuneConfig c = new FineTuneConfig();
        c.trainFile = Path.of("t.csv");
        c.model = Path.of("m");
        c.outputDirectory = Path.of("o");
        return c;
    }

    public static Path data(String name) {
        return shared().resolve("data").resolve(name);
    }

    /**
     * The command that runs {@code main} in a child JVM of this test's Java with this test's class path, for what must
     * not share the test runner's process (once-per-process state, JVM flags, memory caps).
     */
    public static List<String> javaCommand(Class<?> main, List<String> jvmOptions, String... args) {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        command.addAll(jvmOptions);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), main.getName()));
        command.addAll(List.of(args));
        return command;
    }

    /** Asserts that two outputs' reload checks hold the same probabilities, to {@code tolerance}. */
    public static void assertSameReloadCheck(Path expectedOutput, Path actualOutput, double tolerance, String what) throws IOException {
        JsonNode e = Json.MAPPER.readTree(expectedOutput.resolve("reload-check.json").toFile()).get("probabilities");
        JsonNode a = Json.MAPPER.readTree(actualOutput.resolve("reload-check.json").toFile()).get("probabilities");
        assertEquals(e.size(), a.size(), what + ": rows");
        for (int r = 0; r < e.size(); r++) {
            for (int c = 0; c < e.get(r).size(); c++) {
                assertEquals(e.get(r).get(c).asDouble(), a.get(r).get(c).asDouble(), tolerance, what + ": row " + r + ", label " + c);
            }
        }
    }

    /** Every variable of an exported model (all float32), by its handle's name, as TensorFlow's own loader restores it. */
    public static Map<String, float[]> weights(Path savedModel) {
        Map<String, float[]> out = new LinkedHashMap<>();
        try (SavedModelBundle bundle = SavedModelBundle.load(savedModel.toString(), "serve")) {
            Ops tf = Ops.create(bundle.graph());
            List<GraphOperation> handles = new ArrayList<>();
            bundle.graph().operations().forEachRemaining(op -> {
                if (op.type().equals("VarHandleOp")) {
                    handles.add((GraphOperation) op);
                }
            });
            for (GraphOperation h : handles) {
                try (var result = bundle.session().runner().fetch(tf.readVariableOp(h.output(0), TFloat32.class)).run()) {
                    out.put(h.name(), ServingSignature.floats(result.get(0)));
                }
            }
        }
        return out;
    }

    /** float32 rounded to the nearest bfloat16 (ties to even), widened back; NaN stays as it is. */
    public static float bfloat16(float f) {
        if (Float.isNaN(f)) {
            return f;
        }
        int b = Float.floatToRawIntBits(f);
        return Float.intBitsToFloat(((b + 0x7FFF + ((b >>> 16) & 1)) >>> 16) << 16);
    }
}
