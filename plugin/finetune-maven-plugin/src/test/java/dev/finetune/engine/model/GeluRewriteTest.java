package dev.finetune.engine.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.finetune.engine.TestFiles;
import dev.finetune.engine.training.ClassifierSession;
import dev.finetune.engine.training.CustomGradients;
import dev.finetune.runtime.model.GeluPattern;
import dev.finetune.runtime.model.GraphDefs;
import dev.finetune.runtime.model.Nodes;
import dev.finetune.runtime.model.SavedModelFile;
import dev.finetune.runtime.model.ServingSignature;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.StdArrays;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.types.TFloat32;

class GeluRewriteTest {
    private static final float C = (float) Math.sqrt(2 / Math.PI);
    private static final float[] X = xs();

    private static float[] xs() {
        float[] x = new float[241];
        for (int i = 0; i < x.length; i++) {
            x[i] = -6f + i * 0.05f;
        }
        return x;
    }

    /** tanh(c * (x + 0.044715 x^3)) */
    private static Operand<TFloat32> tanh(Ops tf, Operand<TFloat32> x) {
        return tf.math.tanh(tf.math.mul(tf.constant(C),
                tf.math.add(x, tf.math.mul(tf.constant(0.044715f), tf.math.pow(x, tf.constant(3f))))));
    }

    /** Google's BERT: x * (0.5 * (1 + tanh(...))). */
    private static Operand<TFloat32> googleGelu(Ops tf, Operand<TFloat32> x) {
        return tf.math.mul(x, tf.math.mul(tf.constant(0.5f), tf.math.add(tf.constant(1f), tanh(tf, x))));
    }

    /** TensorFlow 2.21's tf.nn.gelu(approximate=False) and Keras 3's "gelu": 0.5 * x * erfc(-x / sqrt 2). */
    private static Operand<TFloat32> erfcGelu(Ops tf, Operand<TFloat32> x) {
        return tf.math.mul(tf.math.mul(tf.constant(0.5f), x), tf.math.erfc(tf.math.mul(x, tf.constant((float) (-1 / Math.sqrt(2))))));
    }

    /** The older exact spelling: x * 0.5 * (1 + erf(x / sqrt 2)). */
    private static Operand<TFloat32> erfGelu(Ops tf, Operand<TFloat32> x) {
        return tf.math.mul(x, tf.math.mul(tf.constant(0.5f), tf.math.add(tf.constant(1f), tf.math.erf(tf.math.mul(x,
                tf.constant((float) (1 / Math.sqrt(2))))))));
    }

    /** The other common spelling: 0.5 * x * (1 + tanh(...)). */
    private static Operand<TFloat32> pythonGelu(Ops tf, Operand<TFloat32> x) {
        return tf.math.mul(tf.math.mul(tf.constant(0.5f), x), tf.math.add(tanh(tf, x), tf.constant(1f)));
    }

    /** x -> dense-free stand-in of a layer: gelu(x * 1.5), then a weighted sum, so the gradient has some shape. */
    private static GraphDef graph(BiFunction<Ops, Operand<TFloat32>, Operand<TFloat32>> gelu) {
        try (Graph g = new Graph()) {
            Ops tf = Ops.create(g);
            Placeholder<TFloat32> x = tf.withName("x").placeholder(TFloat32.class);
            Operand<TFloat32> y = tf.withName("y").identity(gelu.apply(tf, tf.math.mul(x, tf.constant(1.5f))));
            float[] w = new float[X.length];
            for (int i = 0; i < w.length; i++) {
                w[i] = 1f + (i % 7) * 0.25f;
            }
            tf.withName("loss").reduceSum(tf.math.mul(y, tf.constant(w)), tf.constant(0));
            return g.toGraphDef();
        }
    }

    /** y and d loss / d x. */
    private static float[][] run(GraphDef def) {
        CustomGradients.register();
        try (Graph g = new Graph()) {
            g.importGraphDef(def);
            Output<?>[] dx = g.addGradients(g.operation("loss").output(0), new Output<?>[] {g.operation("x").output(0)});
            try (Session s = new Session(g);
                 TFloat32 x = TFloat32.tensorOf(StdArrays.ndCopyOf(X));
                 Result r = s.runner().feed("x", x).fetch("y").fetch(dx[0]).run()) {
                return new float[][] {ServingSignature.floats(r.get(0)), ServingSignature.floats(r.get(1))};
            }
        }
    }

    @ParameterizedTest(name = "kernel {0}")
    @ValueSource(booleans = {false, true})
    void bothSpellingsKeepTheirValueAndTheirGradient(boolean kernel) {
        assumeTrue(!kernel || TrainingKernels.available(), "no training kernels on this platform");
        for (BiFunction<Ops, Operand<TFloat32>, Operand<TFloat32>> gelu : java.util.List.<BiFunction<Ops, Operand<TFloat32>, Operand<TFloat32>>>of(
                GeluRewriteTest::googleGelu, GeluRewriteTest::pythonGelu)) {
            GraphDef original = graph(gelu);
            GraphDef rewritten = GeluRewrite.forTraining(original, kernel ? 2 : 0);
            assertEquals(1, GeluRewrite.count(rewritten));
            assertTrainsAndExportsLike(original, rewritten);
            // The backward pass reaches x only through the derivative: the stopped one, or the kernel's second output.
            assertTrue(rewritten.getNodeList().stream().anyMatch(n -> n.getOp().equals(kernel ? TrainingKernels.GELU : "StopGradient")));
            assertEquals(kernel, rewritten.getNodeList().stream().noneMatch(n -> n.getOp().equals("StopGradient")));

            GraphDef served = GraphDefs.prune(GeluRewrite.forInference(rewritten), java.util.List.of("loss"));
            assertEquals(0, GeluRewrite.count(served));
            assertTrue(served.getNodeList().stream().noneMatch(n -> n.getOp().equals("StopGradient")), "export keeps the training detour");
        }
    }

    /**
     * The rewritten graph's value and gradient are the original's (equal up to kernel choice: Grappler may fuse the
     * untouched chain, not the one with extra consumers), and its export names no kernel and computes the value again.
     */
    private static void assertTrainsAndExportsLike(GraphDef original, GraphDef rewritten) {
        float[][] before = run(original);
        float[][] after = run(rewritten);
        for (int i = 0; i < X.length; i++) {
            assertEquals(before[0][i], after[0][i], 1e-6 * Math.max(1, Math.abs(before[0][i])), "value at x=" + X[i]);
            assertEquals(before[1][i], after[1][i], 2e-5 * Math.max(1, Math.abs(before[1][i])), "gradient at x=" + X[i]);
        }
        GraphDef served = GraphDefs.prune(GeluRewrite.forInference(rewritten), List.of("loss"));
        assertTrue(served.getNodeList().stream().noneMatch(n -> n.getOp().equals(TrainingKernels.GELU)), "export keeps the kernel");
        assertArrayEquals(before[0], run(served)[0], 1e-6f);
    }

    /**
     * An inlined function ends in a NoOp with a control edge on every node of its body: after the rewrite it waits on the
     * new GELU, not on the chain's nodes, so training does not run the chain beside the detour; export runs it again.
     */
    @ParameterizedTest(name = "kernel {0}")
    @ValueSource(booleans = {false, true})
    void aNoOpWaitingOnTheChainDoesNotKeepItRunning(boolean kernel) {
        assumeTrue(!kernel || TrainingKernels.available(), "no training kernels on this platform");
        GraphDef original = graph(GeluRewriteTest::googleGelu);
        GeluPattern.Match m = GeluPattern.find(original).get(0);
        Map<String, NodeDef> nodes = GraphDefs.byName(original);
        NodeDef.Builder done = NodeDef.newBuilder().setName("body_done").setOp("NoOp");
        Nodes.between(nodes, m.output(), m.x()).forEach(n -> done.addInput("^" + n));
        GraphDef withNoOp = original.toBuilder().addNode(done).build();

        GraphDef training = GeluRewrite.forTraining(withNoOp, kernel ? 2 : 0);
        Map<String, NodeDef> trained = GraphDefs.byName(training);
        List<String> ops = GraphDefs.ancestors(training, List.of("body_done", "loss")).stream().map(n -> trained.get(n).getOp()).toList();
        assertFalse(ops.contains("Tanh") || ops.contains("Pow"), ops.toString());
        assertEquals(List.of("^" + m.output().getName()), trained.get("body_done").getInputList());
        assertEquals(GeluRewrite.forTraining(training, kernel ? 2 : 0), training, "a rewritten graph is left as it is");

        GraphDef served = GeluRewrite.forInference(training);
        Map<String, NodeDef> restored = GraphDefs.byName(served);
        assertTrue(GraphDefs.ancestors(served, List.of("body_done")).stream().anyMatch(n -> restored.get(n).getOp().equals("Tanh")));
    }

    /** With the kernel, exact GELUs train through it too; without, their chain is left as it is. */
    @Test
    void exactGelusTakeTheKernel() {
        List<BiFunction<Ops, Operand<TFloat32>, Operand<TFloat32>>> spellings = List.of(GeluRewriteTest::erfcGelu, GeluRewriteTest::erfGelu);
        for (BiFunction<Ops, Operand<TFloat32>, Operand<TFloat32>> gelu : spellings) {
            GraphDef original = graph(gelu);
            assertEquals(original, GeluRewrite.forTraining(original, 0));
        }
        assumeTrue(TrainingKernels.available(), "no training kernels on this platform");
        for (BiFunction<Ops, Operand<TFloat32>, Operand<TFloat32>> gelu : spellings) {
            GraphDef original = graph(gelu);
            GraphDef rewritten = GeluRewrite.forTraining(original, 2);
            assertEquals(1, GeluRewrite.count(rewritten));
            NodeDef kernel = rewritten.getNodeList().stream().filter(n -> n.getOp().equals(TrainingKernels.GELU)).findFirst().orElseThrow();
            assertFalse(kernel.getAttrOrThrow("approximate").getB());
            assertTrainsAndExportsLike(original, rewritten);
        }
    }

    @Test
    void leavesOtherGraphsAlone() {
        GraphDef exact = graph((tf, x) -> tf.math.mul(x, tf.math.tanh(x))); // not a GELU
        assertEquals(exact, GeluRewrite.forTraining(exact));
        assertEquals(exact, GeluRewrite.forTraining(exact, 2));
    }

    @Test
    void rewritesEveryLayerOfTheTf1TestEncoder() {
        EncoderGraph enc = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model("tiny-bert-tf1")), SignatureNames.auto());
        assertEquals(2, GeluRewrite.count(enc.graph()), "one GELU per layer");
        EncoderGraph tf2 = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model("tiny-bert-tf2")), SignatureNames.auto());
        assertEquals(TrainingKernels.available() ? 2 : 0, GeluRewrite.count(tf2.graph()), "exact (erf) GELU takes the kernel, or is left as it is");
    }
}
