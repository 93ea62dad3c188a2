package dev.finetune.engine.training;

import dev.finetune.engine.model.NativeGraphs;
import dev.finetune.runtime.model.GraphDefs;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.types.TFloat32;

/**
 * One replica of the training step per device, in the one graph: each a copy of everything the training loss and its
 * count depend on (encoder, pooling, head, loss) with its own input placeholders, plus that copy's gradients and what
 * it sends to {@link GlobalBatch#combine} ({@link GlobalBatch#contribution}). Every copy reads the graph's own
 * variables, not copies of them: one set of weights, one optimizer update per step.
 *
 * <p>How: the loss's ancestors are imported into a scratch graph, whose gradients are taken there (TensorFlow's
 * gradient builder places nothing, so gradients added to the real graph would all land on the default device); the
 * scratch graph then goes into the real graph once per replica, under {@code finetune_replica_K/}, every node pinned
 * to the replica's device, and its variables wired to the real graph's ({@link NativeGraphs#importMapped}). The ops
 * that take a variable itself (reads) are left unpinned: TensorFlow runs them beside the variable and sends the value
 * to the replica's device. The original forward path stays as it was, unpinned, for evaluation and export: the
 * exported model has one replica and no device in it.
 */
final class Replicas {
    /** Op types that are a variable: shared by every replica, never copied. */
    private static final Set<String> VARIABLES = Set.of("VarHandleOp", "VariableV2", "Variable");
    static final String SCOPE = "finetune_replica_";
    private static final String WEIGHT = "replica_weight";

    /**
     * One replica: its copy of each input placeholder (by the original's name; absent when the loss does not read it),
     * the weight it is fed (1, or 0 for a stand-in without rows), and the vector it sends.
     */
    record Replica(String device, Map<String, Output<?>> inputs, Output<TFloat32> weight, Operand<TFloat32> sent) {
        /** This replica's copy of {@code original}, a placeholder of the original path; null when it has none. */
        Output<?> input(Output<?> original) {
            return original == null ? null : inputs.get(original.op().name());
        }
    }

    private Replicas() {
    }

    /**
     * The replicas of the step whose loss is {@code loss} (the mean over {@code count} things), whose gradients are
     * taken with respect to {@code reads} (per trained variable, every read of it, summed), one on each of
     * {@code devices}.
     */
    @SuppressWarnings("unchecked")
    static List<Replica> build(Graph graph, Output<TFloat32> loss, Output<TFloat32> count, List<List<Output<?>>> reads,
                               List<String> devices) {
        GraphDef forward = withoutColocation(GraphDefs.prune(graph.toGraphDef(), List.of(loss.op().name(), count.op().name())));
        GraphDef template;
        String sentName;
        List<String> placeholders = new ArrayList<>();
        try (Graph scratch = new Graph()) {
            scratch.importGraphDef(forward);
            Ops tf = Ops.create(scratch);
            List<List<Output<?>>> copies = new ArrayList<>();
            for (List<Output<?>> r : reads) {
                copies.add(r.stream().<Output<?>>map(o -> same(scratch, o)).toList());
            }
            List<Operand<TFloat32>> grads = ClassifierGraph.gradients(scratch, tf, (Output<TFloat32>) same(scratch, loss), copies);
            Placeholder<TFloat32> weight = tf.withName(WEIGHT).placeholder(TFloat32.class, Placeholder.shape(Shape.scalar()));
            Operand<TFloat32> sent = GlobalBatch.contribution(tf.withSubScope("replica"), grads, (Output<TFloat32>) same(scratch, loss),
                    tf.math.mul((Output<TFloat32>) same(scratch, count), weight));
            sentName = sent.op().name();
            template = scratch.toGraphDef();
        }
        Set<String> shared = new HashSet<>();
        for (NodeDef n : template.getNodeList()) {
            if (VARIABLES.contains(n.getOp())) {
                shared.add(n.getName());
            } else if (n.getOp().equals("Placeholder")) {
                placeholders.add(n.getName());
            }
        }
        Map<String, String> wiring = new LinkedHashMap<>();
        shared.forEach(name -> wiring.put(name + ":0", name + ":0"));
        List<Replica> out = new ArrayList<>();
        for (int k = 0; k < devices.size(); k++) {
            String prefix = SCOPE + k;
            NativeGraphs.importMapped(graph, forReplica(template, shared, devices.get(k), k), prefix, wiring);
            Map<String, Output<?>> inputs = new LinkedHashMap<>();
            for (String p : placeholders) {
                if (!p.equals(WEIGHT)) {
                    inputs.put(p, graph.operationOrThrow(prefix + "/" + p).output(0));
                }
            }
            Output<TFloat32> weight = (Output<TFloat32>) (Output<?>) graph.operationOrThrow(prefix + "/" + WEIGHT).output(0);
            Operand<TFloat32> sent = (Output<TFloat32>) (Output<?>) graph.operationOrThrow(prefix + "/" + sentName).output(0);
            out.add(new Replica(devices.get(k), inputs, weight, sent));
        }
        return out;
    }

    private static Output<?> same(Graph scratch, Output<?> original) {
        return scratch.operationOrThrow(original.op().name()).output(original.index());
    }

    /**
     * {@code template} for replica {@code index}: without the shared variables, every node on {@code device} but those
     * that take a variable (directly or through an {@code Identity} of it), and seeded stateful random ops drawing
     * their own stream, since identical seeds would give every replica the same numbers. The plugin's own dropout has
     * none (its masks are keyed by each replica's draw number, {@link ClassifierHead}); a model's graph may.
     */
    static GraphDef forReplica(GraphDef template, Set<String> shared, String device, int index) {
        Set<String> variableLike = new HashSet<>(shared);
        boolean grew = true;
        while (grew) {
            grew = false;
            for (NodeDef n : template.getNodeList()) {
                if (n.getOp().equals("Identity") && !variableLike.contains(n.getName())
                        && variableLike.contains(GraphDefs.nodeName(n.getInput(0)))) {
                    grew |= variableLike.add(n.getName());
                }
            }
        }
        GraphDef.Builder b = template.toBuilder().clearNode();
        for (NodeDef n : template.getNodeList()) {
            if (shared.contains(n.getName())) {
                continue;
            }
            boolean readsVariable = n.getInputList().stream()
                    .anyMatch(in -> !in.startsWith("^") && variableLike.contains(GraphDefs.nodeName(in)));
            NodeDef.Builder copy = n.toBuilder().setDevice(readsVariable ? "" : device);
            AttrValue seed = n.getAttrOrDefault("seed", null);
            AttrValue seed2 = n.getAttrOrDefault("seed2", null);
            // Seeds 0 and 0 mean "draw at random" already; any other pair is a fixed stream, moved apart per replica.
            if (seed != null && seed2 != null && (seed.getI() != 0 || seed2.getI() != 0)) {
                copy.putAttr("seed2", AttrValue.newBuilder().setI(seed2.getI() + 7919L * index).build());
            }
            b.addNode(copy);
        }
        return b.build();
    }

    /** {@code def} without colocation attributes, which may name nodes a pruned or partial copy does not have. */
    private static GraphDef withoutColocation(GraphDef def) {
        GraphDef.Builder b = def.toBuilder().clearNode();
        def.getNodeList().forEach(n -> b.addNode(n.toBuilder().removeAttr("_class")));
        return b.build();
    }
}
