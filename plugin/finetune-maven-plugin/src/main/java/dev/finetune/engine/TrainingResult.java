package dev.finetune.engine;

import dev.finetune.engine.training.TrainingHistory;
import java.nio.file.Path;
import java.util.List;

/** What a training run produced: where the model is, the labels, and the history with its final metrics. */
public record TrainingResult(Path outputDirectory, List<String> labels, TrainingHistory history) {
    public TrainingHistory.Epoch lastEpoch() {
        return history.epochs.get(history.epochs.size() - 1);
    }
}
