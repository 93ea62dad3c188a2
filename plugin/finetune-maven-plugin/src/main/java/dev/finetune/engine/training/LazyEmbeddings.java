package dev.finetune.engine.training;

import dev.finetune.runtime.model.GraphDefs;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Unique;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.TensorProto;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TNumber;

/**
 * Lazy Adam for embedding tables: a table that the encoder only looks rows up in gets its gradient as rows (the
 * distinct ids of the step and the summed gradient of each) and Adam updates those rows only, their moments included,
 * as TensorFlow Addons' {@code LazyAdam} and PyTorch's {@code SparseAdam} do.
 *
 * <p>Why: BERT's word embedding holds 23 M of its 110 M weights, and a batch of 16 short texts looks up a few hundred
 * of its 30,522 rows. Dense, every step writes a 94 MB gradient that is zero almost everywhere, squares it for the
 * global norm, multiplies it for clipping, and reads and writes the whole table and both its moments in Adam. What
 * changes: a row that a step does not look up keeps its moments and weight, where dense Adam would still move it by
 * its decaying momentum. Clipping and the global norm are exact (the rows hold the whole gradient); decoupled weight
 * decay ({@link WeightDecay}) still covers every row.
 */
final class LazyEmbeddings {
    private LazyEmbeddings() {
    }

    /** A table that can update lazily: its one look-up, and the read of the table it looks rows up in. */
    record Table(NodeDef lookup, NodeDef read) {
        /** The table's handle, as the read takes it. */
        String handle() {
            return read.getInput(0);
        }
    }

    /**
     * The tables among the trainable {@code variables} of {@code graph} (by index): variables whose one use is a
     * single {@code GatherV2} on axis 0 of one read (as its table). Any other use of any read of it (a shape, a product)
     * leaves the variable dense: that read would run in every step, and copy-on-read (below) would copy the table.
     */
    static Map<Integer, Table> tables(GraphDef graph, List<EncoderVariable> variables, LayerPlan plan) {
        Map<String, NodeDef> nodes = GraphDefs.byName(graph);
        Map<String, List<NodeDef>> consumers = GraphDefs.consumers(graph);
        Map<String, List<NodeDef>> readsByKey = new HashMap<>();
        for (NodeDef n : graph.getNodeList()) {
            NodeDef handle = n.getOp().equals("ReadVariableOp") ? GraphDefs.variableHandle(nodes, n.getInput(0)) : null;
            if (handle != null) {
                readsByKey.computeIfAbsent(GraphDefs.variableKey(handle), k -> new ArrayList<>()).add(n);
            }
        }
        Map<Integer, Table> out = new LinkedHashMap<>();
        for (int i = 0; i < variables.size(); i++) {
            EncoderVariable v = variables.get(i);
            Table t = plan.trainable(i) ? table(nodes, consumers, readsByKey.getOrDefault(v.key(), List.of()), v) : null;
            if (t != null) {
                out.put(i, t);
            }
        }
        return out;
    }

    private static Table table(Map<String, NodeDef> nodes, Map<String, List<NodeDef>> consumers, List<NodeDef> reads,
                               EncoderVariable v) {
        if (v.reads().size() != 1 || v.rank() != 2 || !v.reads().get(0).endsWith(":0")) {
            return null;
        }
        String differentiable = GraphDefs.nodeName(v.reads().get(0));
        NodeDef lookup = null;
        for (NodeDef read : reads) {
            for (NodeDef c : consumers.getOrDefault(read.getName(), List.of())) {
                if (lookup != null || !read.getName().equals(differentiable) || !isLookUp(nodes, c, read.getName())) {
                    return null;
                }
                lookup = c;
            }
        }
        return lookup == null ? null : new Table(lookup, nodes.get(differentiable));
    }

    /** Whether {@code c} gathers rows of {@code read}: {@code GatherV2(read, ids, 0)}, no batch dimensions. */
    private static boolean isLookUp(Map<String, NodeDef> nodes, NodeDef c, String read) {
        return c.getOp().equals("GatherV2") && GraphDefs.nodeName(c.getInput(0)).equals(read)
                && !GraphDefs.nodeName(c.getInput(1)).equals(read)
                && c.getAttrOrDefault("batch_dims", AttrValue.getDefaultInstance()).getI() == 0
                && isZero(nodes.get(GraphDefs.nodeName(c.getInput(2))));
    }

    private static boolean isZero(NodeDef axis) {
        if (axis == null || !axis.getOp().equals("Const")) {
            return false;
        }
        TensorProto t = axis.getAttrOrThrow("value").getTensor();
        byte[] content = t.getTensorContent().toByteArray();
        if (content.length > 0) {
            return (content.length == 4 || content.length == 8) && Arrays.equals(content, new byte[content.length]);
        }
        return t.getIntValCount() == 1 ? t.getIntVal(0) == 0 : t.getInt64ValCount() == 1 && t.getInt64Val(0) == 0;
    }

    /**
     * {@code graph} with each table's look-up made a {@code ResourceGather} on the table itself again, under the same
     * name and with the read's control inputs. Why: a {@code ResourceGather} or scatter puts the variable in
     * TensorFlow's copy-on-read mode, where every {@code ReadVariableOp} of it copies the whole table (94 MB a step for
     * BERT's); with no read left in a step, nothing copies it (the savers' and weight decay's reads run apart).
     * Gradients are taken with respect to the look-up's output, so its own (missing) gradient is never asked for.
     */
    static GraphDef gatherFromTables(GraphDef graph, Collection<Table> tables) {
        Map<String, NodeDef> replaced = new HashMap<>();
        for (Table table : tables) {
            NodeDef gather = table.lookup();
            NodeDef.Builder b = NodeDef.newBuilder().setName(gather.getName()).setOp("ResourceGather")
                    .addInput(table.handle()).addInput(gather.getInput(1))
                    .putAttr("dtype", gather.getAttrOrThrow("Tparams"))
                    .putAttr("Tindices", gather.getAttrOrThrow("Tindices"))
                    .putAttr("batch_dims", AttrValue.newBuilder().setI(0).build())
                    .putAttr("validate_indices", AttrValue.newBuilder().setB(true).build())
                    .setDevice(gather.getDevice());
            table.read().getInputList().stream().filter(in -> in.startsWith("^")).forEach(b::addInput);
            gather.getInputList().stream().skip(3).forEach(b::addInput);
            replaced.put(gather.getName(), b.build());
        }
        GraphDef.Builder out = graph.toBuilder().clearNode();
        graph.getNodeList().forEach(n -> out.addNode(replaced.getOrDefault(n.getName(), n)));
        return out.build();
    }

    /** A table's gradient as rows: the distinct ids one step looked up, and the summed gradient of each. */
    record Rows(Operand<TInt64> ids, Operand<TFloat32> values) {
        Rows with(Operand<TFloat32> other) {
            return new Rows(ids, other);
        }
    }

    /**
     * The rows of a table's gradient, from the gradient with respect to the look-up's output ({@code ids' shape ×
     * width}) and the ids it looked up: an id looked up several times gets the sum of its gradients.
     */
    static Rows rows(Ops tf, Operand<TFloat32> lookupGradient, Output<? extends TNumber> ids, long width) {
        Operand<TInt64> flatIds = tf.reshape(tf.dtypes.cast(ids, TInt64.class), tf.constant(new long[] {-1}));
        Operand<TFloat32> flat = tf.reshape(lookupGradient, tf.constant(new long[] {-1, width}));
        Unique<TInt64, TInt64> distinct = tf.unique(flatIds, tf.constant(new long[0]), TInt64.class);
        Operand<TFloat32> summed = tf.math.unsortedSegmentSum(flat, distinct.idx(), tf.size(distinct.y(), TInt64.class));
        return new Rows(distinct.y(), summed);
    }

    /** The same gradient as a whole table, zero in the rows not looked up: built for diagnostics, never run in a step. */
    static Operand<TFloat32> dense(Ops tf, Rows rows, Shape shape) {
        return tf.math.unsortedSegmentSum(rows.values(), rows.ids(), tf.constant(shape.size(0)));
    }

    /**
     * Adam on the rows in {@code gradient} only, with the arithmetic of TensorFlow's {@code ApplyAdam} kernel:
     * {@code m += (g − m)(1 − β₁)}, {@code v += (g² − v)(1 − β₂)}, {@code w −= lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ) · m/(√v + ε)}.
     * The rows are read before any is written (each write depends on the reads through its value).
     */
    static Op adam(Ops tf, Operand<?> variable, Operand<?> m, Operand<?> v, Operand<TFloat32> beta1Power,
                   Operand<TFloat32> beta2Power, Operand<TFloat32> rate, Operand<TFloat32> beta1, Operand<TFloat32> beta2,
                   Operand<TFloat32> epsilon, Rows gradient) {
        Operand<TInt64> ids = gradient.ids();
        Operand<TFloat32> g = gradient.values();
        Operand<TFloat32> one = tf.constant(1f);
        Operand<TFloat32> mRows = tf.resourceGather(m, ids, TFloat32.class);
        Operand<TFloat32> vRows = tf.resourceGather(v, ids, TFloat32.class);
        Operand<TFloat32> mNew = tf.math.add(mRows, tf.math.mul(tf.math.sub(g, mRows), tf.math.sub(one, beta1)));
        Operand<TFloat32> vNew = tf.math.add(vRows, tf.math.mul(tf.math.sub(tf.math.square(g), vRows), tf.math.sub(one, beta2)));
        Operand<TFloat32> step = tf.math.div(tf.math.mul(rate, tf.math.sqrt(tf.math.sub(one, beta2Power))),
                tf.math.sub(one, beta1Power));
        Operand<TFloat32> delta = tf.math.div(tf.math.mul(mNew, step), tf.math.add(tf.math.sqrt(vNew), epsilon));
        List<Op> writes = List.of(tf.resourceScatterUpdate(m, ids, mNew), tf.resourceScatterUpdate(v, ids, vNew),
                tf.resourceScatterSub(variable, ids, delta));
        return tf.withControlDependencies(writes).noOp();
    }
}
