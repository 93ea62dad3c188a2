package dev.finetune.runtime.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.StdArrays;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.train.BatchMatMul;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TFloat32;

/**
 * One attention block between bfloat16 layers, written as Google BERT writes it and as the fused layers leave it
 * ({@link DenseLayer#fused}): each projection computed in bfloat16 and handed on through a cast to float32, the output
 * layer reading the context through a cast to bfloat16.
 */
class Bfloat16StretchesTest {
    private static final SessionSettings BFLOAT16 = new SessionSettings("cpu", 1, 1, "bfloat16", false);
    private static final int TOKENS = 5;
    private static final int HEADS = 2;
    private static final int SIZE = 3;
    private static final int HIDDEN = HEADS * SIZE;

    /** Scaled as Google BERT's graphs scale (Mul) and as others write it (RealDiv, by the square root). */
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void runsTheAttentionBetweenBfloat16LayersInBfloat16AndComputesWhatMixedPrecisionDid(boolean divided) {
        assumeMixedPrecision();
        GraphDef written = attention(divided);
        // Three reshapes and transposes of the projections, the two products, scale, mask, softmax, the context's
        // transpose and reshape.
        Bfloat16Stretches.Rewrite rewrite = rewritten(written, 1, 13);
        Map<String, NodeDef> nodes = GraphDefs.byName(rewrite.graph());
        // The output layer reads the context in bfloat16, and everything it needs computes in bfloat16: no cast to
        // float32 and back on the way (mixed precision painted these ops, but cast the context to float32 before the
        // output layer's own cast).
        assertEquals("Identity", nodes.get("context_input").getOp());
        for (String name : GraphDefs.ancestors(rewrite.graph(), List.of("output"))) {
            NodeDef n = nodes.get(name);
            if (name.equals("output")) {
                continue;
            }
            if (n.containsAttr("T")) {
                assertEquals(DataType.DT_BFLOAT16, n.getAttrOrThrow("T").getType(), name + " computes in");
            }
            if (n.getOp().equals("Cast")) {
                assertEquals(DataType.DT_BFLOAT16, n.getAttrOrThrow("DstT").getType(), name + " casts to");
            }
        }
        // What the query's cast waited for, its reader in bfloat16 waits for.
        assertTrue(nodes.get("query_rows" + Bfloat16Stretches.SUFFIX).getInputList().contains("^x"));

        float[][] mixed = run(written, BFLOAT16, "output", "row_sums");
        float[][] rewritten = run(rewrite.graph(), BFLOAT16, "output", "row_sums");
        float[][] float32 = run(written, new SessionSettings("cpu", 1, 1, "float32", false), "output", "row_sums");
        for (int k = 0; k < mixed.length; k++) {
            for (int i = 0; i < mixed[k].length; i++) {
                // The same ops in bfloat16 as mixed precision ran them; the written graph in float32 within bfloat16's rounding.
                assertEquals(mixed[k][i], rewritten[k][i], 1e-6, "output " + k + "[" + i + "] against mixed precision");
                assertEquals(float32[k][i], rewritten[k][i], 3e-2 * Math.max(1, Math.abs(float32[k][i])), "output " + k + "[" + i + "]");
            }
        }
        // Something else reading an op of the stretch (here the softmax's row sums) still reads float32 under its name.
        assertEquals(DataType.DT_FLOAT, nodes.get("probabilities").getAttrOrThrow("DstT").getType());
        for (float sum : rewritten[1]) {
            assertEquals(1f, sum, 1e-2);
        }
    }

    /**
     * A residual add and a layer norm's scale and shift written out between two fused layers (as when the norm is not
     * fused): no product around them, where mixed precision keeps such arithmetic in float32, so it stays float32 here.
     */
    @Test
    void leavesArithmeticWithoutProductsAroundItInFloat32() {
        GraphDef written = betweenTwoLayers(true);
        assertEquals(written, rewritten(written, 0, 0).graph());
    }

    /**
     * Keras' Dense over a sequence reads its input through Tensordot's transpose and reshape, and its shape: that stretch
     * runs in bfloat16, exact, and the shape is read from the bfloat16 value, so that no float32 copy is made.
     */
    @Test
    void runsAReshapeBetweenTwoLayersInBfloat16() {
        assumeMixedPrecision();
        GraphDef written = betweenTwoLayers(false);
        Bfloat16Stretches.Rewrite rewrite = rewritten(written, 1, 3);
        Map<String, NodeDef> nodes = GraphDefs.byName(rewrite.graph());
        NodeDef shape = nodes.get("gelu_shape");
        assertEquals(List.of("gelu" + Bfloat16Stretches.SUFFIX), shape.getInputList());
        assertEquals(DataType.DT_BFLOAT16, shape.getAttrOrThrow("T").getType());
        assertEquals(List.of(), GraphDefs.consumers(rewrite.graph()).getOrDefault("gelu", List.of()), "readers of gelu in float32");
        assertArrayEquals(run(written, BFLOAT16, "output")[0], run(rewrite.graph(), BFLOAT16, "output")[0]);
    }

    /** {@code written} rewritten, having found {@code stretches} stretches of {@code ops} ops. */
    private static Bfloat16Stretches.Rewrite rewritten(GraphDef written, int stretches, int ops) {
        Bfloat16Stretches.Rewrite rewrite = Bfloat16Stretches.of(written);
        assertEquals(stretches, rewrite.stretches(), "stretches");
        assertEquals(ops, rewrite.ops(), "ops in them");
        return rewrite;
    }

    private static void assumeMixedPrecision() {
        Assumptions.assumeTrue(FusedGelu.supported(BFLOAT16), "no oneDNN bfloat16 on this CPU: mixed precision would not paint");
    }

    /** Fetches {@code fetches} for a random x (and a mask hiding the last token, where the graph has one). */
    private static float[][] run(GraphDef def, SessionSettings settings, String... fetches) {
        Random r = new Random(11);
        float[][][] x = new float[1][TOKENS][HIDDEN];
        for (float[] row : x[0]) {
            for (int i = 0; i < HIDDEN; i++) {
                row[i] = (float) r.nextGaussian();
            }
        }
        float[][][][] mask = new float[1][1][1][TOKENS];
        mask[0][0][0][TOKENS - 1] = -10000f;
        try (Graph g = new Graph()) {
            g.importGraphDef(def);
            try (Session s = new Session(g, settings.config());
                 TFloat32 xs = TFloat32.tensorOf(StdArrays.ndCopyOf(x));
                 TFloat32 ms = TFloat32.tensorOf(StdArrays.ndCopyOf(mask))) {
                Session.Runner runner = s.runner().feed("x", xs);
                if (g.operation("mask") != null) {
                    runner.feed("mask", ms);
                }
                for (String f : fetches) {
                    runner.fetch(f);
                }
                try (Result res = runner.run()) {
                    float[][] out = new float[fetches.length][];
                    for (int i = 0; i < fetches.length; i++) {
                        out[i] = ServingSignature.floats(res.get(i));
                    }
                    return out;
                }
            }
        }
    }

    /**
     * Two bfloat16 layers, the first's result cast to float32 ({@code hidden}) and the second reading a cast to bfloat16
     * ({@code next_input}); between them either a residual add of x and a layer norm's scale and shift, or an identity
     * (Keras' activation), Tensordot's transpose and reshape, and a shape query of the identity.
     */
    private static GraphDef betweenTwoLayers(boolean normalised) {
        try (Graph g = new Graph()) {
            Ops tf = Ops.create(g);
            Placeholder<TFloat32> x = tf.withName("x").placeholder(TFloat32.class, Placeholder.shape(Shape.of(1, TOKENS, HIDDEN)));
            Operand<TBfloat16> rows = tf.reshape(tf.dtypes.cast(x, TBfloat16.class), tf.constant(new int[] {TOKENS, HIDDEN}));
            Operand<TFloat32> hidden = projection(tf, rows, "hidden", 5);
            Operand<TFloat32> between;
            if (normalised) {
                Operand<TFloat32> residual = tf.withName("residual").math.add(hidden, tf.reshape(x, tf.constant(new int[] {TOKENS, HIDDEN})));
                Operand<TFloat32> scaled = tf.withName("scaled").math.mul(residual, tf.constant(0.9f));
                between = tf.withName("shifted").math.add(scaled, tf.constant(0.1f));
            } else {
                Operand<TFloat32> gelu = tf.withName("gelu").identity(hidden);
                tf.withName("gelu_shape").shape(gelu);
                between = tf.withName("tensordot_reshape").reshape(
                        tf.withName("tensordot_transpose").linalg.transpose(gelu, tf.constant(new int[] {0, 1})),
                        tf.constant(new int[] {-1, HIDDEN}));
            }
            Operand<TBfloat16> input = tf.withName("next_input").dtypes.cast(between, TBfloat16.class);
            tf.withName("output").dtypes.cast(tf.linalg.matMul(input, weight(tf, 6)), TFloat32.class);
            return g.toGraphDef();
        }
    }

    /**
     * {@code output = (softmax(q kᵀ · scale + mask) v) · w}, heads split and joined by reshapes and transposes, with q, k
     * and v bfloat16 products of x cast to float32 and the output layer's product in bfloat16 of a cast of the context;
     * besides, the softmax's row sums in float32.
     */
    private static GraphDef attention(boolean divided) {
        try (Graph g = new Graph()) {
            Ops tf = Ops.create(g);
            Placeholder<TFloat32> x = tf.withName("x").placeholder(TFloat32.class, Placeholder.shape(Shape.of(1, TOKENS, HIDDEN)));
            Placeholder<TFloat32> mask = tf.withName("mask").placeholder(TFloat32.class, Placeholder.shape(Shape.of(1, 1, 1, TOKENS)));
            Operand<TBfloat16> rows = tf.reshape(tf.dtypes.cast(x, TBfloat16.class), tf.constant(new int[] {TOKENS, HIDDEN}));
            Operand<TFloat32> q = projection(tf, rows, "query", 1);
            Operand<TFloat32> k = projection(tf, rows, "key", 2);
            Operand<TFloat32> v = projection(tf, rows, "value", 3);
            Operand<TFloat32> scores = tf.withName("scores").train.batchMatMul(heads(tf, q, "query"), heads(tf, k, "key"),
                    TFloat32.class, BatchMatMul.adjY(true));
            Operand<TFloat32> scaled = divided ? tf.withName("scaled").math.realDiv(scores, tf.constant((float) Math.sqrt(SIZE)))
                    : tf.withName("scaled").math.mul(scores, tf.constant((float) (1 / Math.sqrt(SIZE))));
            Operand<TFloat32> probabilities = tf.withName("probabilities").nn.softmax(tf.withName("masked").math.add(scaled, mask));
            tf.withName("row_sums").reduceSum(probabilities, tf.constant(-1));
            Operand<TFloat32> context = tf.withName("context").train.batchMatMul(probabilities, heads(tf, v, "value"), TFloat32.class);
            Operand<TFloat32> joined = tf.withName("context_rows").reshape(
                    tf.withName("context_heads").linalg.transpose(context, tf.constant(new int[] {0, 2, 1, 3})),
                    tf.constant(new int[] {TOKENS, HIDDEN}));
            Operand<TBfloat16> input = tf.withName("context_input").dtypes.cast(joined, TBfloat16.class);
            tf.withName("output").dtypes.cast(tf.linalg.matMul(input, weight(tf, 4)), TFloat32.class);
            GraphDef.Builder def = g.toGraphDef().toBuilder();
            for (NodeDef.Builder n : def.getNodeBuilderList()) {
                if (n.getName().equals("scores") || n.getName().equals("context")) {
                    // Google BERT's tf.matmul of rank-4 operands: BatchMatMulV2.
                    AttrValue t = n.getAttrOrThrow("Ta");
                    AttrValue adjX = n.getAttrOrThrow("adj_x");
                    AttrValue adjY = n.getAttrOrThrow("adj_y");
                    n.setOp("BatchMatMulV2").clearAttr().putAttr("T", t).putAttr("adj_x", adjX).putAttr("adj_y", adjY);
                }
                if (n.getName().equals("query")) {
                    n.addInput("^x");
                }
            }
            return def.build();
        }
    }

    /** A bfloat16 product of {@code rows} with a random weight, cast to float32 as a fused layer hands it on. */
    private static Operand<TFloat32> projection(Ops tf, Operand<TBfloat16> rows, String name, int seed) {
        return tf.withName(name).dtypes.cast(tf.linalg.matMul(rows, weight(tf, seed)), TFloat32.class);
    }

    /** {@code [TOKENS, HIDDEN]} as {@code [1, HEADS, TOKENS, SIZE]}. */
    private static Operand<TFloat32> heads(Ops tf, Operand<TFloat32> value, String name) {
        Operand<TFloat32> split = tf.withName(name + "_rows").reshape(value, tf.constant(new int[] {1, TOKENS, HEADS, SIZE}));
        return tf.withName(name + "_heads").linalg.transpose(split, tf.constant(new int[] {0, 2, 1, 3}));
    }

    private static Operand<TBfloat16> weight(Ops tf, int seed) {
        Random r = new Random(seed);
        float[][] w = new float[HIDDEN][HIDDEN];
        for (float[] row : w) {
            for (int i = 0; i < HIDDEN; i++) {
                row[i] = (float) (r.nextGaussian() / Math.sqrt(HIDDEN));
            }
        }
        return tf.dtypes.cast(tf.constant(w), TBfloat16.class);
    }
}
