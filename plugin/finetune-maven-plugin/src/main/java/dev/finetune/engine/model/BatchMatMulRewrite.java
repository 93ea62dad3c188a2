package dev.finetune.engine.model;

import dev.finetune.runtime.model.StaticShapes;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;

/**
 * Makes training differentiate the encoder's batched products (attention's scores and weighted sum, Keras 3's dense
 * layers over sequences) with oneDNN's kernels rather than Eigen's.
 *
 * <p>TensorFlow's gradient of {@code BatchMatMul}, {@code BatchMatMulV2} and {@code BatchMatMulV3} is two
 * {@code BatchMatMulV3} ops, which the oneDNN layout pass of this TensorFlow leaves to Eigen's kernel: in bfloat16 4-6
 * times slower than {@code BatchMatMulV2} or {@code Einsum} on the same operands (192 × 54 × 64 × 54: 2.5-3.0 ms against
 * 0.41-0.63, 2 cores, AVX512-BF16). {@code Einsum}'s gradient is two {@code Einsum}s, which oneDNN runs. So for training
 * each batched product becomes the {@code Einsum} that computes the same: {@code ...IK,...KJ->...IJ} when both operands
 * have the same rank (batch dimensions broadcast as the product's do; with none to broadcast, the gradient's sum over
 * them is a no-op), or {@code AIK,KJ->AIJ} for a sequence times a matrix (a Keras 3 dense layer; {@code ABIK,KJ->ABIJ}
 * and so on for more batch dimensions), whose weight gradient is then one contraction instead of a product per example
 * summed afterwards. The labels are capitals, which
 * the exporters' own einsums do not use, so {@link #forInference} finds the products this class wrote and makes them
 * {@code BatchMatMulV2} again for export (a model's own einsum written the same way would become the same product). The
 * export computes what the model did but is not op for op the original: a TF1 {@code BatchMatMul} or a {@code
 * BatchMatMulV3} of one type comes back as a {@code BatchMatMulV2}.
 *
 * <p>A product stays as it is when the graph does not fix its operands' ranks, when its first operand is a matrix, when
 * the ranks differ otherwise, when a sequence times a matrix has more than 8 batch dimensions, or when it is not of one
 * real floating-point type throughout.
 */
public final class BatchMatMulRewrite {
    private static final Set<String> PRODUCTS = Set.of("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3");
    /**
     * The real floating-point types, which Einsum's CPU kernels take. Not the complex ones, which Einsum also takes: a
     * product's adj_x and adj_y conjugate, which these equations' transposes do not.
     */
    private static final Set<DataType> TYPES = Set.of(DataType.DT_HALF, DataType.DT_BFLOAT16, DataType.DT_FLOAT, DataType.DT_DOUBLE);
    /** Labels of batch dimensions when the second operand has none (up to 8 of them). */
    private static final String BATCH = "ABCDEFGH";

    private BatchMatMulRewrite() {
    }

    /** The graph with every batched product whose operands' ranks are known written as an {@code Einsum}. */
    public static GraphDef forTraining(GraphDef graph) {
        try (StaticShapes shapes = new StaticShapes(graph)) {
            return forTraining(graph, shapes);
        }
    }

    /**
     * {@link #forTraining(GraphDef)} with the operands' ranks read from {@code shapes}: those of {@code graph}'s tensors,
     * or of a graph whose tensors of the same names have the same ranks.
     */
    public static GraphDef forTraining(GraphDef graph, StaticShapes shapes) {
        Map<String, String> equations = equations(graph, shapes);
        if (equations.isEmpty()) {
            return graph;
        }
        GraphDef.Builder out = graph.toBuilder().clearNode();
        for (NodeDef n : graph.getNodeList()) {
            String equation = equations.get(n.getName());
            if (equation == null) {
                out.addNode(n);
                continue;
            }
            out.addNode(internalAttrs(n).setOp("Einsum")
                    .putAttr("equation", AttrValue.newBuilder().setS(com.google.protobuf.ByteString.copyFromUtf8(equation)).build())
                    .putAttr("N", AttrValue.newBuilder().setI(2).build())
                    .putAttr("T", type(n)));
        }
        return out.build();
    }

    /** The graph with each {@code Einsum} {@link #forTraining} wrote a {@code BatchMatMulV2} again. */
    public static GraphDef forInference(GraphDef graph) {
        GraphDef.Builder out = graph.toBuilder().clearNode();
        for (NodeDef n : graph.getNodeList()) {
            boolean[] adjoints = adjoints(n);
            if (adjoints == null) {
                out.addNode(n);
                continue;
            }
            out.addNode(internalAttrs(n).setOp("BatchMatMulV2")
                    .putAttr("T", n.getAttrOrThrow("T"))
                    .putAttr("adj_x", AttrValue.newBuilder().setB(adjoints[0]).build())
                    .putAttr("adj_y", AttrValue.newBuilder().setB(adjoints[1]).build()));
        }
        return out.build();
    }

    /** How many products of {@code graph} are {@link #forTraining}'s einsums. */
    public static int count(GraphDef graph) {
        return (int) graph.getNodeList().stream().filter(n -> adjoints(n) != null).count();
    }

    /** The einsum equation of each product to rewrite, by node name. */
    private static Map<String, String> equations(GraphDef graph, StaticShapes shapes) {
        Map<String, String> out = new HashMap<>();
        for (NodeDef n : graph.getNodeList()) {
            if (candidate(n)) {
                // An unknown rank (or a graph that does not import, left to fail later where it always did) gives null.
                String equation = equation(shapes.rank(n.getInput(0)), shapes.rank(n.getInput(1)), flag(n, "adj_x"), flag(n, "adj_y"));
                if (equation != null) {
                    out.put(n.getName(), equation);
                }
            }
        }
        return out;
    }

    /**
     * The equation of a product of operands of ranks {@code x} and {@code y} (-1: unknown), either adjoint; null for the
     * ranks it does not cover.
     */
    static String equation(int x, int y, boolean adjX, boolean adjY) {
        String left = adjX ? "KI" : "IK";
        String right = adjY ? "JK" : "KJ";
        if (x >= 3 && x == y) {
            return "..." + left + ",..." + right + "->...IJ";
        }
        if (x >= 3 && y == 2 && x - 2 <= BATCH.length()) {
            String batch = BATCH.substring(0, x - 2);
            return batch + left + "," + right + "->" + batch + "IJ";
        }
        return null;
    }

    /** {@code [adj_x, adj_y]} of an einsum {@link #forTraining} wrote; null for any other node. */
    private static boolean[] adjoints(NodeDef n) {
        return n.getOp().equals("Einsum")
                ? adjoints(n.getAttrOrDefault("equation", AttrValue.getDefaultInstance()).getS().toStringUtf8()) : null;
    }

    /** {@code [adj_x, adj_y]} of an equation {@link #equation} writes; null for any other. */
    static boolean[] adjoints(String equation) {
        int comma = equation.indexOf(',');
        if (comma < 2) {
            return null;
        }
        boolean adjX = equation.startsWith("KI", comma - 2);
        boolean adjY = equation.contains(",...JK->") || equation.contains(",JK->");
        // The ellipsis form is the same string for every rank; the other names the first operand's rank.
        int rank = equation.startsWith("...") ? 3 : comma;
        for (int y : new int[] {rank, 2}) {
            if (equation.equals(equation(rank, y, adjX, adjY))) {
                return new boolean[] {adjX, adjY};
            }
        }
        return null;
    }

    /** A batched product of one floating-point type throughout. */
    private static boolean candidate(NodeDef n) {
        if (!PRODUCTS.contains(n.getOp())) {
            return false;
        }
        if (!n.getOp().equals("BatchMatMulV3")) {
            return TYPES.contains(n.getAttrOrThrow("T").getType());
        }
        DataType a = n.getAttrOrThrow("Ta").getType();
        return TYPES.contains(a) && a == n.getAttrOrThrow("Tb").getType() && a == n.getAttrOrThrow("Tout").getType();
    }

    /** {@code n} (name, inputs, device) with only its internal attributes, those TensorFlow's own passes add. */
    private static NodeDef.Builder internalAttrs(NodeDef n) {
        NodeDef.Builder b = n.toBuilder().clearAttr();
        n.getAttrMap().forEach((k, v) -> {
            if (k.startsWith("_")) {
                b.putAttr(k, v);
            }
        });
        return b;
    }

    private static AttrValue type(NodeDef n) {
        return n.getOp().equals("BatchMatMulV3") ? n.getAttrOrThrow("Ta") : n.getAttrOrThrow("T");
    }

    private static boolean flag(NodeDef n, String name) {
        return n.getAttrOrDefault(name, AttrValue.getDefaultInstance()).getB();
    }
}
