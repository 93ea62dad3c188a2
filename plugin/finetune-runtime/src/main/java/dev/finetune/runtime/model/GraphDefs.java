package dev.finetune.runtime.model;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.TensorProto;
import org.tensorflow.proto.TensorShapeProto;

/** Small, pure rewrites of a {@link GraphDef}: pruning and the op substitutions training needs. */
public final class GraphDefs {
    private GraphDefs() {
    }

    /** The node name of a tensor or input reference: "^a", "a", "a:1" all give "a". */
    public static String nodeName(String ref) {
        String s = ref.startsWith("^") ? ref.substring(1) : ref;
        int colon = s.indexOf(':');
        return colon < 0 ? s : s.substring(0, colon);
    }

    public static Map<String, NodeDef> byName(GraphDef graph) {
        return graph.getNodeList().stream().collect(Collectors.toMap(NodeDef::getName, n -> n, (a, b) -> a, HashMap::new));
    }

    /** The names of every node that {@code roots} depend on, through data and control edges, roots included. */
    public static Set<String> ancestors(GraphDef graph, Collection<String> roots) {
        Map<String, NodeDef> nodes = byName(graph);
        Set<String> seen = new HashSet<>();
        Deque<String> todo = new ArrayDeque<>();
        roots.forEach(r -> todo.add(nodeName(r)));
        while (!todo.isEmpty()) {
            String name = todo.pop();
            NodeDef node = nodes.get(name);
            if (node == null || !seen.add(name)) {
                continue;
            }
            node.getInputList().forEach(in -> todo.push(nodeName(in)));
        }
        return seen;
    }

    /**
     * Ops whose output carries no gradient to their inputs: shape queries, comparisons, index arithmetic. What a
     * tensor reaches only through them is not on a differentiable path.
     */
    private static final Set<String> NO_GRADIENT = Set.of("Shape", "ShapeN", "Size", "Rank", "StopGradient",
            "ZerosLike", "OnesLike", "Equal", "NotEqual", "Greater", "GreaterEqual", "Less", "LessEqual", "LogicalAnd",
            "LogicalOr", "LogicalNot", "ArgMax", "ArgMin", "Floor", "Ceil", "Round", "Sign", "IsFinite", "IsNan", "IsInf",
            "Assert", "BroadcastGradientArgs", "Range", "RandomUniform", "RandomStandardNormal", "TruncatedNormal");
    private static final Set<DataType> FLOATS = Set.of(DataType.DT_FLOAT, DataType.DT_HALF, DataType.DT_BFLOAT16,
            DataType.DT_DOUBLE);

    /**
     * The nodes from which a gradient can flow to {@code output}: its ancestors through data edges, not through the
     * inputs of {@link #NO_GRADIENT} ops nor of casts to a non-float type.
     */
    public static Set<String> differentiableAncestors(GraphDef graph, String output) {
        Map<String, NodeDef> nodes = byName(graph);
        Set<String> seen = new HashSet<>();
        Deque<String> todo = new ArrayDeque<>();
        todo.add(nodeName(output));
        while (!todo.isEmpty()) {
            String name = todo.pop();
            NodeDef node = nodes.get(name);
            if (node == null || !seen.add(name) || NO_GRADIENT.contains(node.getOp())) {
                continue;
            }
            if (node.getOp().equals("Cast") && !FLOATS.contains(node.getAttrOrThrow("DstT").getType())) {
                continue;
            }
            node.getInputList().stream().filter(in -> !in.startsWith("^")).forEach(in -> todo.push(nodeName(in)));
        }
        return seen;
    }

    /** Each node's data consumers, by the node's name (control edges left out). */
    public static Map<String, List<NodeDef>> consumers(GraphDef graph) {
        Map<String, List<NodeDef>> out = new HashMap<>();
        for (NodeDef n : graph.getNodeList()) {
            for (String i : n.getInputList()) {
                if (!i.startsWith("^")) {
                    out.computeIfAbsent(nodeName(i), k -> new ArrayList<>()).add(n);
                }
            }
        }
        return out;
    }

    /** The output named {@code tensor} ("op:index" or "op") of {@code graph}. */
    public static org.tensorflow.Output<?> output(org.tensorflow.Graph graph, String tensor) {
        int colon = tensor.lastIndexOf(':');
        String op = colon < 0 ? tensor : tensor.substring(0, colon);
        int index = colon < 0 ? 0 : Integer.parseInt(tensor.substring(colon + 1));
        org.tensorflow.GraphOperation operation = graph.operation(op);
        if (operation == null) {
            throw new ModelException("The graph has no operation '" + op + "'.");
        }
        return operation.output(index);
    }

    /** The {@code VarHandleOp} behind a resource reference, through {@code Identity} ops; null when it comes from elsewhere. */
    public static NodeDef variableHandle(Map<String, NodeDef> nodes, String ref) {
        NodeDef n = nodes.get(nodeName(ref));
        while (n != null && n.getOp().equals("Identity")) {
            n = nodes.get(nodeName(n.getInput(0)));
        }
        return n != null && n.getOp().equals("VarHandleOp") ? n : null;
    }

    /**
     * The name TensorFlow keys a resource variable by: its container and shared name (its node name when it has no
     * shared name). Two handle ops with the same key are one variable.
     */
    public static String variableKey(NodeDef handle) {
        String shared = handle.getAttrOrDefault("shared_name", AttrValue.getDefaultInstance()).getS().toStringUtf8();
        String container = handle.getAttrOrDefault("container", AttrValue.getDefaultInstance()).getS().toStringUtf8();
        String name = shared.isEmpty() ? handle.getName() : shared;
        return container.isEmpty() ? name : container + "/" + name;
    }

    /** Keeps only the nodes that {@code roots} depend on, in their original order. */
    public static GraphDef prune(GraphDef graph, Collection<String> roots) {
        Set<String> keep = ancestors(graph, roots);
        List<NodeDef> kept = graph.getNodeList().stream().filter(n -> keep.contains(n.getName())).collect(Collectors.toList());
        return graph.toBuilder().clearNode().addAllNode(kept).build();
    }

    /**
     * Rewrites each {@code ResourceGather} into {@code ReadVariableOp} + {@code GatherV2}, keeping its name.
     * Why: ResourceGather has no C++ gradient, and a gradient taken with respect to variable reads simply skips
     * it: embedding tables would silently stay untrained. GatherV2 has a gradient, and the read joins the others.
     */
    public static GraphDef rewriteResourceGathers(GraphDef graph) {
        GraphDef.Builder out = graph.toBuilder().clearNode();
        for (NodeDef n : graph.getNodeList()) {
            if (!n.getOp().equals("ResourceGather")) {
                out.addNode(n);
                continue;
            }
            if (n.getAttrOrDefault("batch_dims", AttrValue.getDefaultInstance()).getI() != 0) {
                throw new ModelException("ResourceGather '" + n.getName() + "' uses batch_dims; only plain "
                        + "embedding look-ups can be trained.");
            }
            AttrValue dtype = n.getAttrOrThrow("dtype");
            String read = n.getName() + "/finetune_read";
            String axis = n.getName() + "/finetune_axis";
            out.addNode(NodeDef.newBuilder().setName(read).setOp("ReadVariableOp").addInput(n.getInput(0))
                    .putAttr("dtype", dtype).build());
            out.addNode(NodeDef.newBuilder().setName(axis).setOp("Const")
                    .putAttr("dtype", AttrValue.newBuilder().setType(DataType.DT_INT32).build())
                    .putAttr("value", AttrValue.newBuilder().setTensor(TensorProto.newBuilder()
                            .setDtype(DataType.DT_INT32).setTensorShape(TensorShapeProto.getDefaultInstance())
                            .addIntVal(0)).build())
                    .build());
            NodeDef.Builder gather = NodeDef.newBuilder().setName(n.getName()).setOp("GatherV2")
                    .addInput(read).addInput(n.getInput(1)).addInput(axis)
                    .putAttr("Tparams", dtype)
                    .putAttr("Tindices", n.getAttrOrThrow("Tindices"))
                    .putAttr("Taxis", AttrValue.newBuilder().setType(DataType.DT_INT32).build())
                    .putAttr("batch_dims", AttrValue.newBuilder().setI(0).build());
            n.getInputList().stream().skip(2).forEach(gather::addInput);
            out.addNode(gather.build());
        }
        return out.build();
    }

    /**
     * Makes every input among {@code inputs} that is a placeholder of another type (int64 ids, a bool or float mask)
     * an int32 placeholder followed by a cast to the type the model expects, under the original name, so the model's
     * ops see what they always saw and every input is fed the same way. Returns each rewritten input's new name.
     */
    public static Map<String, String> feedAsInt32(GraphDef.Builder graph, Collection<String> inputs) {
        Map<String, String> renamed = new HashMap<>();
        for (int i = 0; i < graph.getNodeCount(); i++) {
            NodeDef n = graph.getNode(i);
            String tensor = n.getName() + ":0";
            if (!inputs.contains(tensor) || !n.getOp().equals("Placeholder")) {
                continue;
            }
            AttrValue dtype = n.getAttrOrThrow("dtype");
            if (dtype.getType() == DataType.DT_INT32) {
                continue;
            }
            String fed = n.getName() + "/finetune_int32";
            AttrValue int32 = AttrValue.newBuilder().setType(DataType.DT_INT32).build();
            graph.setNode(i, NodeDef.newBuilder().setName(n.getName()).setOp("Cast").addInput(fed)
                    .putAttr("SrcT", int32).putAttr("DstT", dtype)
                    .putAttr("Truncate", AttrValue.newBuilder().setB(false).build()).build());
            graph.addNode(n.toBuilder().setName(fed).putAttr("dtype", int32).build());
            renamed.put(tensor, fed + ":0");
        }
        return renamed;
    }

    /** Drops colocation hints, which name nodes that pruning or inlining may have removed. */
    public static GraphDef dropColocation(GraphDef graph) {
        GraphDef.Builder out = graph.toBuilder().clearNode();
        for (NodeDef n : graph.getNodeList()) {
            out.addNode(n.getAttrMap().containsKey("_class") ? n.toBuilder().removeAttr("_class").build() : n);
        }
        return out.build();
    }
}
