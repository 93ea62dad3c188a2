package dev.finetune.runtime.model;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.TensorProto;

/**
 * Finds the layer normalisations of an encoder graph, which exporters write as ten or so element-wise ops and
 * reductions (TensorFlow has no layer-norm op outside oneDNN's {@code _MklLayerNorm}).
 *
 * <p>Matched from the {@code Rsqrt} of {@code rsqrt(variance + epsilon)}, with {@code mean = Mean(x)} and
 * {@code variance = Mean(SquaredDifference(x, mean))} over one axis, then either way exporters apply the scale
 * gamma and the offset beta (vector variables):
 * <ul>
 *   <li>{@code x * m + (beta - mean * m)} with {@code m = rsqrt * gamma} (TF1's {@code layer_norm}, Google's BERT);</li>
 *   <li>{@code x * m + (-mean * m + beta)} (Keras 3's {@code LayerNormalization});</li>
 *   <li>{@code (x - mean) * rsqrt * gamma + beta} (a layer norm written by hand).</li>
 * </ul>
 * A normalisation whose statistics or partial products are read elsewhere is not a match: replacing it would not
 * remove them. Whether the axis is the last, and gamma as long as it, needs the shapes, which the callers check.
 */
public final class LayerNormPattern {
    /**
     * One layer normalisation: input, epsilon, the axis its reductions name (-1 for the last, else as written), scale
     * and offset (the variables' reads), the node yielding it, and the nodes replacing it makes dead (everything
     * between x and the output).
     */
    public record Match(String x, float epsilon, int axis, String gamma, String beta, NodeDef output, Set<String> removed) {
    }

    private LayerNormPattern() {
    }

    /** Every layer normalisation of {@code graph}, in graph order, positive axes included. */
    public static List<Match> find(GraphDef graph) {
        Map<String, NodeDef> nodes = GraphDefs.byName(graph);
        Map<String, List<NodeDef>> consumers = GraphDefs.consumers(graph);
        List<Match> found = new ArrayList<>();
        for (NodeDef n : graph.getNodeList()) {
            Match m = n.getOp().equals("Rsqrt") && Nodes.isFloat(n, "T") ? match(nodes, consumers, n) : null;
            Set<String> inside = m == null ? null : Nodes.between(nodes, m.output(), m.x());
            if (m != null && statisticsStayInside(nodes, consumers, m, inside)) {
                Set<String> removed = new HashSet<>(inside);
                removed.remove(m.output().getName());
                found.add(new Match(m.x(), m.epsilon(), m.axis(), m.gamma(), m.beta(), m.output(), removed));
            }
        }
        return found;
    }

    private static Match match(Map<String, NodeDef> nodes, Map<String, List<NodeDef>> consumers, NodeDef rsqrt) {
        NodeDef sum = Nodes.input(nodes, rsqrt, 0);
        if (sum == null || !Nodes.isAdd(sum) || sum.getInputCount() != 2) {
            return null;
        }
        for (int side = 0; side < 2; side++) {
            Float epsilon = positiveScalar(nodes, sum.getInput(1 - side));
            NodeDef variance = nodes.get(GraphDefs.nodeName(sum.getInput(side)));
            Integer axis = epsilon == null ? null : lastAxisMean(nodes, variance);
            NodeDef squares = axis == null ? null : Nodes.input(nodes, variance, 0);
            if (squares == null || !squares.getOp().equals("SquaredDifference")) {
                continue;
            }
            String x = squares.getInput(0);
            NodeDef mean = throughStopGradient(nodes, squares.getInput(1));
            if (mean == null || !Nodes.same(mean.getInput(0), x) || !axis.equals(lastAxisMean(nodes, mean))) {
                return null;
            }
            return scaled(nodes, consumers, rsqrt, x, mean, epsilon, axis);
        }
        return null;
    }

    /** The three ways of applying gamma and beta (see the class comment); null when none matches. */
    private static Match scaled(Map<String, NodeDef> nodes, Map<String, List<NodeDef>> consumers, NodeDef rsqrt, String x,
                                NodeDef mean, float epsilon, int axis) {
        NodeDef next = Nodes.only(consumers, rsqrt);
        if (next == null || !next.getOp().equals("Mul")) {
            return null;
        }
        String other = Nodes.otherInputRef(next, rsqrt.getName());
        String gamma = other == null ? null : vector(nodes, other);
        if (gamma != null) {
            // m = rsqrt * gamma, read by x * m and by mean * m or -mean * m.
            List<NodeDef> readers = consumers.getOrDefault(next.getName(), List.of());
            if (readers.size() != 2) {
                return null;
            }
            for (int first = 0; first < 2; first++) {
                NodeDef xm = readers.get(first);
                NodeDef meanM = readers.get(1 - first);
                String xSide = xm.getOp().equals("Mul") ? Nodes.otherInputRef(xm, next.getName()) : null;
                if (xSide == null || !Nodes.same(xSide, x) || !meanM.getOp().equals("Mul")) {
                    continue;
                }
                String meanSide = Nodes.otherInputRef(meanM, next.getName());
                NodeDef meanNode = meanSide == null ? null : nodes.get(GraphDefs.nodeName(meanSide));
                if (meanNode == null) {
                    return null;
                }
                boolean negated = meanNode.getOp().equals("Neg");
                if (!(negated ? Nodes.same(meanNode.getInput(0), mean.getName()) : Nodes.same(meanSide, mean.getName()))) {
                    return null;
                }
                NodeDef offset = Nodes.only(consumers, meanM);
                if (offset == null) {
                    return null;
                }
                String beta;
                if (negated && Nodes.isAdd(offset)) {
                    beta = vectorOrNull(nodes, Nodes.otherInputRef(offset, meanM.getName()));
                } else if (!negated && offset.getOp().equals("Sub") && Nodes.same(offset.getInput(1), meanM.getName())) {
                    beta = vector(nodes, offset.getInput(0));
                } else {
                    return null;
                }
                NodeDef output = Nodes.only(consumers, offset);
                if (beta == null || output == null || !Nodes.isAdd(output) || Nodes.otherInputRef(output, offset.getName()) == null
                        || !Nodes.same(Nodes.otherInputRef(output, offset.getName()), xm.getName())
                        || Nodes.only(consumers, xm) != output) {
                    return null;
                }
                return new Match(x, epsilon, axis, gamma, beta, output, null);
            }
            return null;
        }
        // (x - mean) * rsqrt * gamma + beta
        NodeDef centred = other == null ? null : nodes.get(GraphDefs.nodeName(other));
        if (centred == null || !centred.getOp().equals("Sub") || !Nodes.same(centred.getInput(0), x)
                || !Nodes.same(centred.getInput(1), mean.getName())) {
            return null;
        }
        NodeDef timesGamma = Nodes.only(consumers, next);
        String g = timesGamma == null || !timesGamma.getOp().equals("Mul") ? null : Nodes.otherInputRef(timesGamma, next.getName());
        gamma = g == null ? null : vector(nodes, g);
        NodeDef output = gamma == null ? null : Nodes.only(consumers, timesGamma);
        String b = output == null || !Nodes.isAdd(output) ? null : Nodes.otherInputRef(output, timesGamma.getName());
        String beta = b == null ? null : vector(nodes, b);
        return beta == null ? null : new Match(x, epsilon, axis, gamma, beta, output, null);
    }

    /**
     * Whether every node between x and the output (the statistics and partial products) is read only inside the
     * normalisation: otherwise they would be computed anyway, beside the fused op.
     */
    private static boolean statisticsStayInside(Map<String, NodeDef> nodes, Map<String, List<NodeDef>> consumers, Match m,
                                                Set<String> inside) {
        for (String name : inside) {
            if (!name.equals(m.output().getName()) && !Nodes.readOnlyBy(consumers, nodes.get(name), inside)) {
                return false;
            }
        }
        return true;
    }

    /** For {@code Mean(t, axis, keep_dims=true)} over one axis: the axis (-1 for the last); else null. */
    private static Integer lastAxisMean(Map<String, NodeDef> nodes, NodeDef n) {
        if (n == null || !n.getOp().equals("Mean") || !Nodes.isFloat(n, "T")
                || !n.getAttrOrDefault("keep_dims", AttrValue.getDefaultInstance()).getB()) {
            return null;
        }
        NodeDef axes = nodes.get(GraphDefs.nodeName(n.getInput(1)));
        if (axes == null || !axes.getOp().equals("Const")) {
            return null;
        }
        long[] values = Nodes.intValues(axes);
        if (values == null || values.length != 1) {
            return null;
        }
        int axis = (int) values[0];
        return axis < -1 ? null : axis;
    }

    private static NodeDef throughStopGradient(Map<String, NodeDef> nodes, String ref) {
        NodeDef n = nodes.get(GraphDefs.nodeName(ref));
        if (n != null && (n.getOp().equals("StopGradient") || n.getOp().equals("Identity"))) {
            n = nodes.get(GraphDefs.nodeName(n.getInput(0)));
        }
        return n;
    }

    /** A positive scalar float constant below 0.1 (an epsilon); else null. */
    private static Float positiveScalar(Map<String, NodeDef> nodes, String ref) {
        NodeDef n = nodes.get(GraphDefs.nodeName(ref));
        if (n == null || !n.getOp().equals("Const")) {
            return null;
        }
        TensorProto t = n.getAttrOrThrow("value").getTensor();
        if (t.getDtype() != DataType.DT_FLOAT || t.getTensorShape().getDimCount() != 0 || t.getFloatValCount() != 1) {
            return null;
        }
        float v = t.getFloatVal(0);
        return v > 0 && v < 0.1f ? v : null;
    }

    /**
     * The vector variable read behind {@code ref}, through a reshape that only adds leading ones (Keras broadcasts gamma
     * and beta that way) or an identity: the read's reference, which the fused op takes as it is; else null.
     */
    private static String vector(Map<String, NodeDef> nodes, String ref) {
        NodeDef n = nodes.get(GraphDefs.nodeName(ref));
        String read = ref;
        while (n != null && (n.getOp().equals("Identity") || n.getOp().equals("Reshape") && onlyLeadingOnes(nodes, n.getInput(1)))) {
            read = n.getInput(0);
            n = nodes.get(GraphDefs.nodeName(read));
        }
        return n != null && Nodes.isVectorVariable(nodes, read) ? read : null;
    }

    /** Whether a reshape's target shape is a constant [1, ..., 1, k]: a vector made to broadcast over leading axes. */
    private static boolean onlyLeadingOnes(Map<String, NodeDef> nodes, String shapeRef) {
        NodeDef shape = nodes.get(GraphDefs.nodeName(shapeRef));
        if (shape == null || !shape.getOp().equals("Const")) {
            return false;
        }
        long[] dims = Nodes.intValues(shape);
        if (dims == null) {
            return false;
        }
        for (int i = 0; i < dims.length - 1; i++) {
            if (dims[i] != 1) {
                return false;
            }
        }
        return dims.length > 0;
    }

    private static String vectorOrNull(Map<String, NodeDef> nodes, String ref) {
        return ref == null ? null : vector(nodes, ref);
    }

}
