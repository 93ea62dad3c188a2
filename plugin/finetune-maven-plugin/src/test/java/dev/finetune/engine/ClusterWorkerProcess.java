package dev.finetune.engine;

import dev.finetune.engine.config.FineTuneConfig;
import dev.finetune.runtime.Json;
import java.nio.file.Path;
import java.util.List;

/**
 * One worker of a two-worker cluster in its own JVM, for {@link DistributedTrainingTest}:
 * {@code ClusterWorkerProcess <root> <resume> <host:port,host:port> <index> <history.json> [<work directory>]}. Trains
 * {@link DistributedTrainingTest#config} with half the reference batch ({@code -Dfinetune.test.globalBatch}, 16 unless
 * set), shared by {@code -Dfinetune.test.replicas} CPU replicas and cut into {@code -Dfinetune.test.accumulation}
 * micro-batches (1 and 1 unless set), prints every progress line (flushed, so a test
 * can kill it at a chosen moment) and writes the history it saw to {@code history.json}, outside the model's folder.
 */
public final class ClusterWorkerProcess {
    private ClusterWorkerProcess() {
    }

    public static void main(String[] args) throws Exception {
        FineTuneConfig c = DistributedTrainingTest.config(Path.of(args[0]));
        // Two workers, each of finetune.test.replicas replicas (CPU devices), share the reference's batch.
        int replicas = Integer.getInteger("finetune.test.replicas", 1);
        int accumulation = Integer.getInteger("finetune.test.accumulation", 1);
        c.batchSize = Integer.getInteger("finetune.test.globalBatch", DistributedTrainingTest.GLOBAL_BATCH) / 2 / replicas / accumulation;
        c.devices = String.valueOf(replicas);
        c.gradientAccumulationSteps = accumulation;
        c.resume = Boolean.parseBoolean(args[1]);
        c.cluster = List.of(args[2].split(","));
        c.workerIndex = Integer.parseInt(args[3]);
        c.workerTimeout = Integer.getInteger("finetune.test.workerTimeout", DistributedTrainingTest.WORKER_TIMEOUT);
        if (args.length > 5) {
            // The chief's checkpoints, as a folder every worker sees (resume needs them on every worker).
            c.workDirectory = Path.of(args[5]);
        }
        try {
            TrainingResult r = FineTuneEngine.train(c, m -> {
                System.out.println(m);
                System.out.flush();
            });
            Json.write(Path.of(args[4]), r.history());
            System.out.println("DONE");
        } catch (RuntimeException e) {
            System.out.println("FAILED " + e.getClass().getSimpleName() + ": " + e.getMessage());
            System.out.flush();
            // A lost worker may leave a TensorFlow run behind on a thread: end the JVM, as Maven does after a failed build.
            System.exit(2);
        }
        System.exit(0);
    }
}
