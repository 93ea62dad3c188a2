package dev.finetune.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.finetune.engine.config.FineTuneConfig;
import dev.finetune.engine.training.ProgressListener;
import dev.finetune.engine.training.TrainingHistory;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each task's loss is a mean over something else (rows, or labelled positions for token classification): two workers,
 * here two servers in one JVM, weigh their shares by those counts, so every step equals one process with the whole
 * batch. The data give shares of different sizes and, for tokens, different numbers of labelled positions.
 */
class DistributedTasksTest {
    private static FineTuneConfig config(Path root, String task, String data, String labelColumn) {
        FineTuneConfig c = TestFiles.tinyConfig("tiny-bert-tf2", root);
        // Workers update embedding tables densely (lazy updates need one device): so does the one-process reference.
        c.embeddingUpdates = "dense";
        c.task = task;
        c.trainFile = TestFiles.data(data);
        if (labelColumn != null) {
            c.labelColumn = labelColumn;
        }
        c.epochs = 2;
        c.batchSize = 10;
        c.dropout = 0;
        c.intraOpThreads = 1;
        c.interOpThreads = 1;
        c.workerTimeout = 60;
        return c;
    }

    @Test
    @Timeout(300)
    void tokenClassificationWeighsSharesByTheirLabelledPositions(@TempDir Path tmp) throws Exception {
        assertSameSteps(tmp, "token-classification", "tiny-ner.conll", null);
    }

    @Test
    @Timeout(300)
    void regressionAndMultiLabelWeighSharesByTheirRows(@TempDir Path tmp) throws Exception {
        assertSameSteps(tmp.resolve("regression"), "regression", "tiny-scores.csv", "score");
        assertSameSteps(tmp.resolve("multi-label"), "multi-label", "tiny-topics.csv", "labels");
    }

    private static void assertSameSteps(Path tmp, String task, String data, String labelColumn) throws Exception {
        FineTuneConfig reference = config(tmp.resolve("reference"), task, data, labelColumn);
        // Two workers of 5 rows make the reference's batch of 10.
        TrainingHistory one = FineTuneEngine.train(reference, ProgressListener.SILENT).history();
        String hosts = DistributedTrainingTest.hosts();
        List<CompletableFuture<TrainingHistory>> workers = List.of(0, 1).stream().map(i -> CompletableFuture.supplyAsync(() -> {
            FineTuneConfig c = config(tmp.resolve("worker-" + i), task, data, labelColumn);
            c.batchSize = 5;
            c.cluster = List.of(hosts.split(","));
            c.workerIndex = i;
            return FineTuneEngine.train(c, ProgressListener.SILENT).history();
        })).toList();
        for (CompletableFuture<TrainingHistory> w : workers) {
            TrainingHistory h = w.get();
            assertEquals(one.steps.size(), h.steps.size());
            for (int s = 0; s < one.steps.size(); s++) {
                assertEquals(one.steps.get(s).loss(), h.steps.get(s).loss(), 1e-5, task + ": loss of step " + (s + 1));
                assertEquals(one.steps.get(s).gradientNorm(), h.steps.get(s).gradientNorm(), 1e-4, task + ": gradient norm of step " + (s + 1));
            }
            assertEquals(one.epochs.get(1).validationLoss(), h.epochs.get(1).validationLoss(), 1e-5, task + ": final weights");
        }
    }
}
