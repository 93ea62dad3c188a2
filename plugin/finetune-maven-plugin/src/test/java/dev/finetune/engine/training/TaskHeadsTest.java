package dev.finetune.engine.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.TestFiles;
import dev.finetune.engine.model.EncoderGraph;
import dev.finetune.engine.model.SignatureNames;
import dev.finetune.runtime.Task;
import dev.finetune.runtime.encoding.Batch;
import dev.finetune.runtime.model.SavedModelFile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The heads and losses of the tasks beyond single-label classification, on a real encoder: each example's loss is
 * what the textbook formula gives from the outputs the graph returns (computed here in double precision), the batch
 * loss a training step reports is their mean (over labelled words, for token classification), and a few steps on
 * one batch drive it down.
 */
class TaskHeadsTest {
    private static EncoderGraph encoder;

    @BeforeAll
    static void load() {
        encoder = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model("tiny-bert-tf2")), SignatureNames.auto());
    }

    private static ClassifierGraph.Settings settings(Task task, String loss, double mean, double scale) {
        return new ClassifierGraph.Settings("pooled", 0.0, 7, 0.9, 0.999, 1e-6, 0.0, 1.0).forTask(task, loss, mean, scale);
    }

    /** The toy batch's four rows with three labels each: one row with none, one with all. */
    static Batch multiLabelBatch() {
        Batch b = ClassifierGraphTest.toyBatch();
        float[] targets = {1, 0, 1, 0, 0, 0, 1, 1, 1, 0, 1, 0};
        return new Batch(b.rows(), b.length(), b.inputIds(), b.inputMask(), b.segmentIds(), b.labels(), targets, null);
    }

    @Test
    void multiLabelLossIsTheMeanBinaryCrossEntropyOfTheSigmoids() {
        Batch batch = multiLabelBatch();
        try (ClassifierGraph g = new ClassifierGraph(encoder, 3, settings(Task.MULTI_LABEL, "mse", 0, 1));
             ClassifierSession s = new ClassifierSession(g, 1, 1)) {
            s.initializeFromPretrained();
            ClassifierSession.Evaluation e = s.evaluate(batch, true);
            double mean = 0;
            for (int i = 0; i < batch.rows(); i++) {
                double expected = 0;
                for (int j = 0; j < 3; j++) {
                    double p = e.probabilities()[i][j];
                    assertTrue(p > 0 && p < 1, "a sigmoid per label, not a softmax: " + p);
                    double z = batch.targets()[i * 3 + j];
                    expected -= (z * Math.log(p) + (1 - z) * Math.log(1 - p)) / 3;
                }
                assertEquals(expected, e.losses()[i], 1e-5, "row " + i);
                mean += expected / batch.rows();
            }
            assertLearns(s, batch, mean);
        }
    }

    /** A multi-label head can start from each label's prior odds: its untrained sigmoids then give the label frequencies. */
    @Test
    void multiLabelHeadStartsFromTheGivenBias() {
        float[] priors = {0.05f, 0.5f, 0.8f};
        float[] bias = new float[3];
        for (int j = 0; j < 3; j++) {
            bias[j] = (float) Math.log(priors[j] / (1 - priors[j]));
        }
        try (ClassifierGraph g = new ClassifierGraph(encoder, 3, settings(Task.MULTI_LABEL, "mse", 0, 1).withInitialBias(bias));
             ClassifierSession s = new ClassifierSession(g, 1, 1)) {
            s.initializeFromPretrained();
            for (float[] row : s.predict(multiLabelBatch())) {
                for (int j = 0; j < 3; j++) {
                    // The fresh kernel (σ 0.02) moves the logit by a few hundredths at most.
                    assertEquals(priors[j], row[j], 0.03, "label " + j);
                }
            }
        }
    }

    @Test
    void regressionLossesAreOnTheStandardisedTarget() {
        for (String loss : new String[] {"mse", "huber"}) {
            Batch toy = ClassifierGraphTest.toyBatch();
            // Targets in their own units (mean 50, scale 20): the graph standardises them and predicts in the same units.
            float[] targets = {90, 20, 65, 40};
            Batch batch = new Batch(toy.rows(), toy.length(), toy.inputIds(), toy.inputMask(), toy.segmentIds(), toy.labels(), targets, null);
            try (ClassifierGraph g = new ClassifierGraph(encoder, 7, settings(Task.REGRESSION, loss, 50, 20));
                 ClassifierSession s = new ClassifierSession(g, 1, 1)) {
                assertEquals(1, g.numLabels(), "one output, whatever the label count");
                s.initializeFromPretrained();
                ClassifierSession.Evaluation e = s.evaluate(batch, true);
                double mean = 0;
                for (int i = 0; i < batch.rows(); i++) {
                    double prediction = e.probabilities()[i][0];
                    // A fresh head outputs about 0, i.e. the mean in the target's units.
                    assertEquals(50, prediction, 5, "prediction " + prediction);
                    double error = (prediction - targets[i]) / 20;
                    double a = Math.abs(error);
                    double expected = loss.equals("mse") ? error * error : a <= 1 ? 0.5 * a * a : a - 0.5;
                    assertEquals(expected, e.losses()[i], 1e-4, loss + " row " + i);
                    mean += expected / batch.rows();
                }
                assertLearns(s, batch, mean);
            }
        }
    }

    @Test
    void tokenLossAveragesTheLabelledPositionsOnly() {
        Batch toy = ClassifierGraphTest.toyBatch();
        // Labels on some positions; -1 on special tokens, padding and "later sub-tokens".
        int[] labels = {-1, 0, 2, -1, -1, -1, -1, 1, 1, 0, -1, -1, -1, 2, -1, -1, -1, -1, -1, 0, -1, 1, 2, -1};
        Batch batch = new Batch(toy.rows(), toy.length(), toy.inputIds(), toy.inputMask(), toy.segmentIds(), toy.labels(), null, labels);
        try (ClassifierGraph g = new ClassifierGraph(encoder, 3, settings(Task.TOKEN_CLASSIFICATION, "mse", 0, 1));
             ClassifierSession s = new ClassifierSession(g, 1, 1)) {
            s.initializeFromPretrained();
            ClassifierSession.Evaluation e = s.evaluate(batch, true);
            double total = 0;
            int counted = 0;
            for (int i = 0; i < batch.rows(); i++) {
                float[] out = e.probabilities()[i];
                assertEquals(batch.length() * 3, out.length, "probabilities per position");
                double sum = 0;
                int n = 0;
                for (int t = 0; t < batch.length(); t++) {
                    double rowSum = out[t * 3] + out[t * 3 + 1] + out[t * 3 + 2];
                    assertEquals(1, rowSum, 1e-5, "a softmax per position");
                    int label = labels[i * batch.length() + t];
                    if (label >= 0) {
                        sum -= Math.log(out[t * 3 + label]);
                        n++;
                    }
                }
                assertEquals(sum / n, e.losses()[i], 1e-5, "row " + i);
                total += sum;
                counted += n;
            }
            assertLearns(s, batch, total / counted);
        }
    }

    /** The first step reports the loss of the weights before it (dropout is off); twenty steps on the batch lower it. */
    private static void assertLearns(ClassifierSession s, Batch batch, double expectedFirstLoss) {
        ClassifierSession.StepResult first = s.train(batch, 5e-3f, 1, 0.9, 0.999);
        assertEquals(expectedFirstLoss, first.loss(), 1e-5);
        ClassifierSession.StepResult last = first;
        for (int step = 2; step <= 20; step++) {
            last = s.train(batch, 5e-3f, step, 0.9, 0.999);
        }
        assertTrue(last.loss() < first.loss() * 0.5, "loss " + first.loss() + " → " + last.loss());
    }
}
