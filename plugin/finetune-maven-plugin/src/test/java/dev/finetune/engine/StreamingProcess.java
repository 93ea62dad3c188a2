package dev.finetune.engine;

import dev.finetune.engine.config.FineTuneConfig;
import dev.finetune.engine.data.ExampleCache;
import dev.finetune.runtime.encoding.Batch;
import dev.finetune.runtime.encoding.BatchBudget;
import dev.finetune.runtime.encoding.Batches;
import dev.finetune.runtime.encoding.EncodedExample;
import dev.finetune.runtime.tokenizer.BertTokenizer;
import dev.finetune.runtime.tokenizer.TextTokenizer;
import dev.finetune.runtime.tokenizer.Vocabulary;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads a labelled CSV (or CoNLL file, as token classification) as a training run does and goes through one epoch of its batches and the validation batches, in
 * its own JVM so a test can bound its heap: {@code StreamingProcess <csv> <cache> <stream|memory> [maxLength]}
 * ({@code StreamingMemoryTest}, {@code src/bench/streaming.sh}). {@code memory} also holds every example in lists, as
 * the in-memory path did, to show the same heap would not have been enough. Prints
 * {@code rows R tokens T heap-per-row B peak-heap-mb M}: the heap in use after a collection with the data set open,
 * per row, and the largest heap the collectors saw in use.
 */
public final class StreamingProcess {
    private StreamingProcess() {
    }

    public static void main(String[] args) {
        FineTuneConfig c = new FineTuneConfig();
        c.trainFile = Path.of(args[0]);
        if (args[0].endsWith(".conll")) {
            c.task = "token-classification"; // rows are windows of sentences
        }
        c.validationSplit = 0.1;
        TextTokenizer tokenizer = new BertTokenizer(Vocabulary.read(TestFiles.model("tiny-bert-tf1").resolve("assets")
                .resolve("vocab.txt")), true);
        int maxLength = args.length > 3 ? Integer.parseInt(args[3]) : 32;
        TrainingData data = TrainingData.read(c, new ExampleCache(Path.of(args[1]), tokenizer, "test", maxLength, System.out::println));
        List<EncodedExample> train = data.train();
        List<EncodedExample> validation = data.validation();
        if (args[2].equals("memory")) {
            train = new ArrayList<>(train);
            validation = new ArrayList<>(validation);
        }
        long rows = 0;
        long tokens = 0;
        for (Batch b : Batches.bucketed(train, c.seed, 0, 32, tokenizer.padId())) {
            rows += b.rows();
            tokens += sum(b.inputMask());
        }
        for (Batch b : Batches.byLength(validation, BatchBudget.rows(32), tokenizer.padId())) {
            rows += b.rows();
            tokens += sum(b.inputMask());
        }
        Runtime r = Runtime.getRuntime();
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        long used = r.totalMemory() - r.freeMemory();
        long peak = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP) {
                peak += pool.getPeakUsage().getUsed();
            }
        }
        System.out.printf("rows %d tokens %d heap-per-row %.1f peak-heap-mb %.1f%n", rows, tokens, used / (double) rows, peak / 1e6);
        // Keeps the examples reachable until the heap is measured.
        System.out.println(train.size() + validation.size() == rows ? "ok" : "rows differ");
    }

    private static long sum(int[] mask) {
        long s = 0;
        for (int m : mask) {
            s += m;
        }
        return s;
    }
}
