package dev.finetune.engine.evaluation;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;
import java.util.function.Supplier;

/**
 * The mistakes a report shows: the {@code size} most confident (or largest) ones, ties going to the earlier line, kept
 * in a bounded heap while the test file streams by, so only their texts are held and only theirs are ever built.
 * Offered in file order, it keeps the same mistakes as sorting all of them would.
 */
final class WorstMistakes {
    private static final Comparator<Evaluation.Mistake> WORST_FIRST = Comparator
            .comparingDouble(Evaluation.Mistake::confidence).reversed().thenComparingLong(Evaluation.Mistake::line);

    private final int size;
    /** Head: the least bad mistake kept, the first to go. */
    private final PriorityQueue<Evaluation.Mistake> kept;

    WorstMistakes(int size) {
        this.size = size;
        this.kept = new PriorityQueue<>(WORST_FIRST.reversed());
    }

    /** {@code mistake} is only called when the mistake makes it into the kept ones. */
    void offer(double confidence, long line, Supplier<Evaluation.Mistake> mistake) {
        if (kept.size() < size) {
            kept.add(mistake.get());
            return;
        }
        Evaluation.Mistake least = kept.peek();
        if (Double.compare(confidence, least.confidence()) > 0
                || Double.compare(confidence, least.confidence()) == 0 && line < least.line()) {
            kept.poll();
            kept.add(mistake.get());
        }
    }

    /** The kept mistakes, worst first. */
    List<Evaluation.Mistake> list() {
        List<Evaluation.Mistake> out = new ArrayList<>(kept);
        out.sort(WORST_FIRST);
        return List.copyOf(out);
    }
}
