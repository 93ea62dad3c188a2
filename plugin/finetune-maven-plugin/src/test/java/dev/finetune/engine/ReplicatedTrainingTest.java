package dev.finetune.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.config.FineTuneConfig;
import dev.finetune.engine.training.ProgressListener;
import dev.finetune.runtime.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code <devices>2</devices>} on a machine without a GPU: two replicas of the step on two logical CPU devices train
 * the tiny model as one device with the same global batch (16 = 2 × 8): the same loss and gradient norm at every step,
 * the same final weights and predictions to 1e-5, though the last batch of each epoch (15 rows) splits 8 + 7. The run
 * is interrupted in its last epoch and resumed, and the exported model is the single-device one byte for byte: one
 * replica, no device in it. With gradient accumulation as well (2 micro-batches of 2 replicas × 4 rows), the steps are
 * the same again.
 */
class ReplicatedTrainingTest {
    @Test
    void twoCpuReplicasTrainAsOneDeviceWithTheWholeBatchAndResume(@TempDir Path tmp) throws Exception {
        FineTuneConfig reference = DistributedTrainingTest.trainReference(tmp);

        FineTuneConfig replicated = DistributedTrainingTest.config(tmp.resolve("replicated"));
        replicated.batchSize = DistributedTrainingTest.GLOBAL_BATCH / 2;
        replicated.devices = "2";
        List<String> log = new ArrayList<>();
        assertThrows(RuntimeException.class, () -> FineTuneEngine.train(replicated, m -> {
            log.add(m);
            if (m.startsWith("epoch 3/3  step 26/")) {
                throw new RuntimeException("simulated kill");
            }
        }));
        assertTrue(log.stream().anyMatch(m -> m.startsWith("Device: 2 replicas on CPU:0, CPU:1 (2 logical CPU devices sharing the cores)")), log.toString());
        assertTrue(log.contains("Each step's batch of 16 is shared by 2 replicas, 8 each."), log.toString());
        assertFalse(Files.exists(replicated.outputDirectory));
        replicated.resume = true;
        log.clear();
        FineTuneEngine.train(replicated, log::add);
        assertTrue(log.stream().anyMatch(m -> m.startsWith("Resuming from")), log.toString());

        Path expected = reference.outputDirectory;
        Path actual = replicated.outputDirectory;
        DistributedTrainingTest.assertSameHistory(Json.MAPPER.readTree(expected.resolve("training-history.json").toFile()),
                Json.MAPPER.readTree(actual.resolve("training-history.json").toFile()), "2 replicas");
        DistributedTrainingTest.assertSamePredictions(expected, actual);
        Map<String, float[]> a = TestFiles.weights(expected.resolve("saved_model"));
        Map<String, float[]> b = TestFiles.weights(actual.resolve("saved_model"));
        assertEquals(a.keySet(), b.keySet());
        for (String name : a.keySet()) {
            for (int i = 0; i < a.get(name).length; i++) {
                assertEquals(a.get(name)[i], b.get(name)[i], 1e-5, name + "[" + i + "]");
            }
        }
        assertArrayEquals(Files.readAllBytes(expected.resolve("saved_model").resolve("saved_model.pb")),
                Files.readAllBytes(actual.resolve("saved_model").resolve("saved_model.pb")), "the exported graph differs");

        // With gradient accumulation too: two micro-batches of 2 × 4 rows make the same step of 16.
        FineTuneConfig accumulated = DistributedTrainingTest.config(tmp.resolve("accumulated"));
        accumulated.batchSize = DistributedTrainingTest.GLOBAL_BATCH / 4;
        accumulated.gradientAccumulationSteps = 2;
        accumulated.devices = "CPU:0,CPU:1";
        FineTuneEngine.train(accumulated, ProgressListener.SILENT);
        DistributedTrainingTest.assertSameHistory(Json.MAPPER.readTree(expected.resolve("training-history.json").toFile()),
                Json.MAPPER.readTree(accumulated.outputDirectory.resolve("training-history.json").toFile()), "2 replicas, 2 micro-batches");
        DistributedTrainingTest.assertSamePredictions(expected, accumulated.outputDirectory);
    }
}
