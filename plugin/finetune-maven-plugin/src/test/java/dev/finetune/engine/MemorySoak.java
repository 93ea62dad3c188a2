package dev.finetune.engine;

import dev.finetune.engine.config.FineTuneConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Not a test: a soak run for {@code src/tools/memory-soak.sh}. Trains the tiny model for many epochs and prints the
 * process's resident memory after each block of epochs; flat figures mean tensors and sessions are released.
 */
public final class MemorySoak {
    private MemorySoak() {
    }

    public static void main(String[] args) throws IOException {
        int epochs = args.length > 0 ? Integer.parseInt(args[0]) : 200;
        Path root = Files.createTempDirectory("finetune-soak");
        FineTuneConfig c = TestFiles.tinyConfig("tiny-bert-tf2", root);
        c.epochs = epochs;
        c.learningRate = 1e-4;
        c.logEverySteps = 1_000_000;
        int every = Math.max(1, epochs / 10);
        long start = System.nanoTime();
        FineTuneEngine.train(c, m -> {
            if (m.startsWith("epoch ") && m.contains(" done ")) {
                int epoch = Integer.parseInt(m.substring(6, m.indexOf('/')));
                if (epoch == 1 || epoch % every == 0) {
                    double committed = Runtime.getRuntime().totalMemory() / 1048576.0;
                    double rss = rssMiB();
                    System.out.printf("epoch %4d  rss %7.1f MiB  java heap committed %6.1f MiB  rss outside the heap %7.1f MiB  %.0f s%n",
                            epoch, rss, committed, rss - committed, (System.nanoTime() - start) / 1e9);
                }
            }
        });
    }

    static double rssMiB() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("\\D", "")) / 1024.0;
                }
            }
        } catch (IOException e) {
            return Double.NaN;
        }
        return Double.NaN;
    }
}
