package dev.finetune.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.FineTuneEngine;
import dev.finetune.engine.TestFiles;
import dev.finetune.engine.config.FineTuneConfig;
import dev.finetune.engine.export.ModelArchive;
import dev.finetune.engine.export.ModelJar;
import dev.finetune.engine.training.ProgressListener;
import dev.finetune.runtime.encoding.Batches;
import dev.finetune.runtime.encoding.EncodedExample;
import dev.finetune.runtime.encoding.LabeledText;
import dev.finetune.runtime.model.SessionSettings;
import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The application API on a model trained once for the class: answers equal to the engine's, the same from many threads
 * as from one, micro-batched answers equal to unbatched ones, and the model found in a jar on the class path or a zip.
 */
class TextClassifierTest {
    @TempDir
    static Path root;
    static Path modelDir;
    static List<String> texts;

    @BeforeAll
    static void trainOnce() throws IOException {
        FineTuneConfig c = TestFiles.tinyConfig("tiny-bert-tf2", root);
        FineTuneEngine.train(c, ProgressListener.SILENT);
        modelDir = c.outputDirectory;
        texts = new ArrayList<>();
        for (String line : Files.readAllLines(TestFiles.data("tiny-sentiment.csv")).subList(1, 81)) {
            texts.add(line.substring(0, line.lastIndexOf(',')).replace("\"", ""));
        }
    }

    private static TextClassifier.Options options() {
        return TextClassifier.Options.defaults().precision("float32").cacheDirectory(root.resolve("cache"));
    }

    /** What the engine computes for {@code texts}: the reference every path of the runtime has to give. */
    private static float[][] engineProbabilities(List<String> texts) {
        try (FineTunedModel model = FineTunedModel.load(modelDir, SessionSettings.defaults("cpu"))) {
            List<EncodedExample> encoded = texts.stream()
                    .map(t -> EncodedExample.of(model.tokenizer(), new LabeledText(t, null, null, 0), -1, model.maxSequenceLength()))
                    .toList();
            return Batches.predictInLengthOrder(encoded, 8, model.tokenizer().padId(), model::predict);
        }
    }

    private static float[] probabilities(Prediction p, List<String> labels) {
        float[] out = new float[labels.size()];
        for (int j = 0; j < out.length; j++) {
            out[j] = p.probabilities().get(labels.get(j)).floatValue();
        }
        return out;
    }

    @Test
    void answersAreTheEnginesInEveryForm() {
        float[][] expected = engineProbabilities(texts);
        try (TextClassifier c = TextClassifier.load(modelDir, options())) {
            assertEquals(Task.SINGLE_LABEL, c.task());
            assertEquals(List.of("negative", "positive"), c.labels());
            List<Prediction> listed = c.predict(texts);
            int right = 0;
            for (int i = 0; i < texts.size(); i++) {
                Prediction one = c.predict(texts.get(i));
                assertArrayEquals(expected[i], probabilities(listed.get(i), c.labels()), 1e-5f, texts.get(i));
                assertArrayEquals(expected[i], probabilities(one, c.labels()), 1e-5f, texts.get(i));
                double sum = one.probabilities().values().stream().mapToDouble(Double::doubleValue).sum();
                assertEquals(1.0, sum, 1e-5);
                List<LabelScore> top = one.top(2);
                assertEquals(one.label(), top.get(0).label());
                assertEquals(one.probability(), top.get(0).probability(), 0);
                assertTrue(top.get(0).probability() >= top.get(1).probability());
                assertEquals(List.of(one.label()), one.labels());
                right += one.label().equals(label(i)) ? 1 : 0;
            }
            // The tiny model learns this data: the answers are a trained model's, not noise.
            assertTrue(right >= 70, right + " of 80 training texts right");
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> c.predict("fine").value());
            assertTrue(e.getMessage().contains("regression"), e.getMessage());
            assertThrows(IllegalStateException.class, () -> c.tag(List.of("a", "b")));
        }
    }

    private static String label(int i) {
        try {
            String line = Files.readAllLines(TestFiles.data("tiny-sentiment.csv")).get(i + 1);
            return line.substring(line.lastIndexOf(',') + 1);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void manyThreadsGetWhatOneThreadGets() throws Exception {
        List<Prediction> alone = new ArrayList<>();
        List<Integer> sizes = Collections.synchronizedList(new ArrayList<>());
        try (TextClassifier c = TextClassifier.open(modelDir, options().maxWait(Duration.ofMillis(5)).maxBatchSize(8),
                (size, wait) -> sizes.add(size))) {
            for (String t : texts) {
                alone.add(c.predict(t));
            }
            sizes.clear();
            int threads = 8;
            CountDownLatch start = new CountDownLatch(1);
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            try {
                List<Future<List<Prediction>>> runs = new ArrayList<>();
                for (int k = 0; k < threads; k++) {
                    int offset = k * 10;
                    runs.add(pool.submit((Callable<List<Prediction>>) () -> {
                        start.await();
                        List<Prediction> out = new ArrayList<>();
                        for (int i = 0; i < texts.size(); i++) {
                            out.add(c.predict(texts.get((i + offset) % texts.size())));
                        }
                        return out;
                    }));
                }
                start.countDown();
                for (int k = 0; k < threads; k++) {
                    List<Prediction> got = runs.get(k).get();
                    for (int i = 0; i < texts.size(); i++) {
                        Prediction expected = alone.get((i + k * 10) % texts.size());
                        assertEquals(expected.label(), got.get(i).label());
                        assertArrayEquals(probabilities(expected, c.labels()), probabilities(got.get(i), c.labels()), 1e-5f);
                    }
                }
            } finally {
                pool.shutdownNow();
            }
        }
        assertEquals(8 * texts.size(), sizes.stream().mapToInt(Integer::intValue).sum());
        assertTrue(sizes.stream().anyMatch(s -> s > 1), "8 threads never shared a batch: " + sizes);
        assertTrue(sizes.stream().allMatch(s -> s <= 8), sizes.toString());
    }

    @Test
    void aModelJarOnTheClassPathIsFoundUnpackedOnceAndChecked() throws Exception {
        Path jar = root.resolve("sentiment-model.jar");
        ModelJar.pack(modelDir, "sentiment", jar);
        float[][] expected = engineProbabilities(texts.subList(0, 5));
        Path cache = root.resolve("jar-cache");
        ClassLoader before = Thread.currentThread().getContextClassLoader();
        try (URLClassLoader loader = new URLClassLoader(new URL[] {jar.toUri().toURL()}, null)) {
            Thread.currentThread().setContextClassLoader(loader);
            for (int run = 0; run < 2; run++) {
                try (TextClassifier c = TextClassifier.load(options().cacheDirectory(cache))) {
                    for (int i = 0; i < 5; i++) {
                        assertArrayEquals(expected[i], probabilities(c.predict(texts.get(i)), c.labels()), 1e-5f);
                    }
                }
            }
            try (Stream<Path> folders = Files.list(cache)) {
                List<String> names = folders.map(p -> p.getFileName().toString()).toList();
                assertEquals(1, names.size(), "unpacked once: " + names);
                assertTrue(names.get(0).startsWith("sentiment-"), names.toString());
            }
            FineTuneException e = assertThrows(FineTuneException.class, () -> TextClassifier.load("reviews", options()));
            assertTrue(e.getMessage().contains("no model 'reviews'") && e.getMessage().contains("[sentiment]"), e.getMessage());
        } finally {
            Thread.currentThread().setContextClassLoader(before);
        }
        // The same model packed again gives the same bytes: a rebuilt application does not see a new model.
        Path again = root.resolve("again.jar");
        ModelJar.pack(modelDir, "sentiment", again);
        assertArrayEquals(Files.readAllBytes(jar), Files.readAllBytes(again));
    }

    @Test
    void aClassPathWithoutAModelSaysWhatToAdd() throws Exception {
        ClassLoader before = Thread.currentThread().getContextClassLoader();
        try (URLClassLoader empty = new URLClassLoader(new URL[0], null)) {
            Thread.currentThread().setContextClassLoader(empty);
            FineTuneException e = assertThrows(FineTuneException.class, () -> TextClassifier.load(options()));
            assertTrue(e.getMessage().contains("No fine-tuned model on the class path") && e.getMessage().contains("classifier 'model'"),
                    e.getMessage());
        } finally {
            Thread.currentThread().setContextClassLoader(before);
        }
    }

    @Test
    void aZipIsUnpackedIntoTheCache() {
        Path zip = root.resolve("model.zip");
        ModelArchive.pack(modelDir, zip);
        float[][] expected = engineProbabilities(texts.subList(0, 3));
        try (TextClassifier c = TextClassifier.load(zip, options().cacheDirectory(root.resolve("zip-cache")))) {
            for (int i = 0; i < 3; i++) {
                assertArrayEquals(expected[i], probabilities(c.predict(texts.get(i)), c.labels()), 1e-5f);
            }
        }
    }
}
