package dev.finetune.runtime.model;

import com.google.protobuf.ByteString;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;

/** The one op a fused dense layer runs as ({@link DenseLayer}), and the probe of it. */
final class FusedMatMulOp {
    /** oneDNN's fused product with TensorFlow's {@code is_filter_const}, run by name without TensorFlow's layout pass. */
    static final String PACKED = "_MklNativeFusedMatMul";

    private FusedMatMulOp() {
    }

    /**
     * {@code activation(a · w + b)} as one op ({@code activation}: a {@code fused_ops} name after BiasAdd, or null).
     * Packed, it is oneDNN's kernel told that the weight is constant ({@code is_filter_const}), which TensorFlow's layout
     * pass says only of a {@code Const} node: oneDNN then picks its blocked weight layout and AMX kernel and reorders
     * the weight into it once, on the first run, keeping that copy; else TensorFlow's {@code _FusedMatMul}, which oneDNN
     * runs on the weight as stored.
     */
    static NodeDef of(String name, String a, String w, String b, DataType t, boolean transposeB, String activation,
                      boolean packed) {
        AttrValue.ListValue.Builder ops = AttrValue.ListValue.newBuilder().addS(ByteString.copyFromUtf8("BiasAdd"));
        if (activation != null) {
            ops.addS(ByteString.copyFromUtf8(activation));
        }
        NodeDef.Builder n = NodeDef.newBuilder().setName(name).setOp(packed ? PACKED : "_FusedMatMul").addInput(a).addInput(w).addInput(b)
                .putAttr("T", Nodes.type(t)).putAttr("transpose_a", AttrValue.newBuilder().setB(false).build())
                .putAttr("transpose_b", AttrValue.newBuilder().setB(transposeB).build())
                .putAttr("fused_ops", AttrValue.newBuilder().setList(ops).build())
                .putAttr("num_args", AttrValue.newBuilder().setI(1).build())
                .putAttr("epsilon", AttrValue.newBuilder().setF(0.0001f).build())
                .putAttr("leakyrelu_alpha", AttrValue.newBuilder().setF(0.2f).build());
        if (packed) {
            // The kernel is registered under this label, which TensorFlow's layout pass would otherwise add.
            n.putAttr("is_filter_const", AttrValue.newBuilder().setB(true).build())
                    .putAttr("_kernel", AttrValue.newBuilder().setS(ByteString.copyFromUtf8("MklNameChangeOp")).build());
        }
        return n.build();
    }

    /**
     * Null when a session with {@code settings} runs one fused op per activation (null for none, packed or not) in
     * bfloat16 or float32 on {@code x = [1, -2]}, the identity weight and the bias {@code [0.5, 0]}, each yielding its
     * {@code want}; else why not ({@link Nodes#probe}).
     */
    static String probe(SessionSettings settings, boolean bfloat16, List<String> activations, boolean packed, float[][] want) {
        GraphDef.Builder g = GraphDef.newBuilder();
        g.addNode(Nodes.placeholder("probe/x"));
        g.addNode(Nodes.floatConstant("probe/w", new float[] {1, 0, 0, 1}, 2, 2));
        g.addNode(Nodes.floatConstant("probe/b", new float[] {0.5f, 0}, 2));
        List<NodeDef> nodes = new ArrayList<>();
        String[] in = {"probe/x", "probe/w", "probe/b"};
        if (bfloat16) {
            for (int i = 0; i < in.length; i++) {
                in[i] = castToBfloat16(nodes, in[i] + "/bfloat16", in[i], "");
            }
        }
        List<String> fetches = new ArrayList<>();
        for (String activation : activations) {
            String name = "probe/" + (activation == null ? "dense" : activation);
            nodes.add(of(name, in[0], in[1], in[2], bfloat16 ? DataType.DT_BFLOAT16 : DataType.DT_FLOAT, false, activation, packed));
            if (bfloat16) {
                nodes.add(Nodes.cast(name + "/float32", name, DataType.DT_BFLOAT16, DataType.DT_FLOAT, ""));
                name += "/float32";
            }
            fetches.add(name);
        }
        nodes.forEach(g::addNode);
        return Nodes.probe(g.build(), settings, new float[] {1, -2}, fetches, want);
    }

    static String castToBfloat16(List<NodeDef> out, String name, String input, String device) {
        out.add(Nodes.cast(name, input, DataType.DT_FLOAT, DataType.DT_BFLOAT16, device));
        return name;
    }
}
