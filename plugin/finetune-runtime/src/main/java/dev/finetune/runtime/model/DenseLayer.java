package dev.finetune.runtime.model;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.NodeDef;

/**
 * A dense layer of a serving graph, {@code a · w + b}, and the one op that replaces it ({@link FusedGelu},
 * {@link PackedDense}): its product, the reshape after it (or null), the bias, for a batched product of a sequence
 * with a weight matrix the weight's input size (0 for a plain {@code MatMul}), the product's last dimension, whether the
 * weight is read transposed, and the nodes the fused op makes dead besides the ones it replaces under their name.
 *
 * <p>The layer is {@code x = BiasAdd(y, b)} or {@code y + b} (b a vector variable), with {@code y = MatMul(a, w)}, or
 * {@code Reshape(MatMul(a, w))} as Keras writes a dense layer over a sequence, or {@code BatchMatMulV2(a, w)} of a
 * sequence by a weight matrix as {@code tf.matmul} writes it (flattened to rows, and the rows' shape put back). The bias
 * must be as long as the product's last dimension, which the weight's static shape gives: it is then added before a
 * reshape that keeps that dimension. A product that transposes {@code a} is left alone (oneDNN's kernel takes only
 * {@code b} transposed), as is one that anything but the layer reads.
 */
record DenseLayer(NodeDef matmul, NodeDef reshape, String bias, long batchedInputs, long outputs, boolean transposedB,
                  Set<String> removed) {
    boolean batched() {
        return batchedInputs > 0;
    }

    /** The dense layer whose bias add is {@code x}, or null when {@code x} is not one the fused op can replace. */
    static DenseLayer under(Map<String, NodeDef> nodes, Map<String, List<NodeDef>> consumers, NodeDef x) {
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
        if (!Nodes.isFloat(x, "T")) {
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
        Set<String> removed = new HashSet<>();
        removed.add(matmul.getName());
        if (reshape != null) {
            removed.add(reshape.getName());
        }
        return new DenseLayer(matmul, reshape, bias, batched ? inputs : 0, outputs, transposedB, removed);
    }

    /** This layer with {@code more} nodes made dead too (an activation's chain). */
    DenseLayer removing(Set<String> more) {
        Set<String> all = new HashSet<>(removed);
        all.addAll(more);
        return new DenseLayer(matmul, reshape, bias, batchedInputs, outputs, transposedB, all);
    }

    /**
     * Whether the weight is a variable's value (through identities and casts): in a session that only serves, it never
     * changes after the restore, so oneDNN may pack it once ({@link FusedMatMulOp#PACKED}).
     */
    boolean weightIsVariable(Map<String, NodeDef> nodes) {
        NodeDef n = nodes.get(GraphDefs.nodeName(matmul.getInput(1)));
        while (n != null && (n.getOp().equals("Identity") || n.getOp().equals("Cast"))) {
            n = nodes.get(GraphDefs.nodeName(n.getInput(0)));
        }
        return n != null && n.getOp().equals("ReadVariableOp");
    }

    /**
     * For {@code ref}, a cast of a bfloat16 value to float32 (through identities, as {@link FusedGelu} leaves one under
     * the name of the chain's last op): that value, exact, as every bfloat16 is a float, with the control inputs of the
     * nodes skipped added to {@code waitFor} (the reader must then wait for them itself); else null.
     */
    private static String bfloat16Source(Map<String, NodeDef> nodes, String ref, List<String> waitFor) {
        List<NodeDef> skipped = new ArrayList<>();
        NodeDef n = nodes.get(GraphDefs.nodeName(ref));
        while (n != null && n.getOp().equals("Identity") && Nodes.plainOutput(ref)) {
            skipped.add(n);
            ref = n.getInput(0);
            n = nodes.get(GraphDefs.nodeName(ref));
        }
        if (n == null || !Nodes.plainOutput(ref) || !Nodes.isCast(n, DataType.DT_BFLOAT16, DataType.DT_FLOAT)) {
            return null;
        }
        skipped.add(n);
        skipped.stream().flatMap(s -> s.getInputList().stream()).filter(i -> i.startsWith("^") && !waitFor.contains(i))
                .forEach(waitFor::add);
        return n.getInput(0);
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

    /**
     * The nodes that replace {@code output} (the layer's bias add, or the activation over it), the last of them under
     * its name: one fused op computing {@code activation(a · w + b)} ({@code activation} a {@code fused_ops} name, or
     * null for none) in bfloat16 or float32, packing the weight once when {@code packed} and the weight is a
     * variable's. {@code infix} names the nodes added.
     */
    List<NodeDef> fused(Map<String, NodeDef> nodes, NodeDef output, String activation, boolean bfloat16, boolean packed,
                        String infix) {
        String name = output.getName();
        String p = name + infix;
        String device = matmul.getDevice();
        List<NodeDef> out = new ArrayList<>();
        String a = matmul.getInput(0);
        String w = matmul.getInput(1);
        String b = bias;
        // Control inputs of the casts and identities skipped below: the fused op waits for what they waited for.
        List<String> waitFor = new ArrayList<>();
        DataType t = DataType.DT_FLOAT;
        if (bfloat16) {
            t = DataType.DT_BFLOAT16;
            // A value already in bfloat16 is read before its cast to float32: a weight held in bfloat16
            // (Bfloat16Weights), the output of a fused layer before this one (FusedGelu's, in each encoder layer the
            // input of the next dense layer). A cast back would read and write the whole activation twice for nothing:
            // in BERT-base's serving that pair took 12 % of the op time, as long as the layer norms and softmax together.
            String aBfloat16 = bfloat16Source(nodes, a, waitFor);
            a = aBfloat16 != null ? aBfloat16 : FusedMatMulOp.castToBfloat16(out, p + "input", a, device);
            String wBfloat16 = bfloat16Source(nodes, w, waitFor);
            w = wBfloat16 != null ? wBfloat16 : FusedMatMulOp.castToBfloat16(out, p + "weight", w, device);
            b = FusedMatMulOp.castToBfloat16(out, p + "bias", b, device);
        }
        String sequence = a;
        if (batched()) {
            out.add(Nodes.intConstant(p + "rows_shape", -1, batchedInputs));
            out.add(NodeDef.newBuilder().setName(p + "rows").setOp("Reshape").setDevice(device).addInput(a).addInput(p + "rows_shape")
                    .putAttr("T", Nodes.type(t)).putAttr("Tshape", Nodes.type(DataType.DT_INT32)).build());
            a = p + "rows";
        }
        String fusedName = bfloat16 || reshape != null || batched() ? p + "matmul" : name;
        out.add(FusedMatMulOp.of(fusedName, a, w, b, t, transposedB, activation, packed && weightIsVariable(nodes))
                .toBuilder().setDevice(device).addAllInput(waitFor).build());
        if (batched()) {
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
            out.add(Nodes.intConstant(p + "outputs", outputs));
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
        if (reshape != null && !batched()) {
            String reshaped = bfloat16 ? p + "reshape" : name;
            out.add(reshape.toBuilder().setName(reshaped).setInput(0, result).putAttr("T", Nodes.type(t)).build());
            result = reshaped;
        }
        if (bfloat16) {
            out.add(Nodes.cast(name, result, DataType.DT_BFLOAT16, DataType.DT_FLOAT, device));
        }
        // Control inputs of the replaced nodes stay with the output's name.
        NodeDef last = out.remove(out.size() - 1);
        out.add(last.toBuilder().addAllInput(Nodes.inheritedControlInputs(nodes, output, removed)).build());
        return out;
    }
}
