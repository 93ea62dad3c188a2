package dev.finetune.engine.training;

import dev.finetune.runtime.encoding.Batch;
import dev.finetune.runtime.model.ServingSignature;
import dev.finetune.runtime.model.SessionSettings;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Op;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.TString;

/**
 * A session over a {@link ClassifierGraph}: loads the pretrained weights, runs training steps and predictions,
 * saves and restores checkpoints. Each call is one {@code Session.run}; every tensor is closed before return.
 */
public final class ClassifierSession implements AutoCloseable {
    private final ClassifierGraph model;
    private final Session session;
    /** The optimizer step whose micro-batches are running, and how many of them ran: they key the dropout masks. */
    private long drawStep;
    private int drawMicroBatch;
    /** This process as one of several workers, or null when it trains alone. */
    private final dev.finetune.engine.distributed.Worker worker;

    public ClassifierSession(ClassifierGraph model, int intraOpThreads, int interOpThreads) {
        this(model, new SessionSettings("auto", intraOpThreads, interOpThreads, "float32", false));
    }

    /** A session as {@code settings} say; ops without a kernel on the chosen device fall back to the CPU. */
    public ClassifierSession(ClassifierGraph model, SessionSettings settings) {
        this.model = model;
        this.worker = null;
        session = new Session(model.graph(), settings.config());
    }

    /** A session on {@code worker}'s TensorFlow server, for a graph built for data parallelism. */
    public ClassifierSession(ClassifierGraph model, dev.finetune.engine.distributed.Worker worker) {
        if (model.handshake == null) {
            throw new IllegalArgumentException("the graph was built for one process, not for a cluster");
        }
        this.model = model;
        this.worker = worker;
        session = worker.openSession(model.graph());
    }

    /** Loads the encoder's pretrained weights through the model's own saver, and starts head and slots fresh. */
    public void initializeFromPretrained() {
        var enc = model.encoder();
        try (TString prefix = TString.scalarOf(enc.variablesPrefix().toString())) {
            session.runner().feed(output(enc.restoreFilenameTensor()), prefix).addTarget(enc.restoreOp()).run().close();
        }
        Session.Runner init = session.runner();
        for (Op op : model.freshInit) {
            init.addTarget(op);
        }
        init.run().close();
        refreshWeightCopies();
    }

    /** Sets the weights' bfloat16 copies ({@link WeightCopies}) from the weights, after anything but a step changed them. */
    private void refreshWeightCopies() {
        if (model.refreshWeightCopies != null) {
            session.runner().addTarget(model.refreshWeightCopies).run().close();
        }
    }

    private Output<?> output(String tensor) {
        return ClassifierGraph.output(model.graph(), tensor);
    }


    /** One optimizer step (1-based {@code step} for Adam's bias correction); returns loss and gradient norm. */
    public StepResult train(Batch batch, float learningRate, long step, double beta1, double beta2) {
        return train(batch, true, learningRate, step, beta1, beta2);
    }

    /**
     * The optimizer step that ends an effective batch, in a graph that accumulates: the gradient applied is what earlier
     * {@link #accumulate} calls summed plus {@code share} × this micro-batch's; the sums are empty afterwards. The loss
     * returned is this micro-batch's alone, the norm that of the whole gradient (before clipping).
     */
    public StepResult train(Batch batch, float share, float learningRate, long step, double beta1, double beta2) {
        return step(batch, share, learningRate, step, beta1, beta2, null, true).result();
    }

    /**
     * Starts optimizer step {@code step} (1-based): its training runs, one per micro-batch, draw the head's and the
     * encoder's dropout masks of that step ({@link dev.finetune.engine.model.EncoderDropout}), so a resumed run draws what
     * an uninterrupted one drew.
     */
    void startStep(long step) {
        drawStep = step;
        drawMicroBatch = 0;
    }

    /** Adds {@code share} × this micro-batch's gradient to the graph's sums, changing no weight; returns its loss. */
    public float accumulate(Batch batch, float share) {
        List<Tensor> feeds = new ArrayList<>();
        try {
            Session.Runner r = feedTraining(session.runner(), batch, true, feeds)
                    .feed(model.accumulators.share, track(feeds, TFloat32.scalarOf(share)))
                    .fetch(model.stepLoss).addTarget(model.accumulators.accumulate);
            try (Result out = r.run()) {
                return ((TFloat32) out.get(0)).getFloat();
            }
        } finally {
            feeds.forEach(Tensor::close);
        }
    }

    /**
     * With replicas or workers: adds this micro-batch's contribution (its gradients and loss weighed by its count) to the
     * sum the optimizer step combines, changing no weight. A run of this process alone: no collective, no other worker.
     */
    public void accumulate(Batch batch) {
        List<Tensor> feeds = new ArrayList<>();
        try {
            feedTraining(session.runner(), batch, true, feeds).addTarget(model.accumulators.accumulate).run().close();
        } finally {
            feeds.forEach(Tensor::close);
        }
    }

    /** How many replicas share each training step's batch (1 without {@link Replicas}). */
    public int replicas() {
        return Math.max(1, model.replicas.size());
    }

    /** Whether the graph has gradient sums ({@link #accumulate} works). */
    public boolean accumulates() {
        return model.accumulators != null;
    }

    /**
     * Whether the sums are of contributions ({@link #accumulate(Batch)}; replicas or workers), which weigh themselves and
     * make the step's result the whole effective batch's, rather than of gradients fed a share.
     */
    public boolean accumulatesContributions() {
        return model.accumulators != null && model.accumulators.contributions();
    }

    /**
     * One optimizer step on this worker's shard of the step's batch (with accumulated contributions: on its last
     * micro-batch, the step applying every micro-batch's); {@code real} false: the shard is a stand-in that counts for
     * nothing (the last batch had no row left for this worker). Returns the whole step's loss.
     */
    public StepResult train(Batch shard, boolean real, float learningRate, long step, double beta1, double beta2) {
        if (worker == null) {
            return step(shard, 1f, learningRate, step, beta1, beta2, null, real).result();
        }
        return worker.run(() -> step(shard, 1f, learningRate, step, beta1, beta2, worker.runOptions(null), real).result(),
                worker.timeoutSeconds(), "step " + step);
    }

    /**
     * Data parallel: waits for every worker (up to the start timeout) and checks that they all start from the same
     * point; {@code point} is this worker's (the run's digest, the step it resumes after, ...).
     */
    public void meet(double[] point) {
        double[] both = new double[point.length * 2];
        for (int i = 0; i < point.length; i++) {
            both[i] = point[i];
            both[point.length + i] = -point[i];
        }
        double[] max = worker.run(() -> {
            try (org.tensorflow.types.TFloat64 in = org.tensorflow.types.TFloat64.vectorOf(both);
                 Result out = session.runner().feed(model.handshakeIn, in).fetch(model.handshake).setOptions(worker.runOptions(null)).run()) {
                org.tensorflow.types.TFloat64 t = (org.tensorflow.types.TFloat64) out.get(0);
                double[] r = new double[both.length];
                for (int i = 0; i < r.length; i++) {
                    r[i] = t.getDouble(i);
                }
                return r;
            }
        }, worker.startTimeoutSeconds(), dev.finetune.engine.distributed.Worker.START);
        for (int i = 0; i < point.length; i++) {
            // The largest value is this worker's and so is the smallest (the largest negated): all workers agree.
            if (max[i] != point[i] || -max[point.length + i] != point[i]) {
                throw new dev.finetune.runtime.FineTuneException("The workers do not start from the same point: "
                        + describe(i) + " differs between them (here " + point[i] + ", elsewhere between "
                        + -max[point.length + i] + " and " + max[i] + "). Run every worker with the same data, model and "
                        + "settings, and with -Dfinetune.resume=true on all or none (a resuming worker needs the chief's "
                        + "checkpoint folder).");
            }
        }
    }

    private static String describe(int i) {
        return switch (i) {
            case 0 -> "the step to start after (a resumed checkpoint)";
            case 1 -> "the number of workers";
            default -> "the run's digest (data, base model, settings, plugin version)";
        };
    }

    /** One optimizer step run with TensorFlow's full trace: where the time goes (for profiling, not training). */
    org.tensorflow.proto.RunMetadata traceStep(Batch batch, float learningRate, long step, double beta1, double beta2) {
        return step(batch, 1f, learningRate, step, beta1, beta2,
                org.tensorflow.proto.RunOptions.newBuilder().setTraceLevel(org.tensorflow.proto.RunOptions.TraceLevel.FULL_TRACE).build(),
                true).metadata();
    }

    private record Traced(StepResult result, org.tensorflow.proto.RunMetadata metadata) {
    }

    private Traced step(Batch batch, float share, float learningRate, long step, double beta1, double beta2,
                        org.tensorflow.proto.RunOptions options, boolean real) {
        List<Tensor> feeds = new ArrayList<>();
        if (step != drawStep) {
            startStep(step);
        }
        try {
            Session.Runner r = feedTraining(session.runner(), batch, real, feeds);
            if (model.accumulators != null && !model.accumulators.contributions()) {
                r.feed(model.accumulators.share, track(feeds, TFloat32.scalarOf(share)));
            }
            TFloat32 lr = track(feeds, TFloat32.scalarOf(learningRate));
            TFloat32 p1 = track(feeds, TFloat32.scalarOf((float) Math.pow(beta1, step)));
            TFloat32 p2 = track(feeds, TFloat32.scalarOf((float) Math.pow(beta2, step)));
            r.feed(model.learningRate, lr).feed(model.beta1Power, p1).feed(model.beta2Power, p2)
                    .fetch(model.stepLoss).fetch(model.gradientNorm).addTarget(model.trainStep);
            if (options != null) {
                r.setOptions(options);
            }
            // Metadata only when a trace is asked for: a distributed session returns none, which TF Java cannot parse.
            boolean traced = options != null && options.getTraceLevel() != org.tensorflow.proto.RunOptions.TraceLevel.NO_TRACE;
            try (Result out = traced ? r.runAndFetchMetadata() : r.run()) {
                StepResult result = new StepResult(((TFloat32) out.get(0)).getFloat(), ((TFloat32) out.get(1)).getFloat());
                return new Traced(result, out.getMetadata().orElse(null));
            }
        } finally {
            feeds.forEach(Tensor::close);
        }
    }

    /**
     * Applies the decoupled weight decay owed for optimizer steps whose learning rates add up to {@code learningRateSum}
     * ({@link WeightDecay}); nothing without weight decay. Local to each worker: no collective runs.
     */
    public void applyWeightDecay(float learningRateSum) {
        if (model.weightDecay == null || learningRateSum == 0f) {
            return;
        }
        try (TFloat32 sum = TFloat32.scalarOf(learningRateSum)) {
            session.runner().feed(model.weightDecay.learningRateSum, sum).addTarget(model.weightDecay.apply).run();
        }
    }

    /**
     * The task's output per row: class probabilities ({@code numLabels}), the regression prediction (one number), or
     * for token classification {@code length × numLabels} probabilities, position by position.
     */
    public float[][] predict(Batch batch) {
        return evaluate(batch, false).probabilities();
    }

    /** The task's output per row (see {@link #predict}) and, when the batch is labelled, each row's loss. */
    public Evaluation evaluate(Batch batch, boolean withLoss) {
        List<Tensor> feeds = new ArrayList<>();
        try {
            Session.Runner r = feed(session.runner(), batch, feeds, withLoss).fetch(model.probabilities);
            if (withLoss) {
                r.fetch(model.exampleLosses);
            }
            try (Result out = r.run()) {
                float[][] probs = ServingSignature.rows(ServingSignature.floats(out.get(0)), batch.rows());
                float[] losses = null;
                if (withLoss) {
                    losses = ServingSignature.floats(out.get(1));
                }
                return new Evaluation(probs, losses);
            }
        } finally {
            feeds.forEach(Tensor::close);
        }
    }


    /** The raw encoder output (pooled or sequence tensor), flattened; for checks against a reference. */
    public float[] encoderOutput(Batch batch, String tensor) {
        List<Tensor> feeds = new ArrayList<>();
        try (Result out = feed(session.runner(), batch, feeds, false).fetch(output(tensor)).run()) {
            return ServingSignature.floats(out.get(0));
        } finally {
            feeds.forEach(Tensor::close);
        }
    }

    /** The current value of a model variable, by its saved name ({@link EncoderVariable#key()}), flattened. */
    public float[] variable(String key) {
        try (Result out = session.runner().fetch(model.exportSaver.value(key)).run()) {
            return ServingSignature.floats(out.get(0));
        }
    }

    public void saveCheckpoint(Path prefix) {
        model.checkpointSaver.save(session, prefix.toString());
    }

    public void restoreCheckpoint(Path prefix) {
        model.checkpointSaver.restore(session, prefix.toString());
        refreshWeightCopies();
    }

    /** Writes the encoder and head weights (not the optimizer slots) as a V2 checkpoint at {@code prefix}. */
    public void saveWeights(Path prefix) {
        model.exportSaver.save(session, prefix.toString());
    }

    /** Loads weights written by {@link #saveWeights} (the optimizer slots stay as they are). */
    public void restoreWeights(Path prefix) {
        model.exportSaver.restore(session, prefix.toString());
        refreshWeightCopies();
    }

    /**
     * Feeds a training step's {@code batch}: to the graph's inputs, or cut into one contiguous share per replica
     * ({@link Shard}, as workers share a global batch), each replica's weight 1, or 0 for a stand-in without rows. A
     * worker's stand-in ({@code real} false) weighs nothing on any replica. Each run draws the next micro-batch's
     * dropout masks. (Package-private so a test can run what a training run feeds.)
     */
    Session.Runner feedTraining(Session.Runner r, Batch batch, boolean real, List<Tensor> feeds) {
        List<Replicas.Replica> replicas = model.replicas;
        int micro = drawMicroBatch++;
        // Each replica of each worker draws its own masks.
        int stream = worker == null ? 0 : worker.cluster().index() * Math.max(1, replicas.size());
        if (replicas.isEmpty()) {
            if (model.shardWeight != null) {
                r.feed(model.shardWeight, track(feeds, TFloat32.scalarOf(real ? 1f : 0f)));
            }
            feedDraw(r, model.dropoutDraw, micro, stream, feeds);
            return feed(r, batch, feeds, true, o -> o);
        }
        for (int k = 0; k < replicas.size(); k++) {
            Replicas.Replica replica = replicas.get(k);
            Shard share = Shard.of(batch, replicas.size(), k);
            r.feed(replica.weight(), track(feeds, TFloat32.scalarOf(real && share.real() ? 1f : 0f)));
            feedDraw(r, replica.input(model.dropoutDraw), micro, stream + k, feeds);
            feed(r, share.batch(), feeds, true, replica::input);
        }
        return r;
    }

    private void feedDraw(Session.Runner r, Output<?> draw, int micro, int stream, List<Tensor> feeds) {
        if (draw != null) {
            r.feed(draw, track(feeds, TInt64.scalarOf(dev.finetune.engine.model.EncoderDropout.TrainingCopy.draw(drawStep, micro, stream))));
        }
    }

    private Session.Runner feed(Session.Runner r, Batch batch, List<Tensor> feeds, boolean withLabels) {
        return feed(r, batch, feeds, withLabels, o -> o);
    }

    /** Feeds {@code batch} to the placeholders {@code to} gives for the graph's inputs (none where it gives null). */
    private Session.Runner feed(Session.Runner r, Batch batch, List<Tensor> feeds, boolean withLabels,
                                java.util.function.UnaryOperator<Output<?>> to) {
        Shape shape = Shape.of(batch.rows(), batch.length());
        feedIf(r, to.apply(model.inputIds), feeds, () -> TInt32.tensorOf(shape, DataBuffers.of(batch.inputIds(), true, false)));
        feedIf(r, to.apply(model.inputMask), feeds, () -> TInt32.tensorOf(shape, DataBuffers.of(batch.inputMask(), true, false)));
        if (model.segmentIds != null) {
            feedIf(r, to.apply(model.segmentIds), feeds, () -> TInt32.tensorOf(shape, DataBuffers.of(batch.segmentIds(), true, false)));
        }
        if (withLabels) {
            switch (model.task()) {
                case MULTI_LABEL, REGRESSION -> feedIf(r, to.apply(model.targets.asOutput()), feeds, () ->
                        TFloat32.tensorOf(Shape.of(batch.rows(), model.numLabels()), DataBuffers.of(batch.targets(), true, false)));
                case TOKEN_CLASSIFICATION -> feedIf(r, to.apply(model.tokenLabels.asOutput()), feeds, () -> TInt32.tensorOf(shape,
                        DataBuffers.of(batch.tokenLabels(), true, false)));
                default -> feedIf(r, to.apply(model.labels.asOutput()), feeds, () -> TInt32.vectorOf(batch.labels()));
            }
        }
        return r;
    }

    private static void feedIf(Session.Runner r, Output<?> placeholder, List<Tensor> feeds,
                               java.util.function.Supplier<? extends Tensor> tensor) {
        if (placeholder != null) {
            r.feed(placeholder, track(feeds, tensor.get()));
        }
    }

    private static <T extends Tensor> T track(List<Tensor> feeds, T t) {
        feeds.add(t);
        return t;
    }

    public Session session() {
        return session;
    }

    /** Whether a run was left stuck in TensorFlow (a lost worker): then neither this session nor its graph can close. */
    public boolean abandoned() {
        return worker != null && worker.abandoned();
    }

    @Override
    public void close() {
        if (abandoned()) {
            // Closing waits for the run that never came back; the process is about to end with the error anyway.
            model.abandon();
            return;
        }
        session.close();
    }

    public record StepResult(float loss, float gradientNorm) {
    }

    public record Evaluation(float[][] probabilities, float[] losses) {
    }
}
