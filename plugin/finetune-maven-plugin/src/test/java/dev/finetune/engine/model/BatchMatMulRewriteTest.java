package dev.finetune.engine.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.TestFiles;
import dev.finetune.runtime.model.GraphDefs;
import dev.finetune.runtime.model.SavedModelFile;
import dev.finetune.runtime.model.ServingSignature;
import java.util.List;
import java.util.Random;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.train.BatchMatMul;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.types.TFloat32;

class BatchMatMulRewriteTest {
    private static final Shape UNKNOWN = Shape.unknown();

    /**
     * {@code y = op(a, b)} with the given adjoints, then {@code loss = sum(y^2)}; a and b fed. The product is written as
     * {@code op} ("BatchMatMul", "BatchMatMulV2" or "BatchMatMulV3"), as exporters write each.
     */
    private static GraphDef product(String op, Shape a, Shape b, boolean adjX, boolean adjY) {
        GraphDef def;
        try (Graph g = new Graph()) {
            Ops tf = Ops.create(g);
            Placeholder<TFloat32> x = tf.withName("a").placeholder(TFloat32.class, Placeholder.shape(a));
            Placeholder<TFloat32> w = tf.withName("b").placeholder(TFloat32.class, Placeholder.shape(b));
            BatchMatMul<TFloat32> y = tf.withName("y").train.batchMatMul(x, w, TFloat32.class, BatchMatMul.adjX(adjX), BatchMatMul.adjY(adjY));
            int rank = Math.max(a.numDimensions(), b.numDimensions());
            tf.withName("loss").reduceSum(tf.math.square(y), tf.constant(rank < 0 ? new int[] {0}
                    : java.util.stream.IntStream.range(0, rank).toArray()));
            def = g.toGraphDef();
        }
        GraphDef.Builder out = def.toBuilder();
        for (NodeDef.Builder n : out.getNodeBuilderList()) {
            if (n.getName().equals("y") && !op.equals("BatchMatMulV3")) {
                AttrValue t = n.getAttrOrThrow("Ta");
                n.setOp(op).clearAttr().putAttr("T", t).putAttr("adj_x", AttrValue.newBuilder().setB(adjX).build())
                        .putAttr("adj_y", AttrValue.newBuilder().setB(adjY).build());
            }
        }
        return out.build();
    }

    /** y, then d loss / d a and d loss / d b, for the operands fed; and the ops of the graph with its gradients. */
    private record Run(float[][] values, List<String> ops) {
    }

    private static Run run(GraphDef def, long[] a, long[] b) {
        try (Graph g = new Graph()) {
            g.importGraphDef(def);
            Output<?>[] d = g.addGradients(g.operation("loss").output(0), new Output<?>[] {g.operation("a").output(0), g.operation("b").output(0)});
            Random r = new Random(7);
            try (Session s = new Session(g);
                 TFloat32 x = random(r, a);
                 TFloat32 w = random(r, b);
                 Result res = s.runner().feed("a", x).feed("b", w).fetch("y").fetch(d[0]).fetch(d[1]).run()) {
                float[][] out = new float[3][];
                for (int i = 0; i < 3; i++) {
                    out[i] = ServingSignature.floats(res.get(i));
                }
                return new Run(out, g.toGraphDef().getNodeList().stream().map(NodeDef::getOp).toList());
            }
        }
    }

    private static TFloat32 random(Random r, long[] shape) {
        TFloat32 t = TFloat32.tensorOf(Shape.of(shape));
        long size = LongStream.of(shape).reduce(1, (p, q) -> p * q);
        for (long i = 0; i < size; i++) {
            t.asRawTensor().data().asFloats().setFloat((float) r.nextGaussian(), i);
        }
        return t;
    }

    /** The product rewritten has the same value and gradients, its gradient has no BatchMatMulV3, and export restores it. */
    private static void assertSameAndRestored(String op, long[] a, long[] b, boolean adjX, boolean adjY, String equation) {
        assertSameAndRestored(op, Shape.of(a), Shape.of(b), a, b, adjX, adjY, equation);
    }

    /** As above, with the operands' shapes in the graph ({@code aShape}, {@code bShape}: -1 for a size it leaves open). */
    private static void assertSameAndRestored(String op, Shape aShape, Shape bShape, long[] a, long[] b, boolean adjX, boolean adjY,
            String equation) {
        GraphDef original = product(op, aShape, bShape, adjX, adjY);
        GraphDef training = BatchMatMulRewrite.forTraining(original);
        String what = op + " " + aShape + " x " + bShape + " adj " + adjX + "/" + adjY;
        assertEquals(1, BatchMatMulRewrite.count(training), what);
        NodeDef y = GraphDefs.byName(training).get("y");
        assertEquals("Einsum", y.getOp(), what);
        assertEquals(equation, y.getAttrOrThrow("equation").getS().toStringUtf8(), what);
        Run before = run(original, a, b);
        Run after = run(training, a, b);
        for (int i = 0; i < 3; i++) {
            assertArrayEquals(before.values()[i], after.values()[i], 1e-4f, what + (i == 0 ? ": the value" : ": gradient " + i));
        }
        assertTrue(before.ops().contains("BatchMatMulV3"), what + ": TensorFlow's own gradient multiplies with BatchMatMulV3");
        assertFalse(after.ops().contains("BatchMatMulV3"), what + ": " + after.ops());
        GraphDef exported = BatchMatMulRewrite.forInference(training);
        NodeDef restored = GraphDefs.byName(exported).get("y");
        assertEquals("BatchMatMulV2", restored.getOp(), what);
        assertEquals(adjX, restored.getAttrOrThrow("adj_x").getB(), what);
        assertEquals(adjY, restored.getAttrOrThrow("adj_y").getB(), what);
        assertEquals(0, BatchMatMulRewrite.count(exported), what);
        assertArrayEquals(before.values()[0], run(exported, a, b).values()[0], 1e-5f, what + ": exported value");
    }

    /** Attention's products: rank 4 both, each way of writing the product, each adjoint. */
    @Test
    void attentionProductsBecomeEinsumsWithTheSameValuesAndGradients() {
        for (String op : List.of("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3")) {
            for (boolean adjX : new boolean[] {false, true}) {
                for (boolean adjY : new boolean[] {false, true}) {
                    long[] a = adjX ? new long[] {2, 3, 5, 4} : new long[] {2, 3, 4, 5};
                    long[] b = adjY ? new long[] {2, 3, 6, 5} : new long[] {2, 3, 5, 6};
                    assertSameAndRestored(op, a, b, adjX, adjY,
                            "..." + (adjX ? "KI" : "IK") + ",..." + (adjY ? "JK" : "KJ") + "->...IJ");
                }
            }
        }
    }

    /** BatchMatMulV2 broadcasts batch dimensions; so does the einsum, and the gradient sums over them as TensorFlow's does. */
    @Test
    void broadcastBatchDimensionsKeepTheirGradient() {
        assertSameAndRestored("BatchMatMulV2", new long[] {2, 3, 4, 5}, new long[] {1, 3, 5, 6}, false, false, "...IK,...KJ->...IJ");
        assertSameAndRestored("BatchMatMulV2", new long[] {1, 3, 4, 5}, new long[] {2, 3, 5, 6}, false, false, "...IK,...KJ->...IJ");
        assertSameAndRestored("BatchMatMulV2", new long[] {2, 1, 5, 4}, new long[] {1, 3, 6, 5}, true, true, "...KI,...JK->...IJ");
    }

    /** A batch the graph leaves open (as every exported encoder does) still fixes the rank, which is all the rewrite needs. */
    @Test
    void anOpenBatchSizeKeepsTheRewrite() {
        assertSameAndRestored("BatchMatMulV2", Shape.of(-1, 3, 4, 5), Shape.of(-1, 3, 5, 6), new long[] {2, 3, 4, 5},
                new long[] {2, 3, 5, 6}, false, false, "...IK,...KJ->...IJ");
        assertSameAndRestored("BatchMatMulV2", Shape.of(-1, -1, 5), Shape.of(5, 6), new long[] {2, 7, 5}, new long[] {5, 6},
                false, false, "AIK,KJ->AIJ");
    }

    /** Rank 3 both (one batch dimension), and the highest rank with named batch dimensions. */
    @Test
    void otherRanks() {
        assertSameAndRestored("BatchMatMulV2", new long[] {3, 4, 5}, new long[] {3, 5, 2}, false, false, "...IK,...KJ->...IJ");
        assertSameAndRestored("BatchMatMulV2", new long[] {1, 1, 1, 1, 1, 1, 1, 2, 3, 4}, new long[] {4, 2}, false, false,
                "ABCDEFGHIK,KJ->ABCDEFGHIJ");
        GraphDef eleven = product("BatchMatMulV2", Shape.of(1, 1, 1, 1, 1, 1, 1, 1, 2, 3, 4), Shape.of(4, 2), false, false);
        assertEquals(eleven, BatchMatMulRewrite.forTraining(eleven), "more batch dimensions than labels");
    }

    /** A control input, the device and internal attributes stay with the product both ways. */
    @Test
    void keepsControlInputsDeviceAndInternalAttributes() {
        GraphDef.Builder b = product("BatchMatMulV2", Shape.of(2, 4, 5), Shape.of(2, 3, 5), false, true).toBuilder()
                .addNode(NodeDef.newBuilder().setName("z").setOp("NoOp"));
        for (NodeDef.Builder n : b.getNodeBuilderList()) {
            if (n.getName().equals("y")) {
                n.addInput("^z").setDevice("/device:CPU:0").putAttr("_finetune_mark", AttrValue.newBuilder().setI(7).build());
            }
        }
        GraphDef original = b.build();
        for (GraphDef g : List.of(BatchMatMulRewrite.forTraining(original), BatchMatMulRewrite.forInference(BatchMatMulRewrite.forTraining(original)))) {
            NodeDef y = GraphDefs.byName(g).get("y");
            assertEquals(List.of("a", "b", "^z"), y.getInputList(), y.getOp());
            assertEquals("/device:CPU:0", y.getDevice(), y.getOp());
            assertEquals(7, y.getAttrOrThrow("_finetune_mark").getI(), y.getOp());
        }
        assertEquals("Einsum", GraphDefs.byName(BatchMatMulRewrite.forTraining(original)).get("y").getOp());
    }

    /** A product whose result has another type than its operands (a BatchMatMulV3 may), or integers, stays. */
    @Test
    void productsOfOtherTypesStay() {
        GraphDef mixed;
        try (Graph g = new Graph()) {
            Ops tf = Ops.create(g);
            var a = tf.withName("a").placeholder(TFloat32.class, Placeholder.shape(Shape.of(2, 4, 5)));
            var b = tf.withName("b").placeholder(TFloat32.class, Placeholder.shape(Shape.of(2, 5, 3)));
            tf.withName("y").train.batchMatMul(a, b, org.tensorflow.types.TFloat64.class);
            var i = tf.withName("i").placeholder(org.tensorflow.types.TInt32.class, Placeholder.shape(Shape.of(2, 4, 5)));
            var j = tf.withName("j").placeholder(org.tensorflow.types.TInt32.class, Placeholder.shape(Shape.of(2, 5, 3)));
            tf.withName("ints").train.batchMatMul(i, j, org.tensorflow.types.TInt32.class);
            mixed = g.toGraphDef();
        }
        assertEquals(mixed, BatchMatMulRewrite.forTraining(mixed));
    }

    /** A Keras 3 dense layer over a sequence: rank 3 times a matrix. */
    @Test
    void aSequenceTimesAMatrixNamesItsBatchDimensions() {
        assertSameAndRestored("BatchMatMulV2", new long[] {2, 4, 5}, new long[] {5, 6}, false, false, "AIK,KJ->AIJ");
        assertSameAndRestored("BatchMatMulV2", new long[] {2, 3, 4, 5}, new long[] {6, 5}, false, true, "ABIK,JK->ABIJ");
    }

    /** Without the ranks in the graph, or with a matrix first, the product stays as it is. */
    @Test
    void unknownRanksAndOtherShapesStay() {
        GraphDef unknown = product("BatchMatMulV2", UNKNOWN, Shape.of(2, 5, 6), false, false);
        assertEquals(unknown, BatchMatMulRewrite.forTraining(unknown));
        GraphDef matrixFirst = product("BatchMatMulV2", Shape.of(4, 5), Shape.of(2, 5, 6), false, false);
        assertEquals(matrixFirst, BatchMatMulRewrite.forTraining(matrixFirst));
    }

    /** Export turns back only the rewrite's own equations (capitals, as it writes them), not a model's own einsums. */
    @Test
    void recognisesOnlyItsOwnEquations() {
        for (boolean adjX : new boolean[] {false, true}) {
            for (boolean adjY : new boolean[] {false, true}) {
                for (int[] ranks : new int[][] {{3, 3}, {4, 4}, {3, 2}, {4, 2}, {5, 2}}) {
                    boolean[] flags = BatchMatMulRewrite.adjoints(BatchMatMulRewrite.equation(ranks[0], ranks[1], adjX, adjY));
                    assertArrayEquals(new boolean[] {adjX, adjY}, flags);
                }
            }
        }
        for (String foreign : List.of("...ik,...kj->...ij", "bij,bjk->bik", "abc,cd->abd", "ABIK,KJ->ABJI", "ABIK,ABKJ->ABIJ",
                "...IK,KJ->...IJ", "ABIK->ABI", "IK,KJ->IJ",
                // the einsums of the rewritten products' gradients
                "...IJ,...KJ->...IK", "...IJ,...IK->...KJ", "ABIJ,KJ->ABIK", "ABIJ,ABIK->KJ", "", "->", ",")) {
            assertNull(BatchMatMulRewrite.adjoints(foreign), foreign);
        }
    }

    /**
     * The test models as the real exporters write them: Google's BERT (TF1) multiplies attention with BatchMatMul,
     * Keras 3 attention with einsums of its own and its dense layers over sequences with BatchMatMulV2.
     */
    @Test
    void rewritesTheProductsOfRealExports() {
        EncoderGraph tf1 = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model("tiny-bert-tf1")), SignatureNames.auto());
        EncoderGraph keras = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model("families/bert-keras")), SignatureNames.auto());
        for (EncoderGraph e : List.of(tf1, keras)) {
            assertTrue(BatchMatMulRewrite.count(e.graph()) > 0);
            assertTrue(e.graph().getNodeList().stream().noneMatch(n -> n.getOp().startsWith("BatchMatMul")),
                    e.graph().getNodeList().stream().filter(n -> n.getOp().startsWith("BatchMatMul")).map(NodeDef::getName).toList().toString());
        }
        System.out.println("einsums: TF1 " + BatchMatMulRewrite.count(tf1.graph()) + ", Keras " + BatchMatMulRewrite.count(keras.graph()));
    }
}
