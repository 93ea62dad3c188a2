package dev.finetune.runtime.model;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;

/**
 * Serving with each layer normalisation run as one oneDNN kernel ({@code _MklLayerNorm}) instead of the ten or so
 * element-wise ops and reductions exporters write.
 *
 * <p>Why: a transformer normalises twice per layer over its hidden states, and every op of the written form reads and
 * writes the whole tensor. On BERT-base (32 × 64 tokens, bfloat16, 2 cores) the op time of a serving run was 830 ms as
 * written and 482 ms with the GELUs ({@link FusedGelu}) and layer norms fused; in another run the GELUs alone had taken
 * it from 886 to 626 ms, so the layer norms were about a fifth of what was left. The fused kernel reads x once for its
 * statistics and once to normalise.
 *
 * <p>Which normalisations: those {@link LayerNormPattern} finds, but not when the input is not 2-D or 3-D (all the
 * kernel takes), when a positive axis is not the last, or when gamma and beta are not as long as that axis. Control
 * edges on the removed nodes move to the fused op. The kernel takes float32; the mixed-precision rewrite decides its
 * precision in a bfloat16 session, as it did for the ops it replaces.
 */
public final class FusedLayerNorm {
    /** Why this TensorFlow cannot run the fused kernel, by precision ("" when it can): probed once per process. */
    private static final Map<String, String> PROBLEM = new ConcurrentHashMap<>();

    /** The rewritten graph and how many normalisations it fused. */
    public record Rewrite(GraphDef graph, int fused) {
    }

    private FusedLayerNorm() {
    }

    /**
     * Whether this TensorFlow runs {@code _MklLayerNorm} on the CPU with {@code settings}, with the right values: only
     * its oneDNN build has the kernel, and a missing kernel would fail at the first run, not at loading.
     */
    public static boolean supported(SessionSettings settings) {
        return problem(settings) == null;
    }

    /** Null when {@link #supported}; else why not (TensorFlow's message, or the values the probe got). */
    public static String problem(SessionSettings settings) {
        return Nodes.probedOnce(PROBLEM, settings.effectivePrecision(), () -> probe(settings));
    }

    private static String probe(SessionSettings settings) {
        GraphDef.Builder g = GraphDef.newBuilder();
        g.addNode(Nodes.placeholder("probe/x"));
        g.addNode(Nodes.floatConstant("probe/gamma", new float[] {1, 2, 1, 1}, 4));
        g.addNode(Nodes.floatConstant("probe/beta", new float[] {0, 0, 1, 0}, 4));
        g.addNode(layerNorm("probe/norm", "probe/x", "probe/gamma", "probe/beta", 1e-12f, ""));
        // (x - 3) / sqrt(3.5) * gamma + beta
        return Nodes.probe(g.build(), settings, new float[] {1, 2, 3, 6}, List.of("probe/norm"),
                new float[][] {{-1.0690f, -1.0690f, 1f, 1.6036f}});
    }

    /**
     * {@code graph} with each layer normalisation it can fuse as one op. {@code shape} gives a tensor's static shape
     * (-1 for an unknown dimension; null when even the rank is unknown): the kernel takes 2-D or 3-D input and
     * normalises over the last axis, with gamma and beta as long as that axis.
     */
    public static Rewrite of(GraphDef graph, Function<String, long[]> shape) {
        Map<String, NodeDef> nodes = GraphDefs.byName(graph);
        Map<String, List<NodeDef>> replacements = new HashMap<>();
        Map<String, String> redirect = new HashMap<>();
        for (LayerNormPattern.Match m : LayerNormPattern.find(graph)) {
            long[] dims = shape.apply(m.x());
            if (dims == null || dims.length < 2 || dims.length > 3 || m.axis() >= 0 && m.axis() != dims.length - 1) {
                continue;
            }
            long gamma = Nodes.vectorLength(nodes, m.gamma());
            long beta = Nodes.vectorLength(nodes, m.beta());
            long last = dims[dims.length - 1];
            // A gamma of one element would broadcast in the written ops; the kernel would read C of them.
            if (gamma != beta || gamma <= 1 || last >= 0 && last != gamma) {
                continue;
            }
            NodeDef.Builder fused = layerNorm(m.output().getName(), m.x(), m.gamma(), m.beta(), m.epsilon(), m.output().getDevice())
                    .toBuilder();
            fused.addAllInput(Nodes.inheritedControlInputs(nodes, m.output(), m.removed()));
            replacements.put(m.output().getName(), List.of(fused.build()));
            m.removed().forEach(r -> redirect.put(r, m.output().getName()));
        }
        if (replacements.isEmpty()) {
            return new Rewrite(graph, 0);
        }
        return new Rewrite(Nodes.replaced(graph, replacements, redirect), replacements.size());
    }

    private static NodeDef layerNorm(String name, String x, String gamma, String beta, float epsilon, String device) {
        return NodeDef.newBuilder().setName(name).setOp("_MklLayerNorm").setDevice(device)
                .addInput(x).addInput(gamma).addInput(beta)
                .putAttr("T", Nodes.type(DataType.DT_FLOAT))
                .putAttr("epsilon", AttrValue.newBuilder().setF(epsilon).build())
                .build();
    }
}
