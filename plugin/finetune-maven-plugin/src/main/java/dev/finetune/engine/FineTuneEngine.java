package dev.finetune.engine;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finetune.engine.config.ClassWeights;
import dev.finetune.engine.config.FineTuneConfig;
import dev.finetune.engine.distributed.ClusterSpec;
import dev.finetune.engine.distributed.ReplicaDevices;
import dev.finetune.engine.distributed.Worker;
import dev.finetune.engine.export.AtomicDirectory;
import dev.finetune.engine.export.ModelExporter;
import dev.finetune.engine.export.OutputLock;
import dev.finetune.engine.model.EncoderGraph;
import dev.finetune.engine.model.ModelLocator;
import dev.finetune.engine.model.Pooling;
import dev.finetune.engine.model.SignatureNames;
import dev.finetune.engine.model.SignatureResolver;
import dev.finetune.engine.model.TrainingKernels;
import dev.finetune.engine.training.CheckpointStore;
import dev.finetune.engine.training.ClassifierGraph;
import dev.finetune.engine.training.ClassifierSession;
import dev.finetune.engine.training.DataParallel;
import dev.finetune.engine.training.ProgressListener;
import dev.finetune.engine.training.Trainer;
import dev.finetune.engine.training.TrainingHistory;
import dev.finetune.runtime.FineTuneException;
import dev.finetune.runtime.Json;
import dev.finetune.runtime.Task;
import dev.finetune.runtime.encoding.Batch;
import dev.finetune.runtime.encoding.Batches;
import dev.finetune.runtime.encoding.EncodedExample;
import dev.finetune.runtime.model.Devices;
import dev.finetune.runtime.model.GeluPattern;
import dev.finetune.runtime.model.ModelException;
import dev.finetune.runtime.model.ModelInfo;
import dev.finetune.runtime.model.SavedModelFile;
import dev.finetune.runtime.model.SessionSettings;
import dev.finetune.runtime.tokenizer.TextTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.io.FileUtils;

/**
 * The whole {@code train} job, free of Maven: read and split the data, tokenize, load and prepare the encoder,
 * fine-tune, export the SavedModel with labels, vocabulary, configuration and history, and check the export by
 * reloading it. The output folder appears whole or not at all.
 */
public final class FineTuneEngine {
    private FineTuneEngine() {
    }

    public static TrainingResult train(FineTuneConfig c, ProgressListener log) {
        // The kernel library edits the process environment as it loads (TrainingKernels): before any graph of this run.
        TrainingKernels.available();
        List<String> problems = new ArrayList<>(c.problems());
        if (c.outputDirectory == null) {
            throw invalid(problems);
        }
        Path work = c.workDirectory != null ? c.workDirectory : c.outputDirectory.resolveSibling("finetune-work");
        // A cluster's other workers write nothing (they may share the chief's folder), so they take no lock either.
        boolean writes = problems.isEmpty() ? c.clusterSpec().chief() : true;
        try (OutputLock lock = writes ? OutputLock.acquire(c.outputDirectory) : null) {
            ModelInfo info = null;
            if (c.model != null) {
                try {
                    // The shared cache needs no lock: other builds may unpack the same archive at the same time.
                    Path model = ModelLocator.locate(c.model, c.modelCache(), log::info);
                    info = ModelInfo.inspect(model, c.tokenizerOverride(), c.doLowerCase);
                    problems.addAll(info.problems(c.maxSequenceLength(info.maxPositions())));
                    SignatureResolver.resolve(info.savedModel(), signatureNames(c));
                } catch (FineTuneException e) {
                    problems.add(e.getMessage());
                }
            }
            if (c.device != null && c.device.startsWith("gpu") && Devices.problem(c.device) == null) {
                try {
                    Devices.configure(org.tensorflow.proto.ConfigProto.newBuilder(), c.device);
                } catch (FineTuneException e) {
                    problems.add(e.getMessage());
                }
            }
            if (!problems.isEmpty()) {
                if (info != null) {
                    info.tokenizer().close();
                }
                throw invalid(problems);
            }
            try {
                return train(c, info, work, log);
            } finally {
                info.tokenizer().close();
            }
        }
    }

    /** The digest of the run that produced the output folder; written last, so only a whole output has one. */
    static final String DIGEST_FILE = "finetune-digest.txt";

    /** The previous result when its digest equals {@code digest} and retraining is not forced; otherwise null. */
    private static TrainingResult upToDate(FineTuneConfig c, String digest) {
        Path file = c.outputDirectory.resolve(DIGEST_FILE);
        if (c.force || !Files.isRegularFile(file) || !Files.isRegularFile(c.outputDirectory.resolve("saved_model").resolve("saved_model.pb"))) {
            return null;
        }
        try {
            if (!Files.readString(file).strip().equals(digest)) {
                return null;
            }
            TrainingHistory history = Json.MAPPER.readValue(c.outputDirectory.resolve("training-history.json").toFile(), TrainingHistory.class);
            List<String> labels = new ArrayList<>();
            Json.MAPPER.readTree(c.outputDirectory.resolve("labels.json").toFile()).get("labels").forEach(l -> labels.add(l.asText()));
            return new TrainingResult(c.outputDirectory, labels, history);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private static SignatureNames signatureNames(FineTuneConfig c) {
        return new SignatureNames(c.inputIds, c.inputMask, c.segmentIds, c.pooledOutput, c.sequenceOutput);
    }

    private static FineTuneException invalid(List<String> problems) {
        return new FineTuneException("The fine-tuning configuration is invalid:\n  - " + String.join("\n  - ", problems));
    }

    private static TrainingResult train(FineTuneConfig given, ModelInfo info, Path work, ProgressListener log) {
        int maxLength = given.maxSequenceLength(info.maxPositions());
        FineTuneConfig c = given;
        if (given.maxSequenceLengthIsAuto()) {
            log.info("maxSequenceLength auto: " + maxLength + " (" + (info.maxPositions() == null
                    ? "the model does not say how many positions it supports" : info.maxPositionsSource()) + ").");
            // The resolved number is what the digest and finetune-config.json record: auto and the same number are one run.
            c = given.copy();
            c.maxSequenceLength = String.valueOf(maxLength);
        }
        return train(c, info, work, log, maxLength);
    }

    private static TrainingResult train(FineTuneConfig c, ModelInfo info, Path work, ProgressListener log, int maxLength) {
        ReplicaDevices devices = c.replicaDevices(Devices::visibleGpus);
        String digest = fingerprint(c, info.savedModel().directory(), devices.count());
        ClusterSpec cluster = c.clusterSpec();
        // In a cluster every worker trains or none does: a chief that skipped training would leave the others waiting.
        TrainingResult existing = cluster.distributed() ? null : upToDate(c, digest);
        if (existing != null) {
            log.info("The fine-tuned model in " + c.outputDirectory + " is up to date (data, base model, configuration and plugin "
                    + "unchanged, digest " + digest.substring(0, 12) + "); not training. -Dfinetune.force=true retrains.");
            return existing;
        }
        SavedModelFile savedModel = info.savedModel();
        Path modelDir = savedModel.directory();
        Path tokenizerFile = info.tokenizerFile().file();
        boolean lowerCase = info.lowerCase();
        TextTokenizer tokenizer = info.tokenizer();
        Task task = c.task();
        TrainingData data = TrainingData.read(c, TrainingData.cache(work, info, maxLength, log));
        log.info(data.summary());
        List<EncodedExample> train = data.train();
        List<EncodedExample> validation = data.validation();
        long truncated = train.stream().filter(EncodedExample::truncated).count();
        if (truncated > 0) {
            log.info(truncated + (task == Task.TOKEN_CLASSIFICATION ? " words are longer than maxSequenceLength " + maxLength
                    + " tokens by themselves and were cut." : " training examples are longer than maxSequenceLength " + maxLength
                    + " tokens and were truncated."));
        }

        SessionSettings settings = c.sessionSettings().resolved().withCpuDevices(devices.cpuDevices());
        // This plugin's kernels run on the CPU only: on a GPU, TensorFlow's ops keep the step there. Replicas name their
        // devices; CPU replicas are the session's CPU devices.
        boolean onCpu = devices.names().isEmpty() ? settings.cpuOnly() : devices.cpuDevices() > 0;
        int kernelThreads = onCpu ? TrainingKernels.threads(settings.intraOpThreads(), devices.count()) : 0;
        EncoderGraph encoder = EncoderGraph.prepare(savedModel, signatureNames(c), c.allowUnsafeOps, kernelThreads);
        if (c.textPairColumn != null && encoder.signature().segmentIds() == null) {
            throw new ModelException("textPairColumn is set, but the model in " + modelDir + " has no segment-ids input to tell "
                    + "the two texts apart; name it with <segmentIds>.");
        }
        String pooling = Pooling.resolve(c.pooling, encoder);
        float[] classWeights = data.classWeights(c.classWeights);
        if (classWeights != null) {
            log.info("Class weights (" + c.classWeights + "): " + ClassWeights.describe(data.labels(), classWeights)
                    + (task == Task.MULTI_LABEL ? ", on each label's positive cases." : "."));
        }
        ClassifierGraph.Settings head = new ClassifierGraph.Settings(pooling, c.dropout, c.seed, c.beta1, c.beta2, c.epsilon,
                c.effectiveWeightDecay(), c.maxGradNorm, c.trainLayersCount(), c.layerwiseLrDecay)
                .forTask(task, c.regressionLoss, data.targetMean(), data.targetScale()).withInitialBias(data.initialBias())
                .withHeadLayers(c.headLayerSizes(), c.headActivation).withLoss(classWeights, c.labelSmoothing)
                .withAccumulation(c.gradientAccumulationSteps > 1).withEncoderDropout(c.encoderDropoutRate())
                .withLazyEmbeddings(c.lazyEmbeddings())
                // bfloat16 copies of the weight matrices (WeightCopies) for the products of bfloat16 mixed precision,
                // kept by the plugin's Adam kernel: where that kernel runs.
                .withWeightCopies(onCpu && settings.precision().equals("bfloat16") && TrainingKernels.available());
        TrainingHistory history;
        Batch sampleBatch;
        float[][] expected;
        Path exported = work.resolve("export");
        double[] thresholds = null;
        Worker worker = cluster.distributed() ? Worker.start(cluster, settings.config(), c.workerTimeout) : null;
        DataParallel parallel = (worker == null ? DataParallel.NONE
                : new DataParallel(cluster.size(), worker.timeoutSeconds(), worker.startTimeoutSeconds())).onDevices(devices.names());
        try (Worker closesLast = worker;
             ClassifierGraph graph = new ClassifierGraph(encoder, data.labels().size(), head, parallel);
             ClassifierSession session = worker == null ? new ClassifierSession(graph, settings) : new ClassifierSession(graph, worker)) {
            log.info("Device: " + (devices.count() > 1 ? devices.describe() : Devices.describe(c.device)) + ", " + settings.describe()
                    + ", TensorFlow " + org.tensorflow.TensorFlow.version() + ".");
            if (onCpu && !TrainingKernels.available() && !GeluPattern.find(encoder.graph()).isEmpty()) {
                log.info("The GELUs train through TensorFlow's ops, not this plugin's kernel (" + TrainingKernels.unavailable()
                        + "): the same values, a slower step.");
            }
            log.info(String.format("Model: %s (%s), %d encoder variables, %,d trainable parameters, hidden size %d, %s%s; task %s.",
                    modelDir, encoder.inlinedLevels() > 0 ? "TF2 functions inlined" : "TF1 graph",
                    graph.encoderVariables().size(), graph.trainableParameters(), graph.hiddenSize(),
                    task == Task.TOKEN_CLASSIFICATION ? "a head on every token" : "pooling " + pooling + (c.pooling.equals("auto") ? " (auto)" : ""),
                    lowerCase ? ", lower-cased input" : "", task));
            log.info("Tokenizer: " + tokenizer.describe() + " from " + tokenizerFile + ".");
            if (c.headLayerSizes().length > 0) {
                log.info("Head: hidden layers " + c.headLayers.strip() + " (" + c.headActivation + ", dropout " + c.dropout
                        + " after each), then the output layer.");
            }
            if (graph.encoderDropoutSites() != null) {
                log.info(graph.encoderDropoutSites().count() == 0
                        ? "Encoder dropout: no attention softmax or residual dense layer found in this model's graph; training without it."
                        : "Encoder dropout " + c.encoderDropoutRate() + " in training steps, at " + graph.encoderDropoutSites().describe() + ".");
            }
            if (!graph.lazyTables().isEmpty()) {
                log.info("Embedding updates: lazy, only the rows a step looks up, in " + String.join(", ", graph.lazyTables()) + ".");
            } else if (c.lazyEmbeddings()) {
                log.info("Embedding updates: dense" + (head.lazyEmbeddingsApply(parallel)
                        ? " (no trainable table that the encoder only looks rows up in)."
                        : " (lazy updates need one device and no gradient accumulation)."));
            }
            if (!graph.weightCopies().isEmpty()) {
                log.info("Weight matrices: " + graph.weightCopies().size() + " multiplied from bfloat16 copies that the plugin's Adam"
                        + " kernel writes with each update (no casts of weights or their gradients in a step).");
            } else if (head.weightCopies() && !head.weightCopiesApply(parallel)) {
                log.info("Weight matrices: cast to bfloat16 in every step (bfloat16 copies of them need one device in one process).");
            }
            if (encoder.signature().inputMask() == null) {
                log.info("The model takes no attention mask: batches are padded at the end" + (pooling.equals("last")
                        ? ", which a causal model never looks ahead to." : ", and the model sees the padding (length buckets keep it short)."));
            }
            if (c.trainLayersCount() >= 0) {
                log.info("Training " + (graph.trainableVariables() - 2) + " of " + graph.encoderVariables().size()
                        + " encoder variables (trainLayers " + c.trainLayers + "), and the head.");
            }
            Trainer.Settings loop = new Trainer.Settings(c.epochs, c.batchSize, c.learningRate, c.warmupRatio, c.schedule,
                    c.beta1, c.beta2, c.seed, c.logEverySteps, c.resume, digest, c.bestModelMetric, c.earlyStoppingPatience,
                    c.evaluateEverySteps, c.exportBestModel, c.bucketByLength, c.gradientAccumulationSteps, c.weightDecayInterval,
                    c.inferenceBatch(maxLength));
            if (c.gradientAccumulationSteps > 1) {
                int sharing = devices.count() * cluster.size();
                log.info("Gradient accumulation: " + c.gradientAccumulationSteps + " batches of " + c.batchSize + " per optimizer step, "
                        + "an effective batch of " + c.batchSize * c.gradientAccumulationSteps * sharing
                        + (sharing > 1 ? " (" + c.batchSize + " × " + c.gradientAccumulationSteps
                                + (devices.count() > 1 ? " × " + devices.count() + " replicas" : "")
                                + (cluster.distributed() ? " × " + cluster.size() + " workers" : "") + ")" : "") + ".");
            }
            // Everything is read, tokenized and built: what the heap grew to for that is idle from here on.
            JavaHeap.shrink();
            history = new Trainer(session, loop, new CheckpointStore(work, cluster.chief()), tokenizer.padId(), log, cluster)
                    .train(train, validation);
            if (!cluster.chief()) {
                log.info("Worker " + cluster.index() + " is done; the chief, " + cluster.describe(0) + ", writes the model.");
                return new TrainingResult(c.outputDirectory, data.labels(), history);
            }
            if (task == Task.MULTI_LABEL) {
                thresholds = Thresholds.choose(c.fixedThreshold(), c.inferenceBatch(maxLength), session, validation, tokenizer.padId(),
                        data.labels(), log);
            }
            List<EncodedExample> sample = (validation.isEmpty() ? train : validation).subList(0,
                    Math.min(8, (validation.isEmpty() ? train : validation).size()));
            sampleBatch = Batches.of(sample, sample.size(), tokenizer.padId()).get(0);
            expected = session.predict(sampleBatch);
            AtomicDirectory.deleteQuietly(exported);
            try {
                ModelExporter.export(graph, session, exported);
            } catch (IOException e) {
                throw new FineTuneException("Cannot export the fine-tuned model to " + exported + ": " + e.getMessage(), e);
            }
        }
        // The training session (weights, optimizer slots, gradients) is closed before the export is reloaded for
        // the check, so the two never take memory at the same time.
        // TensorFlow keeps the session's tensors in its allocator for the next session; what went through the C heap
        // (the graph, the export's copy of it) is handed back, and so is the Java heap that G1 grew for the export's
        // copies of the graph (from 64 to 224 MiB committed under Maven, with 50 MiB live): otherwise the reload check
        // and an evaluate in the same build would start from it, and the build's peak stood on it.
        NativeHeap.trim();
        JavaHeap.shrink();
        double[] chosenThresholds = thresholds;
        AtomicDirectory.write(c.outputDirectory, dir -> {
            Path model = dir.resolve("saved_model");
            FileUtils.moveDirectory(exported.toFile(), model.toFile());
            Files.createDirectories(model.resolve("assets"));
            String tokenizerName = tokenizerFile.getFileName().toString();
            Files.copy(tokenizerFile, model.resolve("assets").resolve(tokenizerName));
            Files.copy(tokenizerFile, dir.resolve(tokenizerName));
            Map<String, Object> labelJson = new LinkedHashMap<>();
            labelJson.put("task", task.id());
            labelJson.put("labels", data.labels());
            if (chosenThresholds != null) {
                labelJson.put("thresholds", chosenThresholds);
                labelJson.put("labelSeparator", c.labelSeparator);
            }
            labelJson.putAll(data.description());
            labelJson.put("tokenizer", tokenizerName);
            labelJson.put("doLowerCase", lowerCase);
            labelJson.put("maxSequenceLength", maxLength);
            Json.write(dir.resolve("labels.json"), labelJson);
            Json.write(model.resolve("assets").resolve("labels.json"), labelJson);
            Json.write(dir.resolve("finetune-config.json"), recorded(c, data.labels(), classWeights));
            Json.write(dir.resolve("training-history.json"), history);
            // Regression predicts in the target's units: the tolerance scales with them. In bfloat16 the check runs in bfloat16 too,
            // but the export computes what training did in another form (BiasAdd for bias rows, GELU without its detour).
            double tolerance = (settings.precision().equals("bfloat16") ? 3e-2 : 1e-4) * (task == Task.REGRESSION ? Math.max(1, data.targetScale()) : 1);
            float[][] reloaded = ModelExporter.verifyByReloading(model, sampleBatch, expected, encoder.signature().segmentIds() != null,
                    tolerance, c.allowUnsafeOps, settings.precision().equals("bfloat16") ? settings.withCpuDevices(1).config()
                            : org.tensorflow.proto.ConfigProto.getDefaultInstance());
            Map<String, Object> check = new LinkedHashMap<>();
            check.put("rows", sampleBatch.rows());
            check.put("length", sampleBatch.length());
            check.put("input_ids", sampleBatch.inputIds());
            check.put("input_mask", sampleBatch.inputMask());
            check.put("segment_ids", sampleBatch.segmentIds());
            check.put(task == Task.REGRESSION ? "predictions" : "probabilities", reloaded);
            Json.write(dir.resolve("reload-check.json"), check);
            Files.writeString(dir.resolve(DIGEST_FILE), digest + "\n");
        });
        NativeHeap.trim();
        log.info("Fine-tuned model written to " + c.outputDirectory + " (reloaded and checked).");
        return new TrainingResult(c.outputDirectory, data.labels(), history);
    }

    /** The configuration as finetune-config.json records it, with the class weights auto (or the labels) resolved to. */
    private static ObjectNode recorded(FineTuneConfig c, List<String> labels, float[] classWeights) {
        ObjectNode node = c.portable();
        if (classWeights != null) {
            ObjectNode used = node.putObject("classWeightsUsed");
            for (int j = 0; j < classWeights.length; j++) {
                used.put(labels.get(j), classWeights[j]);
            }
        }
        return node;
    }

    /**
     * A digest of everything that decides the result: the configuration, the data, the base model and the plugin
     * version. A checkpoint is only resumed by a run with the same digest, and an output with the same digest is
     * up to date.
     */
    static String fingerprint(FineTuneConfig c, Path modelDir, int replicas) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            // Settings that do not change the result (resume, force, logging, threads, device) stay out of it.
            var settings = Json.MAPPER.valueToTree(c);
            for (String ignored : new String[] {"resume", "force", "logEverySteps", "intraOpThreads", "interOpThreads", "device",
                    "workerTimeout", "devices"}) {
                ((com.fasterxml.jackson.databind.node.ObjectNode) settings).remove(ignored);
            }
            // How many replicas share a step decides the global batch, as workers do; which devices they run on does not.
            if (replicas > 1) {
                ((com.fasterxml.jackson.databind.node.ObjectNode) settings).put("replicas", replicas);
            }
            // How many workers share a step decides the global batch; where they run and which one this is do not, so
            // every worker of a cluster computes the same digest (and a lone run keeps the digest it always had).
            int workers = c.clusterSpec().size();
            if (workers > 1) {
                ((com.fasterxml.jackson.databind.node.ObjectNode) settings).put("workers", workers);
                // Workers on other machines keep the same files in other folders (and copies get new times): in a
                // cluster the files count by their contents, hashed below, not by where they are.
                for (java.lang.reflect.Field f : FineTuneConfig.class.getFields()) {
                    if (f.getType() == Path.class) {
                        ((com.fasterxml.jackson.databind.node.ObjectNode) settings).remove(f.getName());
                    }
                }
            }
            sha.update(Json.MAPPER.writeValueAsBytes(settings));
            List<Path> files = new ArrayList<>(java.util.Arrays.asList(c.trainFile, c.validationFile, c.vocabulary, c.tokenizer,
                    modelDir.resolve("saved_model.pb"), modelDir.resolve("variables").resolve("variables.index")));
            // The assets hold the tokenizer (vocab.txt, tokenizer.json or a SentencePiece model) and its settings.
            if (Files.isDirectory(modelDir.resolve("assets"))) {
                try (var assets = Files.list(modelDir.resolve("assets"))) {
                    assets.sorted().forEach(files::add);
                }
            }
            for (Path p : files) {
                if (p != null && Files.isRegularFile(p)) {
                    dev.finetune.runtime.Checksums.update(sha, p);
                }
            }
            // The weights themselves can be gigabytes: their sizes and times stand for them (the index above lists them).
            try (var shards = Files.list(modelDir.resolve("variables"))) {
                for (Path p : (Iterable<Path>) shards.sorted()::iterator) {
                    sha.update((p.getFileName() + ":" + Files.size(p) + (workers > 1 ? "" : ":" + Files.getLastModifiedTime(p).toMillis()) + "\n")
                            .getBytes(java.nio.charset.StandardCharsets.UTF_8));
                }
            }
            return HexFormat.of().formatHex(sha.digest());
        } catch (IOException | NoSuchAlgorithmException e) {
            throw new FineTuneException("Cannot fingerprint the run: " + e.getMessage(), e);
        }
    }
}
