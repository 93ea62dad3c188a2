package dev.finetune.engine.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.TestFiles;
import dev.finetune.engine.model.EncoderGraph;
import dev.finetune.engine.model.SignatureNames;
import dev.finetune.runtime.Task;
import dev.finetune.runtime.encoding.Batch;
import dev.finetune.runtime.model.SavedModelFile;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Hidden head layers on a real encoder: the graph's logits are what a dense stack with the named activation
 * computes from the encoder's vector and the head's weights (recomputed here in double precision), the hidden weights
 * count as trainable parameters, and training moves them.
 */
class HeadLayersTest {
    private static final int[] SIZES = {8, 5};
    private static EncoderGraph encoder;

    @BeforeAll
    static void load() {
        encoder = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model("tiny-bert-tf2")), SignatureNames.auto());
    }

    @ParameterizedTest
    @ValueSource(strings = {"gelu", "relu", "tanh"})
    void probabilitiesAreTheDenseStackOfTheFeatures(String activation) {
        ClassifierGraph.Settings settings = new ClassifierGraph.Settings("pooled", 0.0, 7, 0.9, 0.999, 1e-6, 0.0, 1.0)
                .withHeadLayers(SIZES, activation);
        Batch batch = ClassifierGraphTest.toyBatch();
        try (ClassifierGraph g = new ClassifierGraph(encoder, 3, settings);
             ClassifierSession s = new ClassifierSession(g, 1, 1)) {
            s.initializeFromPretrained();
            // The head's own parameters: 32×8+8, 8×5+5, 5×3+3 on top of the encoder's.
            long encoderParameters = g.encoderVariables().stream().mapToLong(EncoderVariable::size).sum();
            assertEquals(encoderParameters + 32 * 8 + 8 + 8 * 5 + 5 + 5 * 3 + 3, g.trainableParameters());
            assertEquals(g.encoderVariables().size() + 6, g.trainableVariables());

            float[] hiddenBefore = s.variable("finetune_head/hidden_0/kernel");
            ClassifierSession.StepResult first = s.train(batch, 5e-3f, 1, 0.9, 0.999);
            ClassifierSession.StepResult last = first;
            for (int step = 2; step <= 30; step++) {
                last = s.train(batch, 5e-3f, step, 0.9, 0.999);
            }
            assertFalse(Arrays.equals(hiddenBefore, s.variable("finetune_head/hidden_0/kernel")), "the hidden layer trains");
            assertTrue(last.loss() < first.loss() * 0.8, "loss " + first.loss() + " → " + last.loss());

            // Trained weights, far from the small initial ones, so the activations tell apart.
            float[] logits = s.encoderOutput(batch, ClassifierGraph.LOGITS + ":0");
            float[] features = s.encoderOutput(batch, ClassifierGraph.FEATURES + ":0");
            for (String other : new String[] {"gelu", "relu", "tanh"}) {
                double[][] expected = forward(s, features, batch.rows(), other);
                double worst = 0;
                for (int i = 0; i < batch.rows(); i++) {
                    for (int j = 0; j < 3; j++) {
                        worst = Math.max(worst, Math.abs(expected[i][j] - logits[i * 3 + j]));
                    }
                }
                if (other.equals(activation)) {
                    assertTrue(worst < 1e-4, activation + ": off by " + worst);
                } else {
                    assertTrue(worst > 1e-2, activation + " computes what " + other + " would (" + worst + "): the check cannot tell");
                }
            }
        }
    }

    /** The head's logits recomputed: dense and activation per hidden layer, then the output layer. */
    private static double[][] forward(ClassifierSession s, float[] features, int rows, String activation) {
        int width = features.length / rows;
        double[][] x = new double[rows][width];
        for (int i = 0; i < rows; i++) {
            for (int k = 0; k < width; k++) {
                x[i][k] = features[i * width + k];
            }
        }
        for (int layer = 0; layer < SIZES.length; layer++) {
            String name = "finetune_head/hidden_" + layer;
            x = dense(x, s.variable(name + "/kernel"), s.variable(name + "/bias"));
            for (double[] row : x) {
                for (int k = 0; k < row.length; k++) {
                    row[k] = activate(row[k], activation);
                }
            }
        }
        return dense(x, s.variable("finetune_head/kernel"), s.variable("finetune_head/bias"));
    }

    private static double[][] dense(double[][] x, float[] kernel, float[] bias) {
        int out = bias.length;
        double[][] y = new double[x.length][out];
        for (int i = 0; i < x.length; i++) {
            for (int j = 0; j < out; j++) {
                double sum = bias[j];
                for (int k = 0; k < x[i].length; k++) {
                    sum += x[i][k] * kernel[k * out + j];
                }
                y[i][j] = sum;
            }
        }
        return y;
    }

    private static double activate(double v, String activation) {
        return switch (activation) {
            case "relu" -> Math.max(0, v);
            case "tanh" -> Math.tanh(v);
            default -> 0.5 * v * (1 + erf(v / Math.sqrt(2)));
        };
    }

    /** erf by Abramowitz and Stegun 7.1.26, within 1.5e-7 everywhere. */
    private static double erf(double x) {
        double t = 1 / (1 + 0.3275911 * Math.abs(x));
        double poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
        return Math.signum(x) * (1 - poly * Math.exp(-x * x));
    }
}
