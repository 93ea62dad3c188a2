package dev.finetune.engine.inference;

import dev.finetune.engine.FineTuneException;
import dev.finetune.engine.data.DataReader;
import dev.finetune.engine.data.LabeledText;
import dev.finetune.engine.data.RecordStream;
import dev.finetune.engine.data.TextFormat;
import dev.finetune.engine.evaluation.Metrics;
import dev.finetune.engine.training.Batches;
import dev.finetune.engine.training.EncodedExample;
import dev.finetune.engine.training.ProgressListener;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Batch inference from a CSV/TSV/JSONL file into a CSV of predictions: the input line, the predicted label, its
 * probability and the probability of every class. Streams both files, so inputs larger than memory work; the
 * output is written to a temporary file and moved into place when complete.
 */
public final class Predictor {
    /** Batches read ahead and sorted by length before predicting: enough to pad little, few enough to stream. */
    static final int WINDOW_BATCHES = 32;

    private Predictor() {
    }

    /** Returns the number of rows predicted. */
    public static long predict(FineTunedModel model, DataReader reader, Path input, TextFormat format, Path output,
                               int batchSize, ProgressListener log) {
        Path parent = output.toAbsolutePath().getParent();
        Path partial = null;
        long rows = 0;
        try {
            Files.createDirectories(parent);
            partial = Files.createTempFile(parent, "." + output.getFileName(), ".partial");
            try (RecordStream in = reader.open(input, format);
                 Writer out = new BufferedWriter(Files.newBufferedWriter(partial, StandardCharsets.UTF_8))) {
                out.write(header(model.labels()));
                // Rows are read a window at a time and predicted in batches of similar length; output keeps input order.
                int window = batchSize * WINDOW_BATCHES;
                List<EncodedExample> pending = new ArrayList<>(window);
                long started = System.nanoTime();
                for (LabeledText t = in.next(); t != null; t = in.next()) {
                    pending.add(EncodedExample.of(model.tokenizer(), t, -1, model.maxSequenceLength()));
                    if (pending.size() == window) {
                        rows += flush(model, pending, batchSize, out);
                        log.info(String.format("predicted %,d rows (%.1f rows/s)", rows, rows / ((System.nanoTime() - started) / 1e9)));
                    }
                }
                rows += flush(model, pending, batchSize, out);
            }
            Files.move(partial, output, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            partial = null;
            return rows;
        } catch (IOException e) {
            throw new FineTuneException("Cannot write predictions to " + output + ": " + e.getMessage(), e);
        } finally {
            if (partial != null) {
                try {
                    Files.deleteIfExists(partial);
                } catch (IOException ignored) {
                    // The real problem is already being reported.
                }
            }
        }
    }

    private static String header(List<String> labels) {
        StringBuilder b = new StringBuilder("line,predicted,probability");
        labels.forEach(l -> b.append(',').append(csv("p_" + l)));
        return b.append('\n').toString();
    }

    private static int flush(FineTunedModel model, List<EncodedExample> pending, int batchSize, Writer out) throws IOException {
        if (pending.isEmpty()) {
            return 0;
        }
        float[][] probs = Batches.predictInLengthOrder(pending, batchSize, model.tokenizer().padId(), model::predict);
        for (int i = 0; i < pending.size(); i++) {
            int best = Metrics.argmax(probs[i]);
            StringBuilder b = new StringBuilder();
            b.append(pending.get(i).line()).append(',').append(csv(model.labels().get(best))).append(',')
                    .append(String.format(Locale.ROOT, "%.6f", probs[i][best]));
            for (float p : probs[i]) {
                b.append(',').append(String.format(Locale.ROOT, "%.6f", p));
            }
            out.write(b.append('\n').toString());
        }
        int n = pending.size();
        pending.clear();
        return n;
    }

    static String csv(String s) {
        return s.contains(",") || s.contains("\"") || s.contains("\n") ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
    }
}
