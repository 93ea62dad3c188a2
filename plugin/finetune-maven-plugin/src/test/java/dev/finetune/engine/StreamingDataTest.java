package dev.finetune.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.config.FineTuneConfig;
import dev.finetune.engine.data.DataException;
import dev.finetune.engine.data.DataReader;
import dev.finetune.engine.data.ExampleCache;
import dev.finetune.engine.data.LabelMap;
import dev.finetune.engine.data.RegressionTargets;
import dev.finetune.engine.data.TextFormat;
import dev.finetune.engine.data.TokenDataReader;
import dev.finetune.engine.model.EncoderGraph;
import dev.finetune.engine.model.SignatureNames;
import dev.finetune.engine.training.CheckpointStore;
import dev.finetune.engine.training.ClassifierGraph;
import dev.finetune.engine.training.ClassifierSession;
import dev.finetune.engine.training.ProgressListener;
import dev.finetune.engine.training.Trainer;
import dev.finetune.engine.training.TrainingHistory;
import dev.finetune.runtime.Task;
import dev.finetune.runtime.encoding.Batch;
import dev.finetune.runtime.encoding.BatchBudget;
import dev.finetune.runtime.encoding.Batches;
import dev.finetune.runtime.encoding.EncodedExample;
import dev.finetune.runtime.encoding.LabeledText;
import dev.finetune.runtime.encoding.TaggedSentence;
import dev.finetune.runtime.encoding.TokenExamples;
import dev.finetune.runtime.model.SavedModelFile;
import dev.finetune.runtime.tokenizer.BertTokenizer;
import dev.finetune.runtime.tokenizer.TextTokenizer;
import dev.finetune.runtime.tokenizer.Vocabulary;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.ToLongFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Data streamed from the tokenized cache trains exactly as the examples held in memory did: the same examples in the
 * same training and validation parts, the same batches every epoch for a seed, and the same losses on the tiny model.
 * The reference here is the in-memory path as it was (read every row, split the list with {@code Collections.shuffle},
 * tokenize every row, shuffle and sort lists of examples).
 */
class StreamingDataTest {
    private static final int MAX_LENGTH = 32;
    private static final TextTokenizer TOKENIZER = new BertTokenizer(Vocabulary.read(TestFiles.model("tiny-bert-tf1")
            .resolve("assets").resolve("vocab.txt")), true);

    private static TrainingData streamed(FineTuneConfig c, Path tmp) {
        return streamed(c, tmp, MAX_LENGTH);
    }

    private static TrainingData streamed(FineTuneConfig c, Path tmp, int maxLength) {
        return TrainingData.read(c, new ExampleCache(tmp.resolve("cache"), TOKENIZER, "test", maxLength, m -> { }));
    }

    private static FineTuneConfig config(String file, String task, String labelColumn) {
        FineTuneConfig c = new FineTuneConfig();
        c.trainFile = TestFiles.data(file);
        c.task = task;
        c.labelColumn = labelColumn;
        c.validationSplit = 0.2;
        c.seed = 11;
        return c;
    }

    @Test
    void singleLabelSplitByLabel(@TempDir Path tmp) {
        FineTuneConfig c = config("tiny-sentiment.csv", "single-label", "label");
        List<LabeledText> rows = new DataReader("text", null, "label").read(c.trainFile, TextFormat.CSV);
        List<List<LabeledText>> parts = stratifiedAsBefore(rows, c.validationSplit, c.seed);
        LabelMap labels = LabelMap.discover(c.labels, parts.get(0), c.trainFile);
        assertSameData(encode(parts.get(0), labels), encode(parts.get(1), labels), labels.names(), streamed(c, tmp));
    }

    @Test
    void singleLabelWithAValidationFile(@TempDir Path tmp) {
        FineTuneConfig c = config("tiny-sentiment.csv", "single-label", "label");
        c.validationFile = TestFiles.data("tiny-sentiment-test.csv");
        DataReader reader = new DataReader("text", null, "label");
        List<LabeledText> train = reader.read(c.trainFile, TextFormat.CSV);
        LabelMap labels = LabelMap.discover(c.labels, train, c.trainFile);
        assertSameData(encode(train, labels), encode(reader.read(c.validationFile, TextFormat.CSV), labels), labels.names(),
                streamed(c, tmp));
    }

    @Test
    void multiLabelSplitAtRandom(@TempDir Path tmp) {
        FineTuneConfig c = config("tiny-topics.csv", "multi-label", "labels");
        List<LabeledText> rows = new DataReader("text", null, "labels").multiLabel("|").read(c.trainFile, TextFormat.CSV);
        List<List<LabeledText>> parts = randomAsBefore(rows, c.validationSplit, c.seed, LabeledText::line);
        LabelMap labels = LabelMap.discoverMultiLabel(c.labels, parts.get(0), c.trainFile);
        List<List<EncodedExample>> expected = new ArrayList<>();
        for (List<LabeledText> part : parts) {
            float[][] hot = labels.multiHot(part, c.trainFile);
            List<EncodedExample> out = new ArrayList<>();
            for (int i = 0; i < part.size(); i++) {
                out.add(EncodedExample.of(TOKENIZER, part.get(i), hot[i], MAX_LENGTH));
            }
            expected.add(out);
        }
        assertSameData(expected.get(0), expected.get(1), labels.names(), streamed(c, tmp));
    }

    @Test
    void regressionTargetsAndTheirScale(@TempDir Path tmp) {
        FineTuneConfig c = config("tiny-scores.csv", "regression", "score");
        List<LabeledText> rows = new DataReader("text", null, "score").read(c.trainFile, TextFormat.CSV);
        List<List<LabeledText>> parts = randomAsBefore(rows, c.validationSplit, c.seed, LabeledText::line);
        List<List<EncodedExample>> expected = new ArrayList<>();
        for (List<LabeledText> part : parts) {
            double[] y = RegressionTargets.of(part, c.trainFile, "score");
            List<EncodedExample> out = new ArrayList<>();
            for (int i = 0; i < part.size(); i++) {
                out.add(EncodedExample.of(TOKENIZER, part.get(i), new float[] {(float) y[i]}, MAX_LENGTH));
            }
            expected.add(out);
        }
        double[] y = RegressionTargets.of(parts.get(0), c.trainFile, "score");
        double mean = 0;
        for (double v : y) {
            mean += v / y.length;
        }
        double variance = 0;
        for (double v : y) {
            variance += (v - mean) * (v - mean) / y.length;
        }
        TrainingData data = streamed(c, tmp);
        assertSameData(expected.get(0), expected.get(1), List.of("score"), data);
        assertEquals(mean, data.targetMean(), 0);
        assertEquals(Math.sqrt(variance), data.targetScale(), 0);
    }

    /**
     * Sentences split as the list of sentences was, each cut into the windows {@link TokenExamples#encode} makes: whole
     * sentences at 32 ids, several windows at 12, words cut to their first sub-tokens at 5.
     */
    @Test
    void tokenClassificationSplitBySentence(@TempDir Path tmp) {
        FineTuneConfig c = config("tiny-ner.conll", "token-classification", "label");
        List<TaggedSentence> sentences = new TokenDataReader("tokens", "tags", true).read(c.trainFile, TextFormat.CONLL);
        List<List<TaggedSentence>> parts = randomAsBefore(sentences, c.validationSplit, c.seed, TaggedSentence::line);
        List<String> tags = new ArrayList<>(new TreeSet<>(parts.get(0).stream().flatMap(s -> s.tags().stream()).toList()));
        for (int maxLength : new int[] {32, 12, 5}) {
            List<EncodedExample> train = windows(parts.get(0), tags, maxLength);
            TrainingData d = streamed(c, tmp.resolve("max" + maxLength), maxLength);
            assertSameData(train, windows(parts.get(1), tags, maxLength), tags, d);
            long words = parts.get(0).stream().mapToLong(s -> s.tokens().size()).sum();
            assertEquals(String.format("Data: %d training sentences (%d words, %d windows) and %d validation sentences, tags %s.",
                    parts.get(0).size(), words, train.size(), parts.get(1).size(), tags), d.summary());
            if (maxLength == 12) {
                assertTrue(train.size() > parts.get(0).size(), "long sentences in several windows");
            }
            if (maxLength == 5) {
                assertTrue(train.stream().anyMatch(EncodedExample::truncated), "words cut to fit");
            }
        }
    }

    @Test
    void tokenClassificationWithAValidationFile(@TempDir Path tmp) {
        FineTuneConfig c = config("tiny-ner.jsonl", "token-classification", "label");
        c.validationFile = TestFiles.data("tiny-ner-test.jsonl");
        c.labels = List.of("O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC");
        TokenDataReader reader = new TokenDataReader("tokens", "tags", true);
        assertSameData(windows(reader.read(c.trainFile, TextFormat.JSONL), c.labels, 12),
                windows(reader.read(c.validationFile, TextFormat.JSONL), c.labels, 12), c.labels, streamed(c, tmp, 12));
    }

    @Test
    void anUnknownTagNamesFileLineAndWord(@TempDir Path tmp) throws IOException {
        FineTuneConfig c = config("tiny-ner.conll", "token-classification", "label");
        c.trainFile = Files.writeString(tmp.resolve("train.conll"), "John B-PER\nlives O\n\nin O\nBerlin B-LOC\n");
        c.validationFile = Files.writeString(tmp.resolve("dev.conll"), "-DOCSTART- O\n\nsee O\n\nvisit O\nMunich B-GPE\n");
        DataException e = assertThrows(DataException.class, () -> streamed(c, tmp));
        assertEquals(c.validationFile + ", line 5: word 2 ('Munich') has the tag 'B-GPE', which is not one of the known tags "
                + "[B-LOC, B-PER, O] (a tag must occur in the training data or be listed in <labels>).", e.getMessage());

        Files.writeString(c.validationFile, "see O\n\nvisit O\nMunich B LOC\n");
        e = assertThrows(DataException.class, () -> streamed(c, tmp.resolve("other")));
        assertTrue(e.getMessage().startsWith(c.validationFile + ", line 4: expected 2 columns as on line 1, found 3"), e.getMessage());
        assertTrue(Files.list(tmp.resolve("other").resolve("cache")).noneMatch(f -> f.toString().contains("dev.conll")),
                "nothing is kept of a file with an error");
    }

    @Test
    void sameTokenClassificationLossesOnTheTinyModel(@TempDir Path tmp) {
        FineTuneConfig c = config("tiny-ner.conll", "token-classification", "label");
        TrainingData data = streamed(c, tmp, 12);
        assertSameLosses(Task.TOKEN_CLASSIFICATION, data, tmp);
    }

    @Test
    void sameBatchesEveryEpoch(@TempDir Path tmp) {
        FineTuneConfig c = config("tiny-sentiment.csv", "single-label", "label");
        TrainingData data = streamed(c, tmp);
        List<EncodedExample> inMemory = new ArrayList<>(data.train());
        // Batches of 2 make windows of 100 rows: several windows sorted by length.
        for (int size : new int[] {2, 8}) {
            for (int epoch = 0; epoch < 3; epoch++) {
                List<List<EncodedExample>> before = bucketedAsBefore(inMemory, c.seed, epoch, size);
                List<Batch> now = Batches.bucketed(data.train(), c.seed, epoch, size, 0);
                assertEquals(before.size(), now.size());
                for (int b = 0; b < now.size(); b++) {
                    assertSameBatch(Batches.pad(before.get(b), 0), now.get(b), "batch size " + size + ", epoch " + epoch + ", batch " + b);
                }
                List<EncodedExample> shuffled = new ArrayList<>(inMemory);
                Collections.shuffle(shuffled, new Random(c.seed * 1_000_003L + epoch));
                List<Batch> random = Batches.of(Batches.shuffled(data.train(), c.seed, epoch), size, 0);
                for (int b = 0; b < random.size(); b++) {
                    assertSameBatch(Batches.pad(shuffled.subList(b * size, Math.min(shuffled.size(), b * size + size)), 0), random.get(b), "batch " + b);
                }
            }
        }
        List<EncodedExample> sorted = new ArrayList<>(data.validation());
        sorted.sort(Comparator.comparingInt(e -> e.ids().length));
        List<Batch> validation = Batches.byLength(data.validation(), BatchBudget.rows(8), 0);
        for (int b = 0; b < validation.size(); b++) {
            assertSameBatch(Batches.pad(sorted.subList(b * 8, Math.min(sorted.size(), b * 8 + 8)), 0), validation.get(b), "validation " + b);
        }
    }

    @Test
    void sameLossesOnTheTinyModel(@TempDir Path tmp) {
        FineTuneConfig c = config("tiny-sentiment.csv", "single-label", "label");
        assertSameLosses(Task.SINGLE_LABEL, streamed(c, tmp), tmp);
    }

    /** The tiny model trained on {@code data} from disk and on copies of its examples in memory: the same steps. */
    private static void assertSameLosses(Task task, TrainingData data, Path tmp) {
        TrainingHistory fromDisk = train(task, data, data.train(), data.validation(), tmp.resolve("disk"));
        TrainingHistory fromMemory = train(task, data, new ArrayList<>(data.train()), new ArrayList<>(data.validation()),
                tmp.resolve("memory"));
        assertEquals(fromMemory.steps.size(), fromDisk.steps.size());
        assertTrue(fromDisk.steps.size() >= 20, "steps: " + fromDisk.steps.size());
        for (int i = 0; i < fromDisk.steps.size(); i++) {
            assertEquals(fromMemory.steps.get(i).loss(), fromDisk.steps.get(i).loss(), 0, "loss of step " + (i + 1));
            assertEquals(fromMemory.steps.get(i).tokens(), fromDisk.steps.get(i).tokens(), "padded tokens of step " + (i + 1));
        }
        for (int e = 0; e < fromDisk.epochs.size(); e++) {
            assertEquals(fromMemory.epochs.get(e).validationLoss(), fromDisk.epochs.get(e).validationLoss(), 0);
        }
    }

    private static TrainingHistory train(Task task, TrainingData data, List<EncodedExample> train, List<EncodedExample> validation,
                                         Path work) {
        EncoderGraph encoder = EncoderGraph.prepare(SavedModelFile.read(TestFiles.model("tiny-bert-tf1")), SignatureNames.auto());
        ClassifierGraph.Settings head = new ClassifierGraph.Settings("pooled", 0.0, 7, 0.9, 0.999, 1e-6, 0.0, 1.0)
                .forTask(task, "mse", 0, 1);
        Trainer.Settings loop = new Trainer.Settings(2, 16, 3e-3, 0.1, "linear", 0.9, 0.999, 11, 1000, false, "streaming", "loss",
                0, 0, false, true, 1, 1, BatchBudget.rows(16));
        try (ClassifierGraph g = new ClassifierGraph(encoder, data.labels().size(), head);
             ClassifierSession s = new ClassifierSession(g, 1, 1)) {
            return new Trainer(s, loop, new CheckpointStore(work), TOKENIZER.padId(), ProgressListener.SILENT).train(train, validation);
        }
    }

    private static List<EncodedExample> encode(List<LabeledText> rows, LabelMap labels) {
        int[] index = labels.indices(rows, null);
        List<EncodedExample> out = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            out.add(EncodedExample.of(TOKENIZER, rows.get(i), index[i], MAX_LENGTH));
        }
        return out;
    }

    /** Each sentence's windows as the in-memory path encoded them, tags indexed in {@code tags}. */
    private static List<EncodedExample> windows(List<TaggedSentence> sentences, List<String> tags, int maxLength) {
        List<EncodedExample> out = new ArrayList<>();
        for (TaggedSentence s : sentences) {
            int[] index = s.tags().stream().mapToInt(tags::indexOf).toArray();
            out.addAll(TokenExamples.encode(TOKENIZER, s.tokens(), index, s.line(), maxLength));
        }
        return out;
    }

    private static void assertSameData(List<EncodedExample> train, List<EncodedExample> validation, List<String> labels, TrainingData d) {
        assertEquals(labels, d.labels());
        assertSameExamples(train, d.train(), "training");
        assertSameExamples(validation, d.validation(), "validation");
    }

    private static void assertSameExamples(List<EncodedExample> expected, List<EncodedExample> actual, String part) {
        assertEquals(expected.size(), actual.size(), part + " examples");
        for (int i = 0; i < expected.size(); i++) {
            EncodedExample e = expected.get(i);
            EncodedExample a = actual.get(i);
            String where = part + " example " + i + " (line " + e.line() + ")";
            assertArrayEquals(e.ids(), a.ids(), where);
            assertArrayEquals(e.segmentIds(), a.segmentIds(), where);
            assertEquals(e.label(), a.label(), where);
            assertArrayEquals(e.targets(), a.targets(), where);
            assertEquals(e.line(), a.line(), where);
            assertEquals(e.truncated(), a.truncated(), where);
            assertArrayEquals(e.tokenLabels(), a.tokenLabels(), where);
            assertArrayEquals(e.wordStarts(), a.wordStarts(), where);
        }
    }

    private static void assertSameBatch(Batch expected, Batch actual, String where) {
        assertEquals(expected.rows(), actual.rows(), where);
        assertEquals(expected.length(), actual.length(), where);
        assertArrayEquals(expected.inputIds(), actual.inputIds(), where);
        assertArrayEquals(expected.inputMask(), actual.inputMask(), where);
        assertArrayEquals(expected.segmentIds(), actual.segmentIds(), where);
        assertArrayEquals(expected.labels(), actual.labels(), where);
    }

    /** StratifiedSplit as it was: lists of rows shuffled per label. */
    private static List<List<LabeledText>> stratifiedAsBefore(List<LabeledText> examples, double fraction, long seed) {
        Map<String, List<LabeledText>> byLabel = new TreeMap<>();
        examples.forEach(e -> byLabel.computeIfAbsent(e.label(), k -> new ArrayList<>()).add(e));
        Random random = new Random(seed);
        List<LabeledText> train = new ArrayList<>();
        List<LabeledText> validation = new ArrayList<>();
        for (List<LabeledText> group : byLabel.values()) {
            List<LabeledText> shuffled = new ArrayList<>(group);
            Collections.shuffle(shuffled, random);
            int n = group.size() >= 2 ? Math.max(1, Math.min((int) Math.round(group.size() * fraction), group.size() - 1)) : 0;
            validation.addAll(shuffled.subList(0, n));
            train.addAll(shuffled.subList(n, shuffled.size()));
        }
        train.sort(Comparator.comparingLong(LabeledText::line));
        validation.sort(Comparator.comparingLong(LabeledText::line));
        return List.of(train, validation);
    }

    /** RandomSplit as it was: the list of rows shuffled. */
    private static <T> List<List<T>> randomAsBefore(List<T> items, double fraction, long seed, ToLongFunction<T> line) {
        List<T> shuffled = new ArrayList<>(items);
        Collections.shuffle(shuffled, new Random(seed));
        int n = items.size() >= 2 ? Math.max(1, Math.min((int) Math.round(items.size() * fraction), items.size() - 1)) : 0;
        List<T> validation = new ArrayList<>(shuffled.subList(0, n));
        List<T> train = new ArrayList<>(shuffled.subList(n, shuffled.size()));
        train.sort(Comparator.comparingLong(line));
        validation.sort(Comparator.comparingLong(line));
        return List.of(train, validation);
    }

    /** Batches.bucketed as it was: lists of examples shuffled, sorted by length per window, cut, and shuffled again. */
    private static List<List<EncodedExample>> bucketedAsBefore(List<EncodedExample> examples, long seed, int epoch, int batchSize) {
        List<EncodedExample> order = new ArrayList<>(examples);
        Collections.shuffle(order, new Random(seed * 1_000_003L + epoch));
        int window = batchSize * 50;
        List<List<EncodedExample>> out = new ArrayList<>();
        for (int from = 0; from < order.size(); from += window) {
            List<EncodedExample> w = new ArrayList<>(order.subList(from, Math.min(order.size(), from + window)));
            w.sort(Comparator.comparingInt(e -> e.ids().length));
            for (int b = 0; b < w.size(); b += batchSize) {
                out.add(w.subList(b, Math.min(w.size(), b + batchSize)));
            }
        }
        Collections.shuffle(out, new Random(seed * 1_000_003L + epoch + 7_919L));
        return out;
    }
}
