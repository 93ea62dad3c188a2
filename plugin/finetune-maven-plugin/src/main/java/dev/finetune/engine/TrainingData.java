package dev.finetune.engine;

import dev.finetune.engine.config.ClassWeights;
import dev.finetune.engine.config.FineTuneConfig;
import dev.finetune.engine.data.DataException;
import dev.finetune.engine.data.DataReader;
import dev.finetune.engine.data.LabelMap;
import dev.finetune.engine.data.RandomSplit;
import dev.finetune.engine.data.RegressionTargets;
import dev.finetune.engine.data.StratifiedSplit;
import dev.finetune.engine.data.TextFormat;
import dev.finetune.engine.data.TokenDataReader;
import dev.finetune.runtime.Task;
import dev.finetune.runtime.encoding.EncodedExample;
import dev.finetune.runtime.encoding.LabeledText;
import dev.finetune.runtime.encoding.TaggedSentence;
import dev.finetune.runtime.encoding.TokenExamples;
import dev.finetune.runtime.tokenizer.TextTokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
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
        for (int j = 0; j < bias.length; j++) {
            double positives = 0;
            for (EncodedExample e : train) {
                positives += e.targets()[j];
            }
            // Smoothed (add one half each way), so a label always or never present gets a finite bias.
            double p = (positives + 0.5) / (train.size() + 1);
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

    static TrainingData read(FineTuneConfig c, TextTokenizer tokenizer, int maxLength) {
        return switch (c.task()) {
            case TOKEN_CLASSIFICATION -> tokens(c, tokenizer, maxLength);
            case MULTI_LABEL -> multiLabel(c, tokenizer, maxLength);
            case REGRESSION -> regression(c, tokenizer, maxLength);
            default -> singleLabel(c, tokenizer, maxLength);
        };
    }

    private static DataReader reader(FineTuneConfig c) {
        return new DataReader(c.textColumn, c.textPairColumn, c.labelColumn).withDialect(c.delimiter, c.encoding);
    }

    private static Path validationSource(FineTuneConfig c) {
        return c.validationFile != null ? c.validationFile : c.trainFile;
    }

    private static TrainingData singleLabel(FineTuneConfig c, TextTokenizer tokenizer, int maxLength) {
        DataReader reader = reader(c);
        List<LabeledText> trainRows = reader.read(c.trainFile, TextFormat.of(c.dataFormat, c.trainFile));
        List<LabeledText> validationRows;
        if (c.validationFile != null) {
            validationRows = reader.read(c.validationFile, TextFormat.of(c.dataFormat, c.validationFile));
        } else {
            StratifiedSplit.Split split = StratifiedSplit.split(trainRows, c.validationSplit, c.seed);
            trainRows = split.train();
            validationRows = split.validation();
        }
        LabelMap labels = LabelMap.discover(c.labels, trainRows, c.trainFile);
        int[] trainLabels = labels.indices(trainRows, c.trainFile);
        int[] validationLabels = labels.indices(validationRows, validationSource(c));
        List<EncodedExample> train = new ArrayList<>(trainRows.size());
        for (int i = 0; i < trainRows.size(); i++) {
            train.add(EncodedExample.of(tokenizer, trainRows.get(i), trainLabels[i], maxLength));
        }
        List<EncodedExample> validation = new ArrayList<>(validationRows.size());
        for (int i = 0; i < validationRows.size(); i++) {
            validation.add(EncodedExample.of(tokenizer, validationRows.get(i), validationLabels[i], maxLength));
        }
        return new TrainingData(Task.SINGLE_LABEL, train, validation, labels.names(), 0, 1, String.format(
                "Data: %d training and %d validation examples, labels %s.", train.size(), validation.size(), labels.names()));
    }

    /** Training and validation rows: two files, or one split at random (there is no single label to stratify by). */
    private static List<List<LabeledText>> rows(FineTuneConfig c, DataReader reader) {
        List<LabeledText> trainRows = reader.read(c.trainFile, TextFormat.of(c.dataFormat, c.trainFile));
        if (c.validationFile != null) {
            return List.of(trainRows, reader.read(c.validationFile, TextFormat.of(c.dataFormat, c.validationFile)));
        }
        RandomSplit.Parts<LabeledText> parts = RandomSplit.split(trainRows, c.validationSplit, c.seed, LabeledText::line);
        return List.of(parts.train(), parts.validation());
    }

    private static TrainingData multiLabel(FineTuneConfig c, TextTokenizer tokenizer, int maxLength) {
        List<List<LabeledText>> rows = rows(c, reader(c).multiLabel(c.labelSeparator));
        LabelMap labels = LabelMap.discoverMultiLabel(c.labels, rows.get(0), c.trainFile);
        List<EncodedExample> train = encode(tokenizer, rows.get(0), labels.multiHot(rows.get(0), c.trainFile), maxLength);
        List<EncodedExample> validation = encode(tokenizer, rows.get(1), labels.multiHot(rows.get(1), validationSource(c)), maxLength);
        double perExample = train.stream().mapToDouble(e -> sum(e.targets())).average().orElse(0);
        return new TrainingData(Task.MULTI_LABEL, train, validation, labels.names(), 0, 1, String.format(
                "Data: %d training and %d validation examples, %d labels %s, %.2f labels per training example.",
                train.size(), validation.size(), labels.size(), labels.names(), perExample));
    }

    private static TrainingData regression(FineTuneConfig c, TextTokenizer tokenizer, int maxLength) {
        List<List<LabeledText>> rows = rows(c, reader(c));
        double[] trainTargets = RegressionTargets.of(rows.get(0), c.trainFile, c.labelColumn);
        double[] validationTargets = RegressionTargets.of(rows.get(1), validationSource(c), c.labelColumn);
        double mean = 0;
        for (double y : trainTargets) {
            mean += y / trainTargets.length;
        }
        double variance = 0;
        for (double y : trainTargets) {
            variance += (y - mean) * (y - mean) / trainTargets.length;
        }
        double scale = Math.sqrt(variance);
        // A constant target has nothing to standardise; so does a run that asked not to.
        if (!c.standardizeTarget || !(scale > 0)) {
            mean = 0;
            scale = 1;
        }
        List<EncodedExample> train = encode(tokenizer, rows.get(0), column(trainTargets), maxLength);
        List<EncodedExample> validation = encode(tokenizer, rows.get(1), column(validationTargets), maxLength);
        return new TrainingData(Task.REGRESSION, train, validation, List.of(c.labelColumn), mean, scale, String.format(
                "Data: %d training and %d validation examples; target '%s' %s.", train.size(), validation.size(), c.labelColumn,
                c.standardizeTarget ? String.format("standardised (mean %.4g, standard deviation %.4g)", mean, scale) : "as it is"));
    }

    private static TrainingData tokens(FineTuneConfig c, TextTokenizer tokenizer, int maxLength) {
        TokenDataReader reader = new TokenDataReader(c.tokensColumn, c.tagsColumn, true).withEncoding(c.encoding);
        List<TaggedSentence> train = reader.read(c.trainFile, TextFormat.of(c.dataFormat, c.trainFile));
        List<TaggedSentence> validation;
        if (c.validationFile != null) {
            validation = reader.read(c.validationFile, TextFormat.of(c.dataFormat, c.validationFile));
        } else {
            RandomSplit.Parts<TaggedSentence> parts = RandomSplit.split(train, c.validationSplit, c.seed, TaggedSentence::line);
            train = parts.train();
            validation = parts.validation();
        }
        List<String> tags = c.labels == null || c.labels.isEmpty()
                ? new ArrayList<>(new TreeSet<>(train.stream().flatMap(s -> s.tags().stream()).toList())) : c.labels;
        LabelMap map = LabelMap.of(tags);
        List<EncodedExample> trainExamples = encodeSentences(tokenizer, train, map, c.trainFile, maxLength);
        List<EncodedExample> validationExamples = encodeSentences(tokenizer, validation, map, validationSource(c), maxLength);
        long words = train.stream().mapToLong(s -> s.tokens().size()).sum();
        return new TrainingData(Task.TOKEN_CLASSIFICATION, trainExamples, validationExamples, map.names(), 0, 1, String.format(
                "Data: %d training sentences (%d words, %d windows) and %d validation sentences, tags %s.", train.size(), words,
                trainExamples.size(), validation.size(), map.names()));
    }

    private static List<EncodedExample> encodeSentences(TextTokenizer tokenizer, List<TaggedSentence> sentences, LabelMap map,
                                                        Path file, int maxLength) {
        Map<String, Integer> index = new HashMap<>();
        for (int i = 0; i < map.size(); i++) {
            index.put(map.names().get(i), i);
        }
        List<EncodedExample> out = new ArrayList<>();
        for (TaggedSentence s : sentences) {
            int[] tags = new int[s.tags().size()];
            for (int w = 0; w < tags.length; w++) {
                Integer k = index.get(s.tags().get(w));
                if (k == null) {
                    throw DataException.at(file, s.line(), null, "word " + (w + 1) + " ('" + s.tokens().get(w) + "') has the tag '"
                            + s.tags().get(w) + "', which is not one of the known tags " + map.names()
                            + " (a tag must occur in the training data or be listed in <labels>).");
                }
                tags[w] = k;
            }
            out.addAll(TokenExamples.encode(tokenizer, s.tokens(), tags, s.line(), maxLength));
        }
        return out;
    }

    private static List<EncodedExample> encode(TextTokenizer tokenizer, List<LabeledText> rows, float[][] targets, int maxLength) {
        List<EncodedExample> out = new ArrayList<>(rows.size());
        for (int i = 0; i < rows.size(); i++) {
            out.add(EncodedExample.of(tokenizer, rows.get(i), targets[i], maxLength));
        }
        return out;
    }

    private static float[][] column(double[] values) {
        float[][] out = new float[values.length][];
        for (int i = 0; i < values.length; i++) {
            out[i] = new float[] {(float) values[i]};
        }
        return out;
    }

    private static double sum(float[] v) {
        double s = 0;
        for (float x : v) {
            s += x;
        }
        return s;
    }
}
