package dev.finetune.it.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.runtime.LabelScore;
import dev.finetune.runtime.Prediction;
import dev.finetune.runtime.Task;
import dev.finetune.runtime.TextClassifier;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The application's view: the model is a dependency, and TextClassifier.load() takes it from the class path. */
class ModelOnClassPathTest {
    @Test
    void theModelComesFromTheModelJar() {
        URL list = getClass().getClassLoader().getResource("META-INF/finetune/models.list");
        assertTrue(list != null && list.getProtocol().equals("jar") && list.getPath().contains("sentiment-model-1.0-model.jar!"),
                String.valueOf(list));
    }

    @Test
    void loadsTheOnlyModelOnTheClassPathAndClassifies() throws Exception {
        try (TextClassifier classifier = TextClassifier.load()) {
            assertEquals(Task.SINGLE_LABEL, classifier.task());
            assertEquals(List.of("negative", "positive"), classifier.labels());

            // Held-out sentences (tiny-sentiment-test.csv), one at a time and as a list.
            List<String> texts = List.of("i think the book was good", "we found the acting worst", "the movie was wonderful",
                    "the story is really sad");
            List<String> expected = List.of("positive", "negative", "positive", "negative");
            List<Prediction> batch = classifier.predict(texts);
            for (int i = 0; i < texts.size(); i++) {
                Prediction p = classifier.predict(texts.get(i));
                assertEquals(expected.get(i), p.label(), texts.get(i) + ": " + p);
                assertEquals(expected.get(i), batch.get(i).label(), texts.get(i) + ": " + batch.get(i));
                assertTrue(p.probability() > 0.5, p.toString());
                assertEquals(1.0, p.probabilities().values().stream().mapToDouble(Double::doubleValue).sum(), 1e-5);
                List<LabelScore> top = p.top(2);
                assertEquals(p.label(), top.get(0).label());
                assertTrue(top.get(0).probability() >= top.get(1).probability(), top.toString());
            }
        }
        // Unpacked once, into the folder -Dfinetune.cache names, under the model's name and checksum (the integration
        // builds share that cache, so other projects' base models may lie beside it).
        try (Stream<Path> folders = Files.list(Path.of(System.getProperty("finetune.cache")))) {
            List<String> names = folders.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("sentiment-model-")).toList();
            assertEquals(1, names.size(), names.toString());
            assertTrue(names.get(0).matches("sentiment-model-[0-9a-f]{32}"), names.toString());
        }
    }
}
