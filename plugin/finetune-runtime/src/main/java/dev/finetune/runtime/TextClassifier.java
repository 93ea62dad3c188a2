package dev.finetune.runtime;

import dev.finetune.runtime.encoding.BatchBudget;
import dev.finetune.runtime.encoding.Batches;
import dev.finetune.runtime.encoding.EncodedExample;
import dev.finetune.runtime.encoding.LabeledText;
import dev.finetune.runtime.encoding.TaggedSentence;
import dev.finetune.runtime.encoding.TokenExamples;
import dev.finetune.runtime.model.SafeUnzip;
import dev.finetune.runtime.model.SessionSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A model fine-tuned by {@code finetune-maven-plugin}, ready to classify text in any Java application:
 * <pre>{@code
 * try (TextClassifier classifier = TextClassifier.load()) {   // the model jar declared as a dependency
 *     Prediction p = classifier.predict("The soup was cold and the waiter rude.");
 *     System.out.println(p.label() + " " + p.probability());  // negative 0.9731
 *     for (LabelScore s : p.top(2)) {
 *         System.out.println(s.label() + " " + s.probability());
 *     }
 *     List<Prediction> many = classifier.predict(List.of("Great value.", "Never again."));
 * }
 * }</pre>
 * {@link #load()} finds the model that {@code finetune:package} attaches as a jar (classifier {@code model}) on the
 * class path; {@link #load(Path)} reads the folder {@code train} writes ({@code target/finetune}) or the model zip.
 * Packed models are unpacked once into a cache keyed by their checksum ({@code ~/.cache/finetune/models}, or
 * {@code -Dfinetune.cache}), since TensorFlow reads files.
 * <p>
 * The answer takes the model's task ({@link Prediction}): a label and probabilities (single-label), the labels over
 * their tuned thresholds (multi-label), a number (regression), or a tag per word (token classification,
 * {@link #tag(List)}).
 * <p>
 * Thread-safe: one instance serves any number of threads. Single requests ({@link #predict(String)}) from concurrent
 * threads are gathered into small batches ({@link Options#maxBatchSize}, waiting at most {@link Options#maxWait} for
 * company), so a server gets batch throughput at low latency. Lists ({@link #predict(List)}) are predicted at once,
 * in batches of similar length. Close it to free TensorFlow's native memory.
 */
public final class TextClassifier implements AutoCloseable {
    private final FineTunedModel model;
    private final Options options;
    private final MicroBatcher<LabeledText, Prediction> batcher;
    private volatile boolean closed;

    /**
     * How a classifier runs. {@code threads}: TensorFlow's intra-op threads (0: one per core). {@code maxBatchSize}:
     * the most single requests one inference runs; lists ({@link #predict(List)}, {@link #tagAll}) run in batches of
     * as many padded tokens as {@code maxBatchSize} rows of the full length (rows × the batch's longest row, at most
     * {@value BatchBudget#AUTO_MAX_ROWS} rows), so short texts go many more at once. {@code maxWait}: the longest a single request waits for others to share its
     * batch. {@code workers}: how many batches run at once. {@code cacheDirectory}: where packed models are unpacked.
     * {@code precision}: {@code auto} (bfloat16 where the CPU multiplies it natively or on a GPU, else float32),
     * {@code float32} (exactly what the exported SavedModel computes) or {@code bfloat16}.
     */
    public record Options(int threads, int maxBatchSize, Duration maxWait, int workers, Path cacheDirectory, String precision) {
        public Options {
            Objects.requireNonNull(maxWait, "maxWait");
            Objects.requireNonNull(cacheDirectory, "cacheDirectory");
            if (!List.of("auto", "float32", "bfloat16").contains(precision)) {
                throw new IllegalArgumentException("precision is auto, float32 or bfloat16, not " + precision);
            }
            if (threads < 0 || maxBatchSize < 1 || workers < 1 || maxWait.isNegative()) {
                throw new IllegalArgumentException("threads >= 0, maxBatchSize >= 1, workers >= 1 and maxWait >= 0, not "
                        + threads + ", " + maxBatchSize + ", " + workers + ", " + maxWait);
            }
        }

        /** All cores, batches of up to 32, 2 ms of waiting for company, one worker, the default cache, auto precision. */
        public static Options defaults() {
            return new Options(0, 32, Duration.ofMillis(2), 1, ModelCache.defaultRoot(), "auto");
        }

        public Options precision(String p) {
            return new Options(threads, maxBatchSize, maxWait, workers, cacheDirectory, p);
        }

        public Options threads(int n) {
            return new Options(n, maxBatchSize, maxWait, workers, cacheDirectory, precision);
        }

        public Options maxBatchSize(int n) {
            return new Options(threads, n, maxWait, workers, cacheDirectory, precision);
        }

        public Options maxWait(Duration d) {
            return new Options(threads, maxBatchSize, d, workers, cacheDirectory, precision);
        }

        public Options workers(int n) {
            return new Options(threads, maxBatchSize, maxWait, n, cacheDirectory, precision);
        }

        public Options cacheDirectory(Path p) {
            return new Options(threads, maxBatchSize, maxWait, workers, p, precision);
        }
    }

    private TextClassifier(FineTunedModel model, Options options, MicroBatcher.BatchListener listener) {
        this.model = model;
        this.options = options;
        this.batcher = new MicroBatcher<>(this::predictRows, options.maxBatchSize(), options.maxWait(), options.workers(),
                "finetune-classifier", listener);
    }

    /** The only fine-tuned model on the class path (a model jar declared as a dependency). */
    public static TextClassifier load() {
        return load(Options.defaults());
    }

    public static TextClassifier load(Options options) {
        return load(ClasspathModels.onlyName(loader()), options);
    }

    /** The model named {@code name} on the class path: the artifactId of the project that packaged it. */
    public static TextClassifier load(String name) {
        return load(name, Options.defaults());
    }

    public static TextClassifier load(String name, Options options) {
        return open(ClasspathModels.unpack(loader(), name, options.cacheDirectory()), options, null);
    }

    /** A model folder as {@code train} writes it ({@code target/finetune}), or the zip {@code package} makes of it. */
    public static TextClassifier load(Path folderOrZip) {
        return load(folderOrZip, Options.defaults());
    }

    public static TextClassifier load(Path folderOrZip, Options options) {
        Path folder = Files.isRegularFile(folderOrZip) ? unzip(folderOrZip, options.cacheDirectory()) : folderOrZip;
        return open(folder, options, null);
    }

    static TextClassifier open(Path folder, Options options, MicroBatcher.BatchListener listener) {
        SessionSettings defaults = SessionSettings.defaults("auto");
        SessionSettings settings = new SessionSettings(defaults.device(), options.threads(), defaults.interOpThreads(),
                options.precision(), defaults.xla());
        return new TextClassifier(FineTunedModel.load(folder, settings), options, listener);
    }

    private static ClassLoader loader() {
        ClassLoader context = Thread.currentThread().getContextClassLoader();
        return context != null ? context : TextClassifier.class.getClassLoader();
    }

    private static Path unzip(Path zip, Path cacheRoot) {
        String key = ModelCache.archiveKey(zip);
        // The same checks as the plugin's: no entry outside the folder, no archive larger than a model can be.
        return ModelCache.folder(cacheRoot, key, folder -> SafeUnzip.unzip(zip, folder));
    }

    /** What the model does: single-label, multi-label, regression or token classification. */
    public Task task() {
        return model.task();
    }

    /** The model's labels (tags, for token classification) in the order of its outputs; empty for regression. */
    public List<String> labels() {
        return model.task() == Task.REGRESSION ? List.of() : model.labels();
    }

    /** The most tokens one text is read up to (longer ones are cut; token classification reads them in windows). */
    public int maxSequenceLength() {
        return model.maxSequenceLength();
    }

    public Options options() {
        return options;
    }

    /** The model's answer for one text, batched with concurrent requests. Token classification: words split on spaces. */
    public Prediction predict(String text) {
        return predict(text, null);
    }

    /** The model's answer for a pair of texts (a model trained with a second text column). */
    public Prediction predict(String text, String pair) {
        Objects.requireNonNull(text, "text");
        return batcher.submit(new LabeledText(text, pair, null, 0));
    }

    /** The answers for many texts, in their order, computed in batches of similar length. */
    public List<Prediction> predict(List<String> texts) {
        requireOpen();
        return predictRows(texts.stream().map(t -> new LabeledText(Objects.requireNonNull(t, "text"), null, null, 0)).toList());
    }

    /** Token classification: the tag of each of {@code words} (the sentence as the training data split it). */
    public Prediction tag(List<String> words) {
        requireTokens();
        return tagAll(List.of(words)).get(0);
    }

    /** Token classification: the tags of many sentences, each given as its words. */
    public List<Prediction> tagAll(List<List<String>> sentences) {
        requireOpen();
        requireTokens();
        List<TaggedSentence> in = sentences.stream().map(w -> new TaggedSentence(w, null, 0)).toList();
        List<TokenExamples.WordTags> tags = model.tagWords(in, listBatches());
        List<Prediction> out = new ArrayList<>(sentences.size());
        for (int i = 0; i < in.size(); i++) {
            List<String> words = in.get(i).tokens();
            List<TaggedWord> tagged = new ArrayList<>(words.size());
            for (int w = 0; w < words.size(); w++) {
                int t = tags.get(i).tags()[w];
                tagged.add(new TaggedWord(words.get(w), t < 0 ? "O" : model.labels().get(t), t < 0 ? 0 : tags.get(i).probabilities()[w]));
            }
            out.add(Prediction.tokens(tagged));
        }
        return out;
    }

    /** Lists run on the caller's thread, straight into the session: after close() that is a freed graph. */
    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("This classifier is closed.");
        }
    }

    private void requireTokens() {
        if (model.task() != Task.TOKEN_CLASSIFICATION) {
            throw new IllegalStateException("tag(words) is for token-classification models; this one is " + model.task() + ".");
        }
    }

    private List<Prediction> predictRows(List<LabeledText> rows) {
        if (model.task() == Task.TOKEN_CLASSIFICATION) {
            return tagAll(rows.stream().map(r -> words(r.text())).toList());
        }
        List<EncodedExample> encoded = new ArrayList<>(rows.size());
        for (LabeledText r : rows) {
            encoded.add(EncodedExample.of(model.tokenizer(), r, -1, model.maxSequenceLength()));
        }
        float[][] out = Batches.predictInLengthOrder(encoded, listBatches(), model.tokenizer().padId(), model::predict);
        List<Prediction> predictions = new ArrayList<>(out.length);
        for (float[] row : out) {
            predictions.add(switch (model.task()) {
                case SINGLE_LABEL -> Prediction.singleLabel(model.labels(), row);
                case MULTI_LABEL -> Prediction.multiLabel(model.labels(), row, model.taskInfo().thresholds());
                case REGRESSION -> Prediction.regression(row[0]);
                case TOKEN_CLASSIFICATION -> throw new AssertionError("tagged above");
            });
        }
        return predictions;
    }

    /** The batches a list is cut into: the tokens of maxBatchSize full-length rows (see {@link Options}). */
    private BatchBudget listBatches() {
        return BatchBudget.tokens((long) options.maxBatchSize() * model.maxSequenceLength());
    }

    private static List<String> words(String text) {
        String t = text.strip();
        return t.isEmpty() ? List.of() : List.of(t.split("\\s+"));
    }

    /** Stops the batching worker, then frees the model's native memory. Closing again does nothing. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        batcher.close();
        model.close();
    }
}
