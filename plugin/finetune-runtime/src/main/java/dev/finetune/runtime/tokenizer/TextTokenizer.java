package dev.finetune.runtime.tokenizer;

import java.util.List;

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

    /**
     * The ids of a sentence given as words (token classification), with the tokenizer's special tokens as for a single
     * text and not truncated, and for each id the index in {@code words} of the word it came from ({@code -1} for
     * special tokens). Each word is tokenized on its own, so no token spans two words; the words' ids come in order,
     * those of one word together. A byte-level BPE tokenizer (RoBERTa, GPT-2) encodes every word after the first
     * as if a space preceded it, as in running text, so the sentence gets the ids of its words joined by single spaces
     * ({@link TokenizerJson} says why). A word that gives no token at all (empty, white space only, a control or format
     * character only) gets one id, the unknown token's (for a tokenizer without one, the padding id), so that every word
     * has at least one id. {@link WordWindows} cuts an encoding too long for the model.
     */
    WordEncoding encodeWords(List<String> words);

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

    /**
     * The ids and segment ids of a sentence given as words, unpadded, and for each id the index of its word among the
     * words encoded ({@code -1} for a special token): see {@link #encodeWords}.
     */
    record WordEncoding(int[] ids, int[] segmentIds, int[] wordIds) {
    }
}
