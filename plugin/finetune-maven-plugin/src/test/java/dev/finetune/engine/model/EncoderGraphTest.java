package dev.finetune.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.finetune.engine.TestFiles;
import dev.finetune.engine.training.ClassifierGraph;
import dev.finetune.engine.training.ClassifierSession;
import dev.finetune.runtime.encoding.Batch;
import dev.finetune.runtime.model.SavedModelFile;
import java.io.IOException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tensorflow.proto.NodeDef;

/** The prepared (inlined, rewritten, pruned) encoder computes exactly what Python TensorFlow computed. */
class EncoderGraphTest {
    static final ClassifierGraph.Settings SETTINGS = new ClassifierGraph.Settings("pooled", 0.0, 7, 0.9, 0.999, 1e-6, 0.01, 1.0);

    @ParameterizedTest
    @ValueSource(strings = {"tiny-bert-tf1", "tiny-bert-tf2", "tiny-bert-keras"})
    void pooledOutputMatchesPythonTensorFlow(String name) throws IOException {
        JsonNode ref = new ObjectMapper().readTree(TestFiles.model("reference-outputs.json").toFile());
        EncoderGraph enc = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model(name)), SignatureNames.auto());
        for (NodeDef n : enc.graph().getNodeList()) {
            assertTrue(!n.getOp().endsWith("PartitionedCall") && !n.getOp().equals("ResourceGather"),
                    "left in the graph: " + n.getOp() + " " + n.getName());
        }
        Batch batch = batch(ref);
        try (ClassifierGraph g = new ClassifierGraph(enc, 2, SETTINGS);
             ClassifierSession s = new ClassifierSession(g, 0, 0)) {
            s.initializeFromPretrained();
            float[] pooled = s.encoderOutput(batch, enc.signature().pooledOutput());
            JsonNode expected = ref.get(name);
            int k = 0;
            for (JsonNode row : expected) {
                for (JsonNode v : row) {
                    assertEquals(v.asDouble(), pooled[k++], 1e-5, name + " pooled[" + (k - 1) + "]");
                }
            }
            assertEquals(k, pooled.length);
        }
    }

    static Batch batch(JsonNode ref) {
        int rows = ref.get("input_ids").size();
        int len = ref.get("input_ids").get(0).size();
        return new Batch(rows, len, flat(ref.get("input_ids")), flat(ref.get("input_mask")), flat(ref.get("segment_ids")),
                new int[rows]);
    }

    static int[] flat(JsonNode m) {
        int rows = m.size();
        int len = m.get(0).size();
        int[] out = new int[rows * len];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < len; j++) {
                out[i * len + j] = m.get(i).get(j).asInt();
            }
        }
        return out;
    }
}
