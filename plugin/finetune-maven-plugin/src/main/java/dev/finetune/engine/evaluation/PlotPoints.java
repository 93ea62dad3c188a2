package dev.finetune.engine.evaluation;

import java.util.ArrayList;
import java.util.List;

/**
 * The regression examples kept for the report's plots while the test file streams by: every n-th example, spread over
 * the whole file rather than its first rows, at most {@code max} of them. The file's length is not known in advance,
 * so n starts at 1 and doubles (dropping every other point kept) whenever there would be more than {@code max}; a file
 * of at most {@code max} examples is plotted whole, a longer one with between {@code max / 2} and {@code max} points.
 */
final class PlotPoints {
    private final int max;
    private List<Evaluation.Point> kept = new ArrayList<>();
    private long every = 1;

    PlotPoints(int max) {
        this.max = max;
    }

    /** {@code index}: the example's position in the file, from 0; offered in that order. */
    void add(long index, Evaluation.Point point) {
        if (index % every != 0) {
            return;
        }
        kept.add(point);
        if (kept.size() > max) {
            every *= 2;
            List<Evaluation.Point> thinned = new ArrayList<>(max);
            for (int i = 0; i < kept.size(); i += 2) {
                thinned.add(kept.get(i));
            }
            kept = thinned;
        }
    }

    List<Evaluation.Point> list() {
        return List.copyOf(kept);
    }
}
