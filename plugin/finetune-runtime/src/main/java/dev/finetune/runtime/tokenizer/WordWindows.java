package dev.finetune.runtime.tokenizer;

import dev.finetune.runtime.tokenizer.TextTokenizer.WordEncoding;
import java.util.ArrayList;
import java.util.List;

/**
 * Sentences given as words (token classification) cut to the model's length: consecutive windows of whole words, each
 * encoded with the tokenizer's special tokens in at most {@code maxLength} ids, and the label of each id for training
 * (a word's label on its first sub-token only).
 */
public final class WordWindows {
    private WordWindows() {
    }

    /**
     * Words {@code firstWord .. firstWord + wordCount - 1} of a sentence and their encoding
     * ({@link TextTokenizer#encodeWords} of just those words). Its {@code wordIds} are local to the window, 0 for
     * word {@code firstWord}: the sentence's word index of an id is {@code firstWord + wordIds[i]}. {@code truncated}:
     * the window's one word had more sub-tokens than fit, and only its first ones were kept.
     */
    public record Window(int firstWord, int wordCount, WordEncoding encoding, boolean truncated) {
    }

    /**
     * {@code words} in consecutive windows of whole words whose encodings have at most {@code maxLength} ids each; every
     * word in exactly one window, in order. A sentence that fits is one window (its whole encoding). Otherwise each
     * window takes as many words as fit; a word whose sub-tokens alone do not fit is a window of its own, cut to its
     * first sub-tokens ({@code truncated}). The sentence is encoded once to count each word's ids and the special
     * tokens, and each window once (again only when a word's count changes at the start of a window, as a byte-level
     * word's can without the space before it).
     *
     * @throws IllegalArgumentException when {@code maxLength} leaves no room for one sub-token beside the special tokens
     */
    public static List<Window> split(TextTokenizer tokenizer, List<String> words, int maxLength) {
        WordEncoding all = tokenizer.encodeWords(words);
        if (all.ids().length <= maxLength) {
            return List.of(new Window(0, words.size(), all, false));
        }
        int n = words.size();
        int[] count = new int[n];
        int special = 0;
        for (int w : all.wordIds()) {
            if (w < 0) {
                special++;
            } else {
                count[w]++;
            }
        }
        if (maxLength <= special) {
            throw new IllegalArgumentException("A window of " + maxLength + " ids has no room for a word beside the tokenizer's "
                    + special + " special tokens.");
        }
        int budget = maxLength - special;
        List<Window> windows = new ArrayList<>();
        int start = 0;
        while (start < n) {
            // Only a window's first word can count otherwise than in the sentence: a byte-level word without its space.
            int first = count[start];
            int end = fill(count, start, first, budget);
            WordEncoding e;
            if (end == start) {
                WordEncoding alone = tokenizer.encodeWords(words.subList(start, start + 1));
                first = idsOfWord(alone, 0);
                end = fill(count, start, first, budget);
                e = end <= start + 1 ? alone : tokenizer.encodeWords(words.subList(start, end));
                end = Math.max(end, start + 1);
            } else {
                e = tokenizer.encodeWords(words.subList(start, end));
                int actual = idsOfWord(e, 0);
                int refill = Math.max(fill(count, start, actual, budget), start + 1);
                if (actual != first && refill != end) {
                    end = refill;
                    e = tokenizer.encodeWords(words.subList(start, end));
                }
            }
            while (e.ids().length > maxLength && end - start > 1) {
                end--;
                e = tokenizer.encodeWords(words.subList(start, end));
            }
            windows.add(e.ids().length <= maxLength ? new Window(start, end - start, e, false) : cut(e, start, maxLength));
            start = end;
        }
        return windows;
    }

    /** The end (exclusive) of the words from {@code start} that fit in {@code budget} ids, the first taking {@code first}. */
    private static int fill(int[] count, int start, int first, int budget) {
        if (first > budget) {
            return start;
        }
        int used = first;
        int end = start + 1;
        while (end < count.length && used + count[end] <= budget) {
            used += count[end++];
        }
        return end;
    }

    private static int idsOfWord(WordEncoding e, int word) {
        int n = 0;
        for (int w : e.wordIds()) {
            n += w == word ? 1 : 0;
        }
        return n;
    }

    /** Window of word {@code w} alone, encoded as {@code e}, cut to its first sub-tokens to fit {@code maxLength}. */
    private static Window cut(WordEncoding e, int w, int maxLength) {
        int special = idsOfWord(e, -1);
        int keep = maxLength - special;
        if (keep < 1) {
            throw new IllegalArgumentException("A window of " + maxLength + " ids has no room for a word beside the tokenizer's "
                    + special + " special tokens.");
        }
        int[] ids = new int[maxLength];
        int[] segments = new int[maxLength];
        int[] wordIds = new int[maxLength];
        int k = 0;
        int kept = 0;
        for (int i = 0; i < e.ids().length; i++) {
            if (e.wordIds()[i] < 0 || kept++ < keep) {
                ids[k] = e.ids()[i];
                segments[k] = e.segmentIds()[i];
                wordIds[k++] = e.wordIds()[i];
            }
        }
        return new Window(w, 1, new WordEncoding(ids, segments, wordIds), true);
    }

    /**
     * For each id of a window's encoding, the label of its word when the id is the word's first sub-token, else -1
     * (special tokens and a word's further sub-tokens, which the loss ignores). {@code wordLabels} is indexed by the
     * sentence's word index; {@code e.wordIds()} are the window's own (as {@link #split} gives them), so the id of
     * window word {@code j} takes {@code wordLabels[firstWord + j]}. For a whole sentence {@code firstWord} is 0.
     */
    public static int[] firstSubTokenLabels(WordEncoding e, int[] wordLabels, int firstWord) {
        int[] labels = new int[e.ids().length];
        int previous = -1;
        for (int i = 0; i < labels.length; i++) {
            int w = e.wordIds()[i];
            if (w < 0 || w == previous) {
                labels[i] = -1;
                continue;
            }
            if (firstWord + w >= wordLabels.length) {
                throw new IllegalArgumentException("Word " + (firstWord + w) + " has no label: only " + wordLabels.length + " labels.");
            }
            labels[i] = wordLabels[firstWord + w];
            previous = w;
        }
        return labels;
    }
}
