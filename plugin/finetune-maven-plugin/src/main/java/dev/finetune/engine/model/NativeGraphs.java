package dev.finetune.engine.model;

import dev.finetune.runtime.model.ModelException;
import java.lang.reflect.Method;
import java.util.Map;
import org.tensorflow.Graph;
import org.tensorflow.exceptions.TensorFlowException;
import org.tensorflow.internal.c_api.TF_Buffer;
import org.tensorflow.internal.c_api.TF_Graph;
import org.tensorflow.internal.c_api.TF_ImportGraphDefOptions;
import org.tensorflow.internal.c_api.TF_Operation;
import org.tensorflow.internal.c_api.TF_Output;
import org.tensorflow.internal.c_api.TF_Status;
import org.tensorflow.internal.c_api.global.tensorflow;
import org.tensorflow.proto.GraphDef;

/**
 * What TF Java 1.1.0's {@link Graph} does not expose of the C API: its native handle (from the package-private
 * {@code Graph.ref()}, whose reference is closed at once: the handle lives as long as the graph, and a reference left
 * open makes {@code Graph.close()} wait for ever), and an import that wires the imported nodes to tensors already in
 * the graph ({@code TF_ImportGraphDefOptionsAddInputMapping}), which {@code Graph.importGraphDef} cannot.
 */
public final class NativeGraphs {
    private NativeGraphs() {
    }

    /** The graph's {@code TF_Graph}; valid while the graph is open. */
    public static TF_Graph handle(Graph graph) {
        try {
            Method ref = Graph.class.getDeclaredMethod("ref");
            ref.setAccessible(true);
            Object reference = ref.invoke(graph);
            Method handle = reference.getClass().getDeclaredMethod("nativeHandle");
            handle.setAccessible(true);
            try {
                return (TF_Graph) handle.invoke(reference);
            } finally {
                Method close = reference.getClass().getDeclaredMethod("close");
                close.setAccessible(true);
                close.invoke(reference);
            }
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("This TensorFlow Java does not have the Graph.ref() of version 1.1.0 (" + e + ").", e);
        }
    }

    /**
     * Imports {@code def} into {@code graph} under {@code prefix}, every node renamed {@code prefix/name}, except that an
     * input naming a key of {@code inputs} ("node" or "node:index" in {@code def}) reads the graph's tensor of that
     * name instead ("node:index"), and a control input on such a node waits for the graph's node. So the imported nodes
     * can use what the graph already has (its variables) without copying it; {@code def} need not hold those nodes.
     */
    public static void importMapped(Graph graph, GraphDef def, String prefix, Map<String, String> inputs) {
        TF_Graph g = handle(graph);
        TF_ImportGraphDefOptions options = tensorflow.TF_NewImportGraphDefOptions();
        try (TF_Status status = TF_Status.newStatus(); TF_Buffer bytes = TF_Buffer.newBufferFromString(def)) {
            tensorflow.TF_ImportGraphDefOptionsSetPrefix(options, prefix);
            for (Map.Entry<String, String> e : inputs.entrySet()) {
                String[] to = split(e.getValue());
                TF_Operation op = tensorflow.TF_GraphOperationByName(g, to[0]);
                if (op == null || op.isNull()) {
                    throw new ModelException("The graph has no operation '" + to[0] + "' to wire the import to.");
                }
                String[] from = split(e.getKey());
                try (TF_Output out = new TF_Output()) {
                    out.oper(op).index(Integer.parseInt(to[1]));
                    tensorflow.TF_ImportGraphDefOptionsAddInputMapping(options, from[0], Integer.parseInt(from[1]), out);
                }
                tensorflow.TF_ImportGraphDefOptionsRemapControlDependency(options, from[0], op);
            }
            tensorflow.TF_GraphImportGraphDef(g, bytes, options, status);
            status.throwExceptionIfNotOK();
        } catch (TensorFlowException e) {
            throw new ModelException("Cannot import the graph under " + prefix + ": " + e.getMessage(), e);
        } finally {
            tensorflow.TF_DeleteImportGraphDefOptions(options);
        }
    }

    private static String[] split(String tensor) {
        int colon = tensor.lastIndexOf(':');
        return colon < 0 ? new String[] {tensor, "0"} : new String[] {tensor.substring(0, colon), tensor.substring(colon + 1)};
    }
}
