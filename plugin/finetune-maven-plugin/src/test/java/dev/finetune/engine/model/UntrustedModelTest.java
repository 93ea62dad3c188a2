package dev.finetune.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.finetune.engine.TestFiles;
import dev.finetune.runtime.model.ModelException;
import dev.finetune.runtime.model.ModelInfo;
import dev.finetune.runtime.model.SafeUnzip;
import dev.finetune.runtime.model.SavedModelFile;
import dev.finetune.runtime.model.ServingSignature;
import dev.finetune.runtime.model.UnsafeOps;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.apache.commons.io.FileUtils;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.SavedModel;
import org.tensorflow.proto.TensorProto;
import org.tensorflow.proto.TensorShapeProto;

/** Models that try to touch the file system are refused, archives cannot escape or explode, limits are read. */
class UntrustedModelTest {
    @TempDir
    Path tmp;

    private static NodeDef stringConst(String name, String value) {
        return NodeDef.newBuilder().setName(name).setOp("Const")
                .putAttr("dtype", AttrValue.newBuilder().setType(DataType.DT_STRING).build())
                .putAttr("value", AttrValue.newBuilder().setTensor(TensorProto.newBuilder().setDtype(DataType.DT_STRING)
                        .setTensorShape(TensorShapeProto.getDefaultInstance()).addStringVal(ByteString.copyFromUtf8(value))).build())
                .build();
    }

    /** A copy of a test model whose meta graph has been changed by {@code edit}. */
    private Path tampered(String model, java.util.function.UnaryOperator<MetaGraphDef> edit) throws IOException {
        Path dir = tmp.resolve(model + "-tampered");
        FileUtils.copyDirectory(TestFiles.model(model).toFile(), dir.toFile());
        SavedModel sm = SavedModel.parseFrom(Files.readAllBytes(dir.resolve("saved_model.pb")));
        sm = sm.toBuilder().setMetaGraphs(0, edit.apply(sm.getMetaGraphs(0))).build();
        Files.write(dir.resolve("saved_model.pb"), sm.toByteArray());
        return dir;
    }

    @Test
    void refusesAGraphThatReadsFilesUnlessAllowed() throws IOException {
        Path dir = tampered("tiny-bert-tf1", mg -> {
            var g = mg.getGraphDef().toBuilder();
            for (int i = 0; i < g.getNodeCount(); i++) {
                if (g.getNode(i).getName().equals("pooled_output")) {
                    // Runs whenever the encoder runs.
                    g.setNode(i, g.getNode(i).toBuilder().addInput("^steal"));
                }
            }
            g.addNode(stringConst("secret_path", "/etc/passwd"))
                    .addNode(NodeDef.newBuilder().setName("steal").setOp("ReadFile").addInput("secret_path"))
                    // Never runs: nothing the plugin fetches depends on it, so it is not held against the model.
                    .addNode(NodeDef.newBuilder().setName("dormant").setOp("ReadFile").addInput("secret_path"));
            return mg.toBuilder().setGraphDef(g).build();
        });
        SavedModelFile model = SavedModelFile.read(dir);
        ModelException e = assertThrows(ModelException.class, () -> EncoderGraph.prepare(model, SignatureNames.auto()));
        assertTrue(e.getMessage().contains("ReadFile (file system) at node 'steal'.") && e.getMessage().contains("<allowUnsafeOps>: ReadFile"),
                e.getMessage());
        EncoderGraph.prepare(model, SignatureNames.auto(), List.of("ReadFile"));
    }

    @Test
    void scansInsideTheFunctionsOfTf2Exports() throws IOException {
        Path dir = tampered("tiny-bert-tf2", mg -> {
            var lib = mg.getGraphDef().getLibrary().toBuilder();
            for (int i = 0; i < lib.getFunctionCount(); i++) {
                FunctionDef f = lib.getFunction(i);
                if (f.getSignature().getName().contains("serve")) {
                    lib.setFunction(i, f.toBuilder().addNodeDef(stringConst("where", "/tmp/owned"))
                            .addNodeDef(stringConst("what", "x"))
                            .addNodeDef(NodeDef.newBuilder().setName("drop").setOp("WriteFile")
                                    .addInput("where:output:0").addInput("what:output:0")).build());
                }
            }
            return mg.toBuilder().setGraphDef(mg.getGraphDef().toBuilder().setLibrary(lib)).build();
        });
        ModelException e = assertThrows(ModelException.class, () -> EncoderGraph.prepare(SavedModelFile.read(dir), SignatureNames.auto()));
        assertTrue(e.getMessage().contains("WriteFile (file system) at node '") && e.getMessage().contains("/drop'"), e.getMessage());
        assertTrue(Files.notExists(Path.of("/tmp/owned")));
    }

    /** A node writing /tmp/owned, as nodes of the graph or of a function ({@code output:0} references). */
    private static List<NodeDef> writeFile(String name, boolean inFunction) {
        String ref = inFunction ? ":output:0" : "";
        return List.of(stringConst(name + "_where", "/tmp/owned"), stringConst(name + "_what", "x"),
                NodeDef.newBuilder().setName(name).setOp("WriteFile").addInput(name + "_where" + ref).addInput(name + "_what" + ref).build());
    }

    @Test
    void whatTheLoaderRunsIsScannedTheRestoreAndInitOpsToo() throws IOException {
        SavedModelFile clean = SavedModelFile.read(TestFiles.model("tiny-bert-tf2"));
        List<String> served = dev.finetune.runtime.model.ServingSignature.tensors(
                clean.metaGraph().getSignatureDefOrThrow("serving_default"));
        UnsafeOps.checkBeforeLoading(clean, served, List.of());

        // The init op runs at load, whether or not anything is fetched afterwards.
        String initOp = clean.metaGraph().getSignatureDefOrThrow("__saved_model_init_op").getOutputsOrThrow("__saved_model_init_op").getName();
        Path init = tampered("tiny-bert-tf2", mg -> {
            var g = mg.getGraphDef().toBuilder().addAllNode(writeFile("at_init", false));
            for (int i = 0; i < g.getNodeCount(); i++) {
                if (g.getNode(i).getName().equals(initOp)) {
                    g.setNode(i, g.getNode(i).toBuilder().addInput("^at_init"));
                }
            }
            return mg.toBuilder().setGraphDef(g).build();
        });
        ModelException e = assertThrows(ModelException.class, () -> UnsafeOps.checkBeforeLoading(SavedModelFile.read(init), List.of(), List.of()));
        assertTrue(e.getMessage().contains("WriteFile (file system) at node 'at_init'."), e.getMessage());
        // train imports the graph itself and never runs the init op.
        EncoderGraph.prepare(SavedModelFile.read(init), SignatureNames.auto());

        // The model's own restore is allowed for its checkpoint ops only: a WriteFile inside the restore function is not.
        Path restore = tampered("tiny-bert-tf2", mg -> {
            var lib = mg.getGraphDef().getLibrary().toBuilder();
            for (int i = 0; i < lib.getFunctionCount(); i++) {
                if (lib.getFunction(i).getSignature().getName().contains("traced_restore")) {
                    lib.setFunction(i, lib.getFunction(i).toBuilder().addAllNodeDef(writeFile("in_restore", true)));
                }
            }
            return mg.toBuilder().setGraphDef(mg.getGraphDef().toBuilder().setLibrary(lib)).build();
        });
        e = assertThrows(ModelException.class, () -> UnsafeOps.checkBeforeLoading(SavedModelFile.read(restore), List.of(), List.of()));
        assertTrue(e.getMessage().contains("WriteFile (file system) at node '") && e.getMessage().contains("/in_restore'"), e.getMessage());
        e = assertThrows(ModelException.class, () -> EncoderGraph.prepare(SavedModelFile.read(restore), SignatureNames.auto()));
        assertTrue(e.getMessage().contains("/in_restore'"), e.getMessage());
        assertTrue(Files.notExists(Path.of("/tmp/owned")));
    }

    @Test
    void theTestModelsOwnSaversAreAllowed() {
        for (String m : List.of("tiny-bert-tf1", "tiny-bert-tf2", "tiny-bert-keras")) {
            EncoderGraph.prepare(SavedModelFile.read(TestFiles.model(m)), SignatureNames.auto());
        }
    }

    @Test
    void archivesHaveEntryAndSizeLimits() throws IOException {
        Path zip = tmp.resolve("many.zip");
        try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(zip))) {
            for (int i = 0; i < 3; i++) {
                z.putNextEntry(new ZipEntry("f" + i));
                z.write(new byte[100]);
            }
        }
        ModelException entries = assertThrows(ModelException.class, () -> SafeUnzip.unzip(zip, tmp.resolve("a"), 2, 1 << 20));
        assertTrue(entries.getMessage().contains("more than 2 entries"), entries.getMessage());
        ModelException size = assertThrows(ModelException.class, () -> SafeUnzip.unzip(zip, tmp.resolve("b"), 10, 150));
        assertTrue(size.getMessage().contains("unpacks to more than"), size.getMessage());
    }

    @Test
    void readsTheLimitsOfEachModelFromItsFiles() throws IOException {
        for (String m : List.of("tiny-bert-tf1", "tiny-bert-tf2", "tiny-bert-keras")) {
            ModelInfo info = ModelInfo.inspect(TestFiles.model(m), null, null);
            assertEquals(64, info.maxPositions(), m + ": " + info.maxPositionsSource());
            assertEquals(211L, info.embeddingRows(), m + ": " + info.embeddingTable());
            assertTrue(info.problems(64).isEmpty());
            assertTrue(info.problems(65).get(0).startsWith("maxSequenceLength 65 is more than the model in "), info.problems(65).toString());
        }
        Path vocab = tmp.resolve("big-vocab.txt");
        StringBuilder b = new StringBuilder("[PAD]\n[UNK]\n[CLS]\n[SEP]\n");
        for (int i = 0; i < 300; i++) {
            b.append("w").append(i).append('\n');
        }
        Files.writeString(vocab, b);
        List<String> p = ModelInfo.inspect(TestFiles.model("tiny-bert-tf1"), vocab, null).problems(32);
        assertEquals(1, p.size());
        assertTrue(p.get(0).contains("has 304 tokens, but the model's largest embedding table") && p.get(0).contains("only 211 rows"), p.get(0));
    }

    @Test
    void aMissingVariablesFileIsNamed() throws IOException {
        Path dir = tmp.resolve("no-weights");
        FileUtils.copyDirectory(TestFiles.model("tiny-bert-tf1").toFile(), dir.toFile());
        FileUtils.deleteDirectory(dir.resolve("variables").toFile());
        ModelException e = assertThrows(ModelException.class, () -> ModelInfo.inspect(dir, null, null));
        assertTrue(e.getMessage().endsWith("has no variables/variables.index: its weights are missing."), e.getMessage());
    }
}
