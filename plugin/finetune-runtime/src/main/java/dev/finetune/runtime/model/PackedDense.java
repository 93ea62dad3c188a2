package dev.finetune.runtime.model;

import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;

/**
 * Serving with every dense layer's weight packed once into oneDNN's blocked layout, each layer (product and bias) one
 * oneDNN op.
 *
 * <p>Why: oneDNN multiplies bfloat16 on AMX only with the weight in its own blocked layout. TensorFlow asks for that
 * layout only when its layout pass sees the weight come from a {@code Const} node ({@code is_filter_const}); a
 * SavedModel's weights are variables, so every dense layer ran oneDNN's plain-layout kernel ({@code gemm:jit} in
 * {@code ONEDNN_VERBOSE}), which multiplies at about 60 % of that speed here. A session that only serves never changes a
 * weight after restoring it, so telling oneDNN it is constant is true there: oneDNN then picks the AMX kernel
 * ({@code brgemm}), reorders the weight on the first run and keeps that copy (one more copy of the dense layers'
 * weights in memory). Measured on the benchmark's fine-tuned BERT-base (bfloat16, 2 cores, in one JVM): 2048 × 768 ×
 * 3072 with bias and GELU 8.4-9.7 ms as stored, 5.6-5.8 ms packed.
 *
 * <p>Only in bfloat16: in float32, which AMX does not multiply, oneDNN's plain-layout kernel was as fast or faster
 * (reviews, 500 texts: 35.0 examples/s unpacked, 32.3 packed).
 *
 * <p>This class rewrites each dense layer ({@link DenseLayer}) that no activation was fused into, and whose weight is a
 * variable's, as {@link FusedMatMulOp#PACKED}; {@link FusedGelu} packs those it fuses. It only ever runs on graphs for
 * serving sessions: in training the weights change at every step, and the packed copy would be stale.
 */
public final class PackedDense {
    /** Infix of the nodes the rewrite adds. */
    static final String INFIX = "/finetune_packed_dense/";

    /** Why this TensorFlow cannot pack weights on the CPU ("" when it can), under the one key: probed once per process. */
    private static final Map<String, String> PROBLEM = new ConcurrentHashMap<>();

    /** The rewritten graph and how many dense layers it rewrote. */
    public record Rewrite(GraphDef graph, int packed) {
    }

    private PackedDense() {
    }

    /**
     * Whether this TensorFlow runs {@link FusedMatMulOp#PACKED} on the CPU in bfloat16 with the right values, alone and
     * with either GELU ({@link FusedGelu} packs those it fuses): only its oneDNN build has that kernel, so a two-by-two
     * product is run once per process.
     */
    public static boolean supported(SessionSettings settings) {
        return problem(settings) == null;
    }

    /** Null when {@link #supported}; else why not (TensorFlow's message, or the values the probe got). */
    public static String problem(SessionSettings settings) {
        // gelu(1.5) = 1.3998 (exact), 1.3996 (tanh); gelu(-2) = -0.0455 (exact), -0.0454 (tanh).
        return Nodes.probedOnce(PROBLEM, "bfloat16", () -> FusedMatMulOp.probe(settings, true,
                Arrays.asList(null, "GeluExact", "GeluApproximate"), true,
                new float[][] {{1.5f, -2f}, {1.3998f, -0.0455f}, {1.3996f, -0.0454f}}));
    }

    /**
     * Whether computing {@code outputs} writes a variable (an assignment, an optimizer's update): then a packed weight
     * could go stale, so nothing is packed. An exported model's serving graph writes none; only its restore op does.
     */
    public static boolean writesVariables(GraphDef graph, Collection<String> outputs) {
        List<String> roots = outputs.stream().map(GraphDefs::nodeName).toList();
        Map<String, NodeDef> nodes = GraphDefs.byName(graph);
        return GraphDefs.ancestors(graph, roots).stream().map(nodes::get).anyMatch(n -> n != null && WRITES.matcher(n.getOp()).matches());
    }

    /** Ops that change a variable's value. */
    private static final Pattern WRITES = Pattern.compile("Assign.*|ResourceApply.*|ResourceSparseApply.*|ResourceScatter.*"
            + "|ResourceStridedSliceAssign|Scatter(?!Nd$).*|Apply.*|SparseApply.*");

    /**
     * {@code graph} with each dense layer whose weight is a variable's run as one op in bfloat16 packing it. For a
     * session that only serves and whose outputs write no variable ({@link #writesVariables}).
     */
    public static Rewrite of(GraphDef graph) {
        Map<String, NodeDef> nodes = GraphDefs.byName(graph);
        Map<String, List<NodeDef>> consumers = GraphDefs.consumers(graph);
        Map<String, List<NodeDef>> replacements = new HashMap<>();
        Map<String, String> redirect = new HashMap<>();
        for (NodeDef x : graph.getNodeList()) {
            DenseLayer dense = DenseLayer.under(nodes, consumers, x);
            if (dense != null && dense.weightIsVariable(nodes)) {
                replacements.put(x.getName(), dense.fused(nodes, x, null, true, true, INFIX));
                dense.removed().forEach(r -> redirect.put(r, x.getName()));
            }
        }
        if (replacements.isEmpty()) {
            return new Rewrite(graph, 0);
        }
        return new Rewrite(Nodes.replaced(graph, replacements, redirect), replacements.size());
    }

    /** How many ops of {@code graph} pack their weight (this rewrite's and {@link FusedGelu}'s). */
    public static int count(GraphDef graph) {
        return (int) graph.getNodeList().stream().filter(n -> n.getOp().equals(FusedMatMulOp.PACKED)).count();
    }
}
