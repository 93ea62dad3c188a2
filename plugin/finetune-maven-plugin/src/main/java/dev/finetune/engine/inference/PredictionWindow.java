package dev.finetune.engine.inference;

import dev.finetune.engine.JavaHeap;
import dev.finetune.engine.NativeHeap;
import dev.finetune.engine.training.ProgressListener;
import dev.finetune.runtime.FineTunedModel;
import dev.finetune.runtime.encoding.BatchBudget;
import dev.finetune.runtime.encoding.Batches;
import dev.finetune.runtime.encoding.EncodedExample;
import dev.finetune.runtime.encoding.LabeledText;
import java.util.ArrayList;
import java.util.List;

/**
 * Texts predicted a window at a time ({@link Window}): rows are added in file order, held until {@link
 * Window#WINDOW_BATCHES} of the budget's largest batches are there, predicted in batches of similar length within the
 * window (each within the budget, so short rows go more to a batch than long ones), and handed to the sink in the order
 * they were added. Only one window of rows is in memory, so {@code predict} and {@code evaluate} work on files larger
 * than it.
 */
public final class PredictionWindow {
    /** What is done with each row's model output, called in the order the rows were added. */
    @FunctionalInterface
    public interface Sink {
        /** {@code index}: the row's position among those added, from 0. */
        void accept(long index, LabeledText row, float[] output);
    }

    /** Batches between trims of the C heap ({@link NativeHeap}): a trim takes 1-40 ms, a batch hundreds. */
    private static final int TRIM_INTERVAL = 8;

    private final Window<LabeledText, float[]> window;
    private long paddedTokens;
    // The first batch packs the weights and optimizes the serving graph; the rest free buffers of many shapes.
    private final NativeHeap.Periodic trims = new NativeHeap.Periodic(TRIM_INTERVAL);

    /** {@code verb} names the work in the progress lines {@code log} gets after each window ("predicted 4,096 rows"). */
    public PredictionWindow(FineTunedModel model, BatchBudget budget, ProgressListener log, String verb, Sink sink) {
        // Loading the model (its graph parsed and rewritten, its weights cast) freed what the first batch can do without,
        // in the C heap and in the Java heap (where the graph's protobuf copies were).
        NativeHeap.trim();
        JavaHeap.shrink();
        this.window = new Window<>(budget, rows -> {
            List<EncodedExample> encoded = new ArrayList<>(rows.size());
            for (LabeledText row : rows) {
                encoded.add(EncodedExample.of(model.tokenizer(), row, -1, model.maxSequenceLength()));
            }
            return List.of(Batches.predictInLengthOrder(encoded, budget, model.tokenizer().padId(), batch -> {
                paddedTokens += (long) batch.rows() * batch.length();
                float[][] output = model.predict(batch);
                trims.afterStep();
                return output;
            }));
        }, sink::accept, log, verb, "rows");
    }

    public void add(LabeledText row) {
        window.add(row);
    }

    /** Predicts the rows still held; call it after the last row. */
    public void flush() {
        window.flush();
    }

    /** Rows predicted so far. */
    public long rows() {
        return window.done();
    }

    /**
     * The tokens of the batches predicted so far, padding included (rows × each batch's longest row), per row
     * predicted: what each row cost, its own tokens and its share of the padding.
     */
    public double paddedTokensPerRow() {
        return rows() == 0 ? 0 : (double) paddedTokens / rows();
    }
}
