package dev.finetune.engine.inference;

import dev.finetune.engine.data.DataReader;
import dev.finetune.engine.data.RecordStream;
import dev.finetune.engine.data.TextFormat;
import dev.finetune.engine.data.TokenDataReader;
import dev.finetune.engine.evaluation.Metrics;
import dev.finetune.engine.training.ProgressListener;
import dev.finetune.runtime.FineTuneException;
import dev.finetune.runtime.FineTunedModel;
import dev.finetune.runtime.Task;
import dev.finetune.runtime.encoding.BatchBudget;
import dev.finetune.runtime.encoding.LabeledText;
import dev.finetune.runtime.encoding.Scores;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Batch inference from a data file into a CSV of predictions, one row per input row (per word for token
 * classification), in the task's form:
 * <ul>
 * <li>single-label: {@code line,predicted,probability,p_<label>...};</li>
 * <li>multi-label: {@code line,predicted,p_<label>...}, predicted being the labels at or over their thresholds, joined
 * by the model's label separator (empty when none is);</li>
 * <li>regression: {@code line,prediction};</li>
 * <li>token classification: {@code line,word,token,predicted,probability}: the sentence's line, the word's position
 * in it (from 1), the word and its tag.</li>
 * </ul>
 * Text files are streamed, so inputs larger than memory work; the output is written to a temporary file and moved
 * into place when complete.
 */
public final class Predictor {
    private Predictor() {
    }

    /** Returns the number of rows predicted. */
    public static long predict(FineTunedModel model, DataReader reader, Path input, TextFormat format, Path output,
                               BatchBudget batches, ProgressListener log) {
        return predict(model, reader, null, input, format, output, batches, log);
    }

    /** Returns the number of rows written: texts, or words for token classification ({@code tokenReader} reads those). */
    public static long predict(FineTunedModel model, DataReader reader, TokenDataReader tokenReader, Path input, TextFormat format,
                               Path output, BatchBudget batches, ProgressListener log) {
        Path parent = output.toAbsolutePath().getParent();
        Path partial = null;
        long rows = 0;
        try {
            Files.createDirectories(parent);
            partial = Files.createTempFile(parent, "." + output.getFileName(), ".partial");
            try (Writer out = new BufferedWriter(Files.newBufferedWriter(partial, StandardCharsets.UTF_8))) {
                rows = model.task() == Task.TOKEN_CLASSIFICATION ? words(model, tokenReader, input, format, batches, out, log)
                        : texts(model, reader, input, format, batches, out, log);
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

    /** One row per text, read a window at a time and predicted in batches of similar length; output keeps input order. */
    private static long texts(FineTunedModel model, DataReader reader, Path input, TextFormat format, BatchBudget batches, Writer out,
                              ProgressListener log) throws IOException {
        out.write(header(model));
        PredictionWindow window = new PredictionWindow(model, batches, log, "predicted", (i, row, output) -> {
            try {
                out.write(csvRow(model, row.line(), output));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        try (RecordStream in = reader.open(input, format)) {
            for (LabeledText t = in.next(); t != null; t = in.next()) {
                window.add(t);
            }
            window.flush();
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        return window.rows();
    }

    private static String header(FineTunedModel model) {
        if (model.task() == Task.REGRESSION) {
            return "line,prediction\n";
        }
        StringBuilder b = new StringBuilder(model.task() == Task.MULTI_LABEL ? "line,predicted" : "line,predicted,probability");
        model.labels().forEach(l -> b.append(',').append(csv("p_" + l)));
        return b.append('\n').toString();
    }

    /** Token classification: one row per word, sentences in file order, tagged a window at a time. */
    private static long words(FineTunedModel model, TokenDataReader reader, Path input, TextFormat format, BatchBudget batches, Writer out,
                              ProgressListener log) throws IOException {
        out.write("line,word,token,predicted,probability\n");
        TaggingWindow window = new TaggingWindow(model, batches, log, "predicted", (s, tags) -> {
            List<String> names = dev.finetune.engine.evaluation.Evaluator.wordTags(model.labels(), tags.tags());
            try {
                for (int w = 0; w < s.tokens().size(); w++) {
                    out.write(s.line() + "," + (w + 1) + "," + csv(s.tokens().get(w)) + "," + csv(names.get(w)) + ","
                            + String.format(Locale.ROOT, "%.6f", tags.probabilities()[w]) + "\n");
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        try {
            window.tagAll(reader, input, format);
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        log.info(String.format("predicted the tags of %,d words in %,d sentences", window.words(), window.sentences()));
        return window.words();
    }

    private static String csvRow(FineTunedModel model, long line, float[] probs) {
        StringBuilder b = new StringBuilder();
        b.append(line).append(',');
        if (model.task() == Task.REGRESSION) {
            return b.append(String.format(Locale.ROOT, "%.6g", probs[0])).append('\n').toString();
        }
        if (model.task() == Task.MULTI_LABEL) {
            List<String> predicted = new ArrayList<>();
            for (int j = 0; j < probs.length; j++) {
                if (probs[j] >= model.taskInfo().thresholds()[j]) {
                    predicted.add(model.labels().get(j));
                }
            }
            b.append(csv(String.join(model.taskInfo().labelSeparator(), predicted)));
        } else {
            int best = Scores.argmax(probs);
            b.append(csv(model.labels().get(best))).append(',').append(String.format(Locale.ROOT, "%.6f", probs[best]));
        }
        for (float p : probs) {
            b.append(',').append(String.format(Locale.ROOT, "%.6f", p));
        }
        return b.append('\n').toString();
    }

    static String csv(String s) {
        return s.contains(",") || s.contains("\"") || s.contains("\n") ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
    }
}
