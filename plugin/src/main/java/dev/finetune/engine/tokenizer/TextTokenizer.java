package dev.finetune.engine.tokenizer;

/**
 * What training and inference need of a model's tokenizer: the ids of a text (or a pair of texts) with the model's
 * own special tokens and pair template, the segment (token type) ids, and the id that pads a batch. Implemented by
 * {@link BertTokenizer} (a WordPiece {@code vocab.txt}) and {@link TokenizerJson} (a Hugging Face
 * {@code tokenizer.json}, or a SentencePiece {@code .model} converted to one); {@link TokenizerFile} picks one from a
 * model's assets.
 */
public interface TextTokenizer extends AutoCloseable {

    /**
     * The ids of {@code text} (and {@code pair}, which may be null) with the tokenizer's special tokens, cut to at most
     * {@code maxLength} ids by dropping tokens from the longer text first.
     */
    Encoding encode(String text, String pair, int maxLength);

    /** The id that fills a batch's rows past their end (the attention mask hides it from the model). */
    int padId();

    /** How many ids the tokenizer can produce (the highest id plus one): the model's embedding table needs as many rows. */
    int vocabularySize();

    /** One line for the log: the kind of tokenizer and its file. */
    String describe();

    @Override
    default void close() {
    }

    /** The ids and segment ids of one example, unpadded; {@code truncated} says whether tokens were dropped. */
    record Encoding(int[] ids, int[] segmentIds, boolean truncated) {
    }
}
