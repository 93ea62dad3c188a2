package dev.finetune.engine.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.TestFiles;
import dev.finetune.engine.model.EncoderGraph;
import dev.finetune.engine.model.SignatureNames;
import dev.finetune.runtime.model.ModelException;
import dev.finetune.runtime.model.SavedModelFile;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class LayerPlanTest {
    static final List<String> KEYS = List.of("bert/embeddings/word_embeddings", "bert/encoder/layer_0/attention/query/kernel",
            "bert/encoder/layer_1/output/dense/kernel", "bert/encoder/layer_11/output/LayerNorm/gamma", "bert/pooler/dense/kernel");

    @Test
    void decaysTheRateLayerByLayerDownwards() {
        LayerPlan p = LayerPlan.of(KEYS, -1, 0.5);
        assertEquals(12, p.layers());
        assertEquals(Math.pow(0.5, 13), p.multiplier(0), 1e-15);
        assertEquals(Math.pow(0.5, 12), p.multiplier(1), 1e-15);
        assertEquals(Math.pow(0.5, 11), p.multiplier(2), 1e-15);
        assertEquals(0.5, p.multiplier(3), 1e-15);
        assertEquals(1.0, p.multiplier(4), 1e-15);
    }

    @Test
    void freezesAllButTheTopLayers() {
        LayerPlan top = LayerPlan.of(KEYS, 1, 1.0);
        assertEquals(List.of("bert/encoder/layer_11/output/LayerNorm/gamma", "bert/pooler/dense/kernel"), top.trainableKeys(KEYS));
        assertEquals(List.of(), LayerPlan.of(KEYS, 0, 1.0).trainableKeys(KEYS));
        assertEquals(KEYS, LayerPlan.of(KEYS, -1, 1.0).trainableKeys(KEYS));
        assertEquals(2, LayerPlan.layerIndex("encoder_layer_2_attention_query_kernel"));
        assertEquals(3, LayerPlan.layerIndex("roberta.encoder.layer.3.output.dense.weight"));
        ModelException e = assertThrows(ModelException.class, () -> LayerPlan.of(List.of("a", "b"), 2, 1.0));
        assertTrue(e.getMessage().contains("Cannot tell the encoder's layers apart"), e.getMessage());
    }

    /** Head-only training leaves every encoder weight as it was; top-1 training moves only layer 1 and the pooler. */
    @ParameterizedTest
    @ValueSource(ints = {0, 1})
    void frozenWeightsDoNotMove(int trainLayers) {
        EncoderGraph enc = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model("tiny-bert-keras")), SignatureNames.auto());
        var settings = new ClassifierGraph.Settings("pooled", 0.0, 7, 0.9, 0.999, 1e-6, 0.01, 1.0, trainLayers, 1.0);
        try (ClassifierGraph g = new ClassifierGraph(enc, 2, settings); ClassifierSession s = new ClassifierSession(g, 0, 0)) {
            s.initializeFromPretrained();
            Map<String, float[]> before = new HashMap<>();
            for (EncoderVariable v : g.encoderVariables()) {
                before.put(v.key(), s.variable(v.key()));
            }
            float[] head = s.variable("finetune_head/kernel");
            for (int step = 1; step <= 3; step++) {
                s.train(ClassifierGraphTest.toyBatch(), 1e-2f, step, 0.9, 0.999);
            }
            assertFalse(Arrays.equals(head, s.variable("finetune_head/kernel")), "the head must train");
            for (EncoderVariable v : g.encoderVariables()) {
                boolean shouldMove = trainLayers == 1 && (v.key().contains("layer_1") || v.key().contains("pooler"));
                boolean moved = !Arrays.equals(before.get(v.key()), s.variable(v.key()));
                assertEquals(shouldMove, moved, v.key() + (shouldMove ? " did not train" : " is frozen but moved"));
            }
        }
    }
}
