package dev.finetune.engine;

import dev.finetune.engine.data.DataReader;
import dev.finetune.engine.data.TextFormat;
import dev.finetune.engine.data.TokenDataReader;
import dev.finetune.engine.evaluation.Evaluation;
import dev.finetune.engine.evaluation.Evaluator;
import dev.finetune.engine.training.ProgressListener;
import dev.finetune.runtime.FineTunedModel;
import dev.finetune.runtime.encoding.BatchBudget;
import dev.finetune.runtime.encoding.LabeledText;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Path;
import java.util.List;

/**
 * Evaluates a fine-tuned model on a labelled CSV as the {@code evaluate} goal does, in its own JVM so a test can bound
 * its heap: {@code EvaluationProcess <model> <csv> <stream|memory>} ({@code StreamingMemoryTest}). {@code memory} only
 * reads every row into a list, as the evaluation did before it streamed, to show the same heap would not have been
 * enough. Prints {@code rows R accuracy A seconds S peak-heap-mb M}. With a fourth argument {@code conll}: a
 * token-classification model on a CoNLL file, {@code memory} reading every sentence into a list.
 */
public final class EvaluationProcess {
    private EvaluationProcess() {
    }

    public static void main(String[] args) {
        if (args.length > 3 && args[3].equals("conll")) {
            sentences(Path.of(args[0]), Path.of(args[1]), args[2].equals("memory"));
            return;
        }
        DataReader reader = new DataReader("text", null, "label");
        Path csv = Path.of(args[1]);
        if (args[2].equals("memory")) {
            List<LabeledText> rows = reader.read(csv, TextFormat.CSV);
            System.out.println("rows " + rows.size());
            return;
        }
        Evaluation e;
        try (FineTunedModel model = FineTunedModel.load(Path.of(args[0]))) {
            e = Evaluator.evaluate(model, reader, csv, TextFormat.CSV, BatchBudget.rows(64), ProgressListener.SILENT);
        }
        System.out.printf("rows %d accuracy %.4f seconds %.1f peak-heap-mb %.1f%n", e.metrics().examples(), e.metrics().accuracy(),
                e.seconds(), peakHeap() / 1e6);
    }

    /** A token-classification model on a CoNLL file: prints {@code sentences N words W seconds S peak-heap-mb M}. */
    private static void sentences(Path model, Path conll, boolean memory) {
        TokenDataReader reader = new TokenDataReader("tokens", "tags", true);
        if (memory) {
            System.out.println("sentences " + reader.read(conll, TextFormat.CONLL).size());
            return;
        }
        Evaluation e;
        try (FineTunedModel m = FineTunedModel.load(model)) {
            e = Evaluator.evaluate(m, null, reader, conll, TextFormat.CONLL, BatchBudget.rows(64), ProgressListener.SILENT);
        }
        System.out.printf("sentences %d words %d seconds %.1f peak-heap-mb %.1f%n", e.entities().sentences(), e.entities().tokens(),
                e.seconds(), peakHeap() / 1e6);
    }

    private static long peakHeap() {
        long peak = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP) {
                peak += pool.getPeakUsage().getUsed();
            }
        }
        return peak;
    }
}
