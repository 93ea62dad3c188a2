package dev.finetune.engine.export;

import dev.finetune.engine.model.EncoderGraph;
import dev.finetune.engine.training.ClassifierGraph;
import dev.finetune.engine.training.ClassifierSession;
import dev.finetune.runtime.FineTuneException;
import dev.finetune.runtime.Task;
import dev.finetune.runtime.encoding.Batch;
import dev.finetune.runtime.model.GraphDefs;
import dev.finetune.runtime.model.SavedModelFile;
import dev.finetune.runtime.model.ServingSignature;
import dev.finetune.runtime.model.UnsafeOps;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Tensor;
import org.tensorflow.TensorFlow;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.SavedModel;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;
import org.tensorflow.proto.TensorShapeProto;
import org.tensorflow.types.TInt32;

/**
 * Writes the fine-tuned classifier as a SavedModel: the inference part of the training graph (no gradients, no
 * optimizer), a saver that covers the encoder and the new head, and a {@code serving_default} signature from
 * {@code input_ids}, {@code input_mask}, {@code segment_ids} to {@code probabilities} and {@code logits}, plus the
 * encoder's {@code pooled_output} (what the head reads) and {@code sequence_output}, so that the result can itself
 * be fine-tuned again.
 * Why not {@code SavedModelBundle.exporter}: it keeps the loaded model's own SaverDef, which silently leaves
 * the head out, and the reloaded model fails with uninitialised variables.
 */
public final class ModelExporter {

    private ModelExporter() {
    }

    public static void export(ClassifierGraph model, ClassifierSession session, Path directory) throws IOException {
        Graph graph = model.graph();
        var saver = model.exportSaver();
        List<String> roots = new ArrayList<>(saver.nodeNames());
        roots.add(model.outputName());
        roots.add(ClassifierGraph.LOGITS);
        roots.add(ClassifierGraph.FEATURES);
        var encoderSignature = model.encoder().signature();
        if (encoderSignature.sequenceOutput() != null) {
            roots.add(encoderSignature.sequenceOutput());
        }
        // The exported graph computes each GELU directly (the training detour only matters for gradients), adds its
        // dense layers' biases with BiasAdd and multiplies with BatchMatMulV2 again (EncoderGraph.forInference), the
        // form serving fuses and packs. Tables that trained lazily looked their rows up with ResourceGather
        // (LazyEmbeddings): the export reads them as a dense run's export does. Products read the float32 weights again,
        // not the bfloat16 copies that training kept (WeightCopies).
        GraphDef pruned = GraphDefs.rewriteResourceGathers(GraphDefs.prune(EncoderGraph.forInference(model.inferenceGraphDef()), roots));

        SignatureDef.Builder sig = SignatureDef.newBuilder().setMethodName("tensorflow/serving/predict");
        var enc = model.encoder().signature();
        sig.putInputs("input_ids", info(graph, enc.inputIds()));
        // A model that takes no mask gets the plugin's own only where pooling reads it (last, mean).
        if (enc.inputMask() != null || pruned.getNodeList().stream().anyMatch(n -> n.getName().equals(ClassifierGraph.INPUT_MASK))) {
            sig.putInputs("input_mask", info(graph, model.inputMaskTensor()));
        }
        if (enc.segmentIds() != null) {
            sig.putInputs("segment_ids", info(graph, enc.segmentIds()));
        }
        sig.putOutputs(ServingSignature.outputKey(model.task()), info(graph, model.outputName() + ":0"));
        sig.putOutputs("logits", info(graph, ClassifierGraph.LOGITS + ":0"));
        // The encoder's outputs too, so that the fine-tuned model can be the base of a further fine-tuning.
        if (model.task() != Task.TOKEN_CLASSIFICATION) {
            sig.putOutputs("pooled_output", info(graph, ClassifierGraph.FEATURES + ":0"));
        }
        if (enc.sequenceOutput() != null) {
            sig.putOutputs("sequence_output", info(graph, enc.sequenceOutput()));
        }

        MetaGraphDef meta = MetaGraphDef.newBuilder()
                .setMetaInfoDef(MetaGraphDef.MetaInfoDef.newBuilder().addTags("serve")
                        .setTensorflowVersion(TensorFlow.version()).setTensorflowGitVersion("finetune-maven-plugin"))
                .setGraphDef(pruned)
                .setSaverDef(saver.saverDef())
                .putSignatureDef(ServingSignature.NAME, sig.build())
                .build();
        Files.createDirectories(directory.resolve("variables"));
        Files.write(directory.resolve("saved_model.pb"),
                deterministicBytes(SavedModel.newBuilder().setSavedModelSchemaVersion(1).addMetaGraphs(meta).build()));
        session.saveWeights(directory.resolve("variables").resolve("variables"));
    }

    /**
     * The signature output a task's prediction is read from: {@code probabilities} (per label; per position and label
     * for token classification; a sigmoid per label for multi-label), or {@code predictions} for regression.
     */


    /**
     * The proto's bytes with map entries (each node's attributes, the signatures) in key order: protobuf otherwise writes
     * maps in the order it holds them, which differs from run to run, and the same model would give other bytes.
     */
    static byte[] deterministicBytes(com.google.protobuf.Message proto) throws IOException {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream(proto.getSerializedSize());
        com.google.protobuf.CodedOutputStream out = com.google.protobuf.CodedOutputStream.newInstance(bytes);
        out.useDeterministicSerialization();
        proto.writeTo(out);
        out.flush();
        return bytes.toByteArray();
    }

    private static TensorInfo info(Graph graph, String tensor) {
        var output = ClassifierGraph.output(graph, tensor);
        TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
        Shape s = output.shape();
        if (s.isUnknown()) {
            shape.setUnknownRank(true);
        } else {
            for (long d : s.asArray()) {
                shape.addDim(TensorShapeProto.Dim.newBuilder().setSize(d));
            }
        }
        return TensorInfo.newBuilder().setName(tensor).setDtype(DataType.forNumber(output.dataType().getNumber()))
                .setTensorShape(shape).build();
    }

    /**
     * Loads the exported model back with TensorFlow's own SavedModel loader and checks that it predicts what the
     * training session predicts for {@code sample}, within {@code tolerance}; returns the reloaded probabilities.
     * The reloaded model computes in float32; a session that trained in bfloat16 predicts to about 1e-2.
     * {@code allowUnsafeOps}: as for the base model ({@link UnsafeOps}).
     */
    public static float[][] verifyByReloading(Path directory, Batch sample, float[][] expected, boolean hasSegments, double tolerance,
                                              List<String> allowUnsafeOps) {
        return verifyByReloading(directory, sample, expected, hasSegments, tolerance, allowUnsafeOps, ConfigProto.getDefaultInstance());
    }

    /**
     * As above, with the check run in a session of {@code config}, the training session's: a model trained in bfloat16
     * is checked in bfloat16 (TensorFlow's mixed-precision pass on both sides), not against float32, whose difference
     * grows with the weights a run happens to reach (0.023 and 0.051 on two runs of a token tagger that only differed in
     * how they updated embeddings); returns what the export predicts in float32, as the other.
     */
    public static float[][] verifyByReloading(Path directory, Batch sample, float[][] expected, boolean hasSegments, double tolerance,
                                              List<String> allowUnsafeOps, ConfigProto config) {
        checkBeforeLoading(directory, allowUnsafeOps);
        float[][] checked = check(directory, reload(directory, sample, hasSegments, config), expected, tolerance);
        return config.equals(ConfigProto.getDefaultInstance()) ? checked
                : reload(directory, sample, hasSegments, ConfigProto.getDefaultInstance());
    }

    /**
     * Scanned like any model before TensorFlow's loader runs its restore and init ops: the export carries whatever the
     * base model ran (with the ops the user accepted) and nothing else.
     */
    private static void checkBeforeLoading(Path directory, List<String> allowUnsafeOps) {
        SavedModelFile file = SavedModelFile.read(directory);
        UnsafeOps.checkBeforeLoading(file, ServingSignature.tensors(file.metaGraph().getSignatureDefOrThrow(ServingSignature.NAME)), allowUnsafeOps);
    }

    private static float[][] check(Path directory, float[][] out, float[][] expected, double tolerance) {
        for (int i = 0; i < out.length; i++) {
            for (int j = 0; j < out[i].length; j++) {
                if (Math.abs(out[i][j] - expected[i][j]) > tolerance) {
                    throw new FineTuneException("The exported model in " + directory + " does not reproduce the "
                            + "trained model: row " + i + ", output " + j + " gives " + out[i][j] + " instead of "
                            + expected[i][j] + ".");
                }
            }
        }
        return out;
    }

    /** What the export in {@code directory}, loaded in a session of {@code config}, predicts for {@code sample}. */
    private static float[][] reload(Path directory, Batch sample, boolean hasSegments, ConfigProto config) {
        try (SavedModelBundle bundle = SavedModelBundle.loader(directory.toString()).withTags("serve").withConfigProto(config).load()) {
            SignatureDef sig = bundle.metaGraphDef().getSignatureDefOrThrow(ServingSignature.NAME);
            // The export has one of the two: predictions (regression) or probabilities (every other task).
            String key = sig.containsOutputs("predictions") ? "predictions" : "probabilities";
            Shape shape = Shape.of(sample.rows(), sample.length());
            List<Tensor> feeds = new ArrayList<>();
            try {
                var runner = bundle.session().runner();
                Map<String, int[]> inputs = new java.util.LinkedHashMap<>();
                inputs.put("input_ids", sample.inputIds());
                if (sig.containsInputs("input_mask")) {
                    inputs.put("input_mask", sample.inputMask());
                }
                if (hasSegments) {
                    inputs.put("segment_ids", sample.segmentIds());
                }
                for (var e : inputs.entrySet()) {
                    TInt32 t = TInt32.tensorOf(shape, DataBuffers.of(e.getValue(), true, false));
                    feeds.add(t);
                    runner.feed(sig.getInputsOrThrow(e.getKey()).getName(), t);
                }
                try (Result r = runner.fetch(sig.getOutputsOrThrow(key).getName()).run()) {
                    return ServingSignature.rows(ServingSignature.floats(r.get(0)), sample.rows());
                }
            } finally {
                feeds.forEach(Tensor::close);
            }
        }
    }
}
