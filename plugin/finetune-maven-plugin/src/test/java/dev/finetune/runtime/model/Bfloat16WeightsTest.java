package dev.finetune.runtime.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.FineTuneEngine;
import dev.finetune.engine.TestFiles;
import dev.finetune.engine.config.FineTuneConfig;
import dev.finetune.engine.training.ProgressListener;
import dev.finetune.runtime.FineTunedModel;
import dev.finetune.runtime.encoding.Batch;
import dev.finetune.runtime.encoding.Batches;
import dev.finetune.runtime.encoding.EncodedExample;
import dev.finetune.runtime.encoding.LabeledText;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.types.TInt32;

/** Serving with the matmul weights held in bfloat16, on a model exported by finetune:train. */
class Bfloat16WeightsTest {
    @TempDir
    static Path root;
    static Path modelDir;

    private static final SessionSettings BFLOAT16 = new SessionSettings("cpu", 1, 1, "bfloat16", false);
    private static final List<String> TEXTS = List.of("a wonderful, moving film", "dull and far too long",
            "the cast is great but the story drags on and on", "I would watch it again");

    @BeforeAll
    static void trainOnce() {
        FineTuneConfig c = TestFiles.tinyConfig("tiny-bert-tf2", root);
        FineTuneEngine.train(c, ProgressListener.SILENT);
        modelDir = c.outputDirectory;
    }

    @Test
    void convertsTheMatmulWeightsOnly() {
        MetaGraphDef meta = SavedModelFile.read(modelDir.resolve("saved_model")).metaGraph();
        SignatureDef sig = meta.getSignatureDefOrThrow(ServingSignature.NAME);
        Bfloat16Weights.Rewrite r = Bfloat16Weights.of(meta.getGraphDef(), meta.getSaverDef(),
                sig.getInputsMap().values().stream().map(t -> t.getName()).toList(),
                sig.getOutputsMap().values().stream().map(t -> t.getName()).toList());

        Map<String, NodeDef> nodes = GraphDefs.byName(r.graph());
        List<String> handles = r.graph().getNodeList().stream().filter(n -> n.getOp().equals("VarHandleOp")).map(NodeDef::getName).toList();
        assertTrue(r.variables().contains("finetune_head/kernel"), r.variables().toString());
        for (String v : handles) {
            boolean matrix = nodes.get(v).getAttrOrThrow("shape").getShape().getDimCount() == 2 && !v.contains("embeddings");
            assertEquals(matrix, r.variables().contains(v), v + " in " + r.variables());
            assertEquals(matrix ? DataType.DT_BFLOAT16 : DataType.DT_FLOAT, nodes.get(v).getAttrOrThrow("dtype").getType(), v);
        }
        // Serving and restoring only: the saver's save path is gone.
        assertFalse(r.graph().getNodeList().stream().anyMatch(n -> n.getOp().equals("SaveV2")));
        assertTrue(nodes.containsKey("finetune_export/restore_all"));
    }

    @Test
    void predictsWhatPerRunCastsPredict() {
        float[][] stored;
        Batch batch;
        try (FineTunedModel model = FineTunedModel.load(modelDir, BFLOAT16)) {
            assertTrue(model.bfloat16Variables() > 0);
            List<EncodedExample> rows = TEXTS.stream().map(t -> EncodedExample.of(model.tokenizer(), new LabeledText(t, null, null, 0), -1,
                    model.maxSequenceLength())).collect(Collectors.toCollection(ArrayList::new));
            batch = Batches.pad(rows, model.tokenizer().padId());
            stored = model.predict(batch);
        }
        float[][] float32;
        try (FineTunedModel model = FineTunedModel.load(modelDir, new SessionSettings("cpu", 1, 1, "float32", false))) {
            assertEquals(0, model.bfloat16Variables());
            float32 = model.predict(batch);
        }
        // TensorFlow's own loader with the same mixed-precision rewrite casts the float32 variables on every run.
        float[][] perRun;
        try (SavedModelBundle bundle = SavedModelBundle.loader(modelDir.resolve("saved_model").toString()).withTags("serve")
                .withConfigProto(BFLOAT16.config()).load()) {
            perRun = predict(bundle.session(), bundle.metaGraphDef().getSignatureDefOrThrow(ServingSignature.NAME),
                    batch);
        }
        double fromPerRun = 0;
        double fromFloat32 = 0;
        for (int i = 0; i < stored.length; i++) {
            for (int j = 0; j < stored[i].length; j++) {
                fromPerRun = Math.max(fromPerRun, Math.abs(stored[i][j] - perRun[i][j]));
                fromFloat32 = Math.max(fromFloat32, Math.abs(stored[i][j] - float32[i][j]));
            }
        }
        assertTrue(fromPerRun < 1e-6, "largest difference from per-run casts " + fromPerRun);
        assertTrue(fromFloat32 < 3e-2, "largest difference from float32 " + fromFloat32);
    }

    /** What TensorFlow's own loader, with no rewrite of ours, predicts for {@code batch}. */
    static float[][] predict(Session session, SignatureDef sig, Batch batch) {
        return ServingSignature.rows(fetch(session, sig, batch, sig.getOutputsOrThrow("probabilities").getName()), batch.rows());
    }

    /** {@code tensor} for {@code batch}, the signature's inputs fed. */
    static float[] fetch(Session session, SignatureDef sig, Batch batch, String tensor) {
        Shape shape = Shape.of(batch.rows(), batch.length());
        List<Tensor> feeds = new ArrayList<>();
        try {
            Session.Runner runner = session.runner();
            Map<String, int[]> inputs = Map.of("input_ids", batch.inputIds(), "input_mask", batch.inputMask(), "segment_ids", batch.segmentIds());
            inputs.forEach((key, values) -> {
                if (sig.containsInputs(key)) {
                    TInt32 t = TInt32.tensorOf(shape, DataBuffers.of(values, true, false));
                    feeds.add(t);
                    runner.feed(sig.getInputsOrThrow(key).getName(), t);
                }
            });
            try (Result r = runner.fetch(tensor).run()) {
                return ServingSignature.floats(r.get(0));
            }
        } finally {
            feeds.forEach(Tensor::close);
        }
    }
}
