package dev.finetune.runtime.encoding;


import java.util.List;

/**
 * One example as read from a file: its text, optional second text, label (null when unlabelled) and line.
 * {@code labelList} is the example's set of labels when the file was read as multi-label data
 * (the data reader's multi-label mode): in file order, without duplicates, empty when the example has none; null for
 * single-label data and for unlabelled examples. {@code label} then keeps the label cell as written, for messages.
 */
public record LabeledText(String text, String pair, String label, long line, List<String> labelList) {
    public LabeledText {
        labelList = labelList == null ? null : List.copyOf(labelList);
    }

    /** A single-label (or unlabelled) example. */
    public LabeledText(String text, String pair, String label, long line) {
        this(text, pair, label, line, null);
    }
}
