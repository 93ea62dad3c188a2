package dev.finetune.engine.training;

import dev.finetune.engine.data.LabeledText;
import dev.finetune.engine.tokenizer.BertTokenizer;

/**
 * One tokenized example: unpadded ids and segment ids, its label index (-1 if none), its source line, and whether
 * tokens were cut to fit the maximum length.
 */
public record EncodedExample(int[] ids, int[] segmentIds, int label, long line, boolean truncated) {

    /** Tokenizes {@code row} ({@code [CLS] text [SEP] (pair [SEP])}, truncated to {@code maxLength}). */
    public static EncodedExample of(BertTokenizer tokenizer, LabeledText row, int label, int maxLength) {
        BertTokenizer.Encoding e = tokenizer.encode(row.text(), row.pair(), maxLength);
        return new EncodedExample(e.ids(), e.segmentIds(), label, row.line(), e.truncated());
    }
}
