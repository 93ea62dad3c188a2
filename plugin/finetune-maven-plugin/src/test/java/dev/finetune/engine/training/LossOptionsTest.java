package dev.finetune.engine.training;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.finetune.engine.TestFiles;
import dev.finetune.engine.model.EncoderGraph;
import dev.finetune.engine.model.SignatureNames;
import dev.finetune.runtime.Task;
import dev.finetune.runtime.encoding.Batch;
import dev.finetune.runtime.model.SavedModelFile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Label smoothing and class weights in the training loss, on a real encoder: the loss a training step reports (of the
 * weights before it; dropout is off, so training and evaluation see the same logits) is what the textbook
 * formula gives from the probabilities the graph returns, computed here in double precision; the evaluation losses stay
 * the plain cross-entropies.
 */
class LossOptionsTest {
    private static final double EPSILON = 0.2;
    private static EncoderGraph encoder;

    @BeforeAll
    static void load() {
        encoder = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model("tiny-bert-tf2")), SignatureNames.auto());
    }

    private static final int STEPS = 10;

    /**
     * A few steps first: a fresh head gives every class about the same probability, and against uniform probabilities a
     * smoothed target costs what the plain one does, so the check could not tell them apart.
     */
    private static void trainAway(ClassifierSession s, Batch batch) {
        for (int step = 1; step <= STEPS; step++) {
            s.train(batch, 5e-3f, step, 0.9, 0.999);
        }
    }

    /** What a graph with these loss options gives after a few steps: outputs and plain losses, and the next step's loss. */
    private record Observed(ClassifierSession.Evaluation evaluation, float nextLoss) {
    }

    private static Observed observe(Task task, float[] weights, double smoothing, Batch batch) {
        ClassifierGraph.Settings settings = new ClassifierGraph.Settings("pooled", 0.0, 7, 0.9, 0.999, 1e-6, 0.0, 1.0)
                .forTask(task, "mse", 0, 1).withLoss(weights, smoothing);
        try (ClassifierGraph g = new ClassifierGraph(encoder, 3, settings);
             ClassifierSession s = new ClassifierSession(g, 1, 1)) {
            s.initializeFromPretrained();
            trainAway(s, batch);
            ClassifierSession.Evaluation e = s.evaluate(batch, true);
            return new Observed(e, s.train(batch, 1e-3f, STEPS + 1, 0.9, 0.999).loss());
        }
    }

    /** Σ_k -((1 - ε)·[k = y] + ε / K)·log p_k, times the weight of y. */
    private static double smoothedCrossEntropy(float[] p, int offset, int classes, int label, double epsilon, float[] weights) {
        double loss = 0;
        for (int k = 0; k < classes; k++) {
            double target = (k == label ? 1 - epsilon : 0) + epsilon / classes;
            loss -= target * Math.log(p[offset + k]);
        }
        return loss * (weights == null ? 1 : weights[label]);
    }

    @Test
    void singleLabelLossIsTheWeightedSmoothedCrossEntropy() {
        Batch batch = ClassifierGraphTest.toyBatch();
        float[][] cases = {null, {2.5f, 0.5f, 1f}};
        for (float[] weights : cases) {
            for (double epsilon : new double[] {0, EPSILON}) {
                Observed o = observe(Task.SINGLE_LABEL, weights, epsilon, batch);
                ClassifierSession.Evaluation e = o.evaluation();
                double mean = 0;
                for (int i = 0; i < batch.rows(); i++) {
                    int y = batch.labels()[i];
                    assertEquals(-Math.log(e.probabilities()[i][y]), e.losses()[i], 1e-5, "evaluation loss stays plain");
                    mean += smoothedCrossEntropy(e.probabilities()[i], 0, 3, y, epsilon, weights) / batch.rows();
                }
                assertEquals(mean, o.nextLoss(), 1e-5, "weights " + java.util.Arrays.toString(weights) + ", ε " + epsilon);
            }
        }
    }

    /** Multi-label: -(w·z'·log σ + (1 - z')·log(1 - σ)) per label with z' = z·(1 - ε) + ε/2, averaged over labels and rows. */
    @Test
    void multiLabelLossWeighsPositivesAndSmoothsTowardsOneHalf() {
        Batch batch = TaskHeadsTest.multiLabelBatch();
        float[] weights = {4f, 1f, 0.5f};
        Observed o = observe(Task.MULTI_LABEL, weights, EPSILON, batch);
        ClassifierSession.Evaluation e = o.evaluation();
        double mean = 0;
        for (int i = 0; i < batch.rows(); i++) {
            double plain = 0;
            double row = 0;
            for (int j = 0; j < 3; j++) {
                double p = e.probabilities()[i][j];
                double z = batch.targets()[i * 3 + j];
                double smoothed = z * (1 - EPSILON) + EPSILON / 2;
                plain -= (z * Math.log(p) + (1 - z) * Math.log(1 - p)) / 3;
                row -= (weights[j] * smoothed * Math.log(p) + (1 - smoothed) * Math.log(1 - p)) / 3;
            }
            assertEquals(plain, e.losses()[i], 1e-5, "evaluation loss stays plain, row " + i);
            mean += row / batch.rows();
        }
        assertEquals(mean, o.nextLoss(), 1e-5);
    }

    /** Token classification: the weighted, smoothed cross-entropy of each labelled word, averaged over the labelled words. */
    @Test
    void tokenLossWeighsAndSmoothsEachLabelledWord() {
        Batch toy = ClassifierGraphTest.toyBatch();
        int[] labels = {-1, 0, 2, -1, -1, -1, -1, 1, 1, 0, -1, -1, -1, 2, -1, -1, -1, -1, -1, 0, -1, 1, 2, -1};
        Batch batch = new Batch(toy.rows(), toy.length(), toy.inputIds(), toy.inputMask(), toy.segmentIds(), toy.labels(), null, labels);
        float[] weights = {0.5f, 3f, 1.5f};
        Observed o = observe(Task.TOKEN_CLASSIFICATION, weights, EPSILON, batch);
        ClassifierSession.Evaluation e = o.evaluation();
        double total = 0;
        int counted = 0;
        for (int i = 0; i < batch.rows(); i++) {
            double plain = 0;
            int n = 0;
            for (int t = 0; t < batch.length(); t++) {
                int label = labels[i * batch.length() + t];
                if (label >= 0) {
                    plain -= Math.log(e.probabilities()[i][t * 3 + label]);
                    total += smoothedCrossEntropy(e.probabilities()[i], t * 3, 3, label, EPSILON, weights);
                    n++;
                }
            }
            assertEquals(plain / n, e.losses()[i], 1e-5, "evaluation loss stays plain, row " + i);
            counted += n;
        }
        assertEquals(total / counted, o.nextLoss(), 1e-5);
    }
}
