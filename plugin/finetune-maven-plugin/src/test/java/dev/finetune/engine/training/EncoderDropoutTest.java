package dev.finetune.engine.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.TestFiles;
import dev.finetune.engine.export.ModelExporter;
import dev.finetune.engine.model.EncoderDropout;
import dev.finetune.engine.model.EncoderGraph;
import dev.finetune.engine.model.SignatureNames;
import dev.finetune.runtime.encoding.Batch;
import dev.finetune.runtime.model.GraphDefs;
import dev.finetune.runtime.model.SavedModelFile;
import dev.finetune.runtime.model.SessionSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tensorflow.proto.GraphDef;

/**
 * Encoder dropout ({@link EncoderDropout}) on the real tiny encoders: the sites are found in every family (two layers:
 * two attention softmaxes, four residual branches); a training step drops while evaluation of the same weights gives
 * exactly what a graph without it gives; a seed repeats the masks, also across a checkpoint (as a resumed run); the
 * exported model is byte for byte the one exported without it; replicas train with it.
 */
class EncoderDropoutTest {
    private static final ClassifierGraph.Settings DROPPING = ClassifierGraphTest.SETTINGS.withEncoderDropout(0.1);

    @TempDir
    Path tmp;

    private static EncoderGraph encoder(String name) {
        return EncoderGraph.prepare(SavedModelFile.read(TestFiles.model(name)), SignatureNames.auto());
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-bert-tf1", "tiny-bert-tf2", "tiny-bert-keras", "families/bert-keras", "families/roberta-keras",
        "families/gpt-keras", "families/gpt-ids-only", "families/albert-keras", "families/distilbert-keras", "families/bert-garden"})
    void findsTheSitesOfEveryLayerInEachFamily(String name) {
        EncoderGraph enc = encoder(name);
        String output = enc.signature().sequenceOutput() != null ? enc.signature().sequenceOutput() : enc.signature().pooledOutput();
        EncoderDropout.Sites sites = EncoderDropout.find(enc.graph(), output);
        assertEquals(2, sites.attention().size(), name + ": " + sites.attention());
        assertEquals(4, sites.hidden().size(), name + ": " + sites.hidden());
        EncoderDropout.TrainingCopy copy = EncoderDropout.trainingCopy(enc.graph(), output, sites, 0.1, 42);
        assertEquals(6, EncoderDropout.count(copy.graph()));
        // The copy shares the variables: it holds no variable and no read of one.
        assertTrue(copy.graph().getNodeList().stream().noneMatch(n -> n.getOp().equals("VarHandleOp") || n.getOp().equals("ReadVariableOp")),
                name);
    }

    @Test
    void drawNumbersAreDistinctPerStepMicroBatchAndStreamAndRefuseToOverflow() {
        Set<Long> draws = new TreeSet<>();
        for (long step : new long[] {0, 1, 1_000_000}) {
            for (int micro : new int[] {0, 1, (1 << 16) - 1}) {
                for (int stream : new int[] {0, 1, (1 << 12) - 1}) {
                    draws.add(EncoderDropout.TrainingCopy.draw(step, micro, stream));
                }
            }
        }
        assertEquals(27, draws.size());
        assertThrows(IllegalArgumentException.class, () -> EncoderDropout.TrainingCopy.draw(3, 1 << 16, 0));
        assertThrows(IllegalArgumentException.class, () -> EncoderDropout.TrainingCopy.draw(3, 0, 1 << 12));
    }

    @Test
    void aGraphWithoutSitesTrainsWithout() {
        EncoderGraph enc = encoder("tiny-bert-tf1");
        // The embeddings' sum alone: before any layer, so nothing to drop on the way.
        String embeddings = enc.graph().getNodeList().stream().filter(n -> n.getOp().equals("Softmax")).findFirst().orElseThrow().getInput(0);
        EncoderDropout.Sites none = EncoderDropout.find(GraphDefs.prune(enc.graph(), List.of(embeddings)), embeddings);
        assertEquals(0, none.count());
        assertNull(EncoderDropout.trainingCopy(enc.graph(), embeddings, none, 0.1, 42));
    }

    /**
     * The same pretrained weights and head: evaluation gives identical outputs with and without encoder dropout (it runs
     * the same ops), while the training step's loss differs. The evaluation path holds no dropout op.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tiny-bert-tf1", "tiny-bert-keras"})
    void dropsInTrainingStepsOnly(String name) {
        EncoderGraph enc = encoder(name);
        Batch batch = ClassifierGraphTest.toyBatch();
        try (ClassifierGraph plain = new ClassifierGraph(enc, 2, ClassifierGraphTest.SETTINGS);
             ClassifierSession p = new ClassifierSession(plain, 1, 1);
             ClassifierGraph dropping = new ClassifierGraph(enc, 2, DROPPING);
             ClassifierSession d = new ClassifierSession(dropping, 1, 1)) {
            assertNull(plain.encoderDropoutSites());
            assertEquals(6, dropping.encoderDropoutSites().count());
            p.initializeFromPretrained();
            d.initializeFromPretrained();
            float[][] expected = p.predict(batch);
            float[][] got = d.predict(batch);
            for (int r = 0; r < expected.length; r++) {
                assertArrayEquals(expected[r], got[r], name + ": evaluation row " + r);
            }
            assertEquals(evaluationPath(plain), evaluationPath(dropping), name + ": evaluation runs other ops");
            float plainLoss = p.train(batch, 1e-3f, 1, 0.9, 0.999).loss();
            float droppingLoss = d.train(batch, 1e-3f, 1, 0.9, 0.999).loss();
            assertTrue(Float.isFinite(droppingLoss));
            assertNotEquals(plainLoss, droppingLoss, name + ": the training step did not drop");
        }
    }

    /**
     * The same seed draws the same masks step by step, also after a checkpoint restored into a fresh session, as a resumed
     * run does; another seed draws others.
     */
    @Test
    void aSeedRepeatsTheMasksAcrossACheckpoint() {
        EncoderGraph enc = encoder("tiny-bert-tf1");
        Batch batch = ClassifierGraphTest.toyBatch();
        Path checkpoint = tmp.resolve("after-step-1");
        float[] whole = new float[3];
        try (ClassifierGraph g = new ClassifierGraph(enc, 2, DROPPING); ClassifierSession s = new ClassifierSession(g, 1, 1)) {
            s.initializeFromPretrained();
            for (int step = 1; step <= 3; step++) {
                whole[step - 1] = s.train(batch, 1e-3f, step, 0.9, 0.999).loss();
                if (step == 1) {
                    s.saveCheckpoint(checkpoint);
                }
            }
        }
        try (ClassifierGraph g = new ClassifierGraph(enc, 2, DROPPING); ClassifierSession s = new ClassifierSession(g, 1, 1)) {
            s.initializeFromPretrained();
            s.restoreCheckpoint(checkpoint);
            assertEquals(whole[1], s.train(batch, 1e-3f, 2, 0.9, 0.999).loss(), "step 2 after the checkpoint drew other masks");
            assertEquals(whole[2], s.train(batch, 1e-3f, 3, 0.9, 0.999).loss(), "step 3 after the checkpoint drew other masks");
        }
        try (ClassifierGraph g = new ClassifierGraph(enc, 2, new ClassifierGraph.Settings("pooled", 0.0, 8, 0.9, 0.999, 1e-6, 0.01, 1.0)
                .withEncoderDropout(0.1)); ClassifierSession s = new ClassifierSession(g, 1, 1)) {
            s.initializeFromPretrained();
            s.restoreCheckpoint(checkpoint);
            assertNotEquals(whole[1], s.train(batch, 1e-3f, 2, 0.9, 0.999).loss(), "another seed drew the same masks");
        }
    }

    /** The model exported after training with encoder dropout has no dropout in it: its graph is the one without. */
    @Test
    void theExportIsTheGraphWithoutDropout() throws IOException {
        EncoderGraph enc = encoder("tiny-bert-tf1");
        Batch batch = ClassifierGraphTest.toyBatch();
        Path without = tmp.resolve("without");
        Path with = tmp.resolve("with");
        try (ClassifierGraph g = new ClassifierGraph(enc, 2, ClassifierGraphTest.SETTINGS); ClassifierSession s = new ClassifierSession(g, 1, 1)) {
            s.initializeFromPretrained();
            ModelExporter.export(g, s, without);
        }
        try (ClassifierGraph g = new ClassifierGraph(enc, 2, DROPPING); ClassifierSession s = new ClassifierSession(g, 1, 1)) {
            s.initializeFromPretrained();
            s.train(batch, 1e-3f, 1, 0.9, 0.999);
            ModelExporter.export(g, s, with);
            ModelExporter.verifyByReloading(with, batch, s.predict(batch), true, 1e-5, List.of());
        }
        assertArrayEquals(Files.readAllBytes(without.resolve("saved_model.pb")), Files.readAllBytes(with.resolve("saved_model.pb")),
                "the exported graph differs from the one without encoder dropout");
        GraphDef exported = SavedModelFile.read(with).metaGraph().getGraphDef();
        assertTrue(exported.getNodeList().stream().noneMatch(n -> n.getOp().startsWith("StatelessRandom")
                || n.getName().contains("finetune_dropout") || n.getName().startsWith(ClassifierGraph.TRAINING_ENCODER)));
    }

    /** Replicas copy the training path with its dropout: each has its own draw input, and the step trains. */
    @Test
    void replicasDropToo() {
        EncoderGraph enc = encoder("tiny-bert-keras");
        SessionSettings settings = new SessionSettings("cpu", 1, 1, "float32", false);
        try (ClassifierGraph three = new ClassifierGraph(enc, 2, DROPPING, DataParallel.NONE.onDevices(ReplicasTest.THREE_CPUS));
             ClassifierSession s = new ClassifierSession(three, settings.withCpuDevices(3))) {
            for (Replicas.Replica r : three.replicas) {
                assertNotNull(r.input(three.dropoutDraw), r.device());
            }
            s.initializeFromPretrained();
            Batch batch = ClassifierGraphTest.toyBatch();
            float first = s.train(batch, 1e-3f, 1, 0.9, 0.999).loss();
            float second = s.train(batch, 1e-3f, 2, 0.9, 0.999).loss();
            assertTrue(Float.isFinite(first) && Float.isFinite(second));
        }
    }

    /** The ops evaluation runs: the ancestors of the probabilities, with their types. */
    private static Set<String> evaluationPath(ClassifierGraph g) {
        GraphDef def = g.graph().toGraphDef();
        Set<String> names = GraphDefs.ancestors(def, List.of(g.outputName()));
        return def.getNodeList().stream().filter(n -> names.contains(n.getName())).map(n -> n.getName() + " " + n.getOp())
                .collect(Collectors.toCollection(TreeSet::new));
    }
}
