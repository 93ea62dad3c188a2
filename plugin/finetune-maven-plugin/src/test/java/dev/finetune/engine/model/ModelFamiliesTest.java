package dev.finetune.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.finetune.engine.TestFiles;
import dev.finetune.engine.training.ClassifierGraph;
import dev.finetune.engine.training.ClassifierSession;
import dev.finetune.runtime.Json;
import dev.finetune.runtime.encoding.Batch;
import dev.finetune.runtime.model.SavedModelFile;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The model families users bring, each built from stock Keras 3 layers and exported as users export them
 * ({@code src/models/generate_families.py}): every one is found, inlined and differentiable, computes what Python
 * TensorFlow computed for the same inputs, and gets the pooling its architecture calls for.
 */
class ModelFamiliesTest {
    @ParameterizedTest
    @ValueSource(strings = {"bert-keras", "roberta-keras", "gpt-keras", "gpt-ids-only", "albert-keras", "distilbert-keras",
        "bert-garden"})
    void outputsMatchPythonTensorFlow(String family) throws IOException {
        JsonNode ref = Json.MAPPER.readTree(TestFiles.model("families").resolve("reference-outputs.json").toFile())
                .get("models").get(family);
        EncoderGraph enc = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model("families").resolve(family)), SignatureNames.auto());
        for (var n : enc.graph().getNodeList()) {
            assertTrue(!n.getOp().endsWith("PartitionedCall") && !n.getOp().equals("ResourceGather"),
                    family + ": left in the graph: " + n.getOp() + " " + n.getName());
        }
        Batch batch = batch(ref.get("inputs"));
        String pooling = Pooling.resolve("auto", enc);
        var settings = new ClassifierGraph.Settings(pooling, 0.0, 7, 0.9, 0.999, 1e-6, 0.01, 1.0);
        int compared = 0;
        try (ClassifierGraph g = new ClassifierGraph(enc, 2, settings);
             ClassifierSession s = new ClassifierSession(g, 0, 0)) {
            s.initializeFromPretrained();
            for (Map.Entry<String, String> out : Map.of("pooled_output", String.valueOf(enc.signature().pooledOutput()),
                    "sequence_output", String.valueOf(enc.signature().sequenceOutput()),
                    "last_hidden_state", String.valueOf(enc.signature().sequenceOutput())).entrySet()) {
                JsonNode expected = ref.get("outputs").get(out.getKey());
                if (expected == null) {
                    continue;
                }
                float[] got = s.encoderOutput(batch, out.getValue());
                float[] want = flatFloats(expected.get("value"));
                assertEquals(want.length, got.length, family + " " + out.getKey() + " size");
                for (int i = 0; i < want.length; i++) {
                    assertEquals(want[i], got[i], 1e-5, family + " " + out.getKey() + "[" + i + "]");
                }
                compared++;
            }
        }
        assertTrue(compared >= 1, family + ": no output compared");
    }

    /** auto pooling: the pooled output where there is one, the last real token of a causal decoder, else [CLS]. */
    @ParameterizedTest
    @ValueSource(strings = {"bert-keras", "roberta-keras", "gpt-keras", "gpt-ids-only", "albert-keras", "distilbert-keras",
        "bert-garden"})
    void autoPoolingFitsTheArchitecture(String family) {
        EncoderGraph enc = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model("families").resolve(family)), SignatureNames.auto());
        String expected = switch (family) {
            case "gpt-keras", "gpt-ids-only" -> "last";
            case "roberta-keras", "distilbert-keras" -> "cls";
            default -> "pooled";
        };
        assertEquals(expected, Pooling.resolve("auto", enc), family);
        if (enc.signature().sequenceOutput() != null) {
            assertEquals(family.startsWith("gpt-"), Pooling.isCausal(enc), family + " causal");
        }
    }

    /** last pooling reads the last position whose mask is 1, whichever side a row is padded on. */
    @org.junit.jupiter.api.Test
    void lastPoolingFindsTheLastRealTokenOnEitherSide() {
        EncoderGraph enc = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model("families").resolve("gpt-keras")),
                SignatureNames.auto());
        // Row 0 padded at the end (last real token at 2), row 1 at the start (last real token at 4).
        int[] ids = {5, 6, 7, 0, 0, 0, 0, 5, 6, 7};
        int[] mask = {1, 1, 1, 0, 0, 0, 0, 1, 1, 1};
        Batch batch = new Batch(2, 5, ids, mask, new int[10], new int[2]);
        var settings = new ClassifierGraph.Settings("last", 0.0, 7, 0.9, 0.999, 1e-6, 0.01, 1.0);
        try (ClassifierGraph g = new ClassifierGraph(enc, 2, settings);
             ClassifierSession s = new ClassifierSession(g, 0, 0)) {
            s.initializeFromPretrained();
            float[] features = s.encoderOutput(batch, ClassifierGraph.FEATURES + ":0");
            float[] sequence = s.encoderOutput(batch, enc.signature().sequenceOutput());
            int hidden = g.hiddenSize();
            for (int h = 0; h < hidden; h++) {
                assertEquals(sequence[(0 * 5 + 2) * hidden + h], features[h], 0, "row 0, unit " + h);
                assertEquals(sequence[(1 * 5 + 4) * hidden + h], features[hidden + h], 0, "row 1, unit " + h);
            }
        }
    }

    /** A decoder that takes token ids alone still trains and exports with the plugin's own mask for its pooling. */
    @org.junit.jupiter.api.Test
    void aModelWithoutMaskGetsThePluginsOwn() {
        EncoderGraph enc = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model("families").resolve("gpt-ids-only")),
                SignatureNames.auto());
        assertEquals(null, enc.signature().inputMask());
        var settings = new ClassifierGraph.Settings("last", 0.0, 7, 0.9, 0.999, 1e-6, 0.01, 1.0);
        try (ClassifierGraph g = new ClassifierGraph(enc, 2, settings)) {
            assertEquals(ClassifierGraph.INPUT_MASK + ":0", g.inputMaskTensor());
        }
    }

    /** int64 ids and masks (RoBERTa-style) are fed as int32 through a cast the plugin puts in front of the model. */
    @org.junit.jupiter.api.Test
    void int64InputsAreFedAsInt32() {
        EncoderGraph enc = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model("families").resolve("roberta-keras")),
                SignatureNames.auto());
        assertTrue(enc.signature().inputIds().endsWith("/finetune_int32:0"), enc.signature().inputIds());
        assertTrue(enc.signature().inputMask().endsWith("/finetune_int32:0"), enc.signature().inputMask());
        assertEquals(null, enc.signature().segmentIds());
    }

    static Batch batch(JsonNode inputs) {
        JsonNode ids = first(inputs, "input_ids", "input_word_ids");
        JsonNode mask = first(inputs, "attention_mask", "input_mask");
        JsonNode segments = first(inputs, "input_type_ids", "segment_ids");
        int rows = ids.size();
        int len = ids.get(0).size();
        int[] ones = new int[rows * len];
        java.util.Arrays.fill(ones, 1);
        // A model without a mask input is given none; the batch's mask then only feeds the plugin's own pooling.
        return new Batch(rows, len, EncoderGraphTest.flat(ids), mask == null ? ones : EncoderGraphTest.flat(mask),
                segments == null ? new int[rows * len] : EncoderGraphTest.flat(segments), new int[rows]);
    }

    private static JsonNode first(JsonNode inputs, String... names) {
        for (String n : names) {
            if (inputs.has(n)) {
                return inputs.get(n).get("value");
            }
        }
        return null;
    }

    private static float[] flatFloats(JsonNode nested) {
        List<Float> out = new java.util.ArrayList<>();
        flatten(nested, out);
        float[] a = new float[out.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = out.get(i);
        }
        assertNotNull(nested);
        return a;
    }

    private static void flatten(JsonNode n, List<Float> out) {
        if (n.isArray()) {
            n.forEach(c -> flatten(c, out));
        } else {
            out.add((float) n.asDouble());
        }
    }
}
