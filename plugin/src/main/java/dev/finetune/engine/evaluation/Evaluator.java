package dev.finetune.engine.evaluation;

import dev.finetune.engine.data.DataReader;
import dev.finetune.engine.data.LabeledText;
import dev.finetune.engine.data.TextFormat;
import dev.finetune.engine.inference.FineTunedModel;
import dev.finetune.engine.training.Batches;
import dev.finetune.engine.training.EncodedExample;
import dev.finetune.engine.training.ProgressListener;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Runs a fine-tuned model over a labelled file and computes its {@link Evaluation}. */
public final class Evaluator {
    static final int WORST_ERRORS = 10;
    private static final int MAX_TEXT = 300;

    private Evaluator() {
    }

    public static Evaluation evaluate(FineTunedModel model, DataReader reader, Path testFile, TextFormat format, int batchSize,
                                      ProgressListener log) {
        long started = System.nanoTime();
        Map<String, Integer> index = new HashMap<>();
        for (int i = 0; i < model.labels().size(); i++) {
            index.put(model.labels().get(i), i);
        }
        List<LabeledText> known = new ArrayList<>();
        List<Integer> truth = new ArrayList<>();
        Map<String, Integer> unknown = new TreeMap<>();
        for (LabeledText t : reader.read(testFile, format)) {
            Integer k = index.get(t.label());
            if (k == null) {
                unknown.merge(t.label(), 1, Integer::sum);
            } else {
                known.add(t);
                truth.add(k);
            }
        }
        if (!unknown.isEmpty()) {
            log.warn(testFile + " has labels the model does not know, left out of the metrics: " + unknown
                    + "; the model knows " + model.labels() + ".");
        }
        List<EncodedExample> encoded = new ArrayList<>(known.size());
        for (int i = 0; i < known.size(); i++) {
            encoded.add(EncodedExample.of(model.tokenizer(), known.get(i), truth.get(i), model.maxSequenceLength()));
        }
        float[][] probs = Batches.predictInLengthOrder(encoded, batchSize, model.tokenizer().padId(), model::predict);
        int[] y = truth.stream().mapToInt(Integer::intValue).toArray();
        Metrics.Summary summary = Metrics.compute(model.labels(), y, probs);
        List<Evaluation.Mistake> mistakes = new ArrayList<>();
        for (int i = 0; i < y.length; i++) {
            int p = Metrics.argmax(probs[i]);
            if (p != y[i]) {
                String text = known.get(i).text() + (known.get(i).pair() == null ? "" : " ‖ " + known.get(i).pair());
                mistakes.add(new Evaluation.Mistake(known.get(i).line(), text.length() > MAX_TEXT ? text.substring(0, MAX_TEXT) + "…" : text,
                        model.labels().get(y[i]), model.labels().get(p), probs[i][p]));
            }
        }
        mistakes.sort(Comparator.comparingDouble(Evaluation.Mistake::confidence).reversed());
        double seconds = (System.nanoTime() - started) / 1e9;
        log.info(String.format("Evaluated %d examples of %s in %.1f s: accuracy %.4f, macro F1 %.4f, log loss %.4f.",
                y.length, testFile, seconds, summary.accuracy(), summary.macro().f1(), summary.logLoss()));
        return new Evaluation(model.directory(), testFile, model.labels(), summary, unknown,
                List.copyOf(mistakes.subList(0, Math.min(WORST_ERRORS, mistakes.size()))), seconds);
    }
}
