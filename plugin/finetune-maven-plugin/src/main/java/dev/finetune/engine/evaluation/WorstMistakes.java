package dev.finetune.engine.evaluation;

import java.util.Comparator;
import java.util.List;
import java.util.function.Supplier;

/**
 * The mistakes a report shows: the {@code size} most confident (or largest) ones, ties going to the earlier line
 * ({@link Worst}), so only their texts are held and only theirs are ever built.
 */
final class WorstMistakes {
    private static final Comparator<Evaluation.Mistake> WORST_FIRST = Comparator
            .comparingDouble(Evaluation.Mistake::confidence).reversed().thenComparingLong(Evaluation.Mistake::line);

    private final Worst<Evaluation.Mistake> kept;

    WorstMistakes(int size) {
        this.kept = new Worst<>(size, WORST_FIRST);
    }

    /** {@code mistake} is only called when the mistake makes it into the kept ones. */
    void offer(double confidence, long line, Supplier<Evaluation.Mistake> mistake) {
        kept.offer(new Evaluation.Mistake(line, null, null, null, confidence), mistake);
    }

    /** The kept mistakes, worst first. */
    List<Evaluation.Mistake> list() {
        return kept.list();
    }
}
