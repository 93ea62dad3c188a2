package dev.finetune.engine.training;

import dev.finetune.engine.model.TrainingKernels;
import dev.finetune.runtime.model.GraphDefs;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.IntPredicate;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Operation;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.TensorShapeProto;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TFloat32;

/**
 * bfloat16 copies of the weight matrices, for training in bfloat16 mixed precision on the CPU with this plugin's kernels
 * ({@link TrainingKernels#ADAM}).
 *
 * <p>Why: mixed precision multiplies in bfloat16, so TensorFlow casts every float32 weight matrix to bfloat16 in each
 * step's forward pass, and each weight gradient, which the product leaves in bfloat16, back to float32 for Adam; clipping
 * then multiplies the gradient in a pass of its own. On BERT-base at 16 × 14 tokens those three passes over the 85 M
 * matrix weights were a quarter of a step's op time, as much as Adam itself. Here each matrix the encoder only
 * multiplies by gets a bfloat16 variable beside it, which the products read (the encoder's read of the weight becomes
 * a cast of the copy to float32, which mixed precision folds into the product), and {@code FinetuneAdam} updates weight,
 * moments and copy in one pass from the bfloat16 gradient, clipping and AdamW's decay included. The values are those of the casts it
 * replaces: the copy is the float32 weight rounded to nearest even, as TensorFlow's cast rounds it, and the gradient is
 * the product's bfloat16 result either way.
 *
 * <p>The float32 variables stay the model: checkpoints, exports and everything outside a step read them. What changes
 * a weight outside a step (loading the pretrained model, a checkpoint or the best weights) runs {@link #refresh} after
 * it ({@link ClassifierSession}); these matrices decay inside their update, not in {@link WeightDecay}. The export reads
 * the float32 weights again ({@link #undo}).
 */
final class WeightCopies {
    static final String COPY = "/finetune_bf16_copy";
    static final String COPY_READ = "/finetune_bf16_copy_read";
    /** Where {@link #refresh} builds its ops. */
    static final String REFRESH_SCOPE = "finetune_bf16_copies";
    /** The encoder's own read of the weight, kept unread for {@link #undo}. */
    static final String FLOAT_READ = "/finetune_f32_read";
    /**
     * Threads of each kernel run: one. The 74 updates of BERT-base are ready at once and TensorFlow runs them side by
     * side on its inter-op threads, and the norms run while products still run (16 × 14 tokens, ProfileStep: a step
     * 0.284 / 0.291 s on one thread, 0.310 / 0.310 s on two).
     */
    private static final int KERNEL_THREADS = 1;

    /** Ops that multiply by a weight matrix: mixed precision runs them in bfloat16. */
    private static final Set<String> PRODUCTS = Set.of("MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Einsum");

    /** The variable's bfloat16 copy: its handle op's name in the imported graph. */
    record Copy(int variable, String handleOp) {
    }

    private WeightCopies() {
    }

    /**
     * The variables (indexes into {@code variables}) that get a copy: weights of rank 2 or more that train
     * ({@code trains}) and whose every read feeds products only (which leaves embedding tables out).
     */
    static List<Integer> choose(GraphDef graph, List<EncoderVariable> variables, IntPredicate trains) {
        Map<String, List<NodeDef>> consumers = GraphDefs.consumers(graph);
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < variables.size(); i++) {
            EncoderVariable v = variables.get(i);
            // Matrices, and the 3-D kernels of Keras' EinsumDense (attention's projections).
            if (!trains.test(i) || v.rank() < 2 || !v.differentiable()) {
                continue;
            }
            if (v.reads().stream().allMatch(r -> r.endsWith(":0") && feedsProductsOnly(consumers.get(GraphDefs.nodeName(r))))) {
                out.add(i);
            }
        }
        return out;
    }

    private static boolean feedsProductsOnly(List<NodeDef> consumers) {
        return consumers != null && !consumers.isEmpty() && consumers.stream().allMatch(n -> PRODUCTS.contains(n.getOp()));
    }

    /**
     * {@code graph} with a bfloat16 variable beside each of {@code chosen}, and each of their reads a cast of the copy's
     * read to float32 under the read's own name (consumers and gradients see the tensor they saw); the read itself stays,
     * unread, under {@link #FLOAT_READ}. Adds each copy (its variable and handle op) to {@code copies}.
     */
    static GraphDef rewrite(GraphDef graph, List<EncoderVariable> variables, List<Integer> chosen, List<Copy> copies) {
        Map<String, NodeDef> nodes = GraphDefs.byName(graph);
        Map<String, NodeDef> replaced = new LinkedHashMap<>();
        List<NodeDef> added = new ArrayList<>();
        AttrValue bfloat16 = AttrValue.newBuilder().setType(DataType.DT_BFLOAT16).build();
        for (int i : chosen) {
            EncoderVariable v = variables.get(i);
            NodeDef handle = nodes.get(v.handleOp());
            String copyName = v.handleOp() + COPY;
            TensorShapeProto shape = handle.getAttrOrThrow("shape").getShape();
            added.add(NodeDef.newBuilder().setName(copyName).setOp("VarHandleOp").setDevice(handle.getDevice())
                    .putAttr("dtype", bfloat16).putAttr("shape", AttrValue.newBuilder().setShape(shape).build())
                    .putAttr("container", AttrValue.newBuilder().setS(com.google.protobuf.ByteString.EMPTY).build())
                    .putAttr("shared_name", AttrValue.newBuilder().setS(com.google.protobuf.ByteString.copyFromUtf8(v.key() + COPY)).build())
                    .build());
            copies.add(new Copy(i, copyName));
            for (String r : v.reads()) {
                NodeDef read = nodes.get(GraphDefs.nodeName(r));
                NodeDef.Builder copyRead = NodeDef.newBuilder().setName(read.getName() + COPY_READ).setOp("ReadVariableOp")
                        .setDevice(read.getDevice()).addInput(copyName).putAttr("dtype", bfloat16);
                read.getInputList().stream().filter(in -> in.startsWith("^")).forEach(copyRead::addInput);
                added.add(copyRead.build());
                added.add(read.toBuilder().setName(read.getName() + FLOAT_READ).build());
                replaced.put(read.getName(), NodeDef.newBuilder().setName(read.getName()).setOp("Cast").setDevice(read.getDevice())
                        .addInput(read.getName() + COPY_READ).putAttr("SrcT", bfloat16).putAttr("DstT", read.getAttrOrThrow("dtype"))
                        .putAttr("Truncate", AttrValue.newBuilder().setB(false).build()).build());
            }
        }
        GraphDef.Builder out = graph.toBuilder().clearNode();
        graph.getNodeList().forEach(n -> out.addNode(replaced.getOrDefault(n.getName(), n)));
        out.addAllNode(added);
        return out.build();
    }

    /**
     * {@code graph} reading the float32 weights again where {@link #rewrite} read the copies (for the export): the copies,
     * their reads and every node that depends on them (the updates that write them, their refresh) are left out.
     */
    static GraphDef undo(GraphDef graph) {
        Map<String, NodeDef> nodes = GraphDefs.byName(graph);
        Set<String> dropped = new HashSet<>();
        // The casts that stood for reads become the reads again: they depend on nothing dropped any more.
        Set<String> restored = new HashSet<>();
        for (NodeDef n : graph.getNodeList()) {
            if (n.getName().endsWith(FLOAT_READ) || n.getName().endsWith(COPY_READ) || n.getName().startsWith(REFRESH_SCOPE + "/")
                    || (n.getOp().equals("VarHandleOp") && n.getName().endsWith(COPY))) {
                dropped.add(n.getName());
            } else if (n.getOp().equals("Cast") && nodes.containsKey(n.getName() + FLOAT_READ)) {
                restored.add(n.getName());
            }
        }
        for (boolean more = true; more; ) {
            more = false;
            for (NodeDef n : graph.getNodeList()) {
                if (!restored.contains(n.getName()) && n.getInputList().stream().anyMatch(in -> dropped.contains(GraphDefs.nodeName(in)))
                        && dropped.add(n.getName())) {
                    more = true;
                }
            }
        }
        GraphDef.Builder out = graph.toBuilder().clearNode();
        for (NodeDef n : graph.getNodeList()) {
            if (restored.contains(n.getName())) {
                out.addNode(nodes.get(n.getName() + FLOAT_READ).toBuilder().setName(n.getName()));
            } else if (!dropped.contains(n.getName())) {
                out.addNode(n);
            }
        }
        return out.build();
    }

    /** An op that sets every copy from its float32 variable (rounded to nearest even); null without copies. */
    static Op refresh(Ops tf, Graph graph, List<Copy> copies, List<Operand<?>> handles) {
        if (copies.isEmpty()) {
            return null;
        }
        Ops scope = tf.withSubScope(REFRESH_SCOPE);
        List<Op> assigns = new ArrayList<>();
        for (Copy c : copies) {
            Operand<TFloat32> value = scope.readVariableOp(handles.get(c.variable()), TFloat32.class);
            assigns.add(scope.assignVariableOp(graph.operationOrThrow(c.handleOp()).output(0),
                    scope.dtypes.cast(value, TBfloat16.class)));
        }
        return scope.withControlDependencies(assigns).withName("refresh").noOp();
    }

    /**
     * {@code FinetuneAdam} on variable {@code handle} and its copy: Adam's update from {@code scale × grad} and AdamW's
     * decoupled decay {@code w ← w − rate · decay · w}, copy rewritten; the rest of the inputs as {@code ResourceApplyAdam}
     * takes them.
     */
    static Op adam(Ops tf, Graph graph, Copy copy, Operand<?> handle, Operand<?> m, Operand<?> v, Operand<TFloat32> beta1Power,
                   Operand<TFloat32> beta2Power, Operand<TFloat32> rate, Operand<TFloat32> beta1, Operand<TFloat32> beta2,
                   Operand<TFloat32> epsilon, Operand<TFloat32> scale, Operand<TFloat32> decay, Operand<TFloat32> grad) {
        var b = tf.scope().opBuilder(TrainingKernels.ADAM, "finetune_adam");
        for (Operand<?> in : List.of(handle, m, v, graph.operationOrThrow(copy.handleOp()).output(0), beta1Power, beta2Power,
                rate, beta1, beta2, epsilon, scale, decay, grad)) {
            b.addInput(in.asOutput());
        }
        Operation op = b.setAttr("threads", KERNEL_THREADS).build();
        return () -> op;
    }

    /** The sum of {@code grad}'s squares ({@code FinetuneSquaredNorm}): in bfloat16 when mixed precision paints it so. */
    static Operand<TFloat32> squaredNorm(Ops tf, Operand<TFloat32> grad) {
        Operation op = tf.scope().opBuilder(TrainingKernels.SQUARED_NORM, "finetune_squared_norm")
                .addInput(grad.asOutput()).setAttr("threads", KERNEL_THREADS).build();
        return op.<TFloat32>output(0);
    }
}
