package dev.finetune.runtime;

/** A label and the probability the model gives it. */
public record LabelScore(String label, double probability) {
}
