package dev.finetune.runtime.model;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;

/**
 * Serving in bfloat16 with each stretch of float32 ops that leads from a bfloat16 value to a bfloat16 op written out in
 * bfloat16, so that the value is never cast to float32 and back on the way.
 *
 * <p>Why: the fused dense layers ({@link DenseLayer#fused}) compute in bfloat16, hand their result on through a cast to
 * float32 and read their input through a cast to bfloat16. Between them, attention's ops (reshapes, transposes, the two
 * batched products, the scaling, the mask and the softmax) stay float32 in the graph, and TensorFlow's auto mixed
 * precision paints them bfloat16 when the session runs. It keeps the projections' casts inside what it paints, but
 * takes the output layer's cast to bfloat16 for a float32 reader, so it casts the context to float32 just before that
 * cast, in every layer. In BERT-base serving 32 reviews of 64 tokens, that pair was 3 % of the op time
 * ({@code src/tools/profile-serving.sh}). Written out in bfloat16 here, the stretch computes what mixed precision
 * computed (the same probabilities to the last bit on the benchmark's 1,000 reviews), without the pair. Keras' dense
 * layers over a sequence have a stretch of their own: the identity, transpose and reshape ({@code Tensordot}) between a
 * GELU's fused layer and the next.
 *
 * <p>A stretch: float32 ops of {@link #EXACT}, {@link #PRODUCTS} and {@link #ARITHMETIC} on a path from a cast of a
 * bfloat16 value to float32 (a fused layer's output) to a cast of float32 to bfloat16 (a fused layer's input), the
 * arithmetic only between two products, where mixed precision runs it in bfloat16 too: a residual add and a layer norm
 * written out between two fused layers (a norm left unfused) stay float32, as they did. Each op keeps its name as a
 * cast of its bfloat16 result to float32, so that anything else reading it reads what it read before (shape queries
 * read the bfloat16 value: same shape, no cast); other float32 operands (the mask, the scale) are cast to bfloat16.
 * Only for graphs served in bfloat16: in float32 there are no such casts. Every op of the three sets has one output.
 */
public final class Bfloat16Stretches {
    /** Suffix of a stretch op's name in bfloat16 (its own name stays with the cast back to float32). */
    static final String SUFFIX = "/finetune_bfloat16";

    /** Ops that move values without computing: exact in any type. The first input is the value; the others a shape, axes. */
    private static final Set<String> EXACT = Set.of("Identity", "Reshape", "Transpose", "ExpandDims", "Squeeze");

    /** Mixed precision's always-bfloat16 ops among attention's. */
    private static final Set<String> PRODUCTS = Set.of("BatchMatMulV2");

    /** Ops mixed precision runs in bfloat16 when they lie between two of its always-bfloat16 ops. */
    private static final Set<String> ARITHMETIC = Set.of("Mul", "RealDiv", "Add", "AddV2", "Softmax");

    /** Readers of a value's shape alone, which read it in either type. */
    private static final Set<String> SHAPE_QUERIES = Set.of("Shape", "Size", "Rank");

    /** The rewritten graph, how many casts to bfloat16 now read a stretch, and how many ops the stretches hold. */
    public record Rewrite(GraphDef graph, int stretches, int ops) {
    }

    /** A stretch's ops and the casts to bfloat16 that read them. */
    private record Found(Set<String> ops, List<NodeDef> sinks) {
    }

    private Bfloat16Stretches() {
    }

    public static Rewrite of(GraphDef graph) {
        Map<String, NodeDef> nodes = GraphDefs.byName(graph);
        Map<String, List<NodeDef>> consumers = GraphDefs.consumers(graph);
        // Arithmetic outside two products leaves the stretches, which may then end elsewhere: again until none does.
        Set<String> excluded = new HashSet<>();
        Found found = find(graph, nodes, consumers, excluded);
        for (Set<String> loose = loose(found.ops(), nodes, consumers); !loose.isEmpty(); loose = loose(found.ops(), nodes, consumers)) {
            excluded.addAll(loose);
            found = find(graph, nodes, consumers, excluded);
        }
        if (found.sinks().isEmpty()) {
            return new Rewrite(graph, 0, 0);
        }
        Set<String> stretch = found.ops();
        Map<String, List<NodeDef>> replacements = new HashMap<>();
        for (String name : stretch) {
            NodeDef n = nodes.get(name);
            List<NodeDef> out = new ArrayList<>();
            NodeDef.Builder b = n.toBuilder().setName(name + SUFFIX).putAttr("T", Nodes.type(DataType.DT_BFLOAT16));
            int typed = typedInputs(n).size();
            for (int i = 0; i < typed; i++) {
                String ref = n.getInput(i);
                NodeDef from = nodes.get(GraphDefs.nodeName(ref));
                if (stretch.contains(from.getName())) {
                    b.setInput(i, from.getName() + SUFFIX);
                } else if (Nodes.isCast(from, DataType.DT_BFLOAT16, DataType.DT_FLOAT) && Nodes.plainOutput(ref)) {
                    // The bfloat16 value itself, waiting for what its cast waited for.
                    b.setInput(i, from.getInput(0));
                    from.getInputList().stream().filter(c -> c.startsWith("^") && !b.getInputList().contains(c)).forEach(b::addInput);
                } else {
                    // Another float32 operand (attention's mask, a scale). One cast per reader: Grappler merges the
                    // mask's twelve in BERT-base into one, and folds a constant's.
                    String cast = name + SUFFIX + "/input_" + i;
                    out.add(Nodes.cast(cast, ref, DataType.DT_FLOAT, DataType.DT_BFLOAT16, n.getDevice()));
                    b.setInput(i, cast);
                }
            }
            out.add(b.build());
            out.add(Nodes.cast(name, name + SUFFIX, DataType.DT_BFLOAT16, DataType.DT_FLOAT, n.getDevice()));
            replacements.put(name, out);
            for (NodeDef reader : consumers.getOrDefault(name, List.of())) {
                if (SHAPE_QUERIES.contains(reader.getOp()) && reader.getInputCount() > 0 && Nodes.plainOutput(reader.getInput(0))
                        && GraphDefs.nodeName(reader.getInput(0)).equals(name)) {
                    replacements.put(reader.getName(), List.of(reader.toBuilder().setInput(0, name + SUFFIX)
                            .putAttr("T", Nodes.type(DataType.DT_BFLOAT16)).build()));
                }
            }
        }
        for (NodeDef sink : found.sinks()) {
            NodeDef.Builder read = NodeDef.newBuilder().setName(sink.getName()).setOp("Identity").setDevice(sink.getDevice())
                    .addInput(GraphDefs.nodeName(sink.getInput(0)) + SUFFIX).putAttr("T", Nodes.type(DataType.DT_BFLOAT16));
            sink.getInputList().stream().filter(i -> i.startsWith("^")).forEach(read::addInput);
            replacements.put(sink.getName(), List.of(read.build()));
        }
        return new Rewrite(Nodes.replaced(graph, replacements, Map.of()), found.sinks().size(), stretch.size());
    }

    /**
     * The ops on a path from a cast of bfloat16 to float32 to a cast of float32 to bfloat16 through float32 ops of the
     * three sets, none {@code excluded}; and those casts to bfloat16.
     */
    private static Found find(GraphDef graph, Map<String, NodeDef> nodes, Map<String, List<NodeDef>> consumers, Set<String> excluded) {
        Set<String> fromBfloat16 = new HashSet<>();
        Deque<NodeDef> todo = new ArrayDeque<>();
        graph.getNodeList().stream().filter(n -> Nodes.isCast(n, DataType.DT_BFLOAT16, DataType.DT_FLOAT)).forEach(todo::add);
        while (!todo.isEmpty()) {
            NodeDef n = todo.pop();
            for (NodeDef c : consumers.getOrDefault(n.getName(), List.of())) {
                if (candidate(c) && !excluded.contains(c.getName()) && reads(c, n.getName()) && fromBfloat16.add(c.getName())) {
                    todo.add(c);
                }
            }
        }
        Set<String> stretch = new HashSet<>();
        List<NodeDef> sinks = new ArrayList<>();
        for (NodeDef n : graph.getNodeList()) {
            if (Nodes.isCast(n, DataType.DT_FLOAT, DataType.DT_BFLOAT16) && fromBfloat16.contains(GraphDefs.nodeName(n.getInput(0)))
                    && Nodes.plainOutput(n.getInput(0))) {
                sinks.add(n);
                todo.add(nodes.get(GraphDefs.nodeName(n.getInput(0))));
            }
        }
        while (!todo.isEmpty()) {
            NodeDef n = todo.pop();
            if (fromBfloat16.contains(n.getName()) && stretch.add(n.getName())) {
                typedInputs(n).stream().map(i -> nodes.get(GraphDefs.nodeName(i))).filter(Objects::nonNull).forEach(todo::add);
            }
        }
        return new Found(stretch, sinks);
    }

    /** The arithmetic ops of {@code stretch} that no product of it precedes, or none follows. */
    private static Set<String> loose(Set<String> stretch, Map<String, NodeDef> nodes, Map<String, List<NodeDef>> consumers) {
        Set<String> afterProduct = new HashSet<>();
        Set<String> beforeProduct = new HashSet<>();
        Deque<String> down = new ArrayDeque<>();
        Deque<String> up = new ArrayDeque<>();
        stretch.stream().filter(n -> PRODUCTS.contains(nodes.get(n).getOp())).forEach(n -> {
            down.add(n);
            up.add(n);
        });
        while (!down.isEmpty()) {
            String n = down.pop();
            consumers.getOrDefault(n, List.of()).stream().map(NodeDef::getName)
                    .filter(c -> stretch.contains(c) && reads(nodes.get(c), n) && afterProduct.add(c)).forEach(down::add);
        }
        while (!up.isEmpty()) {
            typedInputs(nodes.get(up.pop())).stream().map(GraphDefs::nodeName)
                    .filter(i -> stretch.contains(i) && beforeProduct.add(i)).forEach(up::add);
        }
        Set<String> loose = new HashSet<>();
        for (String n : stretch) {
            if (ARITHMETIC.contains(nodes.get(n).getOp()) && !(afterProduct.contains(n) && beforeProduct.contains(n))) {
                loose.add(n);
            }
        }
        return loose;
    }

    private static boolean candidate(NodeDef n) {
        String op = n.getOp();
        return (EXACT.contains(op) || PRODUCTS.contains(op) || ARITHMETIC.contains(op)) && Nodes.isFloat(n, "T");
    }

    /** Whether {@code n} reads node {@code name} as one of its typed inputs. */
    private static boolean reads(NodeDef n, String name) {
        return typedInputs(n).stream().anyMatch(i -> GraphDefs.nodeName(i).equals(name));
    }

    /** The data inputs of {@code n} of its type {@code T}: the first of an exact op, all of the others. */
    private static List<String> typedInputs(NodeDef n) {
        List<String> data = n.getInputList().stream().filter(i -> !i.startsWith("^")).toList();
        return EXACT.contains(n.getOp()) ? data.subList(0, Math.min(1, data.size())) : data;
    }
}
