package dev.finetune.engine.training;

import dev.finetune.runtime.model.GraphDefs;
import dev.finetune.runtime.model.ModelException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.TensorShapeProto;

/**
 * Finds the variables of an encoder graph: every float resource variable read on the path to the encoder's output.
 * Variables are resource handles ({@code VarHandleOp}), not {@code VariableV2}, which is why TF Java's own optimizers
 * do not see them. Two handle ops with one shared name are one variable.
 *
 * <p>Only reads on a differentiable path to the output are kept for the gradient: Keras 3's {@code Embedding} reads
 * its table once more for its shape, and a gradient asked of that read fails ("unreachable from the output"). A
 * variable whose every read is of that kind is still saved and exported, but does not train.
 */
public final class EncoderVariables {
    private EncoderVariables() {
    }

    public static List<EncoderVariable> find(GraphDef graph, String outputTensor) {
        Map<String, NodeDef> nodes = GraphDefs.byName(graph);
        Set<String> onPath = GraphDefs.ancestors(graph, List.of(outputTensor));
        Set<String> differentiable = GraphDefs.differentiableAncestors(graph, outputTensor);
        Map<String, String> handles = new LinkedHashMap<>();
        Map<String, List<String>> reads = new LinkedHashMap<>();
        for (NodeDef n : graph.getNodeList()) {
            if (!onPath.contains(n.getName()) || !n.getOp().equals("ReadVariableOp")
                    || n.getAttrOrThrow("dtype").getType() != DataType.DT_FLOAT) {
                continue;
            }
            NodeDef handle = traceHandle(nodes, n);
            String key = GraphDefs.variableKey(handle);
            handles.putIfAbsent(key, handle.getName());
            List<String> keyReads = reads.computeIfAbsent(key, k -> new ArrayList<>());
            if (differentiable.contains(n.getName())) {
                keyReads.add(n.getName() + ":0");
            }
        }
        List<EncoderVariable> out = new ArrayList<>();
        handles.forEach((key, handle) -> out.add(new EncoderVariable(key, handle, reads.get(key), shape(nodes.get(handle)))));
        if (out.isEmpty()) {
            throw new ModelException("No trainable float variable is read on the way to '" + outputTensor
                    + "': the model holds no resource variables there (constants cannot be fine-tuned).");
        }
        return out;
    }

    private static NodeDef traceHandle(Map<String, NodeDef> nodes, NodeDef read) {
        NodeDef handle = GraphDefs.variableHandle(nodes, read.getInput(0));
        if (handle == null) {
            NodeDef source = nodes.get(GraphDefs.nodeName(read.getInput(0)));
            throw new ModelException("Variable read '" + read.getName() + "' does not come from a VarHandleOp"
                    + (source == null ? "" : " but from a " + source.getOp()) + "; this model's variables cannot be trained.");
        }
        return handle;
    }

    private static long[] shape(NodeDef handle) {
        TensorShapeProto s = handle.getAttrOrThrow("shape").getShape();
        long[] dims = new long[s.getDimCount()];
        for (int i = 0; i < dims.length; i++) {
            dims[i] = s.getDim(i).getSize();
            if (dims[i] < 0) {
                throw new ModelException("Variable '" + handle.getName() + "' has an unknown dimension; "
                        + "only fully shaped variables can be trained.");
            }
        }
        return dims;
    }
}
