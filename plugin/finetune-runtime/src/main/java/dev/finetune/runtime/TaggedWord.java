package dev.finetune.runtime;

/**
 * One word of a sentence and its predicted tag (token classification): {@code B-PER}, {@code I-LOC}, {@code O}... with
 * the probability of that tag. A word the model saw no token of (it did not fit any window) is tagged {@code O} with
 * probability 0.
 */
public record TaggedWord(String word, String tag, double probability) {
}
