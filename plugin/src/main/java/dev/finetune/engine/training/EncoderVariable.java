package dev.finetune.engine.training;

import java.util.List;

/**
 * One pretrained variable of the encoder: its handle op, the reads of it on the path to the encoder output
 * (gradients are taken with respect to these and summed), its shape, and the name it is saved under.
 */
public record EncoderVariable(String key, String handleOp, List<String> reads, long[] shape) {
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
