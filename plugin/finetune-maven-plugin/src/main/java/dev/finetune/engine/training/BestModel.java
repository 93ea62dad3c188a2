package dev.finetune.engine.training;

import dev.finetune.engine.export.AtomicDirectory;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Follows the chosen validation metric: remembers its best value (keeping that step's weights under
 * {@code <work>/best/} when they will be exported) and counts validations without improvement for early stopping.
 */
final class BestModel {
    /** What to follow and when to stop. */
    record Settings(String metric, int patience, boolean exportBest) {
        boolean keepsWeights() {
            return exportBest || patience > 0;
        }
    }

    private final Settings s;
    private final Path directory;
    private final ClassifierSession session;
    private final ProgressListener log;
    /** Only the chief of a cluster keeps weights: the others write nothing and export nothing. */
    private final boolean writes;

    BestModel(Settings settings, Path directory, ClassifierSession session, ProgressListener log, boolean writes) {
        this.writes = writes;
        this.s = settings;
        this.directory = directory;
        this.session = session;
        this.log = log;
    }

    /** Records a validation; true when training should stop early. */
    boolean observe(CheckpointStore.State state, int epoch, Trainer.Validation v) {
        boolean accuracy = s.metric().equals("accuracy");
        double value = accuracy ? v.accuracy() : v.loss();
        boolean better = Double.isFinite(value) && (state.bestValue == null || (accuracy ? value > state.bestValue : value < state.bestValue));
        if (better) {
            state.bestValue = value;
            state.bestStep = state.globalStep;
            state.validationsSinceBest = 0;
            if (s.keepsWeights() && writes) {
                AtomicDirectory.write(directory, dir -> session.saveWeights(dir.resolve("variables")));
            }
        } else {
            state.validationsSinceBest++;
        }
        state.history.validations.add(new TrainingHistory.Validation(state.globalStep, epoch, v.loss(), v.accuracy(), better));
        if (s.patience() > 0 && state.validationsSinceBest >= s.patience()) {
            log.info(String.format("Stopping early at step %d: validation %s has not improved on %.4f (step %d) for %d validations.",
                    state.globalStep, s.metric(), state.bestValue, state.bestStep, state.validationsSinceBest));
            state.stoppedEarly = true;
            return true;
        }
        return false;
    }

    /** Loads the best weights into the session when they are to be exported and differ from the last ones. */
    long restoreBestIfWanted(CheckpointStore.State state) {
        if (!s.keepsWeights() || state.bestValue == null || state.bestStep == state.globalStep) {
            return state.globalStep;
        }
        if (!writes) {
            return state.bestStep;
        }
        if (!Files.isDirectory(directory)) {
            return state.globalStep;
        }
        session.restoreWeights(directory.resolve("variables"));
        log.info(String.format("Exporting the best model: step %d, validation %s %.4f.", state.bestStep, s.metric(), state.bestValue));
        return state.bestStep;
    }

    void clear() {
        if (writes) {
            AtomicDirectory.deleteQuietly(directory);
        }
    }
}
