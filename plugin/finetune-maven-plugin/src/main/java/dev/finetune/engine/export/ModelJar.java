package dev.finetune.engine.export;

import com.fasterxml.jackson.databind.JsonNode;
import dev.finetune.runtime.Checksums;
import dev.finetune.runtime.FineTuneException;
import dev.finetune.runtime.Json;
import dev.finetune.runtime.ModelJarLayout;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Packs what an application needs of a fine-tuned model (the SavedModel, labels.json, the tokenizer file, the training
 * configuration) into a jar laid out as {@link ModelJarLayout} says, so that the application declares
 * the model as an ordinary dependency and {@code TextClassifier.load()} finds it on its class path. Reports, history
 * and checkpoints stay out. Entries are sorted and carry a fixed time: the same model gives the same bytes.
 */
public final class ModelJar {
    /**
     * Besides the SavedModel and the tokenizer: the labels and the training settings. Not evaluation.json: evaluate
     * runs at every build and records how long it took, so with it every build gave a new jar, and every application
     * start after it a new copy in the cache (the cache is keyed by content; BERT-base is 440 MB). The zip keeps it.
     */
    private static final List<String> KEPT = List.of("labels.json", "finetune-config.json");

    private ModelJar() {
    }

    public static void pack(Path modelDirectory, String name, Path jar) {
        if (!ModelJarLayout.validName(name)) {
            throw new FineTuneException("'" + name + "' cannot name a model in a jar: letters, digits, '.', '_' and '-' only.");
        }
        if (!Files.isRegularFile(modelDirectory.resolve("saved_model").resolve("saved_model.pb"))
                || !Files.isRegularFile(modelDirectory.resolve("labels.json"))) {
            throw new FineTuneException("No fine-tuned model in " + modelDirectory + " to package: run the train goal first.");
        }
        ModelArchive.write(modelDirectory, jar, partial -> {
            List<Path> files = files(modelDirectory);
            Manifest manifest = new Manifest();
            manifest.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
            manifest.getMainAttributes().putValue("Finetune-Model", name);
            StringBuilder index = new StringBuilder();
            for (Path f : files) {
                index.append(Checksums.sha256(f)).append(' ').append(Files.size(f)).append(' ').append(path(modelDirectory, f)).append('\n');
            }
            try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(partial))) {
                ModelArchive.put(out, new JarEntry("META-INF/MANIFEST.MF"), manifest::write);
                ModelArchive.put(out, new JarEntry(ModelJarLayout.LIST), os -> os.write((name + "\n").getBytes(StandardCharsets.UTF_8)));
                ModelArchive.put(out, new JarEntry(ModelJarLayout.index(name)), os -> os.write(index.toString().getBytes(StandardCharsets.UTF_8)));
                for (Path f : files) {
                    ModelArchive.put(out, new JarEntry(ModelJarLayout.file(name, path(modelDirectory, f))), os -> Files.copy(f, os));
                }
            }
        });
    }

    private static String path(Path modelDirectory, Path f) {
        return modelDirectory.relativize(f).toString().replace('\\', '/');
    }

    /** The SavedModel's files, the tokenizer labels.json names and the small JSON files, sorted by path. */
    private static List<Path> files(Path modelDirectory) throws IOException {
        List<Path> files = new ArrayList<>();
        try (Stream<Path> walk = Files.walk(modelDirectory.resolve("saved_model"))) {
            files.addAll(walk.filter(Files::isRegularFile).collect(Collectors.toList()));
        }
        JsonNode labels = Json.MAPPER.readTree(modelDirectory.resolve("labels.json").toFile());
        String tokenizer = Path.of(labels.path("tokenizer").asText("vocab.txt")).getFileName().toString();
        for (String kept : Stream.concat(KEPT.stream(), Stream.of(tokenizer)).distinct().toList()) {
            Path f = modelDirectory.resolve(kept);
            if (Files.isRegularFile(f)) {
                files.add(f);
            }
        }
        files.sort(null);
        return files;
    }
}
