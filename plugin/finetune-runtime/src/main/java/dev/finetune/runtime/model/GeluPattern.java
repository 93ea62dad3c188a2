package dev.finetune.runtime.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;

/**
 * Finds the GELUs of an encoder graph, which exporters write as chains of element-wise ops (TensorFlow has no GELU op).
 *
 * <p>Both forms compute {@code 0.5 * x * s}:
 * <ul>
 *   <li>tanh, the approximation of Google's BERT and {@code tf.nn.gelu(approximate=True)}:
 *       {@code s = 1 + tanh(c * (x + a * pow(x, 3)))};</li>
 *   <li>exact, {@code tf.nn.gelu(approximate=False)} and Keras 3's {@code "gelu"}: {@code s = erfc(-x / sqrt 2)} (what
 *       TensorFlow 2.21 writes) or {@code s = 1 + erf(x / sqrt 2)}.</li>
 * </ul>
 * and the halving and the product come in any of the orders exporters use: {@code x * (0.5 * s)}, {@code (0.5 * x) * s}
 * or {@code (x * s) * 0.5}, each product and sum with its operands either way round.
 */
public final class GeluPattern {
    private static final double A = 0.044715;
    private static final double C = Math.sqrt(2 / Math.PI);
    private static final double SQRT_HALF = Math.sqrt(0.5);

    /**
     * One GELU: its input {@code x} (a tensor reference), the node that yields its value, whether it is the tanh
     * approximation, and for that form the tanh and {@code 1 + tanh} nodes (null for the exact form).
     */
    public record Match(String x, NodeDef output, boolean approximate, NodeDef tanh, NodeDef onePlusTanh) {
    }

    private GeluPattern() {
    }

    /** Every GELU of {@code graph}, in graph order. */
    public static List<Match> find(GraphDef graph) {
        Map<String, NodeDef> nodes = GraphDefs.byName(graph);
        Map<String, List<NodeDef>> consumers = GraphDefs.consumers(graph);
        List<Match> found = new ArrayList<>();
        for (NodeDef n : graph.getNodeList()) {
            Match m = switch (n.getOp()) {
                case "Tanh" -> tanh(nodes, consumers, n);
                case "Erf", "Erfc" -> exact(nodes, consumers, n);
                default -> null;
            };
            if (m != null) {
                found.add(m);
            }
        }
        return found;
    }

    /** {@code tanh(c * (x + a * pow(x, 3)))} upward from the tanh, then {@code 1 + tanh} and the product downward. */
    private static Match tanh(Map<String, NodeDef> nodes, Map<String, List<NodeDef>> consumers, NodeDef tanh) {
        String inner = Nodes.scalarTimes(nodes, Nodes.input(nodes, tanh, 0), C);
        NodeDef sum = inner == null ? null : nodes.get(GraphDefs.nodeName(inner));
        if (sum == null || !Nodes.isAdd(sum) || sum.getInputCount() != 2) {
            return null;
        }
        for (int side = 0; side < 2; side++) {
            String x = sum.getInput(side);
            String cube = Nodes.scalarTimes(nodes, nodes.get(GraphDefs.nodeName(sum.getInput(1 - side))), A);
            NodeDef pow = cube == null ? null : nodes.get(GraphDefs.nodeName(cube));
            if (pow == null || !pow.getOp().equals("Pow") || !Nodes.same(pow.getInput(0), x) || !Nodes.isScalar(nodes, pow.getInput(1), 3)) {
                continue;
            }
            NodeDef onePlus = Nodes.only(consumers, tanh);
            if (onePlus == null || !Nodes.isAdd(onePlus) || !Nodes.addsScalar(nodes, onePlus, tanh.getName(), 1)) {
                return null;
            }
            NodeDef output = halfProduct(nodes, consumers, onePlus, x);
            return output == null ? null : new Match(x, output, true, tanh, onePlus);
        }
        return null;
    }

    /** {@code erfc(-x / sqrt 2)} or {@code 1 + erf(x / sqrt 2)}, then the product downward. */
    private static Match exact(Map<String, NodeDef> nodes, Map<String, List<NodeDef>> consumers, NodeDef erf) {
        NodeDef argument = Nodes.input(nodes, erf, 0);
        String x;
        NodeDef s = erf;
        if (erf.getOp().equals("Erfc")) {
            // -x / sqrt 2 as neg(x) * sqrt(1/2) (what TensorFlow writes), or as x * -sqrt(1/2).
            String negated = scaled(nodes, argument, SQRT_HALF);
            NodeDef neg = negated == null ? null : nodes.get(GraphDefs.nodeName(negated));
            x = neg != null && neg.getOp().equals("Neg") ? neg.getInput(0) : scaled(nodes, argument, -SQRT_HALF);
        } else {
            x = scaled(nodes, argument, SQRT_HALF);
            s = Nodes.only(consumers, erf);
            if (s == null || !Nodes.isAdd(s) || !Nodes.addsScalar(nodes, s, erf.getName(), 1)) {
                return null;
            }
        }
        if (x == null) {
            return null;
        }
        NodeDef output = halfProduct(nodes, consumers, s, x);
        return output == null ? null : new Match(x, output, false, null, null);
    }

    /** For {@code n = v * k} (either order) or {@code n = v / (1 / k)}: v; else null. */
    private static String scaled(Map<String, NodeDef> nodes, NodeDef n, double k) {
        if (n != null && (n.getOp().equals("RealDiv") || n.getOp().equals("Div")) && n.getInputCount() == 2) {
            return Nodes.isScalar(nodes, n.getInput(1), 1 / k) ? n.getInput(0) : null;
        }
        return Nodes.scalarTimes(nodes, n, k);
    }

    /** The node yielding {@code 0.5 * x * s} from {@code s}, in the three orders exporters write it; else null. */
    private static NodeDef halfProduct(Map<String, NodeDef> nodes, Map<String, List<NodeDef>> consumers, NodeDef s, String x) {
        NodeDef next = Nodes.only(consumers, s);
        if (next == null || !next.getOp().equals("Mul")) {
            return null;
        }
        String other = Nodes.otherInputRef(next, s.getName());
        if (other == null) {
            return null;
        }
        // x * (0.5 * s)
        if (Nodes.isScalar(nodes, other, 0.5)) {
            NodeDef product = Nodes.only(consumers, next);
            String factor = product == null || !product.getOp().equals("Mul") ? null : Nodes.otherInputRef(product, next.getName());
            return factor != null && Nodes.same(factor, x) ? product : null;
        }
        // (0.5 * x) * s
        String halfOf = Nodes.scalarTimes(nodes, nodes.get(GraphDefs.nodeName(other)), 0.5);
        if (halfOf != null && Nodes.same(halfOf, x)) {
            return next;
        }
        // (x * s) * 0.5
        if (Nodes.same(other, x)) {
            NodeDef product = Nodes.only(consumers, next);
            String factor = product == null || !product.getOp().equals("Mul") ? null : Nodes.otherInputRef(product, next.getName());
            return factor != null && Nodes.isScalar(nodes, factor, 0.5) ? product : null;
        }
        return null;
    }
}
