package dev.finetune.engine;

import dev.finetune.engine.config.FineTuneConfig;
import java.nio.file.Path;

/**
 * A training run in its own JVM, for tests that kill it: {@code TrainProcess <root> <resume>}. Prints every
 * progress line and flushes, so the test can choose the moment to kill.
 */
public final class TrainProcess {
    private TrainProcess() {
    }

    public static void main(String[] args) {
        FineTuneConfig c = KillTest.config(Path.of(args[0]));
        c.resume = Boolean.parseBoolean(args[1]);
        FineTuneEngine.train(c, m -> {
            System.out.println(m);
            System.out.flush();
        });
        System.out.println("DONE");
    }
}
