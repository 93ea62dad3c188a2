package dev.finetune.runtime.model;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
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
 * variable's, as {@link DenseLayer#PACKED_OP}; {@link FusedGelu} packs those it fuses. It only ever runs on graphs for
 * serving sessions: in training the weights change at every step, and the packed copy would be stale.
 */
public final class PackedDense {
    /** Infix of the nodes the rewrite adds. */
    static final String INFIX = "/finetune_packed_dense/";

    /** Why this TensorFlow cannot pack weights on the CPU ("" when it can): probed once per process. */
    private static final Map<Boolean, String> PROBLEM = new ConcurrentHashMap<>();

    /** The rewritten graph and how many dense layers it rewrote. */
    public record Rewrite(GraphDef graph, int packed) {
    }

    private PackedDense() {
    }

    /**
     * Whether this TensorFlow runs {@link DenseLayer#PACKED_OP} on the CPU in bfloat16 with the right values: only its
     * oneDNN build has that kernel, so a two-by-two product is run once per process.
     */
    public static boolean supported(SessionSettings settings) {
        return problem(settings) == null;
    }

    /** Null when {@link #supported}; else why not (TensorFlow's message, or the values the probe got). */
    public static String problem(SessionSettings settings) {
        return Nodes.probedOnce(PROBLEM, true, () -> probe(true, settings));
    }

    private static String probe(boolean bfloat16, SessionSettings settings) {
        return DenseLayer.probe(settings, bfloat16, java.util.Collections.singletonList(null), true, new float[][] {{1.5f, -2f}});
    }

    /** {@code graph} with each dense layer whose weight is a variable's run as one op packing it, in {@code bfloat16} or float32. */
    public static Rewrite of(GraphDef graph, boolean bfloat16) {
        Map<String, NodeDef> nodes = GraphDefs.byName(graph);
        Map<String, List<NodeDef>> consumers = GraphDefs.consumers(graph);
        Map<String, List<NodeDef>> replacements = new HashMap<>();
        Map<String, String> redirect = new HashMap<>();
        for (NodeDef x : graph.getNodeList()) {
            DenseLayer dense = DenseLayer.under(nodes, consumers, x);
            if (dense != null && dense.weightIsVariable(nodes)) {
                replacements.put(x.getName(), dense.fused(nodes, x, null, bfloat16, true, INFIX));
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
        return (int) graph.getNodeList().stream().filter(n -> n.getOp().equals(DenseLayer.PACKED_OP)).count();
    }
}
