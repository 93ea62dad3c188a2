package dev.finetune.engine.training;

/**
 * One batch of encoded examples, row-major {@code rows × length}: token ids, attention mask, segment ids, and
 * the label index of each row (empty when unlabelled).
 */
public record Batch(int rows, int length, int[] inputIds, int[] inputMask, int[] segmentIds, int[] labels) {
    public Batch {
        if (inputIds.length != rows * length || inputMask.length != rows * length || segmentIds.length != rows * length) {
            throw new IllegalArgumentException("batch arrays must hold rows × length = " + rows * length + " values");
        }
    }
}
