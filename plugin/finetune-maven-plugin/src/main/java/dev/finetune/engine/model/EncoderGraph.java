package dev.finetune.engine.model;

import dev.finetune.runtime.model.FunctionInliner;
import dev.finetune.runtime.model.GraphDefs;
import dev.finetune.runtime.model.ModelException;
import dev.finetune.runtime.model.SavedModelFile;
import dev.finetune.runtime.model.StaticShapes;
import dev.finetune.runtime.model.UnsafeOps;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.SaverDef;

/**
 * A SavedModel encoder made ready to train: function calls inlined, embedding look-ups made differentiable,
 * tanh GELUs made cheap to train through ({@link GeluRewrite}), dense layers' biases added as rows
 * ({@link BiasAddRewrite}), layer norms computed as fused batch norms ({@link LayerNormRewrite}), batched products
 * written as einsums ({@link BatchMatMulRewrite}), pruned to the encoder's path and the model's own restore op
 * ({@link #forInference} undoes the rewrites for export). Import {@link #graph()} into a fresh {@code Graph}, run
 * {@link #restoreOp()} with {@link #restoreFilenameTensor()} fed {@link #variablesPrefix()}, and the pretrained weights
 * are loaded.
 */
public record EncoderGraph(GraphDef graph, EncoderSignature signature, String restoreOp,
                           String restoreFilenameTensor, Path variablesPrefix, int inlinedLevels) {

    public static EncoderGraph prepare(SavedModelFile model, SignatureNames names) {
        return prepare(model, names, List.of());
    }

    /**
     * The rewrites that only make training cheaper, applied in this order; {@link #forInference} undoes them in reverse.
     * {@code kernelThreads}: the threads each of this plugin's kernels ({@link TrainingKernels}) may use, 0 for none.
     */
    private static GraphDef forTraining(GraphDef graph, int kernelThreads) {
        GraphDef rewritten = BiasAddRewrite.forTraining(GeluRewrite.forTraining(graph, TrainingKernels.available() ? kernelThreads : 0));
        // The layer-norm rewrite keeps every tensor's name and rank (a layer norm's output is a new node under the old
        // name): the shapes of the graph before it serve the products' rewrite too, from one import.
        try (StaticShapes shapes = new StaticShapes(rewritten)) {
            return BatchMatMulRewrite.forTraining(LayerNormRewrite.forTraining(rewritten, shapes), shapes);
        }
    }

    /**
     * {@code graph} (a training graph that imported {@link #graph()}, or that graph itself) with the training-only
     * rewrites undone: each GELU reads its value, biases are {@code BiasAdd}s, layer norms their written ops, batched
     * products {@code BatchMatMulV2}s: the form serving fuses and packs, and the one the export writes.
     */
    public static GraphDef forInference(GraphDef graph) {
        return GeluRewrite.forInference(BiasAddRewrite.forInference(LayerNormRewrite.forInference(BatchMatMulRewrite.forInference(graph))));
    }

    /** Prepares the encoder to train on this machine's CPUs ({@link #prepare(SavedModelFile, SignatureNames, List, int)}). */
    public static EncoderGraph prepare(SavedModelFile model, SignatureNames names, List<String> allowedUnsafeOps) {
        return prepare(model, names, allowedUnsafeOps, TrainingKernels.threads(0, 1));
    }

    /**
     * Prepares the encoder, refusing it if it holds unsafe ops other than {@code allowedUnsafeOps} ({@link UnsafeOps});
     * {@code kernelThreads} the threads each of this plugin's kernels may use ({@link TrainingKernels#threads}), 0 when
     * the step runs on a GPU, where these kernels (CPU only) would move each layer's activations to the host and back.
     */
    public static EncoderGraph prepare(SavedModelFile model, SignatureNames names, List<String> allowedUnsafeOps, int kernelThreads) {
        EncoderSignature original = SignatureResolver.resolve(model, names);
        SaverDef saver = model.metaGraph().getSaverDef();
        if (saver.getRestoreOpName().isEmpty() || saver.getFilenameTensorName().isEmpty()) {
            throw new ModelException("The SavedModel in " + model.directory() + " has no saver (SaverDef): its "
                    + "variables cannot be restored.");
        }
        Path prefix = model.variablesPrefix();
        FunctionInliner.Result inlined = FunctionInliner.inline(model.metaGraph().getGraphDef());
        EncoderSignature signature = original.map(inlined::resolve);
        String filename = inlined.resolve(saver.getFilenameTensorName());
        String restore = saver.getRestoreOpName();
        GraphDef graph = GraphDefs.rewriteResourceGathers(inlined.graph());
        List<String> roots = new ArrayList<>();
        for (String t : new String[] {signature.inputIds(), signature.inputMask(), signature.segmentIds(),
                signature.pooledOutput(), signature.sequenceOutput()}) {
            if (t != null) {
                roots.add(t);
            }
        }
        var present = GraphDefs.byName(graph).keySet();
        for (String t : roots) {
            if (!present.contains(GraphDefs.nodeName(t))) {
                throw new ModelException("The model in " + model.directory() + " names tensor '" + t
                        + "', but its graph has no such node.");
            }
        }
        // What train runs: the restore op (ClassifierSession) and the encoder's inputs and outputs.
        UnsafeOps.checkSession(model, inlined, roots, allowedUnsafeOps);
        roots.add(restore);
        roots.add(filename);
        graph = forTraining(GraphDefs.dropColocation(GraphDefs.prune(graph, roots)), kernelThreads);
        ObjectGraphRestore.Completed complete = ObjectGraphRestore.complete(graph, model.metaGraph(), restore, filename, prefix,
                model.directory());
        graph = complete.graph();
        restore = complete.restoreOp();
        // int64 ids and bool masks are fed as int32 like every other model's, through a cast into the model.
        GraphDef.Builder int32 = graph.toBuilder();
        var renamed = GraphDefs.feedAsInt32(int32, java.util.Arrays.asList(signature.inputIds(), signature.inputMask(),
                signature.segmentIds()));
        signature = signature.map(t -> renamed.getOrDefault(t, t));
        return new EncoderGraph(int32.build(), signature, restore, filename, prefix, inlined.rounds());
    }
}
