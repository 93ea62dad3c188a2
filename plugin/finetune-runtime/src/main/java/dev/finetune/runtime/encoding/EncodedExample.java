package dev.finetune.runtime.encoding;

import dev.finetune.runtime.tokenizer.TextTokenizer;

/**
 * One tokenized example: unpadded ids and segment ids, what it is labelled with, its source line, and whether tokens
 * were cut to fit the maximum length. The label takes the task's form: {@code label} the class index (single-label;
 * -1 if none), {@code targets} the multi-hot row (multi-label) or the one number (regression), {@code tokenLabels} a
 * tag index per id (token classification; -1 where the loss ignores the id: special tokens, a word's later
 * sub-tokens). {@code wordStarts} gives, per id, the index of the word it starts, else -1: how per-word results are
 * read back from per-id outputs.
 */
public record EncodedExample(int[] ids, int[] segmentIds, int label, float[] targets, int[] tokenLabels, int[] wordStarts,
                             long line, boolean truncated) {

    /** A single-label (or unlabelled) example. */
    public EncodedExample(int[] ids, int[] segmentIds, int label, long line, boolean truncated) {
        this(ids, segmentIds, label, null, null, null, line, truncated);
    }

    /** Tokenizes {@code row} with the tokenizer's special tokens ({@code [CLS] text [SEP] (pair [SEP])} for BERT), truncated to {@code maxLength}. */
    public static EncodedExample of(TextTokenizer tokenizer, LabeledText row, int label, int maxLength) {
        TextTokenizer.Encoding e = tokenizer.encode(row.text(), row.pair(), maxLength);
        return new EncodedExample(e.ids(), e.segmentIds(), label, row.line(), e.truncated());
    }

    /** {@code row} tokenized, labelled with {@code targets} (a multi-hot row or a regression target; null if none). */
    public static EncodedExample of(TextTokenizer tokenizer, LabeledText row, float[] targets, int maxLength) {
        TextTokenizer.Encoding e = tokenizer.encode(row.text(), row.pair(), maxLength);
        return new EncodedExample(e.ids(), e.segmentIds(), -1, targets, null, null, row.line(), e.truncated());
    }
}
