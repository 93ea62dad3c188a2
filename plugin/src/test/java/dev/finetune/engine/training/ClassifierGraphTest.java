package dev.finetune.engine.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.TestFiles;
import dev.finetune.engine.model.EncoderGraph;
import dev.finetune.engine.model.SavedModelFile;
import dev.finetune.engine.model.SignatureNames;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tensorflow.SavedModelBundle;

class ClassifierGraphTest {
    static final ClassifierGraph.Settings SETTINGS = new ClassifierGraph.Settings("pooled", 0.0, 7, 0.9, 0.999, 1e-6, 0.01, 1.0);

    static Batch toyBatch() {
        int[] ids = {2, 190, 191, 70, 3, 0, 2, 190, 191, 80, 3, 0, 2, 100, 3, 0, 0, 0, 2, 101, 102, 103, 104, 3};
        int[] mask = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            mask[i] = ids[i] == 0 ? 0 : 1;
        }
        return new Batch(4, 6, ids, mask, new int[ids.length], new int[] {1, 0, 1, 0});
    }

    /** Pretrained weights survive initialisation bit for bit; after training every encoder variable has moved. */
    @ParameterizedTest
    @ValueSource(strings = {"tiny-bert-tf1", "tiny-bert-tf2", "tiny-bert-keras"})
    void pretrainedWeightsLoadThenEveryWeightTrains(String name) {
        EncoderGraph enc = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model(name)), SignatureNames.auto());
        try (ClassifierGraph g = new ClassifierGraph(enc, 2, SETTINGS);
             ClassifierSession s = new ClassifierSession(g, 0, 0);
             SavedModelBundle original = SavedModelBundle.load(TestFiles.model(name).toString(), "serve")) {
            s.initializeFromPretrained();
            Map<String, float[]> before = new HashMap<>();
            for (EncoderVariable v : g.encoderVariables()) {
                before.put(v.key(), s.variable(v.key()));
            }
            float[] embeddings = largest(g, before);
            assertTrue(Arrays.stream(box(embeddings)).anyMatch(x -> x != 0f), "embeddings were not restored");
            for (int step = 1; step <= 3; step++) {
                ClassifierSession.StepResult r = s.train(toyBatch(), 1e-3f, step, 0.9, 0.999);
                assertTrue(r.gradientNorm() > 0, "gradient norm " + r.gradientNorm());
            }
            for (EncoderVariable v : g.encoderVariables()) {
                assertFalse(Arrays.equals(before.get(v.key()), s.variable(v.key())), name + ": " + v.key() + " did not change");
            }
        }
    }

    private static float[] largest(ClassifierGraph g, Map<String, float[]> values) {
        return values.values().stream().max((a, b) -> Integer.compare(a.length, b.length)).orElseThrow();
    }

    private static Float[] box(float[] a) {
        Float[] out = new Float[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = a[i];
        }
        return out;
    }
}
