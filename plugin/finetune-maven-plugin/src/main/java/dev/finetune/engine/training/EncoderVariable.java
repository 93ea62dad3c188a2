package dev.finetune.engine.training;

import java.util.List;

/**
 * One pretrained variable of the encoder: its handle op, the reads of it on a differentiable path to the encoder
 * output (gradients are taken with respect to these and summed; none when the output only uses its shape), its
 * shape, and the name it is saved under.
 */
public record EncoderVariable(String key, String handleOp, List<String> reads, long[] shape) {
    /** Whether the encoder output depends on its values, so that it can train. */
    public boolean differentiable() {
        return !reads.isEmpty();
    }

    public int rank() {
        return shape.length;
    }

    public long size() {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }
}
