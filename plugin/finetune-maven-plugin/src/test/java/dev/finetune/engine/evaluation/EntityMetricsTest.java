package dev.finetune.engine.evaluation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.engine.evaluation.EntitySpans.Span;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Hand-worked cases (seqeval is not installed here), each with how its numbers come about. Spans are end exclusive:
 * seqeval's (type, 0, 1) is Span(type, 0, 2) here.
 */
class EntityMetricsTest {
    private static final double EPS = 1e-12;

    @Test
    void spansOfIob2() {
        // B- opens, I- of the same type continues, O closes.
        assertEquals(List.of(new Span("PER", 0, 2), new Span("LOC", 3, 4)), spans("B-PER I-PER O B-LOC"));
    }

    @Test
    void spanRunningToTheSentenceEnd() {
        // The entity still open after the last tag ends at the sentence length.
        assertEquals(List.of(new Span("ORG", 1, 3)), spans("O B-ORG I-ORG"));
    }

    @Test
    void typeChangeInsideASpanSplitsIt() {
        // I-LOC after I-PER: the type changes, PER ends and LOC starts, though neither has a B- there.
        assertEquals(List.of(new Span("PER", 0, 2), new Span("LOC", 2, 4)), spans("B-PER I-PER I-LOC I-LOC"));
        // E- of another type after B-: the same; B-PER alone is a one-token PER.
        assertEquals(List.of(new Span("PER", 0, 1), new Span("LOC", 1, 2)), spans("B-PER E-LOC"));
    }

    @Test
    void spansOfIob1() {
        // IOB1: I- opens an entity after O; B- only separates two neighbouring entities of one type.
        assertEquals(List.of(new Span("PER", 0, 2), new Span("PER", 2, 3), new Span("LOC", 4, 5)),
                spans("I-PER I-PER B-PER O I-LOC"));
    }

    @Test
    void spansOfBioes() {
        // S- is a one-token entity; B- I- E- one that E- closes; S- right after E- starts afresh.
        assertEquals(List.of(new Span("PER", 0, 1), new Span("LOC", 1, 4), new Span("LOC", 4, 5)),
                spans("S-PER B-LOC I-LOC E-LOC S-LOC O"));
        // A B- before S- is closed by it; I- after S- starts a new entity, as does B-.
        assertEquals(List.of(new Span("PER", 0, 1), new Span("PER", 1, 2), new Span("PER", 2, 3), new Span("PER", 3, 5)),
                spans("B-PER S-PER I-PER B-PER E-PER"));
    }

    @Test
    void strayInsideAndEndTags() {
        // E-PER after O opens (and ends) PER 1–2; I-PER after E- opens PER 2–3, which O closes; I-LOC after O opens
        // LOC, E-LOC continues and closes it (4–6); the next E-LOC after an E- opens LOC 6–7 on its own.
        assertEquals(List.of(new Span("PER", 1, 2), new Span("PER", 2, 3), new Span("LOC", 4, 6), new Span("LOC", 6, 7)),
                spans("O E-PER I-PER O I-LOC E-LOC E-LOC"));
    }

    @Test
    void noEntitiesAndRefusedTags() {
        assertEquals(List.of(), spans("O O O"));
        assertEquals(List.of(), EntitySpans.of(List.of()));
        for (String bad : List.of("PER", "B-", "X-PER", "BPER", "", "o")) {
            assertThrows(IllegalArgumentException.class, () -> EntitySpans.of(List.of("O", bad)), bad);
        }
    }

    /** Overlapping spans, a prediction starting inside a true span, a type change, an entity to the sentence end. */
    @Test
    void partialMatchesEarnNothing() {
        EntityMetrics.Summary s = EntityMetrics.compute(
                List.of(tags("B-PER I-PER I-PER O B-LOC O"), tags("B-ORG I-ORG I-ORG O"), tags("O B-MISC I-MISC"),
                        tags("B-PER O O")),
                List.of(tags("O B-PER I-PER O B-LOC O"), tags("B-ORG I-ORG I-LOC O"), tags("O B-MISC I-MISC"),
                        tags("B-PER I-PER O")));
        // True: PER 0–3 and 0–1 (sentence 3), LOC 4–5, ORG 0–3, MISC 1–3 (to the end): 5.
        // Predicted: PER 1–3 (starts inside the true PER) and 0–2 (overlaps PER 0–1), LOC 4–5 and 2–4 (sentence 1:
        // the type change splits ORG 0–2 from LOC 2–3), ORG 0–2, MISC 1–3: 6. Exact matches: LOC 4–5 and MISC 1–3.
        assertEquals(4, s.sentences());
        assertEquals(16, s.tokens());
        // Tokens: sentence 0 misses positions 0, 1; sentence 1 position 2; sentence 3 position 1 → 12 of 16.
        assertEquals(0.75, s.tokenAccuracy(), EPS);
        // Sorted by type. LOC: 1 of 2 predicted right, the 1 true found → P 1/2, R 1, F1 2/3. MISC: all 1.
        // ORG and PER: nothing right → 0, supports 1 and 2.
        assertType(s.perType().get(0), "LOC", 0.5, 1, 2.0 / 3, 1);
        assertType(s.perType().get(1), "MISC", 1, 1, 1, 1);
        assertType(s.perType().get(2), "ORG", 0, 0, 0, 1);
        assertType(s.perType().get(3), "PER", 0, 0, 0, 2);
        assertEquals(4, s.perType().size());
        // Micro: 2 right of 6 predicted and 5 true → P 1/3, R 2/5, F1 2·(2/15)/(11/15) = 4/11.
        assertAverage(s.micro(), 1.0 / 3, 0.4, 4.0 / 11);
        // Macro over 4 types: P (1/2 + 1)/4, R (1 + 1)/4, F1 (2/3 + 1)/4 = 5/12.
        assertAverage(s.macro(), 0.375, 0.5, 5.0 / 12);
        // Weighted by supports 1, 1, 1, 2 (sum 5): P (1/2 + 1)/5, R (1 + 1)/5, F1 (2/3 + 1)/5 = 1/3.
        assertAverage(s.weighted(), 0.3, 0.4, 1.0 / 3);
    }

    @Test
    void iob1AgainstIob2ReadsTheSameEntities() {
        // True (IOB1) PER 0–2, PER 2–3, LOC 4–5; predicted (IOB2) the same spans: entity scores are perfect although
        // tokens 0 and 4 differ (I-PER/B-PER, I-LOC/B-LOC) → token accuracy 3/5.
        EntityMetrics.Summary s = EntityMetrics.compute(List.of(tags("I-PER I-PER B-PER O I-LOC")),
                List.of(tags("B-PER I-PER B-PER O B-LOC")));
        assertEquals(0.6, s.tokenAccuracy(), EPS);
        assertType(s.perType().get(0), "LOC", 1, 1, 1, 1);
        assertType(s.perType().get(1), "PER", 1, 1, 1, 2);
        assertAverage(s.micro(), 1, 1, 1);
    }

    @Test
    void bioesAgainstBio() {
        // True S-PER = PER 0–1, B-LOC E-LOC = LOC 2–4; predicted B-PER then O = PER 0–1, B-LOC I-LOC to the end =
        // LOC 2–4: both match; tokens 0 and 3 differ → 2/4.
        EntityMetrics.Summary s = EntityMetrics.compute(List.of(tags("S-PER O B-LOC E-LOC")),
                List.of(tags("B-PER O B-LOC I-LOC")));
        assertEquals(0.5, s.tokenAccuracy(), EPS);
        assertAverage(s.micro(), 1, 1, 1);
        assertAverage(s.macro(), 1, 1, 1);
    }

    @Test
    void strayTagsInPredictions() {
        // True PER 0–2, LOC 3–5. Predicted I-PER E-PER = PER 0–2 (right); E-LOC E-LOC = LOC 3–4 and LOC 4–5 (wrong).
        // PER: P 1, R 1. LOC: 0 of 2, support 1. Micro: 1 of 3 predicted, 1 of 2 true → F1 2·(1/6)/(5/6) = 0.4.
        // Only token 2 (O) agrees → 1/5.
        EntityMetrics.Summary s = EntityMetrics.compute(List.of(tags("B-PER I-PER O B-LOC I-LOC")),
                List.of(tags("I-PER E-PER O E-LOC E-LOC")));
        assertType(s.perType().get(0), "LOC", 0, 0, 0, 1);
        assertType(s.perType().get(1), "PER", 1, 1, 1, 1);
        assertAverage(s.micro(), 1.0 / 3, 0.5, 0.4);
        assertAverage(s.macro(), 0.5, 0.5, 0.5);
        assertAverage(s.weighted(), 0.5, 0.5, 0.5);
        assertEquals(0.2, s.tokenAccuracy(), EPS);
    }

    @Test
    void allOutside() {
        // No entity on either side: no types; micro P, R, F1 are 0/0, defined as 0 (seqeval's zero_division), not 1;
        // macro and weighted over no types are 0 too. Every token agrees → accuracy 1.
        EntityMetrics.Summary s = EntityMetrics.compute(List.of(tags("O O"), tags("O")), List.of(tags("O O"), tags("O")));
        assertTrue(s.perType().isEmpty());
        assertAverage(s.micro(), 0, 0, 0);
        assertAverage(s.macro(), 0, 0, 0);
        assertAverage(s.weighted(), 0, 0, 0);
        assertEquals(1.0, s.tokenAccuracy(), EPS);
        assertEquals(3, s.tokens());
        // A type only predicted is listed with support 0 and precision 0 (0 of 1); recall 0/0 → 0; the weighted
        // average over a total support of 0 is 0. Tokens: 2 of 3.
        EntityMetrics.Summary p = EntityMetrics.compute(List.of(tags("O O O")), List.of(tags("O B-PER O")));
        assertType(p.perType().get(0), "PER", 0, 0, 0, 0);
        assertAverage(p.micro(), 0, 0, 0);
        assertAverage(p.weighted(), 0, 0, 0);
        assertEquals(2.0 / 3, p.tokenAccuracy(), EPS);
        // Nothing at all: accuracy over no tokens is 0.
        assertEquals(0.0, EntityMetrics.compute(List.of(), List.of()).tokenAccuracy());
    }

    @Test
    void refusesSentencesOfDifferentLengths() {
        assertThrows(IllegalArgumentException.class, () -> EntityMetrics.compute(List.of(tags("O")), List.of()));
        assertThrows(IllegalArgumentException.class,
                () -> EntityMetrics.compute(List.of(tags("O B-PER")), List.of(tags("O"))));
    }

    private static void assertType(EntityMetrics.TypeMetrics t, String type, double p, double r, double f1, int support) {
        assertEquals(type, t.type());
        assertEquals(p, t.precision(), EPS, type + " precision");
        assertEquals(r, t.recall(), EPS, type + " recall");
        assertEquals(f1, t.f1(), EPS, type + " F1");
        assertEquals(support, t.support(), type + " support");
    }

    private static void assertAverage(Metrics.Average a, double p, double r, double f1) {
        assertEquals(p, a.precision(), EPS, "precision");
        assertEquals(r, a.recall(), EPS, "recall");
        assertEquals(f1, a.f1(), EPS, "F1");
    }

    private static List<Span> spans(String tags) {
        return EntitySpans.of(tags(tags));
    }

    private static List<String> tags(String tags) {
        return List.of(tags.split(" "));
    }
}
