package dev.finetune.engine.data;

/** One example as read from a file: its text, optional second text, label (null when unlabelled) and line. */
public record LabeledText(String text, String pair, String label, long line) {
}
