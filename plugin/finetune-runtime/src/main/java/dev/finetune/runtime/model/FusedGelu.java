package dev.finetune.runtime.model;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;

/**
 * Serving with each dense layer that feeds a GELU run as one oneDNN kernel: matrix product, bias and GELU together.
 *
 * <p>Why: exporters write GELU as a chain of eight or so element-wise ops ({@link GeluPattern}) over the widest
 * activation of a transformer (the intermediate layer, four times the hidden size). Each op reads and writes the whole
 * tensor in float32, so on BERT-base the chain took about 30 % of a serving run's op time (32 rows of 64 tokens,
 * bfloat16, 2 cores: 886 ms of op time as written, 626 ms with the GELUs fused). TensorFlow's {@code _FusedMatMul} with
 * {@code fused_ops = [BiasAdd, GeluApproximate | GeluExact]} applies the bias and the GELU while the product's tile is
 * still in cache; its oneDNN kernel computes the same function (tanh approximation or erf), so results differ from the
 * chain's by rounding only.
 *
 * <p>The rewrite matches {@code gelu(x)} with x a dense layer's output ({@link DenseLayer} says which forms). It leaves
 * a GELU alone when anything else reads x or the product. In bfloat16 the fused op runs in bfloat16 (as the
 * mixed-precision rewrite would run the product) with a weight held in bfloat16 ({@link Bfloat16Weights}) read as it
 * is; its result is cast back to float32 for the element-wise ops downstream. Control edges on the removed nodes move
 * to the fused op (see {@link Nodes#redirectControlInputs}). Only for CPU sessions: the rewrite is
 * built and probed for oneDNN's kernels; on a GPU TensorFlow's own remapper fuses what it supports.
 */
public final class FusedGelu {
    /** Infix of the nodes the rewrite adds. */
    static final String INFIX = "/finetune_fused_gelu/";

    /** The rewritten graph and how many GELUs it fused. */
    public record Rewrite(GraphDef graph, int fused) {
    }

    /** Why this TensorFlow cannot fuse GELU on the CPU, by precision ("" when it can): probed once per process. */
    private static final Map<Boolean, String> PROBLEM = new ConcurrentHashMap<>();

    private FusedGelu() {
    }

    /**
     * Whether this TensorFlow runs {@code _FusedMatMul} with a GELU on the CPU in {@code settings}' precision, with the
     * right values. TensorFlow's oneDNN kernel does; its Eigen kernel (oneDNN turned off with
     * {@code TF_ENABLE_ONEDNN_OPTS=0}, or a build without it) fuses no GELU and would fail at the first run, not at
     * loading. So a two-by-two product is run once per process and precision, both GELUs checked against their values.
     */
    public static boolean supported(SessionSettings settings) {
        return problem(settings) == null;
    }

    /** Null when {@link #supported}; else why not (TensorFlow's message, or the values the probe got). */
    public static String problem(SessionSettings settings) {
        boolean bfloat16 = settings.effectivePrecision().equals("bfloat16");
        return Nodes.probedOnce(PROBLEM, bfloat16, () -> probe(bfloat16, settings));
    }

    private static String probe(boolean bfloat16, SessionSettings settings) {
        // gelu(1.5) = 1.3998 (exact), 1.3996 (tanh); gelu(-2) = -0.0455 (exact), -0.0454 (tanh).
        return FusedMatMulOp.probe(settings, bfloat16, List.of("GeluExact", "GeluApproximate"), false,
                new float[][] {{1.3998f, -0.0455f}, {1.3996f, -0.0454f}});
    }

    /**
     * {@code graph} with each dense layer + GELU it can fuse as one op computing in {@code bfloat16} or float32, with
     * its weight packed once when {@code packed} ({@link PackedDense}).
     */
    public static Rewrite of(GraphDef graph, boolean bfloat16, boolean packed) {
        Map<String, NodeDef> nodes = GraphDefs.byName(graph);
        Map<String, List<NodeDef>> consumers = GraphDefs.consumers(graph);
        Map<String, List<NodeDef>> replacements = new HashMap<>();
        Map<String, String> redirect = new HashMap<>();
        for (GeluPattern.Match gelu : GeluPattern.find(graph)) {
            DenseLayer dense = dense(nodes, consumers, gelu);
            if (dense != null) {
                replacements.put(gelu.output().getName(), dense.fused(nodes, gelu.output(),
                        gelu.approximate() ? "GeluApproximate" : "GeluExact", bfloat16, packed, INFIX));
                dense.removed().forEach(r -> redirect.put(r, gelu.output().getName()));
            }
        }
        if (replacements.isEmpty()) {
            return new Rewrite(graph, 0);
        }
        return new Rewrite(Nodes.replaced(graph, replacements, redirect), replacements.size());
    }

    /** The dense layer under a GELU, with the GELU's chain among the nodes it removes; null when it cannot be fused. */
    private static DenseLayer dense(Map<String, NodeDef> nodes, Map<String, List<NodeDef>> consumers, GeluPattern.Match gelu) {
        NodeDef x = nodes.get(GraphDefs.nodeName(gelu.x()));
        Set<String> chain = Nodes.between(nodes, gelu.output(), gelu.x());
        if (x == null || !Nodes.plainOutput(gelu.x()) || !Nodes.isFloat(gelu.output(), "T") || !Nodes.readOnlyBy(consumers, x, chain)) {
            // Anything else that reads x would still need x computed: the fusion would then run the product twice.
            return null;
        }
        DenseLayer dense = DenseLayer.under(nodes, consumers, x);
        if (dense == null) {
            return null;
        }
        Set<String> removed = new HashSet<>(chain);
        removed.remove(gelu.output().getName());
        removed.add(x.getName());
        return dense.removing(removed);
    }
}
