package dev.finetune.engine.training;

import dev.finetune.engine.NativeHeap;
import dev.finetune.engine.distributed.ClusterSpec;
import dev.finetune.runtime.FineTuneException;
import dev.finetune.runtime.encoding.Batch;
import dev.finetune.runtime.encoding.BatchBudget;
import dev.finetune.runtime.encoding.Batches;
import dev.finetune.runtime.encoding.EncodedExample;
import dev.finetune.runtime.encoding.Scores;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The training loop: epochs of shuffled, dynamically padded batches (of batchSize × gradientAccumulationSteps rows,
 * each one optimizer step, run as micro-batches of batchSize by {@link AccumulatedStep}); a learning rate from the
 * schedule each optimizer step;
 * a log line every N steps; validation after each epoch (and every N steps if asked), following the best model and
 * stopping early; a checkpoint after each epoch; resume from the newest checkpoint.
 */
public final class Trainer {
    /** Training steps between trims of the C heap ({@link NativeHeap}): a trim takes 1-40 ms, a step hundreds. */
    private static final int TRIM_INTERVAL = 8;

    /**
     * Loop settings; the graph holds the rest. Steps (the schedule, logging, evaluateEverySteps, early stopping) are
     * optimizer steps. An effective batch never spans two epochs, so the sums are empty at every checkpoint and a
     * resumed run takes exactly the steps of an uninterrupted one. Validation runs in length-sorted batches of
     * {@code validationBatches}.
     */
    public record Settings(int epochs, int batchSize, double learningRate, double warmupRatio, String schedule,
                           double beta1, double beta2, long seed, int logEverySteps, boolean resume, String fingerprint,
                           String bestModelMetric, int earlyStoppingPatience, int evaluateEverySteps, boolean exportBestModel,
                           boolean bucketByLength, int gradientAccumulationSteps, int weightDecayInterval,
                           BatchBudget validationBatches) {
        /** Rows per optimizer step. */
        int effectiveBatchSize() {
            return batchSize * Math.max(1, gradientAccumulationSteps);
        }
    }

    private final ClassifierSession session;
    private final Settings s;
    private final CheckpointStore checkpoints;
    private final ProgressListener log;
    private final int padId;
    private final BestModel best;
    /** The workers sharing each step; this process trains on its shard of every batch. */
    private final ClusterSpec cluster;

    public Trainer(ClassifierSession session, Settings settings, CheckpointStore checkpoints, int padId, ProgressListener log) {
        this(session, settings, checkpoints, padId, log, ClusterSpec.SINGLE);
    }

    /**
     * A trainer for one worker of {@code cluster}: every worker builds the same epoch of global batches of
     * {@code batchSize × gradientAccumulationSteps × replicas × workers} rows (the same seeded order a lone run with
     * that batch size has) and trains on its own shard of each, as micro-batches when it accumulates; only a writing
     * {@code checkpoints} (the chief's) keeps checkpoints and best weights.
     */
    public Trainer(ClassifierSession session, Settings settings, CheckpointStore checkpoints, int padId, ProgressListener log,
                   ClusterSpec cluster) {
        this.cluster = cluster;
        this.session = session;
        this.s = settings;
        this.checkpoints = checkpoints;
        this.padId = padId;
        this.log = log;
        this.best = new BestModel(new BestModel.Settings(settings.bestModelMetric(), settings.earlyStoppingPatience(),
                settings.exportBestModel()), checkpoints.bestDirectory(), session, log, checkpoints.writes());
    }

    /** Trains (or resumes) and returns the history; the session holds the trained weights afterwards. */
    public TrainingHistory train(List<EncodedExample> train, List<EncodedExample> validation) {
        CheckpointStore.State state = new CheckpointStore.State();
        state.fingerprint = s.fingerprint();
        boolean restored = false;
        if (s.resume()) {
            Optional<Path> latest = checkpoints.latest();
            if (latest.isPresent()) {
                CheckpointStore.State saved = checkpoints.state(latest.get());
                if (!s.fingerprint().equals(saved.fingerprint)) {
                    throw new FineTuneException("Cannot resume from " + latest.get() + ": it was made with other data, model "
                            + "or settings. Remove it, or run without -Dfinetune.resume=true to start over.");
                }
                checkpoints.restore(session, latest.get(), saved);
                state = saved;
                restored = true;
                log.info("Resuming from " + latest.get() + " after epoch " + state.epochsDone + " (step " + state.globalStep + ").");
            } else {
                log.info("No checkpoint to resume from; starting from the pretrained weights.");
            }
        }
        if (!restored) {
            session.initializeFromPretrained();
            checkpoints.clear();
            best.clear();
        }
        int workers = cluster.size();
        int replicas = session.replicas();
        // One optimizer step's batch: batchSize rows per replica, on every worker, times the accumulated micro-batches.
        int effective = s.effectiveBatchSize() * workers * replicas;
        // A micro-batch is what this worker's replicas take at once; the session cuts it into their shares.
        AccumulatedStep optimizerStep = new AccumulatedStep(session, s.batchSize() * replicas);
        int micro = Math.max(1, s.gradientAccumulationSteps());
        if (replicas > 1 && !cluster.distributed()) {
            log.info("Each step's batch of " + effective + " is shared by " + replicas + " replicas, " + s.batchSize() * micro + " each"
                    + (micro > 1 ? " in " + micro + " micro-batches of " + s.batchSize() : "") + ".");
        }
        if (cluster.distributed()) {
            log.info("Worker " + cluster.index() + " of " + workers + (cluster.chief() ? " (the chief)" : "") + ": each step's batch of "
                    + effective + " is shared by " + workers + " workers, " + s.batchSize() * replicas * micro + " each"
                    + (micro > 1 ? " in " + micro + " micro-batches of " + s.batchSize() * replicas : "")
                    + (replicas > 1 ? " (" + replicas + " replicas of " + s.batchSize() + ")" : "")
                    + (micro > 1 ? ", all-reduced once per step" : "") + "; waiting for the others.");
            session.meet(startPoint(state, workers));
            log.info("All " + workers + " workers are here and start from step " + state.globalStep + ".");
        }
        int perEpoch = Batches.count(train.size(), effective);
        long total = (long) perEpoch * s.epochs();
        LearningRateSchedule schedule = LearningRateSchedule.of(s.learningRate(), total, s.warmupRatio(), s.schedule());
        NativeHeap.Periodic trims = new NativeHeap.Periodic(TRIM_INTERVAL);
        for (int epoch = state.epochsDone; epoch < s.epochs() && !state.stoppedEarly; epoch++) {
            long started = System.nanoTime();
            List<Batch> batches = s.bucketByLength()
                    ? Batches.bucketed(train, s.seed(), epoch, effective, padId)
                    : Batches.of(Batches.shuffled(train, s.seed(), epoch), effective, padId);
            double lossSum = 0;
            long examplesSeen = 0;
            long timed = 0;
            long timedNanos = 0;
            double decayOwed = 0;
            for (int b = 0; b < batches.size(); b++) {
                Batch batch = batches.get(b);
                long step = state.globalStep;
                double lr = schedule.rate(step);
                long t0 = System.nanoTime();
                Shard shard = Shard.of(batch, workers, cluster.index());
                ClassifierSession.StepResult r = optimizerStep.run(shard.batch(), shard.real(), (float) lr, step + 1, s.beta1(), s.beta2());
                long dt = System.nanoTime() - t0;
                trims.afterStep();
                if (b > 0 || epoch > state.epochsDone) {
                    timed += batch.rows();
                    timedNanos += dt;
                }
                if (!Float.isFinite(r.loss())) {
                    throw new FineTuneException("The loss became " + r.loss() + " at step " + (step + 1) + " (epoch " + (epoch + 1)
                            + "). Lower the learning rate (now " + lr + ") or keep gradient clipping on (maxGradNorm); the last "
                            + "good checkpoint is kept.");
                }
                state.globalStep++;
                lossSum += r.loss() * batch.rows();
                examplesSeen += batch.rows();
                state.history.steps.add(new TrainingHistory.Step(state.globalStep, epoch + 1, r.loss(), lr, r.gradientNorm(), dt / 1e9,
                        batch.rows(), batch.rows() * batch.length()));
                boolean lastOfEpoch = b == batches.size() - 1;
                boolean validates = s.evaluateEverySteps() > 0 && state.globalStep % s.evaluateEverySteps() == 0;
                // The same steps on every worker (step counts and epoch ends), so their weights stay identical; before
                // a validation and an epoch's checkpoint, so neither sees a decay still owed.
                decayOwed += lr;
                if (state.globalStep % s.weightDecayInterval() == 0 || lastOfEpoch || validates) {
                    session.applyWeightDecay((float) decayOwed);
                    decayOwed = 0;
                }
                if (state.globalStep % s.logEverySteps() == 0 || lastOfEpoch) {
                    double perSecond = timedNanos > 0 ? timed / (timedNanos / 1e9) : examplesSeen / ((System.nanoTime() - started) / 1e9);
                    long remaining = (total - state.globalStep) * effective;
                    log.info(String.format("epoch %d/%d  step %d/%d  loss %.4f  lr %.3e  %.1f examples/s  ETA %s",
                            epoch + 1, s.epochs(), state.globalStep, total, r.loss(), lr, perSecond,
                            duration(perSecond > 0 ? remaining / perSecond : 0)));
                }
                if (validates && !lastOfEpoch) {
                    Validation mid = validate(validation);
                    log.info(String.format("step %d: validation loss %.4f%s", state.globalStep, mid.loss, accuracy(mid.accuracy)));
                    if (best.observe(state, epoch + 1, mid)) {
                        break;
                    }
                }
            }
            // An epoch cut short by early stopping was validated at the step it stopped.
            Validation v = new Validation(Double.NaN, Double.NaN, 0);
            if (!state.stoppedEarly) {
                v = validate(validation);
                best.observe(state, epoch + 1, v);
            }
            double seconds = (System.nanoTime() - started) / 1e9;
            state.history.epochs.add(new TrainingHistory.Epoch(epoch + 1, state.globalStep, lossSum / Math.max(1, examplesSeen),
                    v.loss, v.accuracy, v.examples, seconds));
            log.info(String.format("epoch %d/%d done in %s: train loss %.4f, validation loss %.4f%s (%d examples)",
                    epoch + 1, s.epochs(), duration(seconds), lossSum / Math.max(1, examplesSeen), v.loss, accuracy(v.accuracy), v.examples));
            state.epochsDone = epoch + 1;
            checkpoints.save(session, state, state.epochsDone == s.epochs() || state.stoppedEarly);
            // The validation's first run optimized its own graph, and the checkpoint went through buffers of its own.
            NativeHeap.trim();
        }
        state.history.stoppedEarly = state.stoppedEarly;
        state.history.exportedStep = best.restoreBestIfWanted(state);
        return state.history;
    }

    /**
     * What every worker must agree on before the first step: the step training starts after, the number of workers,
     * and the run's digest (a hash of it in 16-bit halves, which a double carries exactly).
     */
    private double[] startPoint(CheckpointStore.State state, int workers) {
        int digest = s.fingerprint().hashCode();
        return new double[] {state.globalStep, workers, digest >>> 16, digest & 0xffff};
    }

    /** One validation pass over the held-out examples. */
    record Validation(double loss, double accuracy, int examples) {
    }

    Validation validate(List<EncodedExample> validation) {
        if (validation.isEmpty()) {
            return new Validation(Double.NaN, Double.NaN, 0);
        }
        double loss = 0;
        Accuracy accuracy = new Accuracy();
        for (Batch b : Batches.byLength(validation, s.validationBatches(), padId)) {
            ClassifierSession.Evaluation e = session.evaluate(b, true);
            for (int i = 0; i < b.rows(); i++) {
                loss += e.losses()[i];
                accuracy.add(b, i, e.probabilities()[i]);
            }
        }
        return new Validation(loss / validation.size(), accuracy.value(), validation.size());
    }

    /**
     * Validation accuracy in the task's sense: the share of rows whose class is right (single-label), of rows whose
     * every label is right at threshold 0.5 (multi-label: scikit-learn's subset accuracy), of labelled words whose tag
     * is right (token classification); none for regression.
     */
    private static final class Accuracy {
        long right;
        long counted;

        void add(Batch b, int row, float[] output) {
            if (b.tokenLabels() != null) {
                int classes = output.length / b.length();
                for (int t = 0; t < b.length(); t++) {
                    int label = b.tokenLabels()[row * b.length() + t];
                    if (label >= 0) {
                        counted++;
                        if (Scores.argmax(output, t * classes, classes) == label) {
                            right++;
                        }
                    }
                }
            } else if (b.targets() != null && b.targets().length / b.rows() == output.length && output.length > 1) {
                boolean all = true;
                for (int j = 0; j < output.length; j++) {
                    all &= (output[j] >= 0.5f) == (b.targets()[row * output.length + j] > 0.5f);
                }
                counted++;
                right += all ? 1 : 0;
            } else if (b.targets() == null) {
                counted++;
                right += Scores.argmax(output) == b.labels()[row] ? 1 : 0;
            }
        }

        double value() {
            return counted == 0 ? Double.NaN : (double) right / counted;
        }
    }


    /** ", accuracy 0.9123", or nothing where the task has no accuracy (regression). */
    private static String accuracy(double value) {
        return Double.isNaN(value) ? "" : String.format(", accuracy %.4f", value);
    }

    static String duration(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600 ? String.format("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String.format("%d:%02d", s / 60, s % 60);
    }
}
