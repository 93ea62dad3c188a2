package dev.finetune.runtime.model;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.TensorFlow;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.FunctionDefLibrary;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.OpDef;

/**
 * Replaces every function call of a TF2 SavedModel graph ({@code StatefulPartitionedCall},
 * {@code PartitionedCall}, or a node whose op is a library function) by the function's body.
 *
 * <p>Why: the C++ gradient of a call goes through {@code SymbolicGradient}, which fails on the resource
 * handles of the variables ("No attr named 'dtype'"). Once inlined, every op sits in one graph and
 * {@code Graph.addGradients} reaches the variable reads like in a TF1 graph.
 *
 * <p>Each inlined node is named {@code <call>/<node>}; the call node itself stays as a {@code NoOp} that
 * depends on the whole body, so that control edges to it (and running it as a target, as a saver's
 * restore op does) keep their meaning. References to the call's outputs are rewritten; {@link #resolve}
 * maps an original tensor name (from a signature, say) to its name in the inlined graph.
 */
public final class FunctionInliner {
    private static final int MAX_ROUNDS = 64;

    private final Map<String, FunctionDef> functions = new HashMap<>();
    private final Map<String, OpDef> registeredOps = new HashMap<>();
    /** "call:i" (or "call" for output 0) of every inlined call, to what now produces it. */
    private final Map<String, String> renamed = new HashMap<>();
    /** The names of the inlined calls: each call's body nodes are named "call/...". */
    private final java.util.Set<String> calls = new java.util.HashSet<>();

    private FunctionInliner(FunctionDefLibrary library) {
        for (FunctionDef f : library.getFunctionList()) {
            functions.put(f.getSignature().getName(), f);
        }
        for (OpDef op : TensorFlow.registeredOpList().getOpList()) {
            registeredOps.put(op.getName(), op);
        }
    }

    /** Inlines all calls of {@code graph}; the result has an empty function library unless a node still needs one. */
    public static Result inline(GraphDef graph) {
        FunctionInliner inliner = new FunctionInliner(graph.getLibrary());
        List<NodeDef> nodes = graph.getNodeList();
        int rounds = 0;
        while (inliner.hasCalls(nodes)) {
            if (++rounds > MAX_ROUNDS) {
                throw new ModelException("The model's functions call each other more than " + MAX_ROUNDS
                        + " levels deep (recursion?); they cannot be inlined for training.");
            }
            nodes = inliner.inlineOnce(nodes);
        }
        boolean needsLibrary = nodes.stream().anyMatch(FunctionInliner::refersToFunction);
        GraphDef.Builder out = graph.toBuilder().clearNode().addAllNode(nodes);
        if (!needsLibrary) {
            out.clearLibrary();
        }
        return new Result(out.build(), rounds, inliner);
    }

    /** The inlined graph and the renaming of the calls' outputs. */
    public static final class Result {
        private final GraphDef graph;
        private final int rounds;
        private final FunctionInliner inliner;

        private Result(GraphDef graph, int rounds, FunctionInliner inliner) {
            this.graph = graph;
            this.rounds = rounds;
            this.inliner = inliner;
        }

        public GraphDef graph() {
            return graph;
        }

        /** How many nesting levels were inlined (0 for a TF1 graph). */
        public int rounds() {
            return rounds;
        }

        /** The names of the calls that were inlined; the nodes of each call's body are named {@code <call>/...}. */
        public java.util.Set<String> calls() {
            return inliner.calls;
        }

        /** The name, in the inlined graph, of tensor {@code name} ("node:index" or "node") of the original graph. */
        public String resolve(String name) {
            return inliner.resolve(name);
        }
    }

    private String resolve(String tensor) {
        String t = canonical(tensor);
        for (int i = 0; i < MAX_ROUNDS * 4 && renamed.containsKey(t); i++) {
            t = canonical(renamed.get(t));
        }
        return t;
    }

    private static String canonical(String tensor) {
        return tensor.contains(":") ? tensor : tensor + ":0";
    }

    private boolean hasCalls(List<NodeDef> nodes) {
        return nodes.stream().anyMatch(n -> calledFunction(n) != null);
    }

    private FunctionDef calledFunction(NodeDef node) {
        if (node.getOp().equals("StatefulPartitionedCall") || node.getOp().equals("PartitionedCall")) {
            String name = node.getAttrOrThrow("f").getFunc().getName();
            FunctionDef f = functions.get(name);
            if (f == null) {
                throw new ModelException("Node '" + node.getName() + "' calls function '" + name
                        + "', which is not in the model's function library.");
            }
            return f;
        }
        return functions.get(node.getOp());
    }

    private static boolean refersToFunction(NodeDef node) {
        return node.getAttrMap().values().stream().anyMatch(a -> a.hasFunc()
                || (a.hasList() && a.getList().getFuncCount() > 0));
    }

    private List<NodeDef> inlineOnce(List<NodeDef> nodes) {
        List<NodeDef> out = new ArrayList<>(nodes.size() * 2);
        Map<String, String> roundRenames = new HashMap<>();
        for (NodeDef node : nodes) {
            FunctionDef f = calledFunction(node);
            if (f == null) {
                out.add(node);
            } else {
                expand(node, f, out, roundRenames);
            }
        }
        renamed.putAll(roundRenames);
        List<NodeDef> rewired = new ArrayList<>(out.size());
        for (NodeDef node : out) {
            NodeDef.Builder b = node.toBuilder().clearInput();
            for (String input : node.getInputList()) {
                b.addInput(rewire(input, roundRenames));
            }
            rewired.add(b.build());
        }
        return rewired;
    }

    private static String rewire(String input, Map<String, String> renames) {
        if (input.startsWith("^")) {
            return input;
        }
        String target = renames.get(canonical(input));
        return target == null ? input : target;
    }

    /** Appends the body of {@code f} for the call {@code call}, and a NoOp in the call's place. */
    private void expand(NodeDef call, FunctionDef f, List<NodeDef> out, Map<String, String> renames) {
        String prefix = call.getName() + "/";
        calls.add(call.getName());
        OpDef signature = f.getSignature();
        List<String> dataInputs = new ArrayList<>();
        List<String> controlInputs = new ArrayList<>();
        for (String in : call.getInputList()) {
            (in.startsWith("^") ? controlInputs : dataInputs).add(in);
        }
        if (dataInputs.size() != signature.getInputArgCount()) {
            throw new ModelException("Call '" + call.getName() + "' passes " + dataInputs.size()
                    + " inputs to function '" + signature.getName() + "', which takes " + signature.getInputArgCount() + ".");
        }
        Map<String, String> args = new HashMap<>();
        for (int i = 0; i < signature.getInputArgCount(); i++) {
            args.put(signature.getInputArg(i).getName(), dataInputs.get(i));
        }
        Map<String, NodeDef> body = new LinkedHashMap<>();
        for (NodeDef n : f.getNodeDefList()) {
            body.put(n.getName(), n);
        }
        NodeDef.Builder noOp = NodeDef.newBuilder().setName(call.getName()).setOp("NoOp");
        for (NodeDef n : f.getNodeDefList()) {
            // Colocation hints (_class) are dropped for the whole graph later, by GraphDefs.dropColocation.
            NodeDef.Builder b = n.toBuilder().setName(prefix + n.getName()).clearInput().setDevice("");
            for (Map.Entry<String, AttrValue> a : n.getAttrMap().entrySet()) {
                if (!a.getValue().getPlaceholder().isEmpty()) {
                    throw new ModelException("Function '" + signature.getName() + "' is polymorphic (attribute '"
                            + a.getKey() + "' of node '" + n.getName() + "' is a placeholder); only concrete functions "
                            + "of a SavedModel can be inlined.");
                }
            }
            for (String in : n.getInputList()) {
                b.addInput(bodyInput(in, prefix, args, body, signature));
            }
            b.addAllInput(controlInputs);
            out.add(b.build());
            noOp.addInput("^" + prefix + n.getName());
        }
        out.add(noOp.addAllInput(controlInputs).build());
        for (int i = 0; i < signature.getOutputArgCount(); i++) {
            String ret = f.getRetOrThrow(signature.getOutputArg(i).getName());
            String target = bodyInput(ret, prefix, args, body, signature);
            renames.put(call.getName() + ":" + i, target);
        }
    }

    private String bodyInput(String ref, String prefix, Map<String, String> args, Map<String, NodeDef> body, OpDef signature) {
        if (ref.startsWith("^")) {
            String name = ref.substring(1);
            if (args.containsKey(name)) {
                String arg = args.get(name);
                return "^" + (arg.contains(":") ? arg.substring(0, arg.indexOf(':')) : arg);
            }
            return "^" + prefix + name;
        }
        String[] parts = ref.split(":");
        if (parts.length == 1 && args.containsKey(parts[0])) {
            return args.get(parts[0]);
        }
        if (parts.length == 3) {
            NodeDef producer = body.get(parts[0]);
            if (producer == null) {
                throw new ModelException("Function '" + signature.getName() + "' refers to unknown node '" + parts[0] + "'.");
            }
            int index = outputOffset(producer, parts[1]) + Integer.parseInt(parts[2]);
            return prefix + parts[0] + ":" + index;
        }
        if (parts.length == 1 && body.containsKey(parts[0])) {
            return prefix + parts[0];
        }
        throw new ModelException("Function '" + signature.getName() + "' has an input reference '" + ref
                + "' that is neither an argument nor node:output:index.");
    }

    /** Flat index of the first tensor of output argument {@code argName} of {@code node}. */
    private int outputOffset(NodeDef node, String argName) {
        FunctionDef called = functions.get(node.getOp());
        OpDef op = called != null ? called.getSignature() : registeredOps.get(node.getOp());
        if (op == null) {
            throw new ModelException("Op type '" + node.getOp() + "' of node '" + node.getName()
                    + "' is not registered in this TensorFlow (" + TensorFlow.version() + ").");
        }
        int offset = 0;
        for (OpDef.ArgDef arg : op.getOutputArgList()) {
            if (arg.getName().equals(argName)) {
                return offset;
            }
            offset += listLength(node, arg);
        }
        throw new ModelException("Op '" + node.getOp() + "' has no output named '" + argName + "' (node '" + node.getName() + "').");
    }

    private static int listLength(NodeDef node, OpDef.ArgDef arg) {
        if (!arg.getNumberAttr().isEmpty()) {
            return (int) node.getAttrOrThrow(arg.getNumberAttr()).getI();
        }
        if (!arg.getTypeListAttr().isEmpty()) {
            return node.getAttrOrThrow(arg.getTypeListAttr()).getList().getTypeCount();
        }
        return 1;
    }
}
