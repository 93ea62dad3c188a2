package dev.finetune.engine.inference;

import dev.finetune.engine.training.ProgressListener;
import dev.finetune.runtime.encoding.BatchBudget;
import java.util.ArrayList;
import java.util.List;

/**
 * Items of a file predicted a window at a time: added in file order, held until the window is full, predicted together
 * (so the batches within the window can be cut by length), and handed to the sink in the order they were added. Only
 * one window is in memory, so files larger than it can be predicted. {@link PredictionWindow} for texts and
 * {@link TaggingWindow} for tagged sentences are built on it.
 */
final class Window<T, R> {
    /** Batches read ahead and sorted by length before predicting: enough to pad little, few enough to stream. */
    static final int WINDOW_BATCHES = 32;
    /** The most items a window holds, whatever the budget allows a batch. */
    static final int MAX_WINDOW_ROWS = 1 << 16;

    /** The outputs of a window's items, in their order. */
    @FunctionalInterface
    interface Predict<T, R> {
        List<R> apply(List<T> items);
    }

    /** What is done with each item's output, called in the order the items were added. */
    @FunctionalInterface
    interface Sink<T, R> {
        /** {@code index}: the item's position among those added, from 0. */
        void accept(long index, T item, R output);
    }

    private final int size;
    private final Predict<T, R> predict;
    private final Sink<T, R> sink;
    private final ProgressListener log;
    private final String verb;
    private final String unit;
    private final List<T> held;
    private final long started = System.nanoTime();
    private long done;

    /**
     * A window of {@link #WINDOW_BATCHES} of {@code budget}'s largest batches; after each full window, {@code log} gets
     * a progress line ("predicted 4,096 rows (850.0 rows/s)": {@code verb}, {@code unit}).
     */
    Window(BatchBudget budget, Predict<T, R> predict, Sink<T, R> sink, ProgressListener log, String verb, String unit) {
        this.size = (int) Math.min((long) budget.largestBatch() * WINDOW_BATCHES, MAX_WINDOW_ROWS);
        this.predict = predict;
        this.sink = sink;
        this.log = log;
        this.verb = verb;
        this.unit = unit;
        this.held = new ArrayList<>(size);
    }

    void add(T item) {
        held.add(item);
        if (held.size() == size) {
            flush();
            log.info(String.format("%s %,d %s (%.1f %s/s)", verb, done, unit, done / ((System.nanoTime() - started) / 1e9), unit));
        }
    }

    /** Predicts the items still held; call it after the last one. */
    void flush() {
        if (held.isEmpty()) {
            return;
        }
        List<R> outputs = predict.apply(held);
        for (int i = 0; i < held.size(); i++) {
            sink.accept(done++, held.get(i), outputs.get(i));
        }
        held.clear();
    }

    /** Items predicted so far. */
    long done() {
        return done;
    }
}
