package dev.finetune.examples.reviews;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.runtime.LabelScore;
import dev.finetune.runtime.Prediction;
import dev.finetune.runtime.Task;
import dev.finetune.runtime.TextClassifier;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The model review-model just trained, loaded as an application loads it: from the model jar on the class path.
 * The sentences are new (none is in the training or test data), so these check that the model generalises a little,
 * not that it remembers its data.
 */
class ReviewClassifierTest {
    static final List<String> POSITIVE = List.of("what a wonderful film", "i loved this story so much",
            "the acting was great and the music was excellent", "a fun and happy movie", "this play was very good");
    static final List<String> NEGATIVE = List.of("what a boring film", "i hated this story",
            "the plot was dull and the acting was awful", "a sad and terrible movie", "this play was very bad");

    static TextClassifier classifier;

    @BeforeAll
    static void load() {
        classifier = TextClassifier.load();
    }

    @AfterAll
    static void close() {
        classifier.close();
    }

    @Test
    void isTheSentimentModel() {
        assertEquals(Task.SINGLE_LABEL, classifier.task());
        assertEquals(List.of("negative", "positive"), classifier.labels());
    }

    @ParameterizedTest
    @MethodSource("positive")
    void praiseIsPositive(String review) {
        Prediction p = classifier.predict(review);
        assertEquals("positive", p.label(), review + ": " + p);
        assertTrue(p.probability() > 0.8, review + ": " + p);
    }

    @ParameterizedTest
    @MethodSource("negative")
    void complaintIsNegative(String review) {
        Prediction p = classifier.predict(review);
        assertEquals("negative", p.label(), review + ": " + p);
        assertTrue(p.probability() > 0.8, review + ": " + p);
    }

    @Test
    void probabilitiesAreADistributionAndTopIsOrdered() {
        for (String review : all()) {
            Prediction p = classifier.predict(review);
            var probabilities = p.probabilities();
            assertEquals(classifier.labels(), List.copyOf(probabilities.keySet()));
            assertEquals(1.0, probabilities.values().stream().mapToDouble(Double::doubleValue).sum(), 1e-5, review);
            probabilities.values().forEach(v -> assertTrue(v >= 0 && v <= 1, review + ": " + v));

            List<LabelScore> top = p.top(2);
            assertEquals(2, top.size());
            assertEquals(p.label(), top.get(0).label());
            assertEquals(p.probability(), top.get(0).probability(), 0);
            assertTrue(top.get(0).probability() >= top.get(1).probability(), review + ": " + top);
            assertEquals(probabilities.get(top.get(1).label()), top.get(1).probability(), 0);
            // Asking for more labels than there are gives them all.
            assertEquals(top, p.top(5));
        }
    }

    /** One list, predicted in batches, gives each text the answer it gets alone. */
    @Test
    void aListGetsTheAnswersOfSingleRequests() {
        List<Prediction> batch = classifier.predict(all());
        for (int i = 0; i < all().size(); i++) {
            Prediction alone = classifier.predict(all().get(i));
            assertSame(alone, batch.get(i), all().get(i));
        }
    }

    /**
     * Sixteen threads sending single requests at once are gathered into shared batches (of texts of different
     * lengths, so padded differently): every answer must still be the one a lone request gets.
     */
    @Test
    void manyThreadsGetTheAnswersOfOne() throws Exception {
        List<String> reviews = all();
        List<Prediction> expected = reviews.stream().map(classifier::predict).toList();
        ExecutorService pool = Executors.newFixedThreadPool(16);
        try {
            List<Future<Prediction>> answers = new ArrayList<>();
            List<Integer> asked = new ArrayList<>();
            for (int round = 0; round < 20; round++) {
                for (int i = 0; i < reviews.size(); i++) {
                    String review = reviews.get((i + round) % reviews.size());
                    asked.add((i + round) % reviews.size());
                    answers.add(pool.submit(() -> classifier.predict(review)));
                }
            }
            for (int k = 0; k < answers.size(); k++) {
                assertSame(expected.get(asked.get(k)), answers.get(k).get(), reviews.get(asked.get(k)));
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /** The same label, and probabilities equal up to float rounding (batches pad to different lengths). */
    static void assertSame(Prediction expected, Prediction actual, String review) {
        assertEquals(expected.label(), actual.label(), review);
        expected.probabilities().forEach((label, p) -> assertEquals(p, actual.probabilities().get(label), 1e-4, review + " " + label));
    }

    static List<String> positive() {
        return POSITIVE;
    }

    static List<String> negative() {
        return NEGATIVE;
    }

    static List<String> all() {
        List<String> all = new ArrayList<>(POSITIVE);
        all.addAll(NEGATIVE);
        return all;
    }
}
