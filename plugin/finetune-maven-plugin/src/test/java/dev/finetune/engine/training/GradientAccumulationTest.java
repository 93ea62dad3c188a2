package dev.finetune.engine.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.FineTuneEngine;
import dev.finetune.engine.TestFiles;
import dev.finetune.engine.config.FineTuneConfig;
import dev.finetune.engine.model.EncoderGraph;
import dev.finetune.engine.model.SignatureNames;
import dev.finetune.runtime.encoding.Batch;
import dev.finetune.runtime.model.GraphDefs;
import dev.finetune.runtime.model.SavedModelFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.proto.GraphDef;

/**
 * Gradient accumulation is the larger batch at the smaller one's memory: two batches of 8 summed into a step train
 * exactly as one batch of 16 (float32, no dropout, one thread): the same steps, losses and validations, and the same
 * final weights to 1e-5. Clipping is on and bites, so it must act on the summed gradient, not on each half. A run with
 * accumulation interrupted and resumed also ends where it would have.
 */
class GradientAccumulationTest {
    private static final double MAX_GRAD_NORM = 0.5;

    private static FineTuneConfig config(Path root, int batchSize, int accumulation) {
        FineTuneConfig c = TestFiles.repeatableConfig(root);
        c.batchSize = batchSize;
        c.gradientAccumulationSteps = accumulation;
        // Accumulating runs update embedding tables densely (lazy updates sum no rows): so does the batch they equal.
        c.embeddingUpdates = "dense";
        c.maxGradNorm = MAX_GRAD_NORM;
        // Validation every 5 optimizer steps: the same steps in both runs only if steps count effective batches.
        c.evaluateEverySteps = 5;
        c.logEverySteps = 1;
        return c;
    }

    @Test
    void twoBatchesOfEightTrainAsOneBatchOfSixteen(@TempDir Path tmp) {
        FineTuneConfig one = config(tmp.resolve("16x1"), 16, 1);
        FineTuneConfig two = config(tmp.resolve("8x2"), 8, 2);
        TrainingHistory whole = FineTuneEngine.train(one, ProgressListener.SILENT).history();
        TrainingHistory halves = FineTuneEngine.train(two, ProgressListener.SILENT).history();

        // 192 training examples: 12 optimizer steps of 16 per epoch, in both runs.
        assertEquals(3 * 12, whole.steps.size());
        assertSameSteps(whole, halves);
        assertTrue(whole.steps.stream().anyMatch(s -> s.gradientNorm() > MAX_GRAD_NORM), "clipping never acted: the test proves nothing");
        assertEquals(whole.validations.stream().map(TrainingHistory.Validation::step).toList(),
                halves.validations.stream().map(TrainingHistory.Validation::step).toList());
        for (int i = 0; i < whole.validations.size(); i++) {
            assertEquals(whole.validations.get(i).loss(), halves.validations.get(i).loss(), 1e-5, "validation " + i);
        }
        Map<String, float[]> a = TestFiles.weights(one.outputDirectory.resolve("saved_model"));
        Map<String, float[]> b = TestFiles.weights(two.outputDirectory.resolve("saved_model"));
        assertEquals(a.keySet(), b.keySet());
        assertTrue(a.containsKey("finetune_head/kernel") && a.size() > 10, a.keySet().toString());
        for (String name : a.keySet()) {
            float[] x = a.get(name);
            float[] y = b.get(name);
            for (int i = 0; i < x.length; i++) {
                assertEquals(x[i], y[i], 1e-5, name + "[" + i + "]");
            }
        }
    }

    @Test
    void anInterruptedRunWithAccumulationResumesExactly(@TempDir Path tmp) {
        TrainingHistory whole = FineTuneEngine.train(config(tmp.resolve("whole"), 8, 2), ProgressListener.SILENT).history();
        FineTuneConfig interrupted = config(tmp.resolve("interrupted"), 8, 2);
        assertThrows(RuntimeException.class, () -> FineTuneEngine.train(interrupted, m -> {
            if (m.startsWith("epoch 3/3  step")) {
                throw new RuntimeException("simulated kill");
            }
        }));
        assertFalse(Files.exists(interrupted.outputDirectory));
        interrupted.resume = true;
        List<String> log = new ArrayList<>();
        TrainingHistory resumed = FineTuneEngine.train(interrupted, log::add).history();
        assertTrue(log.stream().anyMatch(m -> m.startsWith("Resuming from")), log.toString());
        assertSameSteps(whole, resumed);
    }

    private static void assertSameSteps(TrainingHistory expected, TrainingHistory actual) {
        assertEquals(expected.steps.size(), actual.steps.size());
        for (int i = 0; i < expected.steps.size(); i++) {
            TrainingHistory.Step x = expected.steps.get(i);
            TrainingHistory.Step y = actual.steps.get(i);
            assertEquals(x.examples(), y.examples(), "rows of step " + (i + 1));
            assertEquals(x.learningRate(), y.learningRate(), 0, "the schedule counts optimizer steps");
            assertEquals(x.loss(), y.loss(), 1e-5, "loss of step " + (i + 1));
            assertEquals(x.gradientNorm(), y.gradientNorm(), 1e-4 * Math.max(1, x.gradientNorm()), "gradient norm of step " + (i + 1));
        }
    }

    /**
     * Workers that accumulate communicate once per optimizer step: adding a micro-batch runs no collective, the step
     * exactly one (of the summed contributions), with replicas or without.
     */
    @Test
    void workersAccumulateLocallyAndAllReduceOncePerStep() {
        EncoderGraph enc = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model("tiny-bert-tf1")), SignatureNames.auto());
        DataParallel workers = new DataParallel(2, 5, 5);
        for (DataParallel parallel : List.of(workers, workers.onDevices(ReplicasTest.THREE_CPUS))) {
            try (ClassifierGraph g = new ClassifierGraph(enc, 2, ClassifierGraphTest.SETTINGS.withAccumulation(true), parallel)) {
                GraphDef def = g.graph().toGraphDef();
                String what = parallel.replicas() + " replicas";
                assertEquals(0, collectives(def, g.accumulators.accumulate.op().name()), what + ": adding a micro-batch");
                assertEquals(1, collectives(def, g.trainStep.op().name()), what + ": the optimizer step");
                assertTrue(g.accumulators.contributions(), what);
            }
        }
    }

    private static long collectives(GraphDef def, String root) {
        return GraphDefs.prune(def, List.of(root)).getNodeList().stream().filter(n -> n.getOp().equals("CollectiveReduceV2")).count();
    }

    /** The cut into micro-batches keeps every row and trims each part to its own longest row. */
    @Test
    void splitKeepsRowsAndTrimsPadding() {
        Batch b = ClassifierGraphTest.toyBatch();
        List<Batch> parts = AccumulatedStep.split(b, 2);
        assertEquals(2, parts.size());
        assertEquals(5, parts.get(0).length(), "rows 0 and 1 hold 5 tokens at most");
        assertEquals(6, parts.get(1).length());
        assertEquals(List.of(1, 0), List.of(parts.get(0).labels()[0], parts.get(0).labels()[1]));
        assertEquals(List.of(2, 190, 191, 70, 3), java.util.Arrays.stream(parts.get(0).inputIds(), 0, 5).boxed().toList());
        double[] shares = AccumulatedStep.shares(List.of(parts.get(0), AccumulatedStep.split(b, 3).get(1)));
        assertEquals(2.0 / 3, shares[0], 1e-12, "a part's share is its rows over the whole's");
    }
}
