package dev.finetune.runtime.encoding;

import java.util.List;

/**
 * One sentence of token classification data: its tokens, their tags (one a token; null when unlabelled) and the
 * line of its first token, for messages.
 */
public record TaggedSentence(List<String> tokens, List<String> tags, long line) {
    public TaggedSentence {
        tokens = List.copyOf(tokens);
        tags = tags == null ? null : List.copyOf(tags);
    }
}
