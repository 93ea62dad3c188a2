package dev.finetune.engine.inference;

import dev.finetune.engine.training.ProgressListener;
import dev.finetune.runtime.FineTunedModel;
import dev.finetune.runtime.encoding.BatchBudget;
import dev.finetune.runtime.encoding.Batches;
import dev.finetune.runtime.encoding.EncodedExample;
import dev.finetune.runtime.encoding.LabeledText;
import java.util.ArrayList;
import java.util.List;

/**
 * Texts predicted a window at a time: rows are added in file order, held until {@link #WINDOW_BATCHES} of the
 * budget's largest batches are there, predicted in batches of similar length within the window (each within the
 * budget, so short rows go more to a batch than long ones), and handed to the sink in the order they were added. Only
 * one window of rows is in memory, so {@code predict} and {@code evaluate} work on files larger than it.
 */
public final class PredictionWindow {
    /** Batches read ahead and sorted by length before predicting: enough to pad little, few enough to stream. */
    static final int WINDOW_BATCHES = 32;
    /** The most rows a window holds, whatever the budget allows a batch. */
    static final int MAX_WINDOW_ROWS = 1 << 16;

    /** What is done with each row's model output, called in the order the rows were added. */
    @FunctionalInterface
    public interface Sink {
        /** {@code index}: the row's position among those added, from 0. */
        void accept(long index, LabeledText row, float[] output);
    }

    private final FineTunedModel model;
    private final BatchBudget budget;
    private final int size;
    private final Sink sink;
    private final ProgressListener log;
    private final String verb;
    private final List<LabeledText> rows;
    private final List<EncodedExample> encoded;
    private final long started = System.nanoTime();
    private long done;
    private long paddedTokens;

    /** {@code verb} names the work in the progress lines {@code log} gets after each window ("predicted 4,096 rows"). */
    public PredictionWindow(FineTunedModel model, BatchBudget budget, ProgressListener log, String verb, Sink sink) {
        this.model = model;
        this.budget = budget;
        this.size = (int) Math.min((long) budget.largestBatch() * WINDOW_BATCHES, MAX_WINDOW_ROWS);
        this.sink = sink;
        this.log = log;
        this.verb = verb;
        this.rows = new ArrayList<>(size);
        this.encoded = new ArrayList<>(size);
    }

    public void add(LabeledText row) {
        rows.add(row);
        encoded.add(EncodedExample.of(model.tokenizer(), row, -1, model.maxSequenceLength()));
        if (rows.size() == size) {
            flush();
            log.info(String.format("%s %,d rows (%.1f rows/s)", verb, done, done / ((System.nanoTime() - started) / 1e9)));
        }
    }

    /** Predicts the rows still held; call it after the last row. */
    public void flush() {
        if (rows.isEmpty()) {
            return;
        }
        float[][] outputs = Batches.predictInLengthOrder(encoded, budget, model.tokenizer().padId(), batch -> {
            paddedTokens += (long) batch.rows() * batch.length();
            return model.predict(batch);
        });
        for (int i = 0; i < rows.size(); i++) {
            sink.accept(done++, rows.get(i), outputs[i]);
        }
        rows.clear();
        encoded.clear();
    }

    /** Rows predicted so far. */
    public long rows() {
        return done;
    }

    /**
     * The tokens of the batches predicted so far, padding included (rows × each batch's longest row), per row
     * predicted: what each row cost, its own tokens and its share of the padding.
     */
    public double paddedTokensPerRow() {
        return done == 0 ? 0 : (double) paddedTokens / done;
    }
}
