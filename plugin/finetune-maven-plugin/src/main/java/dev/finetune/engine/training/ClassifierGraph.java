package dev.finetune.engine.training;

import dev.finetune.engine.model.EncoderDropout;
import dev.finetune.engine.model.EncoderGraph;
import dev.finetune.engine.model.EncoderSignature;
import dev.finetune.engine.model.NativeGraphs;
import dev.finetune.runtime.Task;
import dev.finetune.runtime.model.ModelException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.index.Indices;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.VarHandleOp;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TNumber;
import org.tensorflow.proto.GraphDef;

/**
 * The whole training graph: the imported encoder, a classification head ({@link ClassifierHead}), the loss
 * ({@link TaskLoss}), gradients with respect to every encoder weight, optionally summed over micro-batches
 * ({@link GradientAccumulators}), global-norm clipping, AdamW updates with TensorFlow's {@code ResourceApplyAdam} kernel,
 * and savers. Built once; a step is one {@code Session.run} with the learning rate and Adam's bias-correction
 * powers fed, so that any schedule works without rebuilding.
 */
public final class ClassifierGraph implements AutoCloseable {
    public static final String PROBABILITIES = "finetune_probabilities";
    /** Regression: the prediction in the target's own units (the standardisation undone). */
    public static final String PREDICTIONS = "finetune_predictions";
    public static final String LOGITS = "finetune_logits";
    /** What the head reads (pooled output, [CLS] vector or mean): exported as the model's own pooled output. */
    public static final String FEATURES = "finetune_features";
    /** The plugin's own mask input, for models that take none. */
    public static final String INPUT_MASK = "finetune_input_mask";
    /** Scope of the encoder's training copy, with dropout ({@link EncoderDropout}). */
    static final String TRAINING_ENCODER = "finetune_training_encoder";

    private final Graph graph;
    private final EncoderGraph encoder;
    private final List<EncoderVariable> encoderVariables;
    private final int hiddenSize;
    private final int numLabels;

    final Output<TInt32> inputIds;
    final Output<TInt32> inputMask;
    final Output<TInt32> segmentIds;
    final Placeholder<TInt32> labels;
    /** Multi-label: the multi-hot rows; regression: the target of each row, {@code rows × 1}. */
    final Placeholder<TFloat32> targets;
    /** Token classification: a tag index per position, -1 where the loss ignores it. */
    final Placeholder<TInt32> tokenLabels;
    private final Task task;
    final Placeholder<TFloat32> learningRate;
    final Placeholder<TFloat32> beta1Power;
    final Placeholder<TFloat32> beta2Power;
    /**
     * With dropout (the head's or the encoder's): the draw number each training run feeds, which keys the masks
     * ({@link EncoderDropout.TrainingCopy#draw}); else null.
     */
    final Output<TInt64> dropoutDraw;
    private EncoderDropout.Sites encoderDropoutSites;
    /** This worker's loss: the mean over its own rows (labelled positions for token classification). */
    final Operand<TFloat32> loss;
    /**
     * The step's loss over the whole global batch: {@link #loss} alone, or all replicas' and workers' losses weighed by
     * their counts (when those accumulate, over every micro-batch of the optimizer step).
     */
    final Operand<TFloat32> stepLoss;
    /**
     * Data parallel on one device per worker: 1 for a real shard, 0 for the stand-in a worker runs when the last batch
     * has no row left for it (null otherwise: replicas have a weight each).
     */
    final Placeholder<TFloat32> shardWeight;
    /** One per device when the step is split over several (see {@link Replicas}); empty otherwise. */
    final List<Replicas.Replica> replicas;
    /** Data parallel: the workers' start points (see {@link #handshake}) in, their element-wise maximum out. */
    final Placeholder<org.tensorflow.types.TFloat64> handshakeIn;
    final Operand<org.tensorflow.types.TFloat64> handshake;
    final Operand<TFloat32> gradientNorm;
    /** The task's output: class probabilities (per position for token classification) or the regression prediction. */
    final Operand<TFloat32> probabilities;
    final Operand<TFloat32> exampleLosses;
    final Op trainStep;
    /**
     * Decoupled weight decay (AdamW's), run on its own every few optimizer steps by {@link Trainer} rather than inside
     * each step, for the sum of the learning rates of the steps since it last ran (see {@link WeightDecay}); null
     * without weight decay.
     */
    final WeightDecay weightDecay;
    /**
     * The sums when the graph accumulates micro-batches (null otherwise): of gradients, or with replicas or workers of
     * their contributions, combined once per optimizer step.
     */
    final GradientAccumulators accumulators;
    /** Per variable, in the order of {@link #variableNames}: its handle and its (unclipped) gradient. */
    final List<Operand<?>> handles = new ArrayList<>();
    final List<String> variableNames = new ArrayList<>();
    final List<Shape> shapes = new ArrayList<>();
    final List<Operand<TFloat32>> gradients;
    /** Which encoder variables train and at what share of the rate. */
    private final LayerPlan plan;
    /** Lazy embedding tables ({@link LazyEmbeddings}): place among the trained variables → encoder variable index. */
    private final Map<Integer, Integer> lazyTables = new LinkedHashMap<>();
    private final int trainableCount;
    private final ClassifierHead head;
    final List<Op> freshInit = new ArrayList<>();
    /** bfloat16 copies of weight matrices, for bfloat16 training ({@link WeightCopies}); empty when none. */
    private final List<WeightCopies.Copy> weightCopies = new ArrayList<>();
    /** Sets the copies from the weights, after anything but a step changes them; null without copies. */
    final Op refreshWeightCopies;
    final VariableSaver checkpointSaver;
    final VariableSaver exportSaver;

    /**
     * Head and optimizer settings the graph bakes in; the learning rate is fed per step. {@code accumulate}: build the
     * gradient sums of {@link GradientAccumulators} (for gradientAccumulationSteps above 1).
     */
    public record Settings(String pooling, double dropout, long seed, double beta1, double beta2, double epsilon,
                           double weightDecay, double maxGradNorm, int trainLayers, double layerDecay, Task task,
                           String regressionLoss, double targetMean, double targetScale, float[] initialBias,
                           ClassifierHead.Layers headLayers, TaskLoss.Options lossOptions, boolean accumulate,
                           double encoderDropout, boolean lazyEmbeddings, boolean weightCopies) {
        /** Single-label classification. */
        public Settings(String pooling, double dropout, long seed, double beta1, double beta2, double epsilon,
                        double weightDecay, double maxGradNorm, int trainLayers, double layerDecay) {
            this(pooling, dropout, seed, beta1, beta2, epsilon, weightDecay, maxGradNorm, trainLayers, layerDecay,
                    Task.SINGLE_LABEL, "mse", 0, 1, null, ClassifierHead.Layers.NONE, TaskLoss.Options.NONE, false, 0, false, false);
        }

        /** Single-label classification; every layer trains at the full rate. */
        public Settings(String pooling, double dropout, long seed, double beta1, double beta2, double epsilon,
                        double weightDecay, double maxGradNorm) {
            this(pooling, dropout, seed, beta1, beta2, epsilon, weightDecay, maxGradNorm, -1, 1.0);
        }

        /** These settings for another task; regression predicts {@code mean + scale × output}. */
        public Settings forTask(Task t, String loss, double mean, double scale) {
            return new Settings(pooling, dropout, seed, beta1, beta2, epsilon, weightDecay, maxGradNorm, trainLayers, layerDecay,
                    t, loss, mean, scale, initialBias, headLayers, lossOptions, accumulate, encoderDropout, lazyEmbeddings, weightCopies);
        }

        /** These settings with the head's bias starting at {@code bias} (null: zeros). */
        public Settings withInitialBias(float[] bias) {
            return new Settings(pooling, dropout, seed, beta1, beta2, epsilon, weightDecay, maxGradNorm, trainLayers, layerDecay,
                    task, regressionLoss, targetMean, targetScale, bias, headLayers, lossOptions, accumulate, encoderDropout, lazyEmbeddings, weightCopies);
        }

        /** These settings with hidden layers of {@code sizes} (empty: none) before the output layer, and their activation. */
        public Settings withHeadLayers(int[] sizes, String activation) {
            return new Settings(pooling, dropout, seed, beta1, beta2, epsilon, weightDecay, maxGradNorm, trainLayers, layerDecay,
                    task, regressionLoss, targetMean, targetScale, initialBias, new ClassifierHead.Layers(sizes, activation),
                    lossOptions, accumulate, encoderDropout, lazyEmbeddings, weightCopies);
        }

        /** These settings with class weights (label order; null: none) and label smoothing ε in the training loss. */
        public Settings withLoss(float[] classWeights, double labelSmoothing) {
            return new Settings(pooling, dropout, seed, beta1, beta2, epsilon, weightDecay, maxGradNorm, trainLayers, layerDecay,
                    task, regressionLoss, targetMean, targetScale, initialBias, headLayers,
                    new TaskLoss.Options(classWeights, labelSmoothing), accumulate, encoderDropout, lazyEmbeddings, weightCopies);
        }

        /** These settings with gradient sums for accumulating several micro-batches into one optimizer step. */
        public Settings withAccumulation(boolean on) {
            return new Settings(pooling, dropout, seed, beta1, beta2, epsilon, weightDecay, maxGradNorm, trainLayers, layerDecay,
                    task, regressionLoss, targetMean, targetScale, initialBias, headLayers, lossOptions, on, encoderDropout, lazyEmbeddings, weightCopies);
        }

        /**
         * These settings with dropout at {@code rate} inside the encoder, in training steps only ({@link EncoderDropout});
         * 0: none.
         */
        public Settings withEncoderDropout(double rate) {
            return new Settings(pooling, dropout, seed, beta1, beta2, epsilon, weightDecay, maxGradNorm, trainLayers, layerDecay,
                    task, regressionLoss, targetMean, targetScale, initialBias, headLayers, lossOptions, accumulate, rate, lazyEmbeddings, weightCopies);
        }

        /**
         * These settings with lazy Adam on embedding tables ({@link LazyEmbeddings}): rows a step looks up are the only
         * ones it updates. Applies to steps on one device without accumulation; others update densely.
         */
        public Settings withLazyEmbeddings(boolean on) {
            return new Settings(pooling, dropout, seed, beta1, beta2, epsilon, weightDecay, maxGradNorm, trainLayers, layerDecay,
                    task, regressionLoss, targetMean, targetScale, initialBias, headLayers, lossOptions, accumulate, encoderDropout, on, weightCopies);
        }

        /**
         * Whether lazy embedding updates apply to a graph trained so: asked for, on one device, without accumulation
         * (sums and all-reduces of rows are not built).
         */
        public boolean lazyEmbeddingsApply(DataParallel parallel) {
            return lazyEmbeddings && !parallel.replicated() && !parallel.distributed() && !accumulate;
        }

        /**
         * These settings with bfloat16 copies of the weight matrices ({@link WeightCopies}), updated by this plugin's
         * Adam kernel. Only for bfloat16 mixed precision on the CPU with the kernels loaded; applies to steps on one
         * device (with gradient accumulation, the update reads the float32 sums).
         */
        public Settings withWeightCopies(boolean on) {
            return new Settings(pooling, dropout, seed, beta1, beta2, epsilon, weightDecay, maxGradNorm, trainLayers, layerDecay,
                    task, regressionLoss, targetMean, targetScale, initialBias, headLayers, lossOptions, accumulate, encoderDropout,
                    lazyEmbeddings, on);
        }

        /**
         * Whether weight copies apply to a graph trained so: asked for, in one process on one device (replicas and
         * workers build their forward passes and all-reduces apart, without copies).
         */
        public boolean weightCopiesApply(DataParallel parallel) {
            return weightCopies && !parallel.replicated() && !parallel.distributed();
        }
    }

    public ClassifierGraph(EncoderGraph encoder, int classes, Settings s) {
        this(encoder, classes, s, DataParallel.NONE);
    }

    /**
     * The training graph; with {@code parallel} workers, each computes gradients on its shard of the step's batch and
     * they are all-reduced (weighed by each shard's share of the examples) before clipping and the update, so every
     * worker applies the same update to the same weights. With several devices, each worker's shard is split again
     * over one replica per device ({@link Replicas}), whose gradients are added up before that all-reduce.
     */
    @SuppressWarnings("unchecked")
    public ClassifierGraph(EncoderGraph encoder, int classes, Settings s, DataParallel parallel) {
        CustomGradients.register();
        this.encoder = encoder;
        this.task = s.task();
        // A regression head has one output whatever the caller counts.
        this.numLabels = task == Task.REGRESSION ? 1 : classes;
        graph = new Graph();
        try {
            EncoderSignature sig = encoder.signature();
            boolean perToken = task == Task.TOKEN_CLASSIFICATION;
            String encoderOutput = perToken ? sig.sequenceOutput() : s.pooling().equals("pooled") ? sig.pooledOutput() : sig.sequenceOutput();
            if (perToken && encoderOutput == null) {
                throw new ModelException("task token-classification needs the model's sequence output (a vector per token), "
                        + "which it does not have; name it with <sequenceOutput>.");
            }
            if (encoderOutput == null) {
                throw new ModelException("pooling '" + s.pooling() + "' needs the model's "
                        + (s.pooling().equals("pooled") ? "pooled" : "sequence") + " output, which it does not have; "
                        + "use pooling " + (s.pooling().equals("pooled") ? "cls, mean or last" : "pooled") + ".");
            }
            encoderVariables = EncoderVariables.find(encoder.graph(), encoderOutput);
            plan = LayerPlan.of(encoderVariables.stream().map(EncoderVariable::key).toList(), s.trainLayers(), s.layerDecay());
            Map<Integer, LazyEmbeddings.Table> tables = s.lazyEmbeddingsApply(parallel) ? LazyEmbeddings.tables(encoder.graph(), encoderVariables, plan) : Map.of();
            GraphDef imported = tables.isEmpty() ? encoder.graph() : LazyEmbeddings.gatherFromTables(encoder.graph(), tables.values());
            if (s.weightCopiesApply(parallel)) {
                List<Integer> chosen = WeightCopies.choose(encoder.graph(), encoderVariables, i -> plan.trainable(i) && !tables.containsKey(i));
                imported = WeightCopies.rewrite(imported, encoderVariables, chosen, weightCopies);
            }
            graph.importGraphDef(imported);
            Ops tf = Ops.create(graph);
            inputIds = (Output<TInt32>) output(sig.inputIds());
            // A model without a mask input still needs one for pooling, and the export a uniform signature.
            inputMask = sig.inputMask() != null ? (Output<TInt32>) output(sig.inputMask())
                    : tf.withName(INPUT_MASK).placeholder(TInt32.class, Placeholder.shape(Shape.of(-1, -1))).output();
            segmentIds = sig.segmentIds() == null ? null : (Output<TInt32>) output(sig.segmentIds());
            Output<TFloat32> evalOutput = (Output<TFloat32>) output(encoderOutput);
            // One draw number per training run keys every dropout mask, the head's and the encoder's: unique per step,
            // micro-batch and replica, so a resumed run draws what the uninterrupted one drew and replicas draw apart.
            dropoutDraw = s.dropout() > 0 || s.encoderDropout() > 0
                    ? tf.withName(EncoderDropout.DRAW).placeholder(TInt64.class, Placeholder.shape(Shape.scalar())).output() : null;
            Output<TFloat32> trainOutput = trainingEncoder(encoderOutput, s);
            // Token classification reads every position's vector; the other tasks one vector per text.
            Operand<TFloat32> features = tf.withName(FEATURES).identity(perToken ? evalOutput : features(tf, evalOutput, s.pooling()));
            Operand<TFloat32> trainFeatures = trainOutput == evalOutput ? features
                    : perToken ? trainOutput : features(tf.withSubScope(TRAINING_ENCODER), trainOutput, s.pooling());
            hiddenSize = (int) features.shape().get(features.shape().numDimensions() - 1);
            if (hiddenSize <= 0) {
                throw new ModelException("The hidden size of '" + encoderOutput + "' is not known from the graph.");
            }

            int numLabels = this.numLabels;
            head = new ClassifierHead(tf, trainFeatures, features, hiddenSize, numLabels, s.headLayers(), s.dropout(), s.seed(), dropoutDraw,
                    s.initialBias(), freshInit);
            Operand<TFloat32> trainLogits = head.trainLogits;
            Operand<TFloat32> evalLogits = tf.withName(LOGITS).identity(head.evalLogits);
            labels = tf.withName("finetune_labels").placeholder(TInt32.class, Placeholder.shape(Shape.of(-1)));
            targets = tf.withName("finetune_targets").placeholder(TFloat32.class, Placeholder.shape(Shape.of(-1, numLabels)));
            tokenLabels = tf.withName("finetune_token_labels").placeholder(TInt32.class, Placeholder.shape(Shape.of(-1, -1)));
            TaskLoss taskLoss = new TaskLoss(tf, s);
            switch (task) {
                case MULTI_LABEL -> {
                    probabilities = tf.withName(PROBABILITIES).math.sigmoid(evalLogits);
                    loss = tf.withName("finetune_loss").math.mean(taskLoss.binaryCrossEntropy(trainLogits, targets, true), tf.constant(0));
                    exampleLosses = tf.withName("finetune_example_losses").identity(taskLoss.binaryCrossEntropy(evalLogits, targets, false));
                }
                case REGRESSION -> {
                    probabilities = tf.withName(PREDICTIONS).math.add(
                            tf.math.mul(evalLogits, tf.constant((float) s.targetScale())), tf.constant((float) s.targetMean()));
                    loss = tf.withName("finetune_loss").math.mean(taskLoss.regression(trainLogits, targets), tf.constant(0));
                    exampleLosses = tf.withName("finetune_example_losses").identity(taskLoss.regression(evalLogits, targets));
                }
                case TOKEN_CLASSIFICATION -> {
                    probabilities = tf.withName(PROBABILITIES).nn.softmax(evalLogits);
                    TaskLoss.PerToken train = taskLoss.perToken(trainLogits, tokenLabels, numLabels, true);
                    loss = tf.withName("finetune_loss").identity(train.mean());
                    exampleLosses = tf.withName("finetune_example_losses").identity(
                            taskLoss.perToken(evalLogits, tokenLabels, numLabels, false).perExample());
                }
                default -> {
                    probabilities = tf.withName(PROBABILITIES).nn.softmax(evalLogits);
                    loss = tf.withName("finetune_loss").math.mean(taskLoss.crossEntropy(trainLogits, labels, numLabels, true), tf.constant(0));
                    exampleLosses = tf.withName("finetune_example_losses").identity(
                            taskLoss.crossEntropy(evalLogits, labels, numLabels, false));
                }
            }

            List<String> names = variableNames;
            // Every variable is saved and exported; only the trainable ones get gradients, slots and updates.
            List<Integer> train = new ArrayList<>();
            List<Double> rates = new ArrayList<>();
            List<List<Output<?>>> reads = new ArrayList<>();
            for (int i = 0; i < encoderVariables.size(); i++) {
                EncoderVariable v = encoderVariables.get(i);
                handles.add(graph.operationOrThrow(v.handleOp()).output(0));
                names.add(v.key());
                shapes.add(Shape.of(v.shape()));
                if (plan.trainable(i) && v.differentiable()) {
                    List<Output<?>> r = new ArrayList<>();
                    if (tables.containsKey(i)) {  // a lazy table: its gradient is taken as rows, at the look-up's output
                        r.add(output(tables.get(i).lookup().getName()));
                        lazyTables.put(train.size(), i);
                    } else {
                        v.reads().forEach(t -> r.add(output(t)));
                    }
                    reads.add(r);
                    train.add(i);
                    rates.add(plan.multiplier(i));
                }
            }
            for (ClassifierHead.Variable v : head.variables) {
                handles.add(v.handle());
                names.add(v.name());
                shapes.add(v.shape());
                reads.add(List.of(v.read().asOutput()));
                train.add(handles.size() - 1);
                rates.add(1.0);
            }
            trainableCount = train.size();

            Ops opt = tf.withSubScope("finetune_adam");
            learningRate = opt.withName("learning_rate").placeholder(TFloat32.class, Placeholder.shape(Shape.scalar()));
            beta1Power = opt.withName("beta1_power").placeholder(TFloat32.class, Placeholder.shape(Shape.scalar()));
            beta2Power = opt.withName("beta2_power").placeholder(TFloat32.class, Placeholder.shape(Shape.scalar()));
            List<Shape> trainShapes = train.stream().map(shapes::get).toList();
            List<Operand<TFloat32>> batchGrads;
            // Per lazy table (by its place in train): its gradient's rows, as batchGrads holds their values.
            Map<Integer, LazyEmbeddings.Rows> rows = new HashMap<>();
            GradientAccumulators accumulating = null;
            Ops dp = tf.withSubScope("finetune_data_parallel");
            if (parallel.replicated() || parallel.distributed()) {
                List<Operand<TFloat32>> sent;
                if (parallel.replicated()) {
                    // Each replica's loss is the mean over its own rows (or labelled positions): counted where it is, so
                    // that the combined gradient is the whole batch's mean however the rows fall on the replicas.
                    Output<TFloat32> count = tf.withName("finetune_loss_count").identity(lossCount(tf)).asOutput();
                    replicas = Replicas.build(graph, loss.asOutput(), count, reads, parallel.devices());
                    shardWeight = null;
                    sent = replicas.stream().map(Replicas.Replica::sent).toList();
                } else {
                    replicas = List.of();
                    shardWeight = dp.withName("shard_weight").placeholder(TFloat32.class, Placeholder.shape(Shape.scalar()));
                    sent = List.of(GlobalBatch.contribution(dp, gradients(graph, opt, loss.asOutput(), reads), loss,
                            dp.math.mul(lossCount(dp), shardWeight)));
                }
                if (s.accumulate()) {
                    // The micro-batches' contributions are summed here and combined (all-reduced) once per step.
                    accumulating = GradientAccumulators.ofContributions(tf, GlobalBatch.local(dp, sent), trainShapes, freshInit);
                    sent = accumulating.totals;
                }
                GlobalBatch global = GlobalBatch.combine(dp, sent, trainShapes, parallel);
                batchGrads = global.gradients();
                stepLoss = global.loss();
            } else {
                replicas = List.of();
                shardWeight = null;
                batchGrads = gradients(graph, opt, loss.asOutput(), reads);
                stepLoss = loss;
                for (var table : lazyTables.entrySet()) {
                    GraphOperation lookup = graph.operation(tables.get(table.getValue()).lookup().getName());
                    LazyEmbeddings.Rows r = LazyEmbeddings.rows(opt, batchGrads.get(table.getKey()),
                            (Output<? extends TNumber>) lookup.input(1), shapes.get(table.getValue()).get(1));
                    rows.put(table.getKey(), r);
                    batchGrads.set(table.getKey(), r.values());
                }
            }
            if (parallel.distributed()) {
                handshakeIn = dp.withName("handshake_in").placeholder(org.tensorflow.types.TFloat64.class,
                        Placeholder.shape(Shape.of(-1)));
                handshake = dev.finetune.engine.distributed.AllReduce.max(dp, handshakeIn, parallel.workers(),
                        dev.finetune.engine.distributed.AllReduce.HANDSHAKE, parallel.startTimeoutSeconds());
            } else {
                handshakeIn = null;
                handshake = null;
            }
            gradients = new ArrayList<>(java.util.Collections.nCopies(handles.size(), null));
            for (int k = 0; k < train.size(); k++) {
                gradients.set(train.get(k), rows.containsKey(k) ? LazyEmbeddings.dense(opt, rows.get(k), shapes.get(train.get(k)))
                        : batchGrads.get(k));
            }
            // With accumulation the step applies the effective batch's gradient: the sums plus this micro-batch's share
            // (or, with replicas or workers, the combined sums of contributions, already in batchGrads).
            accumulators = accumulating != null ? accumulating : s.accumulate() ? GradientAccumulators.ofGradients(tf, batchGrads,
                    train.stream().map(names::get).toList(), trainShapes, freshInit) : null;
            List<Operand<TFloat32>> grads = accumulators == null || accumulators.contributions() ? batchGrads : accumulators.totals;
            // By place in train: the variable's bfloat16 copy, which its update writes too.
            Map<Integer, WeightCopies.Copy> copyOf = new HashMap<>();
            for (WeightCopies.Copy c : weightCopies) {
                copyOf.put(train.indexOf(c.variable()), c);
            }
            // Clipping and its norm see the accumulated gradient: the effective batch is clipped as one batch.
            org.tensorflow.op.math.Sqrt<TFloat32> norm = opt.withName("global_norm").math.sqrt(
                    globalSquaredNorm(opt, grads, k -> copyOf.containsKey(k) ? WeightCopies.squaredNorm(opt, grads.get(k)) : null));
            gradientNorm = norm;
            // Every update waits for the global norm, hence for every gradient: no weight changes under a
            // gradient that is still being computed from it.
            Operand<TFloat32> clipFactor = clipFactor(opt, gradientNorm, s.maxGradNorm());

            List<Operand<?>> slots = new ArrayList<>();
            List<String> slotNames = new ArrayList<>();
            List<Op> updates = new ArrayList<>();
            Operand<TFloat32> b1 = opt.constant((float) s.beta1());
            Operand<TFloat32> b2 = opt.constant((float) s.beta2());
            Operand<TFloat32> eps = opt.constant((float) s.epsilon());
            java.util.Map<Double, Operand<TFloat32>> scaledRates = new java.util.HashMap<>();
            WeightDecay.Builder decay = s.weightDecay() > 0 ? new WeightDecay.Builder(tf, s.weightDecay()) : null;
            Operand<TFloat32> one = opt.constant(1f);
            Operand<TFloat32> zero = opt.constant(0f);
            Operand<TFloat32> lambda = opt.constant((float) s.weightDecay());
            for (int k = 0; k < train.size(); k++) {
                int i = train.get(k);
                Operand<TFloat32> rate = scaledRates.computeIfAbsent(rates.get(k),
                        share -> share == 1.0 ? learningRate : opt.math.mul(learningRate, opt.constant(share.floatValue())));
                Shape shape = shapes.get(i);
                VarHandleOp m = slot(opt, "m_" + i, names.get(i) + "/adam_m", shape);
                VarHandleOp v = slot(opt, "v_" + i, names.get(i) + "/adam_v", shape);
                slots.add(m);
                slots.add(v);
                slotNames.add(names.get(i) + "/adam_m");
                slotNames.add(names.get(i) + "/adam_v");
                // Decoupled weight decay (AdamW) on matrices only: biases and normalisation vectors are rank 1. The
                // kernel that keeps a weight's copy decays it in each step's pass, with nothing else to read or write.
                boolean decays = decay != null && shape.numDimensions() >= 2;
                if (decays && !copyOf.containsKey(k)) {
                    decay.add(handles.get(i), rates.get(k));
                }
                Ops afterNorm = opt.withControlDependencies(List.of((Op) norm));
                if (copyOf.containsKey(k)) {  // clipping and decay happen inside the kernel
                    updates.add(WeightCopies.adam(afterNorm, graph, copyOf.get(k), handles.get(i), m, v, beta1Power, beta2Power,
                            rate, b1, b2, eps, clipFactor == null ? one : clipFactor, decays ? lambda : zero, grads.get(k)));
                } else {
                    Operand<TFloat32> clipped = clipFactor == null ? grads.get(k) : opt.math.mul(grads.get(k), clipFactor);
                    updates.add(rows.containsKey(k)
                            ? LazyEmbeddings.adam(afterNorm, handles.get(i), m, v, beta1Power, beta2Power, rate, b1, b2, eps,
                                    rows.get(k).with(clipped))
                            : afterNorm.train.resourceApplyAdam(handles.get(i), m, v, beta1Power, beta2Power, rate, b1, b2, eps, clipped));
                }
            }
            refreshWeightCopies = WeightCopies.refresh(tf, graph, weightCopies, handles);
            weightDecay = decay == null || decay.isEmpty() ? null : decay.build();
            List<Op> done = accumulators == null ? updates : accumulators.resetAfter(tf, updates);
            trainStep = tf.withControlDependencies(done).withName("finetune_train_step").noOp();

            List<Operand<?>> all = new ArrayList<>(handles);
            all.addAll(slots);
            List<String> allNames = new ArrayList<>(names);
            allNames.addAll(slotNames);
            if (accumulators != null) {
                all.addAll(accumulators.sums);
                allNames.addAll(accumulators.names);
            }
            // A lazy table and its moments are copied by every read (copy-on-read): saved apart, one copy at a time.
            Set<Integer> copiedOnRead = new HashSet<>();
            for (int k : rows.keySet()) {
                int slot = handles.size() + 2 * k;
                copiedOnRead.addAll(List.of(train.get(k), slot, slot + 1));
            }
            checkpointSaver = new VariableSaver(tf, "finetune_checkpoint", allNames, all, copiedOnRead);
            exportSaver = new VariableSaver(tf, "finetune_export", names, handles);
        } catch (RuntimeException e) {
            graph.close();
            throw e;
        }
    }

    private Output<?> output(String tensor) {
        return output(graph, tensor);
    }

    /** The graph as a GraphDef, reading the float32 weights wherever training read their bfloat16 copies. */
    public GraphDef inferenceGraphDef() {
        return weightCopies.isEmpty() ? graph.toGraphDef() : WeightCopies.undo(graph.toGraphDef());
    }

    List<WeightCopies.Copy> copies() {
        return weightCopies;
    }

    /** The encoder variables trained with bfloat16 copies ({@link WeightCopies}), by key (empty when none is). */
    public List<String> weightCopies() {
        return weightCopies.stream().map(c -> encoderVariables.get(c.variable()).key()).toList();
    }

    /** The encoder variables updated lazily, by key (empty when none is). */
    public List<String> lazyTables() {
        return lazyTables.values().stream().map(i -> encoderVariables.get(i).key()).toList();
    }

    /**
     * The encoder output the training loss reads: with encoder dropout, that of a training copy of the encoder
     * ({@link EncoderDropout}) under {@link #TRAINING_ENCODER}, which shares the encoder's variable reads and everything
     * upstream of its first dropout site; else the encoder's own output.
     */
    @SuppressWarnings("unchecked")
    private Output<TFloat32> trainingEncoder(String encoderOutput, Settings s) {
        if (s.encoderDropout() <= 0) {
            return (Output<TFloat32>) output(encoderOutput);
        }
        encoderDropoutSites = EncoderDropout.find(encoder.graph(), encoderOutput);
        EncoderDropout.TrainingCopy copy = EncoderDropout.trainingCopy(encoder.graph(), encoderOutput, encoderDropoutSites,
                s.encoderDropout(), s.seed());
        if (copy == null) {  // the output depends on no site: say so rather than log dropout that is not there
            encoderDropoutSites = new EncoderDropout.Sites(List.of(), List.of());
            return (Output<TFloat32>) output(encoderOutput);
        }
        java.util.Map<String, String> wiring = new java.util.LinkedHashMap<>();
        copy.external().forEach(t -> wiring.put(t, t));
        wiring.put(EncoderDropout.DRAW + ":0", dropoutDraw.op().name() + ":0");  // the copy's masks read the run's draw
        NativeGraphs.importMapped(graph, copy.graph(), TRAINING_ENCODER, wiring);
        return (Output<TFloat32>) output(TRAINING_ENCODER + "/" + copy.output());
    }

    /**
     * Where the encoder drops in training steps (null when encoderDropout is 0; empty when the graph has no site the
     * patterns of {@link EncoderDropout} find, and then it trains without).
     */
    public EncoderDropout.Sites encoderDropoutSites() {
        return encoderDropoutSites;
    }

    /** The output named {@code tensor} ("op:index" or "op") of {@code graph}. */
    public static Output<?> output(Graph graph, String tensor) {
        return dev.finetune.runtime.model.GraphDefs.output(graph, tensor);
    }

    @SuppressWarnings("unchecked")
    private Operand<TFloat32> features(Ops tf, Output<TFloat32> out, String pooling) {
        switch (pooling) {
            case "pooled":
                return out;
            case "cls":
                return tf.withName("finetune_cls").stridedSlice(out, Indices.all(), Indices.at(0), Indices.all());
            case "last":
                return lastToken(tf, out);
            default:
                Operand<TFloat32> mask = tf.expandDims(tf.dtypes.cast(inputMask, TFloat32.class), tf.constant(-1));
                Operand<TFloat32> summed = tf.sum(tf.math.mul(out, mask), tf.constant(1));
                Operand<TFloat32> count = tf.math.maximum(tf.sum(mask, tf.constant(1)), tf.constant(1f));
                Operand<TFloat32> mean = tf.withName("finetune_mean_pool").math.div(summed, count);
                return tf.ensureShape(mean, Shape.of(-1, out.shape().get(2)));
        }
    }

    /**
     * The hidden state of each row's last real token: the highest position whose mask is 1, so it is found whichever
     * side the padding is on. A one-hot mask picks it, which keeps the gradient a plain product.
     */
    private Operand<TFloat32> lastToken(Ops tf, Output<TFloat32> out) {
        Operand<TInt32> length = tf.squeeze(tf.slice(tf.shape(inputMask), tf.constant(new int[] {1}), tf.constant(new int[] {1})));
        Operand<TInt32> positions = tf.range(tf.constant(0), length, tf.constant(1));
        Operand<TInt32> last = tf.max(tf.math.mul(inputMask, positions), tf.constant(1));
        Operand<TFloat32> pick = tf.oneHot(last, length, tf.constant(1f), tf.constant(0f));
        Operand<TFloat32> picked = tf.sum(tf.math.mul(out, tf.expandDims(pick, tf.constant(-1))), tf.constant(1));
        return tf.ensureShape(tf.withName("finetune_last_token").identity(picked), Shape.of(-1, out.shape().get(2)));
    }

    /**
     * The gradient of {@code loss} with respect to each trained variable of {@code graph}: per variable, the sum over
     * its {@code reads}.
     */
    @SuppressWarnings("unchecked")
    static List<Operand<TFloat32>> gradients(Graph graph, Ops tf, Output<TFloat32> loss, List<List<Output<?>>> reads) {
        List<Output<?>> xs = new ArrayList<>();
        reads.forEach(xs::addAll);
        Output<?>[] dx;
        try {
            dx = graph.addGradients(loss, xs.toArray(new Output<?>[0]));
        } catch (RuntimeException e) {
            throw new ModelException("TensorFlow cannot differentiate this encoder: " + e.getMessage()
                    + " (an op on the encoder's path has no gradient).", e);
        }
        List<Operand<TFloat32>> grads = new ArrayList<>(reads.size());
        int k = 0;
        for (List<Output<?>> r : reads) {
            Operand<TFloat32> sum = null;
            for (int j = 0; j < r.size(); j++, k++) {
                if (dx[k] == null) {
                    continue;
                }
                Operand<TFloat32> g = (Operand<TFloat32>) dx[k];
                sum = sum == null ? g : tf.math.add(sum, g);
            }
            if (sum == null) {
                throw new ModelException("No gradient reaches variable read '" + r.get(0).op().name() + "'.");
            }
            grads.add(sum);
        }
        return grads;
    }

    /**
     * How many things this worker's loss is the mean of: its rows, or for token classification its labelled positions;
     * so that the global loss (and its gradient) is the mean over the whole global batch, shards of any size.
     */
    private Operand<TFloat32> lossCount(Ops tf) {
        if (task == Task.TOKEN_CLASSIFICATION) {
            Operand<TFloat32> labelled = tf.dtypes.cast(tf.math.greaterEqual(tokenLabels, tf.constant(0)), TFloat32.class);
            return tf.sum(labelled, tf.constant(new int[] {0, 1}));
        }
        Operand<TInt32> rows = tf.squeeze(tf.slice(tf.shape(inputIds), tf.constant(new int[] {0}), tf.constant(new int[] {1})));
        return tf.dtypes.cast(rows, TFloat32.class);
    }

    /**
     * The sum of the squares of every gradient: {@code own.apply(k)} where that gives one (the kernel's, for gradients
     * that stay in bfloat16), else twice {@code L2Loss}.
     */
    private static Operand<TFloat32> globalSquaredNorm(Ops tf, List<Operand<TFloat32>> grads,
                                                       java.util.function.IntFunction<Operand<TFloat32>> own) {
        List<Operand<TFloat32>> halves = new ArrayList<>(grads.size());
        List<Operand<TFloat32>> squares = new ArrayList<>();
        for (int k = 0; k < grads.size(); k++) {
            Operand<TFloat32> sum = own.apply(k);
            if (sum != null) {
                squares.add(sum);
            } else {
                halves.add(tf.nn.l2Loss(grads.get(k)));
            }
        }
        if (!halves.isEmpty()) {
            squares.add(tf.math.mul(tf.constant(2f), tf.math.addN(halves)));
        }
        return squares.size() == 1 ? squares.get(0) : tf.math.addN(squares);
    }

    /** What clipping multiplies every gradient by: {@code maxNorm / max(norm, maxNorm)}; null without clipping. */
    private static Operand<TFloat32> clipFactor(Ops tf, Operand<TFloat32> norm, double maxNorm) {
        if (maxNorm <= 0) {
            return null;
        }
        Operand<TFloat32> limit = tf.constant((float) maxNorm);
        return tf.withName("clip_factor").math.div(limit, tf.math.maximum(norm, limit));
    }

    private VarHandleOp slot(Ops tf, String opName, String sharedName, Shape shape) {
        VarHandleOp h = tf.withName(opName).varHandleOp(TFloat32.class, shape, VarHandleOp.sharedName(sharedName));
        freshInit.add(tf.assignVariableOp(h, GradientAccumulators.zeros(tf, shape)));
        return h;
    }

    /** The saver over the encoder and head weights, without optimizer slots: what an exported model restores. */
    public VariableSaver exportSaver() {
        return exportSaver;
    }

    /** The tensor fed the attention mask: the model's own input, or the plugin's when the model has none. */
    public String inputMaskTensor() {
        return inputMask.op().name() + ":" + inputMask.index();
    }

    public Graph graph() {
        return graph;
    }

    public EncoderGraph encoder() {
        return encoder;
    }

    public List<EncoderVariable> encoderVariables() {
        return encoderVariables;
    }

    public int numLabels() {
        return numLabels;
    }

    public Task task() {
        return task;
    }

    /** The graph's output for the task: {@link #PROBABILITIES}, or {@link #PREDICTIONS} for regression. */
    public String outputName() {
        return probabilities.asOutput().op().name();
    }

    public int hiddenSize() {
        return hiddenSize;
    }

    /** Parameters that train (the frozen ones excluded). */
    public long trainableParameters() {
        long n = head.parameters();
        for (int i = 0; i < encoderVariables.size(); i++) {
            if (plan.trainable(i) && encoderVariables.get(i).differentiable()) {
                n += encoderVariables.get(i).size();
            }
        }
        return n;
    }

    /** How many variables train, the head's two included. */
    public int trainableVariables() {
        return trainableCount;
    }

    public LayerPlan layerPlan() {
        return plan;
    }

    /** Set when a session run never came back (a lost worker): closing would wait for it for ever. */
    private volatile boolean abandoned;

    void abandon() {
        abandoned = true;
    }

    @Override
    public void close() {
        if (!abandoned) {
            graph.close();
        }
    }
}
