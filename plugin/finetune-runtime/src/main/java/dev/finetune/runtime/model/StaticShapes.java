package dev.finetune.runtime.model;

import org.tensorflow.Graph;
import org.tensorflow.proto.GraphDef;

/**
 * Static shapes of a graph's tensors, from TensorFlow's shape inference on an import of the graph made on first use:
 * what graph rewrites need to know of ranks and dimensions. Close it to free the import.
 */
public final class StaticShapes implements AutoCloseable {
    private final GraphDef graph;
    private Graph imported;
    private boolean failed;

    public StaticShapes(GraphDef graph) {
        this.graph = graph;
    }

    /** The shape of {@code tensor} (-1 for an unknown dimension), or null when not even its rank is known. */
    public long[] of(String tensor) {
        if (imported == null && !failed) {
            imported = new Graph();
            try {
                imported.importGraphDef(graph);
            } catch (RuntimeException e) {
                // The real import, later, reports what is wrong with the graph; unknown shapes rewrite nothing.
                failed = true;
            }
        }
        try {
            org.tensorflow.ndarray.Shape s = failed ? null : GraphDefs.output(imported, tensor).shape();
            return s == null || s.isUnknown() ? null : s.asArray();
        } catch (RuntimeException e) {
            return null;
        }
    }

    /** The rank of {@code tensor}, or -1 when unknown. */
    public int rank(String tensor) {
        long[] shape = of(tensor);
        return shape == null ? -1 : shape.length;
    }

    @Override
    public void close() {
        if (imported != null) {
            imported.close();
        }
    }
}
