package dev.finetune.engine.training;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.finetune.engine.export.AtomicDirectory;
import dev.finetune.runtime.FineTuneException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Per-epoch checkpoints under {@code <work>/checkpoints/epoch-N/}: the variables (weights and Adam slots) plus a
 * {@code state.json}. Each is written to a temporary folder and renamed into place, so a killed build leaves
 * either a whole checkpoint or none; only the newest is kept. The checkpoint after the last epoch (or an early stop)
 * holds the weights alone: no step follows it, and the slots are two thirds of the bytes (880 of 1,320 MB for
 * BERT-base, about 9 s of a run's writing here).
 */
public final class CheckpointStore {
    private static final ObjectMapper JSON = new ObjectMapper();
    static final String PREFIX = "variables";

    private final Path root;
    /** A cluster's other workers read the chief's checkpoints (to resume) but never write or delete one. */
    private final boolean writes;

    public CheckpointStore(Path workDirectory) {
        this(workDirectory, true);
    }

    public CheckpointStore(Path workDirectory, boolean writes) {
        this.root = workDirectory.resolve("checkpoints");
        this.writes = writes;
    }

    /** Whether this store writes (the chief's, or a lone run's). */
    public boolean writes() {
        return writes;
    }

    /** Where training stands after a completed epoch; {@code fingerprint} ties it to one configuration. */
    public static class State {
        public int epochsDone;
        public long globalStep;
        public String fingerprint;
        /** The best value of the chosen validation metric so far, the step it was reached at, and validations since. */
        public Double bestValue;
        public long bestStep;
        public int validationsSinceBest;
        public boolean stoppedEarly;
        /** Whether the checkpoint holds the weights alone: written when training was over, which a resume only exports. */
        public boolean weightsOnly;
        public TrainingHistory history = new TrainingHistory();
    }

    /** Writes the checkpoint of {@code state}; with {@code over}, training is done and the optimizer's slots are left out. */
    public void save(ClassifierSession session, State state, boolean over) {
        if (!writes) {
            return;
        }
        Path target = root.resolve("epoch-" + state.epochsDone);
        state.weightsOnly = over;
        AtomicDirectory.write(target, dir -> {
            if (over) {
                session.saveWeights(dir.resolve(PREFIX));
            } else {
                session.saveCheckpoint(dir.resolve(PREFIX));
            }
            JSON.writerWithDefaultPrettyPrinter().writeValue(dir.resolve("state.json").toFile(), state);
        });
        try (Stream<Path> old = Files.list(root)) {
            old.filter(p -> !p.equals(target) && p.getFileName().toString().startsWith("epoch-"))
                    .forEach(AtomicDirectory::deleteQuietly);
        } catch (IOException e) {
            throw new FineTuneException("Cannot tidy checkpoints in " + root + ": " + e.getMessage(), e);
        }
    }

    /** The newest complete checkpoint, if any. */
    public Optional<Path> latest() {
        if (!Files.isDirectory(root)) {
            return Optional.empty();
        }
        try (Stream<Path> dirs = Files.list(root)) {
            return dirs.filter(p -> p.getFileName().toString().matches("epoch-\\d+") && Files.isRegularFile(p.resolve("state.json")))
                    .max((a, b) -> Integer.compare(epoch(a), epoch(b)));
        } catch (IOException e) {
            throw new FineTuneException("Cannot read checkpoints in " + root + ": " + e.getMessage(), e);
        }
    }

    public State state(Path checkpoint) {
        try {
            return JSON.readValue(checkpoint.resolve("state.json").toFile(), State.class);
        } catch (IOException e) {
            throw new FineTuneException("Checkpoint " + checkpoint + " has an unreadable state.json: " + e.getMessage(), e);
        }
    }

    /** Loads {@code checkpoint}, whose state is {@code state}, into the session: every variable it needs is set. */
    public void restore(ClassifierSession session, Path checkpoint, State state) {
        if (state.weightsOnly) {
            // The slots are not in it; they start fresh so that the session has no variable left unset.
            session.initializeFromPretrained();
            session.restoreWeights(checkpoint.resolve(PREFIX));
        } else {
            session.restoreCheckpoint(checkpoint.resolve(PREFIX));
        }
    }

    /** Where the weights of the best validation so far are kept. */
    public Path bestDirectory() {
        return root.resolveSibling("best");
    }

    public void clear() {
        if (writes) {
            AtomicDirectory.deleteQuietly(root);
        }
    }

    private static int epoch(Path p) {
        return Integer.parseInt(p.getFileName().toString().substring("epoch-".length()));
    }
}
