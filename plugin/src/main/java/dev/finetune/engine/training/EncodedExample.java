package dev.finetune.engine.training;

/** One tokenized example: unpadded ids and segment ids, its label index (-1 if none) and its source line. */
public record EncodedExample(int[] ids, int[] segmentIds, int label, long line) {
}
