package dev.finetune.runtime.model;

import dev.finetune.runtime.FineTuneException;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Graph;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
import org.tensorflow.Tensor;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;
import org.tensorflow.types.TString;

/**
 * A session ready to serve a SavedModel, and what has to be closed with it: either TensorFlow's SavedModel loader's
 * bundle as it is, or a graph rewritten to hold its matmul weights in bfloat16 ({@link Bfloat16Weights}) and restored
 * by the model's own saver.
 */
public final class LoadedGraph implements AutoCloseable {
    private final Session session;
    private final AutoCloseable[] owned;
    private final int bfloat16Variables;

    private LoadedGraph(Session session, int bfloat16Variables, AutoCloseable... owned) {
        this.session = session;
        this.bfloat16Variables = bfloat16Variables;
        this.owned = owned;
    }

    /** The SavedModel loader's session. */
    public static LoadedGraph of(SavedModelBundle bundle) {
        return new LoadedGraph(bundle.session(), 0, bundle);
    }

    /**
     * The model in {@code file} with its matmul weights held in bfloat16, or null when its graph is not one this can
     * load by itself: anything the SavedModel loader does beyond restoring variables (init ops, asset files) is left
     * to it, as are graphs without a variable to convert.
     */
    public static LoadedGraph withBfloat16Weights(SavedModelFile file, SignatureDef signature, SessionSettings settings) {
        MetaGraphDef meta = file.metaGraph();
        if (!meta.hasSaverDef() || meta.getCollectionDefCount() > 0 || meta.getAssetFileDefCount() > 0) {
            return null;
        }
        Bfloat16Weights.Rewrite rewrite = Bfloat16Weights.of(meta.getGraphDef(), meta.getSaverDef(),
                names(signature.getInputsMap().values()), names(signature.getOutputsMap().values()));
        if (rewrite == null) {
            return null;
        }
        Graph graph = new Graph();
        Session session = null;
        try {
            graph.importGraphDef(rewrite.graph());
            session = new Session(graph, settings.config());
            try (Tensor prefix = TString.scalarOf(file.variablesPrefix().toString())) {
                session.runner().feed(meta.getSaverDef().getFilenameTensorName(), prefix)
                        .addTarget(GraphDefs.nodeName(meta.getSaverDef().getRestoreOpName())).run();
            }
            return new LoadedGraph(session, rewrite.variables().size(), session, graph);
        } catch (RuntimeException e) {
            if (session != null) {
                session.close();
            }
            graph.close();
            throw new FineTuneException("Cannot load " + file.directory() + " with its matmul weights in bfloat16: "
                    + e.getMessage() + " (precision float32 loads it as it is)", e);
        }
    }

    private static List<String> names(java.util.Collection<TensorInfo> tensors) {
        List<String> names = new ArrayList<>();
        tensors.forEach(t -> names.add(t.getName()));
        return names;
    }

    public Session session() {
        return session;
    }

    /** How many variables the session holds in bfloat16. */
    public int bfloat16Variables() {
        return bfloat16Variables;
    }

    @Override
    public void close() {
        for (AutoCloseable c : owned) {
            try {
                c.close();
            } catch (Exception e) {
                throw new IllegalStateException("Cannot close " + c + ": " + e.getMessage(), e);
            }
        }
    }
}
