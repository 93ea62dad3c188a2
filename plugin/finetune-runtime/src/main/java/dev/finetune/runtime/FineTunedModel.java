package dev.finetune.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import dev.finetune.runtime.encoding.Batch;
import dev.finetune.runtime.encoding.BatchBudget;
import dev.finetune.runtime.encoding.Batches;
import dev.finetune.runtime.encoding.EncodedExample;
import dev.finetune.runtime.encoding.TaggedSentence;
import dev.finetune.runtime.encoding.TokenExamples;
import dev.finetune.runtime.model.LoadedGraph;
import dev.finetune.runtime.model.ModelInfo;
import dev.finetune.runtime.model.SavedModelFile;
import dev.finetune.runtime.model.ServingSignature;
import dev.finetune.runtime.model.SessionSettings;
import dev.finetune.runtime.model.UnsafeOps;
import dev.finetune.runtime.tokenizer.TextTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.types.TInt32;

/**
 * A model written by {@code train} ({@code target/finetune/}): the SavedModel, its labels and the tokenizer it
 * was trained with, ready to predict. Loaded with TensorFlow's own SavedModel loader, as any consumer would, once
 * the folder has been checked and the model scanned (it may come from anywhere, e.g. by Maven coordinates).
 */
public final class FineTunedModel implements AutoCloseable {
    private final Path directory;
    private final List<String> labels;
    private final TextTokenizer tokenizer;
    private final int maxSequenceLength;
    private final LoadedGraph loaded;
    private final SignatureDef signature;
    private final SessionSettings settings;
    private final TaskInfo task;

    /**
     * What {@code labels.json} says of the task: which one, the multi-label thresholds and separator (null otherwise).
     * Models written before tasks existed say nothing: they are single-label.
     */
    public record TaskInfo(Task task, double[] thresholds, String labelSeparator) {
        static TaskInfo of(JsonNode meta, int labels) {
            Task task = Task.of(meta.path("task").asText(null));
            double[] thresholds = null;
            if (task == Task.MULTI_LABEL) {
                thresholds = new double[labels];
                java.util.Arrays.fill(thresholds, 0.5);
                JsonNode t = meta.path("thresholds");
                for (int j = 0; j < Math.min(labels, t.size()); j++) {
                    thresholds[j] = t.get(j).asDouble(0.5);
                }
            }
            return new TaskInfo(task, thresholds, meta.path("labelSeparator").asText("|"));
        }
    }

    private FineTunedModel(Path directory, List<String> labels, TextTokenizer tokenizer, int maxSequenceLength,
                           LoadedGraph loaded, SignatureDef signature, SessionSettings settings, TaskInfo task) {
        this.settings = settings;
        this.task = task;
        this.directory = directory;
        this.labels = labels;
        this.tokenizer = tokenizer;
        this.maxSequenceLength = maxSequenceLength;
        this.loaded = loaded;
        this.signature = signature;
    }

    /** The inputs prediction feeds, where the signature has them. */
    private static final List<String> INPUTS = List.of("input_ids", "input_mask", "segment_ids");

    /** Loads in float32: exactly what any consumer of the exported SavedModel computes. */
    public static FineTunedModel load(Path directory) {
        return load(directory, SessionSettings.defaults("auto"));
    }

    /** Loads with the given session settings (precision, threads, device), accepting no unsafe op. */
    public static FineTunedModel load(Path directory, SessionSettings settings) {
        return load(directory, settings, List.of());
    }

    /**
     * Loads with the given session settings, after two checks made before TensorFlow runs anything. First the folder:
     * its labels against the width of the model's output, its tokenizer against the model's embedding table, the
     * serving signature's inputs and outputs; every problem is listed together. Then what TensorFlow's loader and
     * predicting will run is scanned for ops that touch files or the network or run code ({@link UnsafeOps}), as
     * {@code train} scans its base model; {@code allowUnsafeOps} names the op types accepted knowingly.
     */
    public static FineTunedModel load(Path directory, SessionSettings settings, List<String> allowUnsafeOps) {
        try {
            return open(directory, settings, allowUnsafeOps);
        } catch (OutOfMemoryError e) {
            NativeMemoryCap.explain(e, "Loading the model in " + directory);
            throw e;
        }
    }

    private static FineTunedModel open(Path directory, SessionSettings settings, List<String> allowUnsafeOps) {
        Path labelsFile = directory.resolve("labels.json");
        Path model = directory.resolve("saved_model");
        if (!Files.isRegularFile(labelsFile) || !Files.isRegularFile(model.resolve("saved_model.pb"))) {
            throw new FineTuneException("No fine-tuned model in " + directory + ": it needs labels.json and saved_model/ "
                    + "as written by finetune:train. Run the train goal first, or point modelDirectory at its output.");
        }
        JsonNode meta;
        try {
            meta = Json.MAPPER.readTree(labelsFile.toFile());
        } catch (IOException e) {
            throw new FineTuneException("Cannot read " + labelsFile + ": " + e.getMessage(), e);
        }
        SavedModelFile file = SavedModelFile.read(model);
        List<String> problems = new ArrayList<>();
        List<String> labels = new ArrayList<>();
        meta.path("labels").forEach(l -> labels.add(l.asText()));
        if (labels.isEmpty()) {
            problems.add(labelsFile + " lists no labels: it needs \"labels\", the class names in index order.");
        }
        int maxSequenceLength = meta.path("maxSequenceLength").asInt(128);
        TaskInfo task;
        try {
            task = TaskInfo.of(meta, labels.size());
        } catch (FineTuneException e) {
            throw new FineTuneException(labelsFile + ": " + e.getMessage(), e);
        }
        if (task.thresholds() != null && meta.path("thresholds").size() != labels.size()) {
            problems.add(labelsFile + " has " + meta.path("thresholds").size() + " thresholds for " + labels.size()
                    + " labels: a multi-label model needs one per label.");
        }
        ModelInfo info = null;
        try {
            // Models written before other tokenizers existed name none: theirs is vocab.txt.
            // Only a file name counts: a model folder from elsewhere must not point the tokenizer outside itself.
            info = ModelInfo.inspect(file, directory.resolve(Path.of(meta.path("tokenizer").asText("vocab.txt")).getFileName().toString()),
                    meta.path("doLowerCase").asBoolean(true));
            problems.addAll(info.problems(maxSequenceLength));
        } catch (FineTuneException e) {
            problems.add(e.getMessage());
        }
        problems.addAll(signatureProblems(file, labelsFile, labels.size(), task.task()));
        try {
            if (!problems.isEmpty()) {
                throw new FineTuneException("The fine-tuned model in " + directory + " cannot run:\n  - " + String.join("\n  - ", problems));
            }
            // The loader runs the restore and init ops, so the scan comes before it.
            UnsafeOps.checkBeforeLoading(file, ServingSignature.tensors(file.metaGraph().getSignatureDefOrThrow(ServingSignature.NAME)),
                    allowUnsafeOps);
            SessionSettings session = settings.resolved();
            SignatureDef signature = file.metaGraph().getSignatureDefOrThrow(ServingSignature.NAME);
            LoadedGraph loaded = LoadedGraph.forServing(file, signature, session);
            if (loaded == null) {
                loaded = LoadedGraph.of(SavedModelBundle.loader(model.toString()).withTags(SavedModelFile.SERVE_TAG)
                        .withConfigProto(session.config()).load());
            }
            return new FineTunedModel(directory, List.copyOf(labels), info.tokenizer(), maxSequenceLength, loaded, signature,
                    session, task);
        } catch (RuntimeException e) {
            if (info != null) {
                info.tokenizer().close();
            }
            throw e;
        }
    }

    /** What prediction needs of the serving signature: the ids input, only inputs it feeds, and one probability per label. */
    private static List<String> signatureProblems(SavedModelFile file, Path labelsFile, int labels, Task task) {
        SignatureDef sig = file.metaGraph().getSignatureDefMap().get(ServingSignature.NAME);
        String where = "The signature '" + ServingSignature.NAME + "' of the model in " + file.directory();
        if (sig == null) {
            return List.of("The model in " + file.directory() + " has no signature '" + ServingSignature.NAME + "' (it has "
                    + file.metaGraph().getSignatureDefMap().keySet() + "): it was not written by finetune:train.");
        }
        List<String> p = new ArrayList<>();
        if (!sig.containsInputs("input_ids")) {
            p.add(where + " has no input 'input_ids' (it has " + sig.getInputsMap().keySet() + ").");
        }
        List<String> unfed = sig.getInputsMap().keySet().stream().filter(k -> !INPUTS.contains(k)).sorted().toList();
        if (!unfed.isEmpty()) {
            p.add(where + " takes inputs " + unfed + " that are never fed: only " + INPUTS + " are.");
        }
        String output = ServingSignature.outputKey(task);
        if (!sig.containsOutputs(output)) {
            p.add(where + " has no output '" + output + "' (it has " + sig.getOutputsMap().keySet() + "), which a " + task
                    + " model needs: labels.json and the model do not belong together.");
        } else {
            var shape = sig.getOutputsOrThrow(output).getTensorShape();
            // Per label: the last axis ([rows, labels], or [rows, length, labels] for token classification).
            int rank = task == Task.TOKEN_CLASSIFICATION ? 3 : 2;
            long width = shape.getDimCount() == rank ? shape.getDim(rank - 1).getSize() : -1;
            int expected = task == Task.REGRESSION ? 1 : labels;
            if (expected > 0 && width > 0 && width != expected) {
                p.add(labelsFile + " lists " + labels + " labels, but the model's output '" + output + "' has " + width
                        + " classes: the labels belong to another model.");
            }
        }
        return p;
    }

    /** How many variables the session holds in bfloat16 ({@link Bfloat16Weights}); 0 in float32. */
    public int bfloat16Variables() {
        return loaded.bfloat16Variables();
    }

    /** How many dense layers + GELU of the model run as one op ({@link dev.finetune.runtime.model.FusedGelu}). */
    public int fusedGelus() {
        return loaded.fusedGelus();
    }

    /** How many layer normalisations of the model run as one op ({@link dev.finetune.runtime.model.FusedLayerNorm}). */
    public int fusedLayerNorms() {
        return loaded.fusedLayerNorms();
    }

    /**
     * How many dense layers of the model run with their weight packed once into oneDNN's layout
     * ({@link dev.finetune.runtime.model.PackedDense}): faster, at the cost of one more copy of those weights.
     */
    public int packedDenseLayers() {
        return loaded.packedDenseLayers();
    }

    /**
     * How many fused dense layers read their input from a stretch of ops run in bfloat16 as written, where mixed
     * precision would cast it to float32 and back ({@link dev.finetune.runtime.model.Bfloat16Stretches}): in Google
     * BERT's graphs, each layer's attention.
     */
    public int bfloat16Stretches() {
        return loaded.bfloat16Stretches();
    }

    /**
     * Why ops this model's session could run fused are not ({@link LoadedGraph#fusionProblems}): each "what: why";
     * empty when nothing keeps them apart (a model may still have nothing to fuse).
     */
    public List<String> fusionProblems() {
        return LoadedGraph.fusionProblems(settings);
    }

    /** float32 or bfloat16: the precision its session computes in. */
    public String precision() {
        return settings.precision();
    }

    /** What labels.json says of the task. */
    public TaskInfo taskInfo() {
        return task;
    }

    public Task task() {
        return task.task();
    }

    /**
     * The task's output for each row of {@code batch}: class probabilities (single-label), a probability per label
     * (multi-label), the prediction (regression, one number), or {@code length × labels} probabilities (token
     * classification, position by position).
     */
    public float[][] predict(Batch batch) {
        try {
            return run(batch);
        } catch (OutOfMemoryError e) {
            NativeMemoryCap.explain(e, "Predicting " + batch.rows() + " rows of " + batch.length() + " tokens with " + directory);
            throw e;
        }
    }

    private float[][] run(Batch batch) {
        List<Tensor> feeds = new ArrayList<>();
        try (Result r = runner(batch, feeds).run()) {
            return ServingSignature.rows(ServingSignature.floats(r.get(0)), batch.rows());
        } finally {
            feeds.forEach(Tensor::close);
        }
    }

    /** One run of {@code batch} with TensorFlow's full trace: where serving's time goes (ProfileServing; not for use). */
    org.tensorflow.proto.RunMetadata trace(Batch batch) {
        List<Tensor> feeds = new ArrayList<>();
        try (Result r = runner(batch, feeds).setOptions(org.tensorflow.proto.RunOptions.newBuilder()
                .setTraceLevel(org.tensorflow.proto.RunOptions.TraceLevel.FULL_TRACE).build()).runAndFetchMetadata()) {
            return r.getMetadata().orElseThrow();
        } finally {
            feeds.forEach(Tensor::close);
        }
    }

    /** A runner fed {@code batch} (its tensors added to {@code feeds}, for the caller to close) and fetching the output. */
    private Session.Runner runner(Batch batch, List<Tensor> feeds) {
        Shape shape = Shape.of(batch.rows(), batch.length());
        Session.Runner runner = loaded.session().runner();
        feed(runner, feeds, "input_ids", TInt32.tensorOf(shape, DataBuffers.of(batch.inputIds(), true, false)));
        feed(runner, feeds, "input_mask", TInt32.tensorOf(shape, DataBuffers.of(batch.inputMask(), true, false)));
        feed(runner, feeds, "segment_ids", TInt32.tensorOf(shape, DataBuffers.of(batch.segmentIds(), true, false)));
        return runner.fetch(signature.getOutputsOrThrow(ServingSignature.outputKey(task.task())).getName());
    }

    /**
     * Token classification in batches of {@code batchSize} windows, however long.
     *
     * @deprecated batches by a token budget instead: {@link #tagWords(List, BatchBudget)}, e.g. with
     *     {@link BatchBudget#auto(int)}; kept so callers of the previous release still compile.
     */
    @Deprecated
    public List<TokenExamples.WordTags> tagWords(List<TaggedSentence> sentences, int batchSize) {
        return tagWords(sentences, BatchBudget.rows(batchSize));
    }

    /**
     * Token classification: the tag of every word of each sentence. A sentence longer than the maximum length is read
     * in windows of whole words; the windows of all sentences are predicted in batches of similar length, each within
     * {@code batches}.
     */
    public List<TokenExamples.WordTags> tagWords(List<TaggedSentence> sentences, BatchBudget batches) {
        List<EncodedExample> encoded = new ArrayList<>();
        List<Integer> firstWindow = new ArrayList<>();
        for (TaggedSentence s : sentences) {
            firstWindow.add(encoded.size());
            encoded.addAll(TokenExamples.encode(tokenizer, s.tokens(), null, s.line(), maxSequenceLength));
        }
        firstWindow.add(encoded.size());
        List<float[]> outputs = List.of(Batches.predictInLengthOrder(encoded, batches, tokenizer.padId(), this::predict));
        List<TokenExamples.WordTags> out = new ArrayList<>(sentences.size());
        for (int i = 0; i < sentences.size(); i++) {
            int from = firstWindow.get(i);
            int to = firstWindow.get(i + 1);
            out.add(TokenExamples.read(encoded.subList(from, to), outputs.subList(from, to), labels.size(),
                    sentences.get(i).tokens().size()));
        }
        return out;
    }

    private void feed(Session.Runner runner, List<Tensor> feeds, String key, Tensor t) {
        feeds.add(t);
        if (signature.containsInputs(key)) {
            runner.feed(signature.getInputsOrThrow(key).getName(), t);
        }
    }

    public Path directory() {
        return directory;
    }

    public List<String> labels() {
        return labels;
    }

    public TextTokenizer tokenizer() {
        return tokenizer;
    }

    public int maxSequenceLength() {
        return maxSequenceLength;
    }

    @Override
    public void close() {
        loaded.close();
        tokenizer.close();
    }
}
