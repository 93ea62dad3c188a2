package dev.finetune.engine.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.TestFiles;
import dev.finetune.engine.model.EncoderGraph;
import dev.finetune.engine.model.SignatureNames;
import dev.finetune.runtime.encoding.Batch;
import dev.finetune.runtime.model.SavedModelFile;
import dev.finetune.runtime.model.ServingSignature;
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

    /**
     * Pretrained weights survive initialisation bit for bit (compared with what TensorFlow's SavedModel loader
     * restores); after training every encoder variable has moved.
     */
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
            for (EncoderVariable v : g.encoderVariables()) {
                assertArrayEquals(original(original, v), before.get(v.key()), name + ": " + v.key() + " differs from the SavedModel");
            }
            for (int step = 1; step <= 3; step++) {
                ClassifierSession.StepResult r = s.train(toyBatch(), 1e-3f, step, 0.9, 0.999);
                assertTrue(r.gradientNorm() > 0, "gradient norm " + r.gradientNorm());
            }
            for (EncoderVariable v : g.encoderVariables()) {
                assertFalse(Arrays.equals(before.get(v.key()), s.variable(v.key())), name + ": " + v.key() + " did not change");
            }
        }
    }

    /**
     * The value TensorFlow's own SavedModel loader gives the variable: read through its handle in the loaded
     * graph (its twin in TF2 exports sits in the top-level graph under the same name).
     */
    private static float[] original(SavedModelBundle bundle, EncoderVariable v) {
        var tf = org.tensorflow.op.Ops.create(bundle.graph());
        var read = tf.readVariableOp(bundle.graph().operationOrThrow(v.handleOp()).output(0), org.tensorflow.types.TFloat32.class);
        try (var out = bundle.session().runner().fetch(read).run()) {
            return ServingSignature.floats(out.get(0));
        }
    }
}
