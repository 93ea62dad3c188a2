package dev.finetune.engine;

import dev.finetune.engine.config.ClassWeights;
import dev.finetune.engine.config.FineTuneConfig;
import dev.finetune.engine.data.DataException;
import dev.finetune.engine.data.DataReader;
import dev.finetune.engine.data.ExampleCache;
import dev.finetune.engine.data.ExampleFile;
import dev.finetune.engine.data.LabelMap;
import dev.finetune.engine.data.RandomSplit;
import dev.finetune.engine.data.RowSplit;
import dev.finetune.engine.data.SentenceRows;
import dev.finetune.engine.data.StoredExamples;
import dev.finetune.engine.data.StratifiedSplit;
import dev.finetune.engine.data.TextFormat;
import dev.finetune.engine.data.TokenDataReader;
import dev.finetune.engine.training.ProgressListener;
import dev.finetune.runtime.Checksums;
import dev.finetune.runtime.FineTuneException;
import dev.finetune.runtime.Task;
import dev.finetune.runtime.encoding.EncodedExample;
import dev.finetune.runtime.encoding.RowOrder;
import dev.finetune.runtime.encoding.TaggedSentence;
import dev.finetune.runtime.model.ModelInfo;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * The training and validation examples of a run, read, split and tokenized in the form the task labels them, with
 * what the model must remember of them: the label names (the tags, for token classification; the target column for
 * regression) and, for regression, the target's mean and scale.
 */
record TrainingData(Task task, List<EncodedExample> train, List<EncodedExample> validation, List<String> labels,
                    double targetMean, double targetScale, String summary) {

    /**
     * Where the head's bias starts: for multi-label, each label's log prior odds {@code log(p / (1 - p))} in the
     * training data, so that the untrained sigmoids already give each label its frequency (the usual initialisation
     * for sigmoid outputs on rare labels); the fine-tuning then spends its steps on the text rather than on learning
     * that most labels are rare. Null (zeros) for the other tasks.
     */
    float[] initialBias() {
        if (task != Task.MULTI_LABEL || train.isEmpty()) {
            return null;
        }
        float[] bias = new float[labels.size()];
        // One pass over the rows (each read from disk once), summing every label's positives in row order.
        double[] positives = new double[bias.length];
        for (EncodedExample e : train) {
            float[] targets = e.targets();
            for (int j = 0; j < bias.length; j++) {
                positives[j] += targets[j];
            }
        }
        for (int j = 0; j < bias.length; j++) {
            // Smoothed (add one half each way), so a label always or never present gets a finite bias.
            double p = (positives[j] + 0.5) / (train.size() + 1);
            bias[j] = (float) Math.log(p / (1 - p));
        }
        return bias;
    }

    /**
     * The class weights {@code spec} gives on this training data ({@link ClassWeights#resolve}), null for none: counted
     * per row for single-label, per positive row for multi-label, per labelled word for token classification.
     */
    float[] classWeights(String spec) {
        if (ClassWeights.isNone(spec)) {
            return null;
        }
        double[] counts = new double[labels.size()];
        double total = 0;
        for (EncodedExample e : train) {
            switch (task) {
                case MULTI_LABEL -> {
                    for (int j = 0; j < counts.length; j++) {
                        counts[j] += e.targets()[j] > 0.5f ? 1 : 0;
                    }
                    total++;
                }
                case TOKEN_CLASSIFICATION -> {
                    for (int tag : e.tokenLabels()) {
                        if (tag >= 0) {
                            counts[tag]++;
                            total++;
                        }
                    }
                }
                default -> {
                    counts[e.label()]++;
                    total++;
                }
            }
        }
        return ClassWeights.resolve(spec, task, labels, counts, total);
    }

    /** What {@code labels.json} records beyond the labels for this task. */
    Map<String, Object> description() {
        Map<String, Object> m = new LinkedHashMap<>();
        if (task == Task.REGRESSION) {
            m.put("targetMean", targetMean);
            m.put("targetScale", targetScale);
        }
        return m;
    }

    /**
     * The run's data. Texts (single-label, multi-label, regression) are tokenized into {@code cache} in one streaming
     * pass and read back row by row when batches need them; splits and label maps work over row indices, so the heap
     * holds a few bytes a row. Token classification's sentences are tokenized the same way, one row a window of words.
     */
    static TrainingData read(FineTuneConfig c, ExampleCache cache) {
        return switch (c.task()) {
            case TOKEN_CLASSIFICATION -> tokens(c, cache);
            case MULTI_LABEL -> multiLabel(c, cache);
            case REGRESSION -> regression(c, cache);
            default -> singleLabel(c, cache);
        };
    }

    /**
     * The cache of tokenized data files of a run writing to {@code work}: keyed by the tokenizer file's checksum and
     * lower-casing, besides the data file and its reading.
     */
    static ExampleCache cache(Path work, ModelInfo info, int maxLength, ProgressListener log) {
        Path file = info.tokenizerFile().file();
        try {
            String key = Checksums.sha256(file) + " lowerCase " + info.lowerCase();
            return new ExampleCache(work.resolve("examples"), info.tokenizer(), key, maxLength, log::info);
        } catch (IOException e) {
            throw new FineTuneException("Cannot read the tokenizer " + file + ": " + e.getMessage(), e);
        }
    }

    private static DataReader reader(FineTuneConfig c) {
        return new DataReader(c.textColumn, c.textPairColumn, c.labelColumn).withDialect(c.delimiter, c.encoding);
    }

    private static Path validationSource(FineTuneConfig c) {
        return c.validationFile != null ? c.validationFile : c.trainFile;
    }

    /** The training and validation rows of a text task: of two files, or of one file split by row. */
    private record Parts(ExampleFile trainFile, int[] train, ExampleFile validationFile, int[] validation) {
    }

    private static Parts parts(FineTuneConfig c, ExampleCache cache, DataReader reader, ExampleCache.Labels labels) {
        ExampleFile train = cache.open(c.trainFile, TextFormat.of(c.dataFormat, c.trainFile), reader, labels);
        if (c.validationFile != null) {
            ExampleFile validation = cache.open(c.validationFile, TextFormat.of(c.dataFormat, c.validationFile), reader, labels);
            return new Parts(train, RowOrder.identity(train.rows()), validation, RowOrder.identity(validation.rows()));
        }
        // Single-label data is split by label; multi-label rows and numbers have no one label to stratify by.
        RowSplit split = labels == ExampleCache.Labels.CLASS
                ? StratifiedSplit.rows(train.rows(), i -> train.labelNames().get(train.labels(i)[0]), c.validationSplit, c.seed)
                : RandomSplit.rows(train.rows(), c.validationSplit, c.seed);
        return new Parts(train, split.train(), train, split.validation());
    }

    /** The label strings that {@code rows} of {@code file} have. */
    private static List<String> seen(ExampleFile file, int[] rows) {
        boolean[] seen = new boolean[file.labelNames().size()];
        for (int r : rows) {
            for (int l : file.labels(r)) {
                seen[l] = true;
            }
        }
        List<String> names = new ArrayList<>();
        for (int l = 0; l < seen.length; l++) {
            if (seen[l]) {
                names.add(file.labelNames().get(l));
            }
        }
        return names;
    }

    /** Each raw label id of {@code file} as an index of {@code map}; a row of {@code rows} with another label is an error. */
    private static int[] indices(LabelMap map, ExampleFile file, int[] rows, Path source) {
        int[] index = file.labelNames().stream().mapToInt(map::indexOf).toArray();
        for (int r : rows) {
            for (int l : file.labels(r)) {
                if (index[l] < 0) {
                    throw map.unknown(file.labelNames().get(l), source, file.line(r));
                }
            }
        }
        return index;
    }

    private static TrainingData singleLabel(FineTuneConfig c, ExampleCache cache) {
        Parts p = parts(c, cache, reader(c), ExampleCache.Labels.CLASS);
        LabelMap labels = LabelMap.discoverFromNames(c.labels, seen(p.trainFile(), p.train()), c.trainFile);
        int[] trainIndex = indices(labels, p.trainFile(), p.train(), c.trainFile);
        int[] validationIndex = indices(labels, p.validationFile(), p.validation(), validationSource(c));
        List<EncodedExample> train = new StoredExamples(p.trainFile(), p.train(),
                r -> new EncodedExample(r.ids(), r.segmentIds(), trainIndex[r.labels()[0]], r.line(), r.truncated()));
        List<EncodedExample> validation = new StoredExamples(p.validationFile(), p.validation(),
                r -> new EncodedExample(r.ids(), r.segmentIds(), validationIndex[r.labels()[0]], r.line(), r.truncated()));
        return new TrainingData(Task.SINGLE_LABEL, train, validation, labels.names(), 0, 1, String.format(
                "Data: %d training and %d validation examples, labels %s.", train.size(), validation.size(), labels.names()));
    }

    private static TrainingData multiLabel(FineTuneConfig c, ExampleCache cache) {
        Parts p = parts(c, cache, reader(c).multiLabel(c.labelSeparator), ExampleCache.Labels.LABEL_SET);
        LabelMap labels = LabelMap.discoverMultiLabelFromNames(c.labels, seen(p.trainFile(), p.train()), c.trainFile);
        List<EncodedExample> train = multiHot(p.trainFile(), p.train(), labels, indices(labels, p.trainFile(), p.train(), c.trainFile));
        List<EncodedExample> validation = multiHot(p.validationFile(), p.validation(), labels,
                indices(labels, p.validationFile(), p.validation(), validationSource(c)));
        double perExample = train.stream().mapToDouble(e -> sum(e.targets())).average().orElse(0);
        return new TrainingData(Task.MULTI_LABEL, train, validation, labels.names(), 0, 1, String.format(
                "Data: %d training and %d validation examples, %d labels %s, %.2f labels per training example.",
                train.size(), validation.size(), labels.size(), labels.names(), perExample));
    }

    private static List<EncodedExample> multiHot(ExampleFile file, int[] rows, LabelMap labels, int[] index) {
        return new StoredExamples(file, rows, r -> {
            float[] hot = new float[labels.size()];
            for (int l : r.labels()) {
                hot[index[l]] = 1f;
            }
            return new EncodedExample(r.ids(), r.segmentIds(), -1, hot, null, null, r.line(), r.truncated());
        });
    }

    private static TrainingData regression(FineTuneConfig c, ExampleCache cache) {
        Parts p = parts(c, cache, reader(c), ExampleCache.Labels.NUMBER);
        int n = p.train().length;
        double mean = 0;
        for (int r : p.train()) {
            mean += p.trainFile().target(r) / n;
        }
        double variance = 0;
        for (int r : p.train()) {
            double y = p.trainFile().target(r);
            variance += (y - mean) * (y - mean) / n;
        }
        double scale = Math.sqrt(variance);
        // A constant target has nothing to standardise; so does a run that asked not to.
        if (!c.standardizeTarget || !(scale > 0)) {
            mean = 0;
            scale = 1;
        }
        List<EncodedExample> train = targets(p.trainFile(), p.train());
        List<EncodedExample> validation = targets(p.validationFile(), p.validation());
        return new TrainingData(Task.REGRESSION, train, validation, List.of(c.labelColumn), mean, scale, String.format(
                "Data: %d training and %d validation examples; target '%s' %s.", train.size(), validation.size(), c.labelColumn,
                c.standardizeTarget ? String.format("standardised (mean %.4g, standard deviation %.4g)", mean, scale) : "as it is"));
    }

    private static List<EncodedExample> targets(ExampleFile file, int[] rows) {
        return new StoredExamples(file, rows, r -> new EncodedExample(r.ids(), r.segmentIds(), -1, new float[] {(float) r.target()},
                null, null, r.line(), r.truncated()));
    }

    /**
     * Token classification: sentences tokenized into windows of whole words in {@code cache}, split by sentence (a
     * sentence's windows stay in one part); the tags seen in the training sentences, sorted, unless {@code labels} lists
     * them.
     */
    private static TrainingData tokens(FineTuneConfig c, ExampleCache cache) {
        TokenDataReader reader = new TokenDataReader(c.tokensColumn, c.tagsColumn, true).withEncoding(c.encoding);
        TextFormat trainFormat = TextFormat.of(c.dataFormat, c.trainFile);
        ExampleFile trainFile = cache.openSentences(c.trainFile, trainFormat, reader);
        SentenceRows sentences = SentenceRows.of(trainFile);
        Parts p;
        if (c.validationFile != null) {
            ExampleFile validation = cache.openSentences(c.validationFile, TextFormat.of(c.dataFormat, c.validationFile), reader);
            p = new Parts(trainFile, RowOrder.identity(trainFile.rows()), validation, RowOrder.identity(validation.rows()));
        } else {
            RowSplit split = RandomSplit.rows(sentences.sentences(), c.validationSplit, c.seed);
            p = new Parts(trainFile, sentences.rows(split.train()), trainFile, sentences.rows(split.validation()));
        }
        List<String> tags = c.labels == null || c.labels.isEmpty() ? new ArrayList<>(new TreeSet<>(seen(trainFile, p.train()))) : c.labels;
        LabelMap map = LabelMap.of(tags);
        List<EncodedExample> train = windows(p.trainFile(), p.train(), tagIndices(map, p.trainFile(), p.train(), reader, c.trainFile, trainFormat));
        List<EncodedExample> validation = windows(p.validationFile(), p.validation(), tagIndices(map, p.validationFile(),
                p.validation(), reader, validationSource(c), TextFormat.of(c.dataFormat, validationSource(c))));
        long words = 0;
        for (int r : p.train()) {
            words += trainFile.withoutIds(r).labels().length;
        }
        return new TrainingData(Task.TOKEN_CLASSIFICATION, train, validation, map.names(), 0, 1, String.format(
                "Data: %d training sentences (%d words, %d windows) and %d validation sentences, tags %s.",
                sentences(p.trainFile(), p.train()), words, train.size(), sentences(p.validationFile(), p.validation()), map.names()));
    }

    /**
     * Each raw tag id of {@code file} as an index of {@code map}; a word of {@code rows} with another tag is an error
     * naming its line, and the word, read again from the data file.
     */
    private static int[] tagIndices(LabelMap map, ExampleFile file, int[] rows, TokenDataReader reader, Path source,
                                    TextFormat format) {
        int[] index = file.labelNames().stream().mapToInt(map::indexOf).toArray();
        for (int r : rows) {
            ExampleFile.Row row = file.withoutIds(r);
            for (int j = 0; j < row.labels().length; j++) {
                if (index[row.labels()[j]] < 0) {
                    int w = row.firstWord() + j;
                    TaggedSentence s = reader.sentenceAt(source, format, row.line());
                    throw DataException.at(source, row.line(), null, "word " + (w + 1) + " ('" + (s == null ? "?" : s.tokens().get(w))
                            + "') has the tag '" + file.labelNames().get(row.labels()[j]) + "', which is not one of the known tags "
                            + map.names() + " (a tag must occur in the training data or be listed in <labels>).");
                }
            }
        }
        return index;
    }

    /** The windows {@code rows} of {@code file}, each id labelled with the tag of the word it starts (-1 for other ids). */
    private static List<EncodedExample> windows(ExampleFile file, int[] rows, int[] index) {
        return new StoredExamples(file, rows, r -> {
            int[] labels = new int[r.ids().length];
            for (int i = 0; i < labels.length; i++) {
                int w = r.wordStarts()[i];
                labels[i] = w < 0 ? -1 : index[r.labels()[w - r.firstWord()]];
            }
            return new EncodedExample(r.ids(), r.segmentIds(), -1, null, labels, r.wordStarts(), r.line(), r.truncated());
        });
    }

    /** The number of sentences among {@code rows} (ascending): the rows whose line differs from the row before. */
    private static int sentences(ExampleFile file, int[] rows) {
        int n = 0;
        for (int i = 0; i < rows.length; i++) {
            n += i == 0 || file.line(rows[i]) != file.line(rows[i - 1]) ? 1 : 0;
        }
        return n;
    }

    private static double sum(float[] v) {
        double s = 0;
        for (float x : v) {
            s += x;
        }
        return s;
    }
}
