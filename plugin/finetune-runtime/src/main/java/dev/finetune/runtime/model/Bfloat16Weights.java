package dev.finetune.runtime.model;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.SaverDef;

/**
 * Serving in bfloat16 with the weights of the matrix products stored in bfloat16, cast once while they are restored.
 *
 * <p>Why: TensorFlow's oneDNN auto mixed precision keeps every variable in float32 and casts each weight a matmul reads
 * to bfloat16 on every run. For BERT-base that is 85 M parameters read, converted and written per request, which costs
 * more than the products themselves when a batch holds one or a few rows (measured with Python TensorFlow 2.21 on the
 * same graph, 2 cores: one row 130 ms with the casts, 59 ms with weights already in bfloat16; eight rows 437 against 264
 * ms). Here each such variable holds bfloat16 and each read is followed by a cast back to float32; the mixed-precision
 * rewrite, which puts a cast to bfloat16 in front of the matmul, then drops the pair, so the matmul reads the stored
 * weights as they are. The numbers are those of the per-run casts (both round to nearest even) at half the weight
 * memory.
 *
 * <p>Only graphs in the shape {@code finetune:train} exports are rewritten: resource variables, each read by
 * {@code ReadVariableOp} and restored by an {@code AssignVariableOp}. A variable converts when every read that the
 * serving outputs need feeds nothing but matrix products; embeddings (gathers), layer norms and biases stay float32,
 * as the mixed-precision rewrite would keep them. The graph keeps only what serving and restoring need.
 */
public final class Bfloat16Weights {
    /** The ops the mixed-precision rewrite always runs in bfloat16, so a bfloat16 weight never needs a cast back. */
    private static final Set<String> MATMULS = Set.of("MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3");

    /** The rewritten graph and the variables now held in bfloat16. */
    public record Rewrite(GraphDef graph, List<String> variables) {
    }

    private Bfloat16Weights() {
    }

    /**
     * Rewrites {@code graph} for serving {@code outputs} (and feeding {@code inputs}) with its matmul weights in bfloat16;
     * the saver's restore op then fills them from a float32 checkpoint. Returns null when no variable qualifies, in which
     * case the model is best loaded as it is.
     */
    public static Rewrite of(GraphDef graph, SaverDef saver, Collection<String> inputs, Collection<String> outputs) {
        List<String> servingRoots = new ArrayList<>();
        outputs.forEach(t -> servingRoots.add(GraphDefs.nodeName(t)));
        Set<String> serving = GraphDefs.ancestors(graph, servingRoots);
        List<String> roots = new ArrayList<>(servingRoots);
        inputs.forEach(t -> roots.add(GraphDefs.nodeName(t)));
        roots.add(GraphDefs.nodeName(saver.getRestoreOpName()));
        GraphDef kept = GraphDefs.prune(graph, roots);

        Map<String, List<NodeDef>> consumers = GraphDefs.consumers(kept);
        Set<String> converted = new LinkedHashSet<>();
        for (NodeDef n : kept.getNodeList()) {
            if (n.getOp().equals("VarHandleOp") && n.getAttrOrThrow("dtype").getType() == DataType.DT_FLOAT
                    && qualifies(n, consumers, serving)) {
                converted.add(n.getName());
            }
        }
        if (converted.isEmpty()) {
            return null;
        }
        GraphDef.Builder out = kept.toBuilder().clearNode();
        Map<String, String> renamed = new HashMap<>();
        List<NodeDef> casts = new ArrayList<>();
        for (NodeDef n : kept.getNodeList()) {
            NodeDef.Builder b = n.toBuilder();
            boolean onConverted = n.getInputCount() > 0 && converted.contains(GraphDefs.nodeName(n.getInput(0)));
            if (converted.contains(n.getName())) {
                b.putAttr("dtype", Nodes.type(DataType.DT_BFLOAT16));
            } else if (onConverted && n.getOp().equals("ReadVariableOp")) {
                b.putAttr("dtype", Nodes.type(DataType.DT_BFLOAT16));
                String cast = n.getName() + "/as_float32";
                casts.add(Nodes.cast(cast, n.getName(), DataType.DT_BFLOAT16, DataType.DT_FLOAT, n.getDevice()));
                renamed.put(n.getName(), cast);
            } else if (onConverted && n.getOp().equals("AssignVariableOp")) {
                b.putAttr("dtype", Nodes.type(DataType.DT_BFLOAT16));
                String cast = n.getName() + "/as_bfloat16";
                casts.add(Nodes.cast(cast, n.getInput(1), DataType.DT_FLOAT, DataType.DT_BFLOAT16, n.getDevice()));
                b.setInput(1, cast);
            }
            out.addNode(b);
        }
        // Consumers of a converted read take its float32 cast instead.
        for (NodeDef.Builder b : out.getNodeBuilderList()) {
            for (int i = 0; i < b.getInputCount(); i++) {
                String in = b.getInput(i);
                String target = renamed.get(in.endsWith(":0") ? in.substring(0, in.length() - 2) : in);
                if (target != null) {
                    b.setInput(i, target);
                }
            }
        }
        casts.forEach(out::addNode);
        return new Rewrite(out.build(), List.copyOf(converted));
    }

    /**
     * Whether {@code handle}'s variable can be held in bfloat16: only read and assigned; read at least once for serving,
     * and every serving read feeds matrix products alone; restored by an assignment.
     */
    private static boolean qualifies(NodeDef handle, Map<String, List<NodeDef>> consumers, Set<String> serving) {
        boolean servingRead = false;
        boolean assigned = false;
        for (NodeDef user : consumers.getOrDefault(handle.getName(), List.of())) {
            switch (user.getOp()) {
                case "ReadVariableOp" -> {
                    if (!serving.contains(user.getName())) {
                        return false;
                    }
                    List<NodeDef> readers = consumers.getOrDefault(user.getName(), List.of());
                    if (readers.isEmpty() || !readers.stream().allMatch(r -> MATMULS.contains(r.getOp()))) {
                        return false;
                    }
                    servingRead = true;
                }
                case "AssignVariableOp" -> {
                    if (!GraphDefs.nodeName(user.getInput(0)).equals(handle.getName())) {
                        return false;
                    }
                    assigned = true;
                }
                default -> {
                    return false;
                }
            }
        }
        return servingRead && assigned;
    }
}
