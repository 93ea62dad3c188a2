package dev.finetune.engine.evaluation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.data.DataReader;
import dev.finetune.engine.data.RegressionTargets;
import dev.finetune.engine.data.TextFormat;
import dev.finetune.engine.data.TokenDataReader;
import dev.finetune.runtime.FineTunedModel;
import dev.finetune.runtime.encoding.BatchBudget;
import dev.finetune.runtime.encoding.Batches;
import dev.finetune.runtime.encoding.EncodedExample;
import dev.finetune.runtime.encoding.LabeledText;
import dev.finetune.runtime.encoding.Scores;
import dev.finetune.runtime.encoding.TaggedSentence;
import dev.finetune.runtime.encoding.TokenExamples;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The evaluation as it was before the test file streamed, as a reference: every row read, the whole file predicted in
 * one length order, metrics over all of it. A streamed evaluation predicts window by window, so its batches are padded
 * differently: counts must be the same, numbers from probabilities the same to float rounding.
 */
public final class WholeFileReference {
    private static final double ROUNDING = 1e-5;
    /**
     * Rank metrics (ROC and precision-recall areas): two rows whose scores differ in the last float digits can swap when
     * batches are padded differently (or threads add in another order), moving the area by about 1 / (positives ×
     * negatives) a pair, 7e-5 for 120 × 120 rows; a handful of such swaps is allowed, a wrong row or label is not.
     */
    private static final double RANKING = 1e-3;

    private WholeFileReference() {
    }

    private static float[][] outputs(FineTunedModel model, List<LabeledText> rows, int batchSize) {
        List<EncodedExample> encoded = new ArrayList<>();
        for (LabeledText row : rows) {
            encoded.add(EncodedExample.of(model.tokenizer(), row, -1, model.maxSequenceLength()));
        }
        return Batches.predictInLengthOrder(encoded, batchSize, model.tokenizer().padId(), model::predict);
    }

    public static void assertSingleLabel(Evaluation streamed, FineTunedModel model, DataReader reader, Path file, int batchSize) {
        List<LabeledText> rows = reader.read(file, TextFormat.CSV).stream().filter(r -> model.labels().contains(r.label())).toList();
        float[][] probs = outputs(model, rows, batchSize);
        int[] truth = rows.stream().mapToInt(r -> model.labels().indexOf(r.label())).toArray();
        Metrics.Summary whole = Metrics.compute(model.labels(), truth, probs);
        Metrics.Summary s = streamed.metrics();
        assertEquals(whole.examples(), s.examples());
        assertEquals(whole.accuracy(), s.accuracy());
        assertArrayEquals(whole.confusion(), s.confusion());
        assertEquals(whole.perClass(), s.perClass());
        assertEquals(whole.macro(), s.macro());
        assertEquals(whole.weighted(), s.weighted());
        assertEquals(whole.logLoss(), s.logLoss(), ROUNDING);
        assertEquals(whole.rocAuc(), s.rocAuc(), RANKING);
        assertEquals(whole.prAuc(), s.prAuc(), RANKING);
        assertEquals(whole.expectedCalibrationError(), s.expectedCalibrationError(), ROUNDING);
        List<Evaluation.Mistake> mistakes = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            int p = Scores.argmax(probs[i]);
            if (p != truth[i]) {
                mistakes.add(new Evaluation.Mistake(rows.get(i).line(), null, rows.get(i).label(), model.labels().get(p), probs[i][p]));
            }
        }
        assertSameMistakes(mistakes, streamed.worstErrors());
    }

    public static void assertMultiLabel(Evaluation streamed, FineTunedModel model, DataReader reader, Path file, int batchSize) {
        List<LabeledText> rows = reader.read(file, TextFormat.CSV);
        float[][] scores = outputs(model, rows, batchSize);
        int k = model.labels().size();
        boolean[][] truth = new boolean[rows.size()][k];
        List<Evaluation.Mistake> mistakes = new ArrayList<>();
        double[] thresholds = model.taskInfo().thresholds();
        for (int i = 0; i < rows.size(); i++) {
            double worst = -1;
            for (int j = 0; j < k; j++) {
                truth[i][j] = rows.get(i).labelList().contains(model.labels().get(j));
                if (scores[i][j] >= thresholds[j] != truth[i][j]) {
                    worst = Math.max(worst, Math.abs(scores[i][j] - thresholds[j]));
                }
            }
            if (worst >= 0) {
                mistakes.add(new Evaluation.Mistake(rows.get(i).line(), null, rows.get(i).label(), null, worst));
            }
        }
        MultiLabelMetrics.Summary whole = MultiLabelMetrics.compute(model.labels(), truth, scores, thresholds);
        MultiLabelMetrics.Summary s = streamed.multiLabel();
        assertEquals(whole.examples(), s.examples());
        assertEquals(whole.subsetAccuracy(), s.subsetAccuracy());
        assertEquals(whole.hammingLoss(), s.hammingLoss());
        assertEquals(whole.micro(), s.micro());
        assertEquals(whole.macro(), s.macro());
        assertEquals(whole.samples(), s.samples());
        assertEquals(whole.macroRocAuc(), s.macroRocAuc(), RANKING);
        for (int j = 0; j < k; j++) {
            MultiLabelMetrics.LabelMetrics w = whole.perLabel().get(j);
            MultiLabelMetrics.LabelMetrics l = s.perLabel().get(j);
            assertEquals(w.f1(), l.f1());
            assertEquals(w.support(), l.support());
            assertEquals(w.rocAuc(), l.rocAuc(), RANKING);
        }
        assertSameMistakes(mistakes, streamed.worstErrors());
    }

    public static void assertRegression(Evaluation streamed, FineTunedModel model, DataReader reader, Path file, int batchSize) {
        List<LabeledText> rows = reader.read(file, TextFormat.CSV);
        float[][] out = outputs(model, rows, batchSize);
        double[] truth = RegressionTargets.of(rows, file, model.labels().get(0));
        double[] predicted = new double[rows.size()];
        List<Evaluation.Mistake> mistakes = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            predicted[i] = out[i][0];
            mistakes.add(new Evaluation.Mistake(rows.get(i).line(), null, null, null, Math.abs(predicted[i] - truth[i])));
        }
        RegressionMetrics.Summary whole = RegressionMetrics.compute(truth, predicted);
        RegressionMetrics.Summary s = streamed.regression();
        assertEquals(whole.examples(), s.examples());
        // The targets are numbers of a few units: float rounding is relative.
        assertEquals(whole.rmse(), s.rmse(), ROUNDING * 10);
        assertEquals(whole.mae(), s.mae(), ROUNDING * 10);
        assertEquals(whole.r2(), s.r2(), ROUNDING);
        assertEquals(whole.pearson(), s.pearson(), ROUNDING);
        // Ranks: two predictions equal to rounding may swap, which moves Spearman by 12 / (n (n² - 1)) each (2.3e-5 for 80).
        int n = rows.size();
        assertEquals(whole.spearman(), s.spearman(), 4 * 12.0 / ((double) n * ((double) n * n - 1)));
        for (int i = 0; i < streamed.points().size(); i++) {
            assertEquals(truth[i], streamed.points().get(i).truth());
            assertEquals(predicted[i], streamed.points().get(i).predicted(), ROUNDING * 10);
        }
        assertSameMistakes(mistakes, streamed.worstErrors());
    }

    /**
     * Token classification as it was evaluated before: every sentence read, all tagged at once, entity metrics over all
     * of them, every sentence with errors sorted. Tags are argmaxes, the same however the windows fall.
     */
    public static void assertTokens(Evaluation streamed, FineTunedModel model, TokenDataReader reader, Path file) {
        List<TaggedSentence> sentences = reader.read(file, TextFormat.CONLL);
        List<TokenExamples.WordTags> tagged = model.tagWords(sentences, BatchBudget.rows(64));
        List<List<String>> truth = new ArrayList<>();
        List<List<String>> predicted = new ArrayList<>();
        List<Evaluation.SentenceErrors> errors = new ArrayList<>();
        for (int i = 0; i < sentences.size(); i++) {
            truth.add(sentences.get(i).tags());
            predicted.add(Evaluator.wordTags(model.labels(), tagged.get(i).tags()));
            var t = new java.util.HashSet<>(EntitySpans.of(truth.get(i)));
            var p = new java.util.HashSet<>(EntitySpans.of(predicted.get(i)));
            int wrong = (int) (t.stream().filter(e -> !p.contains(e)).count() + p.stream().filter(e -> !t.contains(e)).count());
            if (wrong > 0) {
                errors.add(new Evaluation.SentenceErrors(sentences.get(i).line(), sentences.get(i).tokens(), truth.get(i),
                        predicted.get(i), wrong));
            }
        }
        assertEquals(EntityMetrics.compute(truth, predicted), streamed.entities());
        errors.sort(Comparator.comparingInt(Evaluation.SentenceErrors::errors).reversed().thenComparingLong(Evaluation.SentenceErrors::line));
        assertEquals(errors.subList(0, Math.min(Evaluator.WORST_ERRORS, errors.size())), streamed.worstSentences());
    }

    /** The same rows as the worst, with the same confidence to rounding, out of every mistake sorted. */
    private static void assertSameMistakes(List<Evaluation.Mistake> all, List<Evaluation.Mistake> streamed) {
        all.sort(Comparator.comparingDouble(Evaluation.Mistake::confidence).reversed());
        List<Evaluation.Mistake> worst = all.subList(0, Math.min(Evaluator.WORST_ERRORS, all.size()));
        assertEquals(worst.stream().map(Evaluation.Mistake::line).toList(), streamed.stream().map(Evaluation.Mistake::line).toList());
        for (int i = 0; i < worst.size(); i++) {
            assertEquals(worst.get(i).confidence(), streamed.get(i).confidence(), ROUNDING * 10);
            assertTrue(streamed.get(i).text() != null && !streamed.get(i).text().isEmpty());
        }
    }
}
