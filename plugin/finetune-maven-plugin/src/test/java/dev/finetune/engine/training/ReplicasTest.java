package dev.finetune.engine.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.TestFiles;
import dev.finetune.engine.model.EncoderGraph;
import dev.finetune.engine.model.SignatureNames;
import dev.finetune.runtime.encoding.Batch;
import dev.finetune.runtime.model.GraphDefs;
import dev.finetune.runtime.model.SavedModelFile;
import dev.finetune.runtime.model.SessionSettings;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DeviceStepStats;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.NodeExecStats;

/**
 * Three replicas of the training step on three logical CPU devices ({@code device_count}) train as one device with the
 * whole batch: the same loss, gradient norm and weights after each step, to 1e-5, whether the rows split unevenly
 * (4 = 2 + 1 + 1) or leave a replica without any (2 rows: the third runs a stand-in that must weigh nothing); and the
 * replicas' ops really run on CPU:1 and CPU:2. The encoders cover a TF1 graph and an inlined Keras export. How one
 * replica's copy is placed and seeded is checked on a small graph.
 */
class ReplicasTest {
    static final List<String> THREE_CPUS = List.of("/device:CPU:0", "/device:CPU:1", "/device:CPU:2");

    @ParameterizedTest
    @ValueSource(strings = {"tiny-bert-tf1", "tiny-bert-keras"})
    void threeCpuReplicasStepAsOneDevice(String name) {
        EncoderGraph enc = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model(name)), SignatureNames.auto());
        SessionSettings settings = new SessionSettings("cpu", 1, 1, "float32", false);
        Batch four = ClassifierGraphTest.toyBatch();
        List<Batch> steps = List.of(four, Shard.rows(four, 0, 3), Shard.rows(four, 1, 2), four);
        try (ClassifierGraph one = new ClassifierGraph(enc, 2, ClassifierGraphTest.SETTINGS);
             ClassifierSession single = new ClassifierSession(one, settings);
             ClassifierGraph three = new ClassifierGraph(enc, 2, ClassifierGraphTest.SETTINGS, DataParallel.NONE.onDevices(THREE_CPUS));
             ClassifierSession replicated = new ClassifierSession(three, settings.withCpuDevices(3))) {
            assertEquals(3, replicated.replicas());
            single.initializeFromPretrained();
            replicated.initializeFromPretrained();
            for (int i = 0; i < steps.size(); i++) {
                Batch b = steps.get(i);
                ClassifierSession.StepResult expected = single.train(b, 1e-3f, i + 1, 0.9, 0.999);
                ClassifierSession.StepResult actual = replicated.train(b, 1e-3f, i + 1, 0.9, 0.999);
                String what = name + ", step " + (i + 1) + " (" + b.rows() + " rows)";
                assertEquals(expected.loss(), actual.loss(), 1e-5, what + ": loss");
                assertEquals(expected.gradientNorm(), actual.gradientNorm(), 1e-5 * Math.max(1, expected.gradientNorm()), what + ": norm");
                assertTrue(expected.gradientNorm() > 0, what);
            }
            for (String key : one.variableNames) {
                float[] x = single.variable(key);
                float[] y = replicated.variable(key);
                for (int j = 0; j < x.length; j++) {
                    assertEquals(x[j], y[j], 1e-5, name + ": " + key + "[" + j + "]");
                }
            }
            // Evaluation runs the original, single path: the same outputs as the single graph's.
            float[][] p = single.predict(four);
            float[][] q = replicated.predict(four);
            for (int r = 0; r < p.length; r++) {
                for (int c = 0; c < p[r].length; c++) {
                    assertEquals(p[r][c], q[r][c], 1e-6, name + ": prediction " + r + "," + c);
                }
            }
            Set<String> devices = devicesThatRan(replicated.traceStep(four, 1e-3f, steps.size() + 1, 0.9, 0.999));
            for (String cpu : THREE_CPUS) {
                assertTrue(devices.stream().anyMatch(d -> d.endsWith(cpu)), "nothing ran on " + cpu + ": " + devices);
            }
        }
    }

    /**
     * A replica's copy leaves the variables out (they are wired to the graph's own), runs the ops that take a variable
     * beside it (no device) and everything else on its device, and moves fixed random seeds apart per replica.
     */
    @Test
    void aReplicaCopyPinsAllButTheVariableReadsAndDrawsItsOwnDropout() {
        GraphDef template = GraphDef.newBuilder()
                .addNode(node("w", "VarHandleOp"))
                .addNode(node("w_alias", "Identity", "w"))
                .addNode(node("w_read", "ReadVariableOp", "w_alias"))
                .addNode(node("x", "Placeholder"))
                .addNode(node("noise", "RandomUniform", "x").putAttr("seed", AttrValue.newBuilder().setI(7).build())
                        .putAttr("seed2", AttrValue.newBuilder().setI(8).build()))
                .addNode(node("unseeded", "RandomUniform", "x").putAttr("seed", AttrValue.newBuilder().setI(0).build())
                        .putAttr("seed2", AttrValue.newBuilder().setI(0).build()))
                .addNode(node("y", "MatMul", "noise", "w_read", "^w"))
                .build();
        GraphDef copy = Replicas.forReplica(template, Set.of("w"), "/device:GPU:1", 2);
        Map<String, NodeDef> nodes = GraphDefs.byName(copy);
        assertEquals(Set.of("w_alias", "w_read", "x", "noise", "unseeded", "y"), nodes.keySet());
        assertEquals("", nodes.get("w_alias").getDevice());
        assertEquals("", nodes.get("w_read").getDevice());
        for (String pinned : List.of("x", "noise", "unseeded", "y")) {
            assertEquals("/device:GPU:1", nodes.get(pinned).getDevice(), pinned);
        }
        assertEquals(8 + 2 * 7919, nodes.get("noise").getAttrOrThrow("seed2").getI(), "replica 2 draws its own stream");
        assertEquals(0, nodes.get("unseeded").getAttrOrThrow("seed2").getI(), "an unseeded op stays unseeded");
        assertEquals(8, GraphDefs.byName(Replicas.forReplica(template, Set.of("w"), "/device:GPU:0", 0))
                .get("noise").getAttrOrThrow("seed2").getI());
    }

    private static NodeDef.Builder node(String name, String op, String... inputs) {
        return NodeDef.newBuilder().setName(name).setOp(op).addAllInput(List.of(inputs));
    }

    /** The devices with a MatMul in the step's trace: where the encoder's real work ran. */
    private static Set<String> devicesThatRan(org.tensorflow.proto.RunMetadata trace) {
        Set<String> out = new TreeSet<>();
        for (DeviceStepStats d : trace.getStepStats().getDevStatsList()) {
            for (NodeExecStats n : d.getNodeStatsList()) {
                if (n.getTimelineLabel().contains("MatMul")) {
                    out.add(d.getDevice());
                }
            }
        }
        return out;
    }
}
