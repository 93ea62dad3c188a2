package dev.finetune.engine.training;

import java.util.ArrayList;
import java.util.List;

/** What training did, step by step and epoch by epoch; written as {@code training-history.json}. */
public class TrainingHistory {
    public List<Step> steps = new ArrayList<>();
    public List<Epoch> epochs = new ArrayList<>();
    /** Every validation, at epoch ends and every evaluateEverySteps steps. */
    public List<Validation> validations = new ArrayList<>();
    /** The step whose weights were exported (the last, or the best validation's). */
    public long exportedStep;
    public boolean stoppedEarly;

    /** {@code seconds} is the wall time of the step's {@code Session.run}; {@code examples} the batch's rows, {@code tokens} its padded size. */
    public record Step(long step, int epoch, double loss, double learningRate, double gradientNorm, double seconds, int examples,
                       int tokens) {
    }

    /** One validation pass; {@code best} marks a new best of the chosen metric. */
    public record Validation(long step, int epoch, double loss, double accuracy, boolean best) {
    }

    public record Epoch(int epoch, long step, double trainLoss, double validationLoss, double validationAccuracy,
                        int validationExamples, double seconds) {
    }
}
