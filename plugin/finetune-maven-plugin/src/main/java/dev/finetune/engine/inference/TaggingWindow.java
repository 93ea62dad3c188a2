package dev.finetune.engine.inference;

import dev.finetune.engine.data.TextFormat;
import dev.finetune.engine.data.TokenDataReader;
import dev.finetune.engine.training.ProgressListener;
import dev.finetune.runtime.FineTunedModel;
import dev.finetune.runtime.encoding.BatchBudget;
import dev.finetune.runtime.encoding.TaggedSentence;
import dev.finetune.runtime.encoding.TokenExamples;
import java.nio.file.Path;

/**
 * Token classification's {@link PredictionWindow} ({@link Window}): sentences are added in file order, held until there
 * are as many as {@link Window#WINDOW_BATCHES} of the budget's largest batches, tagged together (their windows of
 * tokens in batches of similar length), and handed to the sink in the order they were added. Only one window of
 * sentences is in memory, so {@code predict} and {@code evaluate} work on files larger than it.
 */
public final class TaggingWindow {
    /** What is done with each sentence's word tags, called in the order the sentences were added. */
    @FunctionalInterface
    public interface Sink {
        void accept(TaggedSentence sentence, TokenExamples.WordTags tags);
    }

    private final Window<TaggedSentence, TokenExamples.WordTags> window;
    private long words;

    /** {@code verb} names the work in the progress lines {@code log} gets after each window ("evaluated 2,048 sentences"). */
    public TaggingWindow(FineTunedModel model, BatchBudget budget, ProgressListener log, String verb, Sink sink) {
        this.window = new Window<>(budget, sentences -> model.tagWords(sentences, budget), (i, sentence, tags) -> {
            sink.accept(sentence, tags);
            words += sentence.tokens().size();
        }, log, verb, "sentences");
    }

    public void add(TaggedSentence sentence) {
        window.add(sentence);
    }

    /** Tags every sentence of {@code file}, read one at a time ({@link TokenDataReader#open}), flushing at the end. */
    public void tagAll(TokenDataReader reader, Path file, TextFormat format) {
        try (TokenDataReader.Sentences in = reader.open(file, format)) {
            for (TaggedSentence s = in.next(); s != null; s = in.next()) {
                add(s);
            }
            flush();
        }
    }

    /** Tags the sentences still held; call it after the last one. */
    public void flush() {
        window.flush();
    }

    /** Sentences tagged so far. */
    public long sentences() {
        return window.done();
    }

    /** Words tagged so far. */
    public long words() {
        return words;
    }
}
