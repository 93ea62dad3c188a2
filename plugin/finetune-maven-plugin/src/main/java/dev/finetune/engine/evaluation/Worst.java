package dev.finetune.engine.evaluation;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;
import java.util.function.Supplier;

/**
 * The {@code size} worst of the candidates a test file yields as it streams by, by {@code worstFirst}, kept in a bounded
 * heap: offered in file order, it keeps what sorting all of them would. What a report shows of each (a text, a
 * sentence's tags) is only held for the kept ones.
 */
final class Worst<T> {
    private final int size;
    private final Comparator<T> worstFirst;
    /** Head: the least bad one kept, the first to go. */
    private final PriorityQueue<T> kept;

    Worst(int size, Comparator<T> worstFirst) {
        this.size = size;
        this.worstFirst = worstFirst;
        this.kept = new PriorityQueue<>(worstFirst.reversed());
    }

    void offer(T candidate) {
        offer(candidate, () -> candidate);
    }

    /**
     * {@code probe} ranks as the candidate would (a stand-in without what is costly to build); {@code candidate} is
     * only called when the candidate makes it into the kept ones.
     */
    void offer(T probe, Supplier<T> candidate) {
        if (kept.size() < size) {
            kept.add(candidate.get());
        } else if (worstFirst.compare(probe, kept.peek()) < 0) {
            kept.poll();
            kept.add(candidate.get());
        }
    }

    /** The kept ones, worst first. */
    List<T> list() {
        List<T> out = new ArrayList<>(kept);
        out.sort(worstFirst);
        return List.copyOf(out);
    }
}
