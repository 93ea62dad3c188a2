package dev.finetune.engine.export;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.FineTuneEngine;
import dev.finetune.engine.TestFiles;
import dev.finetune.engine.config.FineTuneConfig;
import dev.finetune.runtime.FineTuneException;
import dev.finetune.runtime.ModelJarLayout;
import dev.finetune.runtime.Prediction;
import dev.finetune.runtime.TextClassifier;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.TimeZone;
import java.util.concurrent.Callable;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The model jar finetune:package writes, and TextClassifier reading it back from a class path. */
class ModelJarTest {
    /** A model folder as train and evaluate leave it; pack() checks only that the files are there. */
    static Path fakeModel(Path dir) throws IOException {
        Files.createDirectories(dir.resolve("saved_model/variables"));
        Files.createDirectories(dir.resolve("saved_model/assets"));
        Files.write(dir.resolve("saved_model/saved_model.pb"), new byte[] {8, 1, 2, 3});
        Files.write(dir.resolve("saved_model/variables/variables.index"), new byte[] {4, 5});
        Files.write(dir.resolve("saved_model/variables/variables.data-00000-of-00001"), new byte[1000]);
        Files.writeString(dir.resolve("saved_model/assets/vocab.txt"), "[PAD]\n[UNK]\n");
        Files.writeString(dir.resolve("labels.json"), "{\"labels\":[\"negative\",\"positive\"],\"tokenizer\":\"vocab.txt\"}");
        Files.writeString(dir.resolve("vocab.txt"), "[PAD]\n[UNK]\n");
        Files.writeString(dir.resolve("finetune-config.json"), "{\"epochs\":3}");
        Files.writeString(dir.resolve("evaluation.json"), "{\"accuracy\":0.9,\"seconds\":0.419}");
        Files.writeString(dir.resolve("training-history.json"), "{}");
        Files.writeString(dir.resolve("reload-check.json"), "{}");
        return dir;
    }

    @Test
    void listsTheModelAndIndexesEveryFileItCarries(@TempDir Path tmp) throws IOException {
        Path model = fakeModel(tmp.resolve("finetune"));
        Path jar = tmp.resolve("m-model.jar");
        ModelJar.pack(model, "reviews", jar);

        try (JarFile j = new JarFile(jar.toFile())) {
            assertEquals("reviews\n", text(j, ModelJarLayout.LIST));
            assertEquals("reviews", j.getManifest().getMainAttributes().getValue("Finetune-Model"));
            List<String> paths = new ArrayList<>();
            for (String line : text(j, ModelJarLayout.index("reviews")).split("\n")) {
                String[] f = line.split(" ", 3);
                byte[] content = j.getInputStream(j.getEntry(ModelJarLayout.file("reviews", f[2]))).readAllBytes();
                assertEquals(f[0], HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content)), f[2]);
                assertEquals(Long.parseLong(f[1]), content.length, f[2]);
                assertArrayEquals(Files.readAllBytes(model.resolve(f[2])), content, f[2]);
                paths.add(f[2]);
            }
            // What predicting reads, and the training settings; not the reports, history or checks.
            assertEquals(List.of("finetune-config.json", "labels.json", "saved_model/assets/vocab.txt", "saved_model/saved_model.pb",
                    "saved_model/variables/variables.data-00000-of-00001", "saved_model/variables/variables.index", "vocab.txt"), paths);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    /**
     * The same model gives the same bytes: on another day, in another time zone (zip stores local times), and after
     * evaluate has run again (evaluation.json records how long it took, so it stays out of the jar).
     */
    @Test
    void sameModelSameBytes(@TempDir Path tmp) throws Exception {
        Path model = fakeModel(tmp.resolve("finetune"));
        byte[] first = packIn("UTC", model, tmp.resolve("a.jar"));
        assertArrayEquals(first, packIn("America/New_York", model, tmp.resolve("b.jar")), "west of Greenwich");
        assertArrayEquals(first, packIn("Asia/Tokyo", model, tmp.resolve("c.jar")), "east of Greenwich");
        Files.writeString(model.resolve("evaluation.json"), "{\"accuracy\":0.9,\"seconds\":0.388}");
        assertArrayEquals(first, packIn("UTC", model, tmp.resolve("d.jar")), "after evaluating again");
        Files.write(model.resolve("saved_model/variables/variables.index"), new byte[] {4, 6});
        assertFalse(java.util.Arrays.equals(first, packIn("UTC", model, tmp.resolve("e.jar"))), "another model, other bytes");
    }

    private static byte[] packIn(String zone, Path model, Path jar) throws IOException {
        TimeZone before = TimeZone.getDefault();
        TimeZone.setDefault(TimeZone.getTimeZone(zone));
        try {
            ModelJar.pack(model, "reviews", jar);
            return Files.readAllBytes(jar);
        } finally {
            TimeZone.setDefault(before);
        }
    }

    @Test
    void refusesWhatCannotBeAModel(@TempDir Path tmp) throws IOException {
        Path model = fakeModel(tmp.resolve("finetune"));
        assertThrows(FineTuneException.class, () -> ModelJar.pack(model, "../escape", tmp.resolve("x.jar")));
        assertThrows(FineTuneException.class, () -> ModelJar.pack(tmp.resolve("nothing"), "m", tmp.resolve("y.jar")));
        assertFalse(Files.exists(tmp.resolve("x.jar")) || Files.exists(tmp.resolve("y.jar")));
    }

    /**
     * A trained model, packed and put on a class path as an application declares it: TextClassifier.load() finds it,
     * unpacks it once into the cache, predicts; a damaged copy and an ambiguous class path are refused with reasons.
     */
    @Test
    void anApplicationLoadsThePackedModelFromItsClassPath(@TempDir Path tmp) throws Exception {
        FineTuneConfig c = TestFiles.tinyConfig("tiny-bert-tf2", tmp.resolve("train"));
        FineTuneEngine.train(c, m -> { });
        Path jar = tmp.resolve("reviews-model.jar");
        ModelJar.pack(c.outputDirectory, "reviews", jar);
        Path cache = tmp.resolve("cache");
        TextClassifier.Options options = TextClassifier.Options.defaults().cacheDirectory(cache).threads(1);

        List<String> folders = withClassPath(List.of(jar), () -> {
            try (TextClassifier classifier = TextClassifier.load(options)) {
                assertEquals(List.of("negative", "positive"), classifier.labels());
                Prediction good = classifier.predict("the movie was great");
                Prediction bad = classifier.predict("the story is really awful");
                assertEquals("positive", good.label(), good.toString());
                assertEquals("negative", bad.label(), bad.toString());
            }
            return cacheFolders(cache);
        });
        assertEquals(1, folders.size(), folders.toString());
        assertTrue(folders.get(0).startsWith("reviews-"), folders.toString());
        Path unpacked = cache.resolve(folders.get(0));
        assertArrayEquals(Files.readAllBytes(c.outputDirectory.resolve("saved_model/saved_model.pb")),
                Files.readAllBytes(unpacked.resolve("saved_model/saved_model.pb")));

        // Loaded again (by name): the cached copy is used as it is, not unpacked anew.
        Path marker = Files.writeString(unpacked.resolve("marker"), "still here");
        withClassPath(List.of(jar), () -> {
            TextClassifier again = TextClassifier.load("reviews", options);
            again.close();
            again.close(); // a second close does nothing
            // Closed: a clear refusal, for lists (run on the caller's thread) as for single texts (the batcher's).
            for (Runnable use : List.<Runnable>of(() -> again.predict(List.of("the movie was great")), () -> again.predict("the movie"))) {
                IllegalStateException closed = assertThrows(IllegalStateException.class, use::run);
                assertEquals("This classifier is closed.", closed.getMessage());
            }
            return null;
        });
        assertEquals(folders, cacheFolders(cache));
        assertTrue(Files.exists(marker));

        // The same index over other bytes: refused before TensorFlow reads them, and nothing half-unpacked is left.
        Path damaged = tmp.resolve("damaged.jar");
        rewrite(jar, damaged, "reviews", "saved_model/variables/variables.index");
        Path otherCache = tmp.resolve("cache2");
        FineTuneException e = withClassPath(List.of(damaged), () -> assertThrows(FineTuneException.class,
                () -> TextClassifier.load(options.cacheDirectory(otherCache))));
        assertTrue(e.getMessage().contains("damaged"), e.getMessage());
        assertEquals(List.of(), cacheFolders(otherCache));

        // Two models: load() asks for a name, load(name) takes the one named.
        Path second = tmp.resolve("second-model.jar");
        ModelJar.pack(c.outputDirectory, "second", second);
        withClassPath(List.of(jar, second), () -> {
            FineTuneException ambiguous = assertThrows(FineTuneException.class, () -> TextClassifier.load(options));
            assertTrue(ambiguous.getMessage().contains("[reviews, second]"), ambiguous.getMessage());
            try (TextClassifier named = TextClassifier.load("second", options)) {
                assertEquals("positive", named.predict("the movie was great").label());
            }
            FineTuneException missing = assertThrows(FineTuneException.class, () -> TextClassifier.load("third", options));
            assertTrue(missing.getMessage().contains("no model 'third'"), missing.getMessage());
            return null;
        });
        // None at all: the message says what to add.
        FineTuneException none = withClassPath(List.of(), () -> assertThrows(FineTuneException.class, () -> TextClassifier.load(options)));
        assertTrue(none.getMessage().contains("classifier 'model'"), none.getMessage());
    }

    /** Runs {@code body} with a class loader that sees only {@code jars} (and not this build's class path) as context. */
    private static <T> T withClassPath(List<Path> jars, Callable<T> body) throws Exception {
        URL[] urls = new URL[jars.size()];
        for (int i = 0; i < urls.length; i++) {
            urls[i] = jars.get(i).toUri().toURL();
        }
        Thread thread = Thread.currentThread();
        ClassLoader before = thread.getContextClassLoader();
        try (URLClassLoader loader = new URLClassLoader(urls, ClassLoader.getPlatformClassLoader())) {
            thread.setContextClassLoader(loader);
            return body.call();
        } finally {
            thread.setContextClassLoader(before);
        }
    }

    /** The cache's model folders; the unpacker's temporary folders start with '.'. */
    private static List<String> cacheFolders(Path cache) throws IOException {
        if (!Files.isDirectory(cache)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(cache)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> !n.startsWith(".")).sorted().toList();
        }
    }

    /** A copy of {@code jar} with one file of model {@code name} flipped in its last byte, the index unchanged. */
    private static void rewrite(Path jar, Path copy, String name, String file) throws IOException {
        try (JarFile in = new JarFile(jar.toFile()); OutputStream os = Files.newOutputStream(copy); JarOutputStream out = new JarOutputStream(os)) {
            for (JarEntry e : java.util.Collections.list(in.entries())) {
                byte[] content = in.getInputStream(e).readAllBytes();
                if (e.getName().equals(ModelJarLayout.file(name, file))) {
                    content[content.length - 1] ^= 1;
                }
                out.putNextEntry(new JarEntry(e.getName()));
                out.write(content);
                out.closeEntry();
            }
        }
    }

    private static String text(JarFile j, String entry) throws IOException {
        try (InputStream in = j.getInputStream(j.getEntry(entry))) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
