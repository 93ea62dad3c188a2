package dev.finetune.runtime.encoding;

/**
 * One batch of encoded examples, row-major {@code rows × length}: token ids, attention mask, segment ids, and what
 * the rows are labelled with in the task's form: {@code labels} one class index per row (single-label),
 * {@code targets} {@code rows × width} numbers (multi-hot rows, or one regression target per row), {@code tokenLabels}
 * {@code rows × length} tag indices with -1 where the loss ignores a position. Unused forms are null.
 */
public record Batch(int rows, int length, int[] inputIds, int[] inputMask, int[] segmentIds, int[] labels, float[] targets,
                    int[] tokenLabels) {
    public Batch {
        if (inputIds.length != rows * length || inputMask.length != rows * length || segmentIds.length != rows * length) {
            throw new IllegalArgumentException("batch arrays must hold rows × length = " + rows * length + " values");
        }
        if (tokenLabels != null && tokenLabels.length != rows * length) {
            throw new IllegalArgumentException("token labels must hold rows × length = " + rows * length + " values");
        }
    }

    /** A single-label (or unlabelled) batch. */
    public Batch(int rows, int length, int[] inputIds, int[] inputMask, int[] segmentIds, int[] labels) {
        this(rows, length, inputIds, inputMask, segmentIds, labels, null, null);
    }
}
