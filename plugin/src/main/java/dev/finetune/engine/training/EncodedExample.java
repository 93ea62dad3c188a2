package dev.finetune.engine.training;

import dev.finetune.engine.data.LabeledText;
import dev.finetune.engine.tokenizer.TextTokenizer;

/**
 * One tokenized example: unpadded ids and segment ids, its label index (-1 if none), its source line, and whether
 * tokens were cut to fit the maximum length.
 */
public record EncodedExample(int[] ids, int[] segmentIds, int label, long line, boolean truncated) {

    /** Tokenizes {@code row} with the tokenizer's special tokens ({@code [CLS] text [SEP] (pair [SEP])} for BERT), truncated to {@code maxLength}. */
    public static EncodedExample of(TextTokenizer tokenizer, LabeledText row, int label, int maxLength) {
        TextTokenizer.Encoding e = tokenizer.encode(row.text(), row.pair(), maxLength);
        return new EncodedExample(e.ids(), e.segmentIds(), label, row.line(), e.truncated());
    }
}
