package dev.finetune.runtime.model;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.TensorProto;
import org.tensorflow.proto.TensorShapeProto;
import org.tensorflow.types.TFloat32;

/**
 * What the graph rewrites ask of single nodes: operands, scalar constants, readers, and the nodes they add. The serving
 * rewrites here use all of it; the training rewrites of the engine the few methods that are public.
 */
public final class Nodes {
    private static final double TOLERANCE = 1e-5;

    private Nodes() {
    }

    static boolean isAdd(NodeDef n) {
        return n.getOp().equals("Add") || n.getOp().equals("AddV2");
    }

    /** For {@code n = k * other} (either order) with scalar constant k ≈ {@code k}: other; else null. */
    static String scalarTimes(Map<String, NodeDef> nodes, NodeDef n, double k) {
        if (n == null || !n.getOp().equals("Mul") || n.getInputCount() != 2) {
            return null;
        }
        for (int side = 0; side < 2; side++) {
            if (isScalar(nodes, n.getInput(side), k)) {
                return n.getInput(1 - side);
            }
        }
        return null;
    }

    /** Whether {@code n = known + k} (either order) with scalar constant k. */
    static boolean addsScalar(Map<String, NodeDef> nodes, NodeDef n, String known, double k) {
        String other = otherInputRef(n, known);
        return other != null && isScalar(nodes, other, k);
    }

    /** The input of a two-input node that is not {@code known}, or null. */
    static String otherInputRef(NodeDef n, String known) {
        if (n.getInputCount() != 2) {
            return null;
        }
        if (same(n.getInput(0), known)) {
            return n.getInput(1);
        }
        return same(n.getInput(1), known) ? n.getInput(0) : null;
    }

    /** Whether {@code ref} is a scalar float constant equal to {@code value} (within float rounding). */
    static boolean isScalar(Map<String, NodeDef> nodes, String ref, double value) {
        NodeDef n = nodes.get(GraphDefs.nodeName(ref));
        if (n == null || !n.getOp().equals("Const") || !n.containsAttr("value")) {
            return false;
        }
        TensorProto t = n.getAttrOrThrow("value").getTensor();
        if (t.getTensorShape().getDimCount() != 0) {
            return false;
        }
        double v;
        if (t.getFloatValCount() == 1) {
            v = t.getFloatVal(0);
        } else if (t.getDoubleValCount() == 1) {
            v = t.getDoubleVal(0);
        } else if (t.getDtype() == DataType.DT_FLOAT && t.getTensorContent().size() == 4) {
            v = t.getTensorContent().asReadOnlyByteBuffer().order(java.nio.ByteOrder.LITTLE_ENDIAN).getFloat();
        } else {
            return false;
        }
        return Math.abs(v - value) <= TOLERANCE * Math.max(1, Math.abs(value));
    }

    static NodeDef input(Map<String, NodeDef> nodes, NodeDef n, int i) {
        return n.getInputCount() > i ? nodes.get(GraphDefs.nodeName(n.getInput(i))) : null;
    }

    /** Whether two references name output 0 of the same node ("a" and "a:0" are the same). */
    static boolean same(String a, String b) {
        return !a.startsWith("^") && !b.startsWith("^") && canonical(a).equals(canonical(b));
    }

    static String canonical(String ref) {
        return ref.endsWith(":0") ? ref.substring(0, ref.length() - 2) : ref;
    }

    /** The single data consumer of {@code n}, or null when it has none or several. */
    static NodeDef only(Map<String, List<NodeDef>> consumers, NodeDef n) {
        List<NodeDef> c = consumers.getOrDefault(n.getName(), List.of());
        return c.size() == 1 ? c.get(0) : null;
    }

    public static NodeDef floatConstant(String name, float[] values, long... shape) {
        TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
        for (long d : shape) {
            s.addDim(TensorShapeProto.Dim.newBuilder().setSize(d));
        }
        TensorProto.Builder t = TensorProto.newBuilder().setDtype(DataType.DT_FLOAT).setTensorShape(s);
        for (float v : values) {
            t.addFloatVal(v);
        }
        return NodeDef.newBuilder().setName(name).setOp("Const").putAttr("dtype", type(DataType.DT_FLOAT))
                .putAttr("value", AttrValue.newBuilder().setTensor(t).build()).build();
    }

    public static NodeDef intConstant(String name, long... values) {
        TensorProto.Builder t = TensorProto.newBuilder().setDtype(DataType.DT_INT32)
                .setTensorShape(TensorShapeProto.newBuilder().addDim(TensorShapeProto.Dim.newBuilder().setSize(values.length)));
        for (long v : values) {
            t.addIntVal(Math.toIntExact(v));
        }
        return NodeDef.newBuilder().setName(name).setOp("Const").putAttr("dtype", type(DataType.DT_INT32))
                .putAttr("value", AttrValue.newBuilder().setTensor(t).build()).build();
    }

    static NodeDef intScalar(String name, int value) {
        TensorProto t = TensorProto.newBuilder().setDtype(DataType.DT_INT32).setTensorShape(TensorShapeProto.getDefaultInstance())
                .addIntVal(value).build();
        return NodeDef.newBuilder().setName(name).setOp("Const").putAttr("dtype", type(DataType.DT_INT32))
                .putAttr("value", AttrValue.newBuilder().setTensor(t).build()).build();
    }

    static boolean readOnlyBy(Map<String, List<NodeDef>> consumers, NodeDef n, Set<String> readers) {
        return consumers.getOrDefault(n.getName(), List.of()).stream().allMatch(c -> readers.contains(c.getName()));
    }

    /** Whether {@code ref} is the first output of its node (the fused op has one output). */
    static boolean plainOutput(String ref) {
        return !ref.startsWith("^") && (ref.indexOf(':') < 0 || ref.endsWith(":0"));
    }

    public static boolean isFloat(NodeDef n, String attr) {
        return n.containsAttr(attr) && n.getAttrOrThrow(attr).getType() == DataType.DT_FLOAT;
    }

    /** Whether {@code ref} reads a rank-1 float32 variable ({@code ReadVariableOp}, possibly through Identity). */
    static boolean isVectorVariable(Map<String, NodeDef> nodes, String ref) {
        NodeDef n = nodes.get(GraphDefs.nodeName(ref));
        while (n != null && n.getOp().equals("Identity")) {
            n = nodes.get(GraphDefs.nodeName(n.getInput(0)));
        }
        if (n == null || !n.getOp().equals("ReadVariableOp")) {
            return false;
        }
        NodeDef handle = GraphDefs.variableHandle(nodes, n.getInput(0));
        return handle != null && handle.getAttrOrDefault("dtype", AttrValue.getDefaultInstance()).getType() == DataType.DT_FLOAT
                && handle.getAttrOrDefault("shape", AttrValue.getDefaultInstance()).getShape().getDimCount() == 1;
    }

    static NodeDef cast(String name, String input, DataType from, DataType to, String device) {
        return NodeDef.newBuilder().setName(name).setOp("Cast").addInput(input).setDevice(device)
                .putAttr("SrcT", type(from)).putAttr("DstT", type(to))
                .putAttr("Truncate", AttrValue.newBuilder().setB(false).build()).build();
    }

    /** Whether {@code n} casts {@code from} to {@code to}. */
    static boolean isCast(NodeDef n, DataType from, DataType to) {
        return n.getOp().equals("Cast") && n.getAttrOrThrow("SrcT").getType() == from && n.getAttrOrThrow("DstT").getType() == to;
    }

    public static AttrValue type(DataType t) {
        return AttrValue.newBuilder().setType(t).build();
    }

    /**
     * A float32 placeholder: what a probe feeds its input through, since Grappler's constant folding would otherwise
     * evaluate the probed op on constants with TensorFlow's generic kernel and log that kernel's refusal.
     */
    static NodeDef placeholder(String name) {
        return NodeDef.newBuilder().setName(name).setOp("Placeholder").putAttr("dtype", type(DataType.DT_FLOAT)).build();
    }

    /**
     * What {@code probe} says for {@code key}, asked once per process and kept in {@code cache} (which holds "" for
     * null: a concurrent map takes no nulls): null when the fused op works, else why not.
     */
    static <K> String probedOnce(java.util.Map<K, String> cache, K key, java.util.function.Supplier<String> probe) {
        String problem = cache.computeIfAbsent(key, k -> java.util.Objects.requireNonNullElse(probe.get(), ""));
        return problem.isEmpty() ? null : problem;
    }

    /**
     * Null when {@code graph} runs in a session with {@code settings} and yields {@code want}: its placeholder
     * {@code probe/x} fed one row {@code x}, each of {@code fetches} one row within 2e-2 of its {@code want}; else what
     * went wrong. A kernel that is missing or refuses the op fails the run: TensorFlow's message, first line.
     */
    static String probe(GraphDef graph, SessionSettings settings, float[] x, List<String> fetches, float[][] want) {
        try (Graph g = new Graph()) {
            g.importGraphDef(graph);
            try (Session session = new Session(g, settings.config());
                 TFloat32 fed = TFloat32.tensorOf(Shape.of(1, x.length),
                         DataBuffers.of(x, true, false))) {
                Session.Runner runner = session.runner().feed("probe/x", fed);
                fetches.forEach(runner::fetch);
                try (Result r = runner.run()) {
                    for (int f = 0; f < want.length; f++) {
                        TFloat32 got = (TFloat32) r.get(f);
                        for (int i = 0; i < want[f].length; i++) {
                            if (Math.abs(got.getFloat(0, i) - want[f][i]) > 2e-2) {
                                return fetches.get(f) + " computed " + got.getFloat(0, i) + " where " + want[f][i] + " is right";
                            }
                        }
                    }
                    return null;
                }
            }
        } catch (RuntimeException e) {
            String message = String.valueOf(e.getMessage()).strip();
            return message.contains("\n") ? message.substring(0, message.indexOf('\n')) : message;
        }
    }

    /**
     * The nodes that compute {@code output} from {@code x}: its ancestors up to, not including, x, leaving out
     * constants and variable reads (inputs of the computation, not part of it).
     */
    public static Set<String> between(Map<String, NodeDef> nodes, NodeDef output, String x) {
        String stop = GraphDefs.nodeName(x);
        Set<String> seen = new HashSet<>();
        Deque<NodeDef> todo = new ArrayDeque<>(List.of(output));
        while (!todo.isEmpty()) {
            NodeDef n = todo.pop();
            if (!seen.add(n.getName())) {
                continue;
            }
            for (String in : n.getInputList()) {
                NodeDef i = nodes.get(GraphDefs.nodeName(in));
                if (i != null && !in.startsWith("^") && !i.getName().equals(stop) && !isParameter(i)) {
                    todo.push(i);
                }
            }
        }
        return seen;
    }

    private static boolean isParameter(NodeDef n) {
        return n.getOp().equals("Const") || n.getOp().equals("ReadVariableOp") || n.getOp().equals("VarHandleOp");
    }

    /**
     * The control inputs a fused op takes over: those of the replaced output and of the nodes it removes, except edges
     * between them. The removed nodes are pure computations, so what ordered them now orders the fused op.
     */
    public static List<String> inheritedControlInputs(Map<String, NodeDef> nodes, NodeDef output, Set<String> removed) {
        LinkedHashSet<String> out = new LinkedHashSet<>();
        List<NodeDef> all = new ArrayList<>(List.of(output));
        removed.forEach(r -> all.add(nodes.get(r)));
        for (NodeDef n : all) {
            for (String in : n.getInputList()) {
                String source = in.startsWith("^") ? in.substring(1) : null;
                if (source != null && !removed.contains(source) && !source.equals(output.getName())) {
                    out.add(in);
                }
            }
        }
        return List.copyOf(out);
    }

    /**
     * Points every control edge on a removed node at the fused op that replaced it ({@code redirect}: removed node →
     * the fused output's name), without duplicates. Inlined functions end in a {@code NoOp} with a control edge on every
     * node of their body; left alone, those edges would keep the removed chains running beside the fused ops. Edges
     * from the removed nodes themselves stay as they are: a rewrite that keeps them (unread) must not make them wait
     * for their replacement.
     */
    public static void redirectControlInputs(GraphDef.Builder graph, Map<String, String> redirect) {
        for (NodeDef.Builder n : graph.getNodeBuilderList()) {
            if (redirect.containsKey(n.getName()) || n.getInputList().stream().noneMatch(i -> i.startsWith("^") && redirect.containsKey(i.substring(1)))) {
                continue;
            }
            List<String> inputs = new ArrayList<>();
            for (String in : n.getInputList()) {
                String target = in.startsWith("^") ? redirect.get(in.substring(1)) : null;
                String rewritten = target == null ? in : "^" + target;
                if (!rewritten.startsWith("^") || !inputs.contains(rewritten) && !rewritten.equals("^" + n.getName())) {
                    inputs.add(rewritten);
                }
            }
            n.clearInput().addAllInput(inputs);
        }
    }

    /**
     * {@code graph} with each node named in {@code replacements} replaced, where it stood, by the nodes given for it
     * (the last under its name), and control edges on removed nodes pointed at the replacements
     * ({@link #redirectControlInputs}).
     */
    public static GraphDef replaced(GraphDef graph, Map<String, List<NodeDef>> replacements, Map<String, String> redirect) {
        GraphDef.Builder out = graph.toBuilder().clearNode();
        for (NodeDef n : graph.getNodeList()) {
            List<NodeDef> r = replacements.get(n.getName());
            if (r == null) {
                out.addNode(n);
            } else {
                r.forEach(out::addNode);
            }
        }
        redirectControlInputs(out, redirect);
        return out.build();
    }

    /** The length of a vector read from a variable (through identities) or given as a constant; else -1. */
    static long vectorLength(Map<String, NodeDef> nodes, String ref) {
        long[] shape = staticShape(nodes, ref, Set.of("Identity"));
        return shape == null || shape.length != 1 ? -1 : shape[0];
    }

    /**
     * The static shape of a value read from a variable or given as a constant, through the ops named in
     * {@code through} (which keep the shape); null when it comes from elsewhere or its rank is unknown.
     */
    static long[] staticShape(Map<String, NodeDef> nodes, String ref, Set<String> through) {
        NodeDef n = nodes.get(GraphDefs.nodeName(ref));
        while (n != null && through.contains(n.getOp())) {
            n = nodes.get(GraphDefs.nodeName(n.getInput(0)));
        }
        TensorShapeProto shape = null;
        if (n != null && n.getOp().equals("ReadVariableOp")) {
            NodeDef handle = GraphDefs.variableHandle(nodes, n.getInput(0));
            shape = handle == null ? null : handle.getAttrOrDefault("shape", AttrValue.getDefaultInstance()).getShape();
        } else if (n != null && n.getOp().equals("Const")) {
            shape = n.getAttrOrThrow("value").getTensor().getTensorShape();
        }
        return shape == null || shape.getUnknownRank() ? null : shape.getDimList().stream().mapToLong(TensorShapeProto.Dim::getSize).toArray();
    }

    /** The values of an integer constant (int32 or int64, listed or packed); null for anything else. */
    static long[] intValues(NodeDef n) {
        if (!n.getOp().equals("Const") || !n.containsAttr("value")) {
            return null;
        }
        TensorProto t = n.getAttrOrThrow("value").getTensor();
        if (t.getDtype() == DataType.DT_INT32) {
            if (t.getIntValCount() > 0) {
                return t.getIntValList().stream().mapToLong(Integer::longValue).toArray();
            }
            java.nio.IntBuffer b = t.getTensorContent().asReadOnlyByteBuffer().order(java.nio.ByteOrder.LITTLE_ENDIAN).asIntBuffer();
            long[] v = new long[b.remaining()];
            for (int i = 0; i < v.length; i++) {
                v[i] = b.get(i);
            }
            return v;
        }
        if (t.getDtype() == DataType.DT_INT64) {
            if (t.getInt64ValCount() > 0) {
                return t.getInt64ValList().stream().mapToLong(Long::longValue).toArray();
            }
            java.nio.LongBuffer b = t.getTensorContent().asReadOnlyByteBuffer().order(java.nio.ByteOrder.LITTLE_ENDIAN).asLongBuffer();
            long[] v = new long[b.remaining()];
            b.get(v);
            return v;
        }
        return null;
    }
}
