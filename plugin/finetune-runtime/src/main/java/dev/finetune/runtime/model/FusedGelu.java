package dev.finetune.runtime.model;

import com.google.protobuf.ByteString;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;

/**
 * Serving with each dense layer that feeds a GELU run as one oneDNN kernel: matrix product, bias and GELU together.
 *
 * <p>Why: exporters write GELU as a chain of eight or so element-wise ops ({@link GeluPattern}) over the widest
 * activation of a transformer (the intermediate layer, four times the hidden size). Each op reads and writes the whole
 * tensor in float32, so on BERT-base the chain took about 30 % of a serving run's op time (32 rows of 64 tokens,
 * bfloat16, 2 cores: 886 ms of op time as written, 626 ms with the GELUs fused). TensorFlow's {@code _FusedMatMul} with
 * {@code fused_ops = [BiasAdd, GeluApproximate | GeluExact]} applies the bias and the GELU while the product's tile is
 * still in cache; its oneDNN kernel computes the same function (tanh approximation or erf), so results differ from the
 * chain's by rounding only.
 *
 * <p>The rewrite matches {@code gelu(x)} with {@code x = BiasAdd(y, b)} or {@code y + b} (b a vector variable), and
 * {@code y = MatMul(a, w)}, or {@code Reshape(MatMul(a, w))} as Keras writes a dense layer over a sequence, or
 * {@code BatchMatMulV2(a, w)} of a sequence by a weight matrix as {@code tf.matmul} writes it (flattened to rows, and
 * the rows' shape put back). The bias must be as long as the product's last dimension, which the weight's static shape
 * gives: it is then added before a reshape that keeps that dimension. It leaves a GELU alone when anything else reads
 * x or the product, and when {@code a} is transposed (oneDNN's kernel takes only {@code b} transposed). In bfloat16 the fused op runs in bfloat16 (as the
 * mixed-precision rewrite would run the product) with a weight held in bfloat16 ({@link Bfloat16Weights}) read as it
 * is; its result is cast back to float32 for the element-wise ops downstream. Control edges on the removed nodes move
 * to the fused op (see {@link Nodes#redirectControlInputs}). Only for CPU sessions: the rewrite is
 * built and probed for oneDNN's kernels; on a GPU TensorFlow's own remapper fuses what it supports.
 */
public final class FusedGelu {
    /** Infix of the nodes the rewrite adds. */
    static final String INFIX = "/finetune_fused_gelu/";

    /** The rewritten graph and how many GELUs it fused. */
    public record Rewrite(GraphDef graph, int fused) {
    }

    /** Why this TensorFlow cannot fuse GELU on the CPU, by precision ("" when it can): probed once per process. */
    private static final Map<Boolean, String> PROBLEM = new ConcurrentHashMap<>();

    private FusedGelu() {
    }

    /**
     * Whether this TensorFlow runs {@code _FusedMatMul} with a GELU on the CPU in {@code settings}' precision, with the
     * right values. TensorFlow's oneDNN kernel does; its Eigen kernel (oneDNN turned off with
     * {@code TF_ENABLE_ONEDNN_OPTS=0}, or a build without it) fuses no GELU and would fail at the first run, not at
     * loading. So a two-by-two product is run once per process and precision, both GELUs checked against their values.
     */
    public static boolean supported(SessionSettings settings) {
        return problem(settings) == null;
    }

    /** Null when {@link #supported}; else why not (TensorFlow's message, or the values the probe got). */
    public static String problem(SessionSettings settings) {
        boolean bfloat16 = settings.effectivePrecision().equals("bfloat16");
        return Nodes.probedOnce(PROBLEM, bfloat16, () -> probe(bfloat16, settings));
    }

    private static String probe(boolean bfloat16, SessionSettings settings) {
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
        for (String form : List.of("GeluExact", "GeluApproximate")) {
            nodes.add(fusedMatMul("probe/" + form, in[0], in[1], in[2], bfloat16 ? DataType.DT_BFLOAT16 : DataType.DT_FLOAT,
                    AttrValue.newBuilder().setB(false).build(), AttrValue.newBuilder().setB(false).build(), form));
            if (bfloat16) {
                nodes.add(Nodes.cast("probe/" + form + "/float32", "probe/" + form, DataType.DT_BFLOAT16, DataType.DT_FLOAT, ""));
            }
        }
        nodes.forEach(g::addNode);
        String suffix = bfloat16 ? "/float32" : "";
        // gelu(1.5) = 1.3998 (exact), 1.3996 (tanh); gelu(-2) = -0.0455 (exact), -0.0454 (tanh).
        return Nodes.probe(g.build(), settings, new float[] {1, -2}, List.of("probe/GeluExact" + suffix, "probe/GeluApproximate" + suffix),
                new float[][] {{1.3998f, -0.0455f}, {1.3996f, -0.0454f}});
    }

    /** {@code graph} with each dense layer + GELU it can fuse as one op computing in {@code bfloat16} or float32. */
    public static Rewrite of(GraphDef graph, boolean bfloat16) {
        Map<String, NodeDef> nodes = GraphDefs.byName(graph);
        Map<String, List<NodeDef>> consumers = GraphDefs.consumers(graph);
        Map<String, List<NodeDef>> replacements = new HashMap<>();
        Map<String, String> redirect = new HashMap<>();
        for (GeluPattern.Match gelu : GeluPattern.find(graph)) {
            Dense dense = dense(nodes, consumers, gelu);
            if (dense != null) {
                replacements.put(gelu.output().getName(), fused(nodes, gelu, dense, bfloat16));
                dense.removed.forEach(r -> redirect.put(r, gelu.output().getName()));
            }
        }
        if (replacements.isEmpty()) {
            return new Rewrite(graph, 0);
        }
        GraphDef.Builder out = graph.toBuilder().clearNode();
        for (NodeDef n : graph.getNodeList()) {
            List<NodeDef> r = replacements.get(n.getName());
            if (r == null) {
                out.addNode(n);
            } else {
                r.forEach(out::addNode);
            }
        }
        Nodes.redirectControlInputs(out, redirect);
        return new Rewrite(out.build(), replacements.size());
    }

    /**
     * The dense layer under a GELU: its product, the reshape after it (or null), the bias, for a batched product of a
     * sequence with a weight matrix the weight's input size (0 for a plain {@code MatMul}), the product's last
     * dimension, whether the weight is read transposed, and the nodes the fused op makes dead (the output aside).
     */
    private record Dense(NodeDef matmul, NodeDef reshape, String bias, long batchedInputs, long outputs, boolean transposedB,
                         Set<String> removed) {
        boolean batched() {
            return batchedInputs > 0;
        }
    }

    private static Dense dense(Map<String, NodeDef> nodes, Map<String, List<NodeDef>> consumers, GeluPattern.Match gelu) {
        NodeDef x = nodes.get(GraphDefs.nodeName(gelu.x()));
        Set<String> chain = Nodes.between(nodes, gelu.output(), gelu.x());
        if (x == null || !Nodes.plainOutput(gelu.x()) || !Nodes.isFloat(x, "T")
                || !Nodes.isFloat(gelu.output(), "T") || !Nodes.readOnlyBy(consumers, x, chain)) {
            // Anything else that reads x would still need x computed: the fusion would then run the product twice.
            return null;
        }
        String product;
        String bias;
        if (x.getOp().equals("BiasAdd")) {
            String format = x.getAttrOrDefault("data_format", AttrValue.getDefaultInstance()).getS().toStringUtf8();
            if (!format.isEmpty() && !format.equals("NHWC")) {
                return null;
            }
            product = x.getInput(0);
            bias = x.getInput(1);
        } else if ((x.getOp().equals("Add") || x.getOp().equals("AddV2")) && x.getInputCount() == 2) {
            int side = Nodes.isVectorVariable(nodes, x.getInput(1)) ? 1 : Nodes.isVectorVariable(nodes, x.getInput(0)) ? 0 : -1;
            if (side < 0) {
                return null;
            }
            product = x.getInput(1 - side);
            bias = x.getInput(side);
        } else {
            return null;
        }
        NodeDef reshape = null;
        NodeDef matmul = nodes.get(GraphDefs.nodeName(product));
        if (matmul != null && matmul.getOp().equals("Reshape") && Nodes.readOnlyBy(consumers, matmul, Set.of(x.getName()))) {
            reshape = matmul;
            matmul = nodes.get(GraphDefs.nodeName(reshape.getInput(0)));
        }
        if (matmul == null || !Nodes.isFloat(matmul, "T") || !Nodes.plainOutput(product)
                || !Nodes.readOnlyBy(consumers, matmul, Set.of(reshape != null ? reshape.getName() : x.getName()))) {
            return null;
        }
        boolean plain = matmul.getOp().equals("MatMul");
        boolean batched = reshape == null && matmul.getOp().equals("BatchMatMulV2");
        if (!plain && !batched || flag(matmul, plain ? "transpose_a" : "adj_x")) {
            // oneDNN's fused kernel takes only b transposed; TensorFlow's generic one fuses no GELU.
            return null;
        }
        boolean transposedB = flag(matmul, plain ? "transpose_b" : "adj_y");
        long[] shape = Nodes.staticShape(nodes, matmul.getInput(1), Set.of("Identity", "Cast"));
        if (shape == null || shape.length != 2 || shape[0] < 0 || shape[1] < 0) {
            return null;
        }
        long inputs = transposedB ? shape[1] : shape[0];
        long outputs = transposedB ? shape[0] : shape[1];
        // The fused op adds the bias to the product's rows: it must be as long as they are, and a reshape after the
        // product must keep that last dimension for the bias to land where it did.
        if (Nodes.vectorLength(nodes, bias) != outputs || reshape != null && lastDimension(nodes, reshape.getInput(1)) != outputs) {
            return null;
        }
        Set<String> removed = new HashSet<>(chain);
        removed.remove(gelu.output().getName());
        removed.add(x.getName());
        removed.add(matmul.getName());
        if (reshape != null) {
            removed.add(reshape.getName());
        }
        return new Dense(matmul, reshape, bias, batched ? inputs : 0, outputs, transposedB, removed);
    }

    private static boolean flag(NodeDef n, String attr) {
        return n.getAttrOrDefault(attr, AttrValue.getDefaultInstance()).getB();
    }

    /** The last element of a shape given as a constant, or as a concatenation ending in one (Keras' Tensordot); else -1. */
    private static long lastDimension(Map<String, NodeDef> nodes, String ref) {
        NodeDef n = nodes.get(GraphDefs.nodeName(ref));
        if (n != null && n.getOp().equals("ConcatV2") && Nodes.plainOutput(ref)) {
            int values = (int) n.getAttrOrDefault("N", AttrValue.getDefaultInstance()).getI();
            return values < 1 ? -1 : lastDimension(nodes, n.getInput(values - 1));
        }
        long[] v = n != null && n.getOp().equals("Const") ? Nodes.intValues(n) : null;
        return v == null || v.length == 0 ? -1 : v[v.length - 1];
    }

    /** The nodes that replace the GELU's output node, the last of them under its name. */
    private static List<NodeDef> fused(Map<String, NodeDef> nodes, GeluPattern.Match gelu, Dense dense, boolean bfloat16) {
        String name = gelu.output().getName();
        String p = name + INFIX;
        String device = dense.matmul.getDevice();
        List<NodeDef> out = new ArrayList<>();
        String a = dense.matmul.getInput(0);
        String w = dense.matmul.getInput(1);
        String b = dense.bias;
        DataType t = DataType.DT_FLOAT;
        if (bfloat16) {
            t = DataType.DT_BFLOAT16;
            a = castToBfloat16(out, p + "input", a, device);
            NodeDef weightCast = nodes.get(GraphDefs.nodeName(w));
            // A weight held in bfloat16 (Bfloat16Weights) is read before its cast back to float32.
            w = weightCast.getOp().equals("Cast") && weightCast.getAttrOrThrow("SrcT").getType() == DataType.DT_BFLOAT16
                    && Nodes.plainOutput(w) ? weightCast.getInput(0) : castToBfloat16(out, p + "weight", w, device);
            b = castToBfloat16(out, p + "bias", b, device);
        }
        String sequence = a;
        AttrValue no = AttrValue.newBuilder().setB(false).build();
        AttrValue transposeA = no;
        AttrValue transposeB = AttrValue.newBuilder().setB(dense.transposedB).build();
        if (dense.batched()) {
            out.add(Nodes.intConstant(p + "rows_shape", -1, dense.batchedInputs));
            out.add(NodeDef.newBuilder().setName(p + "rows").setOp("Reshape").setDevice(device).addInput(a).addInput(p + "rows_shape")
                    .putAttr("T", Nodes.type(t)).putAttr("Tshape", Nodes.type(DataType.DT_INT32)).build());
            a = p + "rows";
        }
        String fusedName = bfloat16 || dense.reshape != null || dense.batched() ? p + "matmul" : name;
        out.add(fusedMatMul(fusedName, a, w, b, t, transposeA, transposeB, gelu.approximate() ? "GeluApproximate" : "GeluExact")
                .toBuilder().setDevice(device).build());
        if (dense.batched()) {
            // The product's shape: the sequence's leading dimensions and the weight's outputs (static, so that an empty
            // batch reshapes too).
            out.add(NodeDef.newBuilder().setName(p + "sequence_shape").setOp("Shape").setDevice(device).addInput(sequence)
                    .putAttr("T", Nodes.type(t)).putAttr("out_type", Nodes.type(DataType.DT_INT32)).build());
            out.add(Nodes.intConstant(p + "leading_begin", 0));
            out.add(Nodes.intConstant(p + "leading_end", -1));
            out.add(Nodes.intConstant(p + "leading_stride", 1));
            out.add(NodeDef.newBuilder().setName(p + "leading").setOp("StridedSlice").setDevice(device).addInput(p + "sequence_shape")
                    .addInput(p + "leading_begin").addInput(p + "leading_end").addInput(p + "leading_stride")
                    .putAttr("T", Nodes.type(DataType.DT_INT32)).putAttr("Index", Nodes.type(DataType.DT_INT32)).build());
            out.add(Nodes.intConstant(p + "outputs", dense.outputs));
            out.add(Nodes.intScalar(p + "axis", 0));
            out.add(NodeDef.newBuilder().setName(p + "product_shape").setOp("ConcatV2").setDevice(device).addInput(p + "leading")
                    .addInput(p + "outputs").addInput(p + "axis").putAttr("N", AttrValue.newBuilder().setI(2).build())
                    .putAttr("T", Nodes.type(DataType.DT_INT32)).putAttr("Tidx", Nodes.type(DataType.DT_INT32)).build());
            String reshaped = bfloat16 ? p + "reshape" : name;
            out.add(NodeDef.newBuilder().setName(reshaped).setOp("Reshape").setDevice(device).addInput(fusedName)
                    .addInput(p + "product_shape").putAttr("T", Nodes.type(t)).putAttr("Tshape", Nodes.type(DataType.DT_INT32)).build());
            fusedName = reshaped;
        }
        String result = fusedName;
        if (dense.reshape != null && !dense.batched()) {
            String reshaped = bfloat16 ? p + "reshape" : name;
            out.add(dense.reshape.toBuilder().setName(reshaped).setInput(0, result)
                    .putAttr("T", Nodes.type(t)).build());
            result = reshaped;
        }
        if (bfloat16) {
            out.add(Nodes.cast(name, result, DataType.DT_BFLOAT16, DataType.DT_FLOAT, device));
        }
        // Control inputs of the replaced nodes stay with the output's name.
        NodeDef last = out.remove(out.size() - 1);
        out.add(last.toBuilder().addAllInput(Nodes.inheritedControlInputs(nodes, gelu.output(), dense.removed)).build());
        return out;
    }

    /** {@code gelu(a · w + b)} as TensorFlow's fused op ({@code gelu}: GeluExact or GeluApproximate). */
    private static NodeDef fusedMatMul(String name, String a, String w, String b, DataType t, AttrValue transposeA,
                                       AttrValue transposeB, String gelu) {
        AttrValue.ListValue ops = AttrValue.ListValue.newBuilder().addS(ByteString.copyFromUtf8("BiasAdd"))
                .addS(ByteString.copyFromUtf8(gelu)).build();
        return NodeDef.newBuilder().setName(name).setOp("_FusedMatMul").addInput(a).addInput(w).addInput(b)
                .putAttr("T", Nodes.type(t)).putAttr("transpose_a", transposeA).putAttr("transpose_b", transposeB)
                .putAttr("fused_ops", AttrValue.newBuilder().setList(ops).build())
                .putAttr("num_args", AttrValue.newBuilder().setI(1).build())
                .putAttr("epsilon", AttrValue.newBuilder().setF(0.0001f).build())
                .putAttr("leakyrelu_alpha", AttrValue.newBuilder().setF(0.2f).build())
                .build();
    }

    private static String castToBfloat16(List<NodeDef> out, String name, String input, String device) {
        out.add(Nodes.cast(name, input, DataType.DT_FLOAT, DataType.DT_BFLOAT16, device));
        return name;
    }
}
